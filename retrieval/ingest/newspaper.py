"""Segment text extracted from a newspaper page layout into articles.

Page text arrives in layout order: columns broken mid-word (the first line of
a paragraph two characters short, its indent lost), blank lines that are
column breaks rather than paragraph breaks, headlines detached from (and
sometimes after or far from) their articles, two headlines run together on
one line, kicker and section lines, bold headlines with every character
doubled, photo stories with credits, "(上接第N版)" continuations and page
headers / footers. Nothing here knows any particular page.

Outline:
1. split the text into chunks at lead lines so that memory stays bounded and
   time linear on huge files (a 50 MB "page" is thousands of pages);
2. mark the lines whose meaning is certain from their words (on a simplified
   copy, so traditional-character pages read the same): page furniture,
   leads, bylines (also wrapped over two lines), credits, continuations;
3. decide which other lines are headlines with a small logistic model over
   line shape (width against the column width, punctuation, what comes
   before and after), fitted on generated pages (bench/pages/fit.py);
4. walk the lines, opening an article at each lead, byline, continuation, or
   body text after a headline, and joining layout lines into paragraphs;
5. split run-together headlines and give headlines to articles by one global
   assignment per block of nearby articles (IDF-weighted character/bigram
   match plus a small bonus for being next to the article).

Authors are the names of the byline joined by one space, roles (记者,
通讯员, 实习生, ...) dropped: "记者 邓燕鑫 通讯员 任娜" → "邓燕鑫 任娜".
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from retrieval.textnorm import CJK, CLOSERS, SENTENCE_END, join_lines, squeeze_spaces

NAME = rf"[{CJK}·]{{2,4}}"
NAME_RE = re.compile(rf"^{NAME}$")
# Roles in front of names; several may share a byline ("记者 甲 乙 通讯员 丙").
ROLE = r"(?:本报|新华社|中新社|人民日报)?(?:特约|见习|实习|摄影)?(?:记者|通讯员|实习生)|摄影|文/|文／|图/|图／"
ROLE_RE = re.compile(rf"^(?:{ROLE})")
ROLE_ANY_RE = re.compile(ROLE)
ROLE_END_RE = re.compile(rf"(?:{ROLE})$")
# the first half of a role cut by the line end ("特约|记者", "通讯|员")
ROLE_FRAGMENT_RE = re.compile(r"(?:特约|见习|本报|通讯|实习|记|摄影)$")
LEAD_RE = re.compile(
    rf"^(?:本报讯|本报[{CJK}]{{0,8}}\d{{1,2}}月\d{{1,2}}日电|(?:新华社|中新社)[{CJK}]{{0,8}}"
    rf"(?:\d{{1,2}}月\d{{1,2}}日)?电|本报记者\s*{NAME}(?:\s*{NAME})*[，,]|据[^，。]{{1,30}}?(?:报道|消息)[，,：:])"
)
CONT_RE = re.compile(r"^[（(]\s*(上接|下转)第\s*([0-9０-９一二三四五六七八九十]+)\s*版\s*[)）]\s*")
CREDIT_CORE = rf"(?:本报|新华社|中新社)?(?:记者|通讯员|实习生)?\s*{NAME}(?:\s+{NAME}){{0,3}}\s*(?:摄影报道|摄影报导|摄)"
CREDIT_LINE_RE = re.compile(rf"^{CREDIT_CORE}$")
TRAILING_CREDIT_RE = re.compile(rf"(?<=[。！？!?{CLOSERS}])\s*({CREDIT_CORE})$")
BYLINE_IN_LEAD_RE = re.compile(rf"[（(]\s*((?:{ROLE})[^）)]{{2,40}}?)\s*[）)]")
BYLINE_OPEN_RE = re.compile(rf"[（(]\s*(?:{ROLE})[^）)]*$")
LEAD_REPORTER_RE = re.compile(rf"^本报记者\s*({NAME}(?:\s+{NAME})*)")
# Page furniture: editors' credits, or a short line with two of date / weekday /
# page number / paper name.
EDITOR_RE = re.compile(r"责任编辑|本版编辑|版式设计|美术编辑|美编|校对|责编")
FURNITURE_SIGNS = [re.compile(p) for p in (
    r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日", r"星期[一二三四五六日天]|周[一二三四五六日]",
    r"第\s*\d{1,3}\s*版|^\d{1,2}\s|\s\d{1,2}$|^[A-Z]?\d{1,2}\s*版",
    rf"[{CJK}]{{1,4}}(?:日报|晚报|时报|快报|商报|晨报)",
)]
# "第9版 国际", "A3版 要闻": a page number with at most a section name
PAGE_NO_LINE_RE = re.compile(rf"^(?:第\s*\d{{1,3}}\s*版|[A-Z]?\d{{1,2}}\s*版)\s*[{CJK}]{{0,8}}$")
HALF_PUNCT = frozenset("，。、；：“”‘’（）《》「」")
MD_HEADING_RE = re.compile(r"^#{1,6}\s+")
PARA_END = tuple(SENTENCE_END)
SOFT_END = tuple("，、：；:,—")
INNER_PUNCT_RE = re.compile(r"[，。；！？：、,;!?]")

# A photo story is a headline, a short caption and a credit.
PHOTO_STORY_MAX_LINES = 8
# Below this match score (plus position bonus) a headline is nobody's title.
MIN_TITLE_SCORE = 0.45
# A headline is matched with articles at most this many articles away.
TITLE_WINDOW = 8
# Global assignment runs over blocks of this many articles.
ASSIGN_BLOCK = 48
# Chunks of about this many characters are segmented on their own.
CHUNK_CHARS = 200_000
# A blank line before a lead or continuation: a safe place to cut a huge page.
CHUNK_CUT_RE = re.compile(r"\n\s*\n(?=[ \t\u3000]*(?:本报讯|本報訊|[（(]上接))")
# Body text shorter than this, with no sentence end, is layout debris.
MIN_BODY_CHARS = 12

# Two logistic models for "this line is a headline (or kicker / section line)",
# fitted by bench/pages/fit.py on 300 generated tune pages (never the held-out
# ones): L2-regularised logistic regression by numpy gradient descent. The
# first reads the line alone (_FEATURES, prev_headline left at 0); the second
# adds the first's verdict on the lines before and after (_FEATURES_2).
_FEATURES = (
    "bias", "prev_clean", "prev_headline", "ends_sentence", "ends_soft", "inner_punct", "width_full",
    "width_indent", "wider", "shorter", "next_special", "next_indent", "next_full", "next_ends_sentence",
    "blank_before", "blank_after", "ascii_share", "width", "inner_space", "next_headlike", "very_short", "echo",
    "joins_next",
)
_FEATURES_2 = _FEATURES + ("p1_prev", "p1_next", "p1_self_x_next")
HEADLINE_WEIGHTS_1 = np.array([
    -2.13, -0.79, 0.00, -0.40, -1.66, -1.36, -0.13, -1.23, 1.35, 0.48, 2.65, 0.83,
    -1.79, -2.03, 3.04, 2.08, -0.79, -0.36, 0.43, 0.12, 1.43, 1.30, -1.62,
])
HEADLINE_WEIGHTS_2 = np.array([
    -3.41, 0.27, 1.59, -0.35, -1.52, -1.10, 0.04, -1.15, 1.20, 0.49, 2.61, 0.88,
    -1.82, -1.82, 2.78, 1.61, -0.74, -0.13, 0.37, -0.14, 1.04, 1.28, -1.51, 0.35,
    1.63, 0.86,
])


@dataclass
class PageArticle:
    """An article as found on the page, before it gets an id and a file."""

    paragraphs: list[str] = field(default_factory=list)
    title: str | None = None
    author: str | None = None
    photographer: str | None = None
    kicker: list[str] = field(default_factory=list)
    continued_from: str | None = None
    byline: str | None = None


@dataclass
class _Line:
    text: str  # layout spaces squeezed
    key: str  # the same in simplified characters (what the patterns read)
    blank_before: bool
    raw: int  # index of the non-blank source line
    kind: str = "body"  # body | lead | cont | credit | byline | header | headline
    doubled: str | None = None
    spaced: str = ""  # whitespace runs kept as one space: headline and byline separators matter
    skey: str = ""  # spaced, in simplified characters
    width: int = 0  # in half-width units, spaces not counted
    joins_next: bool = False  # the line seems to end inside a word that the next line finishes


def undouble(text: str) -> str | None:
    """“““娘娘家家人人””” style bold headlines: every character printed twice."""
    s = re.sub(r"\s+", "", text)
    if len(s) < 4 or len(s) % 2:
        return None
    if all(s[i] == s[i + 1] for i in range(0, len(s), 2)):
        return s[::2]
    return None


def _width(text: str) -> int:
    """Printed width in half-width units; Chinese punctuation counts as half
    width because most papers squeeze it (the others are within tolerance)."""
    return sum(1 if ch.isascii() or ch in HALF_PUNCT else 2 for ch in text if not ch.isspace())


def _ends_paragraph(text: str) -> bool:
    return text.rstrip(CLOSERS).endswith(PARA_END)


def parse_names(orig: str, key: str | None = None) -> str:
    """'本报记者 吕蕾 沈鑫冰' → '吕蕾 沈鑫冰'; '记者 邓燕鑫 通讯员 任娜' → '邓燕鑫 任娜'.

    Roles are read on ``key`` (the simplified copy) and names cut from ``orig``
    at the same places, so a traditional byline keeps its characters."""
    if key is None or len(key) != len(orig):
        key = orig
    names: list[str] = []
    last_was_name = False
    carry = ""
    for m in re.finditer(r"[^\s■●▲◆、，,]+", key):
        start, tok = m.start(), m.group()
        while (r := ROLE_RE.match(tok)) and r.end():
            start += r.end()
            tok = tok[r.end():]
            last_was_name = False
        word = carry + orig[start : start + len(tok)]
        carry = ""
        if len(word) == 1 and re.match(f"[{CJK}]", word):
            # a name broken by a stray layout space: "韩欣 军"
            if last_was_name and len(names[-1]) <= 3:
                names[-1] += word
            else:
                carry = word
            continue
        last_was_name = bool(NAME_RE.match(word))
        if last_was_name:
            names.append(word)
    return " ".join(names)


def _parse_credit(credit: str, key: str) -> tuple[str, bool]:
    """('陈艺', True) for '本报记者 陈艺 摄影报道'; True means the photographer also wrote it."""
    report = key.endswith(("摄影报道", "摄影报导"))  # 报导: how zh-TW text says 报道
    cut = len(credit) - (4 if report else 1)
    return parse_names(credit[:cut], key[:cut]), report


# --------------------------------------------------------------------------- lines

class _Simplifier:
    """Simplified copies of lines, only when the page is in traditional characters."""

    def __init__(self, sample: str) -> None:
        self.active = False
        if re.search(f"[{CJK}]", sample):
            from retrieval.textnorm import _zhconv

            head = sample[:4000]
            conv = _zhconv().convert(head, "zh-cn")
            ideographs = len(re.findall(f"[{CJK}]", head))
            changed = sum(a != b and bool(re.match(f"[{CJK}]", a)) for a, b in zip(head, conv))
            # a few variant characters occur in simplified text too (人名, 引文)
            self.active = changed >= max(3, ideographs // 50)

    def __call__(self, text: str) -> str:
        if not self.active:
            return text
        from retrieval.textnorm import _zhconv

        out = _zhconv().convert(text, "zh-cn")
        return out if len(out) == len(text) else text


def _split_lines(text: str) -> list[_Line]:
    simplify = _Simplifier(text)
    lines: list[_Line] = []
    blank = True
    raw = -1
    for source in text.splitlines():
        stripped = source.strip().replace("\ufeff", "")
        if not stripped:
            blank = True
            continue
        raw += 1
        md = MD_HEADING_RE.match(stripped)
        content = MD_HEADING_RE.sub("", stripped)
        spaced = re.sub(r"\s+", " ", content)
        squeezed = squeeze_spaces(content)
        line = _Line(squeezed, simplify(squeezed), blank, raw, spaced=spaced, skey=simplify(spaced))
        if md:
            line.kind = "headline"
        m = TRAILING_CREDIT_RE.search(line.skey)
        if m and not CREDIT_LINE_RE.match(line.skey):
            head_sp, credit_sp = line.spaced[: m.start()].rstrip(), line.spaced[m.start(1):]
            head_key, credit_key = line.skey[: m.start()].rstrip(), m.group(1)
            lines.append(_Line(squeeze_spaces(head_sp), squeeze_spaces(head_key), blank, raw,
                               spaced=head_sp, skey=head_key))
            line = _Line(squeeze_spaces(credit_sp), squeeze_spaces(credit_key), False, raw, "credit",
                         spaced=credit_sp, skey=credit_key)
        lines.append(line)
        blank = False
    for ln in lines:
        ln.width = _width(ln.text)
    return lines


def _is_furniture(ln: _Line) -> bool:
    if len(ln.text) > 48 or _ends_paragraph(ln.text):
        return False
    if EDITOR_RE.search(ln.key) or PAGE_NO_LINE_RE.match(ln.skey):
        return True
    return sum(1 for p in FURNITURE_SIGNS if p.search(ln.skey)) >= 2


def _byline_tokens(skey: str) -> list[str] | None:
    """Name tokens of a line made only of roles and names, or None."""
    s = re.sub(r"^[■●▲◆]\s*", "", skey.strip())
    if not ROLE_RE.match(s):
        return None
    tokens = re.findall(r"\S+", ROLE_ANY_RE.sub(" ", s))
    if not tokens or not all(re.fullmatch(rf"[{CJK}·]{{1,4}}", t) for t in tokens):
        return None
    return tokens


def _join_byline(a: str, b: str) -> str:
    """Two parts of a wrapped byline; a name cut in two has a one-character part."""
    left = re.search(rf"[{CJK}·]*$", a.rstrip()).group()
    right = re.match(rf"[{CJK}·]*", b.lstrip()).group()
    whole_tokens = len(left) >= 2 and len(right) >= 2 and not ROLE_END_RE.search(a.rstrip()) \
        and not ROLE_FRAGMENT_RE.search(a.rstrip())
    return f"{a.rstrip()} {b.lstrip()}" if whole_tokens else a.rstrip() + b.lstrip()


def _mark_certain(lines: list[_Line]) -> None:
    """Kinds known from the words alone."""
    for ln in lines:
        if ln.kind != "body":
            continue
        if CONT_RE.match(ln.key):
            ln.kind = "cont"
        elif CREDIT_LINE_RE.match(ln.skey) or CREDIT_LINE_RE.match(ln.key):
            ln.kind = "credit"
        elif LEAD_RE.match(ln.key):
            ln.kind = "lead"
        elif _is_furniture(ln):
            ln.kind = "header"
        elif len(ln.text) <= 40 and _byline_tokens(ln.skey):
            ln.kind = "byline"
        else:
            ln.doubled = undouble(ln.text)
    # Does the line end inside a word? The two characters across the line end
    # are printed together elsewhere in the text: "纷纷感|谢" (感谢) yes, a headline's
    # last character and the next paragraph's first rarely.
    pairs = {ln.key[k : k + 2] for ln in lines if ln.kind == "body" for k in range(len(ln.key) - 1)}
    for a, b in zip(lines, lines[1:]):
        if a.key and b.key and re.match(f"[{CJK}]", a.key[-1]) and re.match(f"[{CJK}]", b.key[0]):
            a.joins_next = (a.key[-1] + b.key[0]) in pairs
    # A byline wrapped over two lines: the second part is a short run of names.
    for a, b in zip(lines, lines[1:]):
        if a.kind == "byline" and b.kind == "body" and len(b.text) <= 16 and not INNER_PUNCT_RE.search(b.text):
            tokens = _byline_tokens(_join_byline(a.skey, b.skey))
            if tokens and all(2 <= len(t) <= 4 for t in tokens):
                b.kind = "byline_cont"


def _column_widths(lines: list[_Line]) -> list[int]:
    """Most common width of the full body lines that follow (else nearby): the column width."""
    widths = [ln.width if ln.kind == "body" and not _ends_paragraph(ln.text) and ln.width >= 12 else 0
              for ln in lines]
    out = []
    for i in range(len(lines)):
        c = Counter(w for w in widths[i + 1 : i + 11] if w)
        if sum(c.values()) < 2:
            c.update(w for w in widths[max(0, i - 6) : i] if w)
        if not c:
            out.append(0)
            continue
        # lines of mixed Latin text end one unit short; count w and w-1 together
        out.append(max(c, key=lambda w: (c[w] + c.get(w - 1, 0), w)))
    return out


def line_features(lines: list[_Line], i: int, colw: int, prev_headline: bool) -> np.ndarray:
    ln = lines[i]
    prev = lines[i - 1] if i else None
    nxt = lines[i + 1] if i + 1 < len(lines) else None
    w = ln.width
    t = ln.text
    prev_clean = prev is None or prev.kind in ("credit", "header", "byline", "byline_cont", "cont", "headline") \
        or _ends_paragraph(prev.text)
    next_special = nxt is None or nxt.kind in ("lead", "byline", "cont", "header")
    near = lambda a, b, tol: colw > 0 and abs(a - b) <= tol  # noqa: E731
    nw = nxt.width if nxt is not None else 0
    next_body = nxt is not None and nxt.kind == "body"
    ascii_share = sum(ch.isascii() and ch.isalnum() for ch in t) / max(len(t), 1)
    inner = len(INNER_PUNCT_RE.findall(t[:-1]))
    return np.array([
        1.0,
        float(prev_clean),
        float(prev_headline),
        float(_ends_paragraph(t)),
        float(t.endswith(SOFT_END)),
        min(inner, 2) / 2,
        float(near(w, colw, 2)),
        float(near(w, colw - 4, 1)),
        float(colw > 0 and w > colw + 3),
        float(colw > 0 and w < colw - 6),
        float(next_special),
        float(next_body and near(nw, colw - 4, 1)),
        float(next_body and near(nw, colw, 2)),
        float(next_body and _ends_paragraph(nxt.text)),
        float(ln.blank_before),
        float(nxt is None or nxt.blank_before),
        ascii_share,
        min(w, 80) / 40,
        float(bool(re.search(rf"[{CJK}]\s+[{CJK}]", ln.spaced))),
        float(next_body and not _ends_paragraph(nxt.text) and not near(nw, colw, 2) and not near(nw, colw - 4, 1)),
        float(w <= 8),
        _echo(lines, i),
        float(ln.joins_next),
    ])


def _echo(lines: list[_Line], i: int) -> float:
    """Share of the line's bigrams printed again in the lines around it: a
    headline repeats words of its article, a body line mostly does not."""
    t = re.sub(r"\s", "", lines[i].key)
    grams = {t[k : k + 2] for k in range(len(t) - 1)}
    if not grams:
        return 0.0
    around: list[str] = []
    for j in list(range(max(0, i - 12), i)) + list(range(i + 1, min(len(lines), i + 13))):
        around.append(lines[j].key)
    text = "\n".join(around)
    return sum(1 for g in grams if g in text) / len(grams)


def may_be_headline(lines: list[_Line], i: int, prev_headline: bool, colws: list[int]) -> bool:
    """Only a line that starts after a finished paragraph (or a headline, or
    page furniture) can be a headline; a short last line ends a paragraph too."""
    ln = lines[i]
    if len(re.findall(rf"[{CJK}0-9A-Za-z]", ln.text)) < 2 or len(ln.text) > 64:
        return False
    if ln.text.rstrip(CLOSERS).endswith(("。", "；", ";")):
        return False  # a headline has no full stop
    if i == 0 or prev_headline:
        return True
    prev = lines[i - 1]
    return prev.kind != "body" or _ends_paragraph(prev.text) or (colws[i - 1] > 0 and prev.width < colws[i - 1] - 6)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))


def first_pass(lines: list[_Line], colws: list[int]) -> list[float]:
    """Headline probability of every body line from its own shape (prev_headline unknown)."""
    p1: list[float] = []
    for i, ln in enumerate(lines):
        if ln.kind == "headline" or ln.doubled:
            p1.append(1.0)
        elif ln.kind == "body" and may_be_headline(lines, i, bool(p1) and p1[-1] > 0.5, colws):
            p1.append(_sigmoid(float(line_features(lines, i, colws[i], False) @ HEADLINE_WEIGHTS_1)))
        else:
            p1.append(0.0)
    return p1


def second_features(lines: list[_Line], i: int, colw: int, prev_headline: bool, p1: list[float]) -> np.ndarray:
    """The line's own features plus what the first pass thinks of its neighbours:
    headlines come in runs (kicker, title, several titles in a row)."""
    nxt = p1[i + 1] if i + 1 < len(p1) else 0.0
    prev = p1[i - 1] if i else 0.0
    return np.concatenate([line_features(lines, i, colw, prev_headline), [prev, nxt, p1[i] * nxt]])


def _classify(lines: list[_Line]) -> None:
    _mark_certain(lines)
    colws = _column_widths(lines)
    p1 = first_pass(lines, colws)
    prev_headline = False
    for i, ln in enumerate(lines):
        if ln.kind == "headline":
            prev_headline = True
            continue
        if ln.kind != "body":
            prev_headline = False
            continue
        if may_be_headline(lines, i, prev_headline, colws) and (ln.doubled or _sigmoid(float(
                second_features(lines, i, colws[i], prev_headline, p1) @ HEADLINE_WEIGHTS_2)) > 0.5):
            ln.kind = "headline"
            prev_headline = True
        else:
            prev_headline = False


# ------------------------------------------------------------------ articles

@dataclass
class _Floating:
    text: str
    before_article: int | None  # index of the article right after this headline run
    after_article: int | None  # index of the article right before it
    last_in_run: bool  # printed right above the article that follows


def _chunks(text: str) -> Iterator[str]:
    """Pieces of about CHUNK_CHARS, cut before a lead line that starts a paragraph."""
    start = 0
    n = len(text)
    while start < n:
        if n - start <= CHUNK_CHARS * 1.5:
            yield text[start:]
            return
        m = CHUNK_CUT_RE.search(text, start + CHUNK_CHARS, start + CHUNK_CHARS * 2)
        if m is None:
            cut = text.find("\n\n", start + CHUNK_CHARS)
            if cut < 0 or cut > start + CHUNK_CHARS * 3:
                cut = text.find("\n", start + CHUNK_CHARS)
            if cut < 0:
                yield text[start:]
                return
            end = cut + 1
        else:
            end = m.start() + 1
        yield text[start:end]
        start = end


def segment_page(text: str) -> list[PageArticle]:
    text = unicodedata.normalize("NFC", text)
    out: list[PageArticle] = []
    for chunk in _chunks(text):
        out.extend(_segment_chunk(chunk))
    return out


def _segment_chunk(text: str) -> list[PageArticle]:
    lines = _split_lines(text)
    _classify(lines)
    articles: list[PageArticle] = []
    opened_by: list[str] = []
    floating: list[_Floating] = []
    current: PageArticle | None = None
    para: str | None = None
    pending: list[_Line] = []  # the headline run not yet attached

    def close_para() -> None:
        nonlocal para
        if current is not None and para:
            current.paragraphs.append(para)
        para = None

    def open_article(how: str) -> PageArticle:
        nonlocal current, pending
        close_para()
        art = PageArticle()
        articles.append(art)
        opened_by.append(how)
        groups = _group_run(pending)
        for g, group in enumerate(groups):
            floating.append(_Floating(group, len(articles) - 1,
                                      len(articles) - 2 if len(articles) > 1 else None, g == len(groups) - 1))
        pending = []
        current = art
        return art

    i = 0
    while i < len(lines):
        ln = lines[i]
        i += 1
        if ln.kind == "header":
            continue
        if ln.kind == "headline":
            close_para()
            current = None
            pending.append(ln)
            continue
        if ln.kind == "credit":
            close_para()
            name, report = _parse_credit(ln.text, ln.key)
            target = current or (articles[-1] if articles else None)
            if target is not None and name:
                target.photographer = name
                if report and not target.author:
                    target.author = name
                    target.byline = ln.text
            current = None
            continue
        if ln.kind in ("byline", "byline_cont"):
            text_b, key_b = ln.spaced, ln.skey
            if i < len(lines) and lines[i].kind == "byline_cont":
                text_b, key_b = _join_byline(ln.spaced, lines[i].spaced), _join_byline(ln.skey, lines[i].skey)
                i += 1
            names = parse_names(text_b, key_b)
            if current is not None and not current.paragraphs and para is None and opened_by[-1] == "byline":
                # a byline printed over two lines, each starting with a role
                current.author = " ".join(x for x in (current.author, names) if x) or None
                current.byline = f"{current.byline} {text_b}"
                continue
            art = open_article("byline")
            art.author = names or None
            art.byline = text_b
            continue
        if ln.kind == "cont":
            m = CONT_RE.match(ln.key)
            assert m is not None
            body = ln.text[m.end():]
            if m.group(1) == "下转":
                # the end of the article above; nothing follows it here
                close_para()
                current = None
                if body:
                    current = open_article("body")
                    para = body
                continue
            art = open_article("cont")
            art.continued_from = f"{m.group(1)}第{unicodedata.normalize('NFKC', m.group(2))}版"
            if not body:
                continue
            para = body
        elif ln.kind == "lead":
            art = current if (current is not None and not current.paragraphs and para is None
                              and opened_by[-1] == "byline") else open_article("lead")
            spaced, skey = ln.spaced, ln.skey
            if i < len(lines) and lines[i].kind == "body" and BYLINE_OPEN_RE.search(skey[:60]):
                # the bracketed byline goes on to the next line
                spaced = _join_byline(spaced, lines[i].spaced)
                skey = _join_byline(skey, lines[i].skey)
            _read_byline(art, spaced, skey)
            para = ln.text
        else:  # body
            if current is None:
                open_article("body" if pending or not articles else "after")
                para = None
            para = join_lines(para, ln.text) if para else ln.text
        if para and _ends_paragraph(para):
            close_para()
    close_para()
    for group in _group_run(pending):
        floating.append(_Floating(group, None, len(articles) - 1 if articles else None, False))

    # Debris: a short scrap with no sentence in it is a headline nobody took, not an article.
    for k, art in enumerate(articles):
        body = "".join(art.paragraphs)
        if art.paragraphs and len(body) < MIN_BODY_CHARS and not any(_ends_paragraph(p) for p in art.paragraphs) \
                and not art.author and not art.photographer and not art.continued_from:
            floating.append(_Floating(body, k + 1 if k + 1 < len(articles) else None, k - 1 if k else None, True))
            art.paragraphs = []
    floating = [fl for fl in floating if fl.text.strip()]
    _assign_titles(articles, floating, opened_by)
    kept = [a for a in articles if a.paragraphs]
    for art in kept:
        if not art.title:
            art.title = _fallback_title(art)
    return kept


def _read_byline(art: PageArticle, lead: str, key: str) -> None:
    m = BYLINE_IN_LEAD_RE.search(key[:80])
    if m:
        names = parse_names(lead[m.start(1) : m.end(1)], m.group(1))
        if names:
            art.author = names
            art.byline = lead[m.start() : m.end()]
            return
    m = LEAD_REPORTER_RE.match(key)
    if m:
        art.author = parse_names(lead[m.start(1) : m.end(1)], m.group(1)) or None


def _group_run(run: list[_Line]) -> list[str]:
    """Headline strings of a run: doubled lines printed on consecutive lines
    are one bold headline broken over lines; other lines stand alone."""
    groups: list[str] = []
    prev_doubled = False
    for ln in run:
        text = ln.doubled or undouble(ln.text) or ln.spaced or ln.text
        if ln.doubled and prev_doubled and not ln.blank_before and groups:
            groups[-1] += text
        else:
            groups.append(text)
        prev_doubled = bool(ln.doubled)
    return groups


def _fallback_title(art: PageArticle) -> str:
    first = art.paragraphs[0]
    m = re.search(r"[。！？!?]", first)
    sentence = first[: m.start()] if m else first
    sentence = BYLINE_IN_LEAD_RE.sub("", sentence)
    sentence = re.sub(r"^(本报讯|本報訊|据[^，。]{1,30}?(?:报道|消息))[，,：:]?", "", sentence).strip()
    snippet = sentence if len(sentence) <= 30 else sentence[:30] + "…"
    if art.continued_from:
        return f"（{art.continued_from}）{snippet}"
    return snippet


# ----------------------------------------------------------- title matching

def _grams(text: str) -> set[str]:
    """Characters and character bigrams: headlines paraphrase their article,
    so single characters carry much of the match and bigrams add precision."""
    s = re.sub(rf"[^{CJK}0-9a-zA-Z]", "", unicodedata.normalize("NFKC", text).lower())
    return set(s) | {s[i : i + 2] for i in range(len(s) - 1)}


class _Matcher:
    def __init__(self, articles: list[PageArticle]):
        self.grams = [_grams("".join(a.paragraphs)) for a in articles]
        n = len(articles)
        df: Counter[str] = Counter()
        for g in self.grams:
            df.update(g)
        self.idf = {b: math.log((n + 1) / (c + 0.5)) + 0.1 for b, c in df.items()}
        # A gram found nowhere near says little about which article a
        # headline belongs to (paraphrase), so it weighs like a common one.
        self.unseen = 0.5

        self._weighted: dict[str, tuple[list[tuple[str, float]], float]] = {}

    def _weights(self, headline: str) -> tuple[list[tuple[str, float]], float]:
        got = self._weighted.get(headline)
        if got is None:
            pairs = [(b, self.idf.get(b, self.unseen)) for b in _grams(headline)]
            got = self._weighted[headline] = (pairs, sum(w for _, w in pairs))
        return got

    def score(self, headline: str, k: int) -> float:
        pairs, total = self._weights(headline)
        grams = self.grams[k]
        if not pairs or not grams:
            return 0.0
        return sum(w for b, w in pairs if b in grams) / total

    def best(self, headline: str, ks: range) -> tuple[float, int]:
        return max(((self.score(headline, k), k) for k in ks), default=(0.0, -1))


def _window(fl: _Floating, n: int) -> range:
    centre = fl.before_article if fl.before_article is not None else (fl.after_article or 0)
    return range(max(0, centre - TITLE_WINDOW), min(n, centre + TITLE_WINDOW + 1))


def _split_run_together(text: str, m: _Matcher, ks: range) -> list[str]:
    """'A标题B标题' → ['A标题', 'B标题'] when each half matches a different article
    clearly better than the whole line matches any one."""
    if len(text) < 10 or len(ks) < 2:
        return [text]
    whole, _ = m.best(text, ks)
    best: tuple[float, int] | None = None
    for k in range(4, len(text) - 3):
        if text[k] in CLOSERS + "”’，。：；！？、" or text[k - 1] in "“‘《（(「『【—":
            continue
        (sl, al), (sr, ar) = m.best(text[:k], ks), m.best(text[k:], ks)
        if al != ar and min(sl, sr) >= MIN_TITLE_SCORE and (best is None or sl + sr > best[0]):
            best = (sl + sr, k)
    if best and best[0] / 2 > whole + 0.15:
        k = best[1]
        return [text[:k].strip(), text[k:].strip()]
    return [text]


def _assign_titles(articles: list[PageArticle], floating: list[_Floating], opened_by: list[str]) -> None:
    from scipy.optimize import linear_sum_assignment

    n = len(articles)
    for lo in range(0, n, ASSIGN_BLOCK):
        hi = min(n, lo + ASSIGN_BLOCK)
        block_fl = [fl for fl in floating
                    if lo <= (fl.before_article if fl.before_article is not None else (fl.after_article or 0)) < hi]
        if not block_fl:
            continue
        # the matcher sees the window around the block, so IDF is local
        base = max(0, lo - TITLE_WINDOW)
        top = min(n, hi + TITLE_WINDOW)
        m = _Matcher(articles[base:top])
        heads: list[tuple[str, _Floating]] = []
        for fl in block_fl:
            ks = range(max(0, _window(fl, n).start - base), min(top, _window(fl, n).stop) - base)
            for part in _split_run_together(fl.text, m, ks):
                heads.append((part, fl))
        scores = np.zeros((len(heads), top - base))
        for h, (text, fl) in enumerate(heads):
            for k in _window(fl, n):
                if not (base <= k < top) or not articles[k].paragraphs or articles[k].title:
                    continue
                s = m.score(text, k - base)
                if fl.before_article == k:
                    s += (0.3 if fl.last_in_run else 0.1) + (0.2 if opened_by[k] == "body" else 0.0)
                elif fl.after_article == k:
                    s += 0.1
                else:
                    near = fl.before_article if fl.before_article is not None else fl.after_article
                    s -= 0.02 * abs(k - (near if near is not None else k))
                if opened_by[k] == "cont":
                    # a continuation is printed without its headline
                    s -= 0.3
                scores[h, k - base] = max(s - MIN_TITLE_SCORE, 0.0)
        rows, cols = linear_sum_assignment(-scores)
        used: set[int] = set()
        for h, c in zip(rows, cols):
            if scores[h, c] > 0:
                articles[base + c].title = heads[h][0]
                used.add(h)
        # Unused headlines printed right above an article are its kicker lines.
        for h, (text, fl) in enumerate(heads):
            if h not in used and fl.before_article is not None and articles[fl.before_article].paragraphs:
                articles[fl.before_article].kicker.append(text)
