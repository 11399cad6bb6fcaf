"""Segment text extracted from a newspaper page layout into articles.

Page text arrives in layout order: columns broken mid-word, blank lines that
are column breaks rather than paragraph breaks, headlines detached from (and
sometimes after) their articles, two headlines run together on one line, bold
headlines with every character doubled, photo stories, photo credits and
"(上接第N版)" continuations. The rules below are general; nothing here knows
any particular page.

Outline:
1. classify lines (lead, continuation marker, credit, headline-like, body);
2. decide which headline-like runs really are headlines (by what follows);
3. walk the page, opening an article at each lead / continuation / photo
   story and joining its layout lines into paragraphs;
4. split run-together headlines and give each headline to the article whose
   text it matches best (IDF-weighted character bigrams plus a small bonus
   for being next to it), not by position alone.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field

from retrieval.textnorm import CJK, CLOSERS, SENTENCE_END, cjk_ratio, join_lines, squeeze_spaces

NAME = rf"[{CJK}·]{{2,4}}"
LEAD_RE = re.compile(
    rf"^(?:本报讯|本报[{CJK}]{{0,8}}\d{{1,2}}月\d{{1,2}}日电|(?:新华社|中新社)[{CJK}]{{0,8}}"
    rf"(?:\d{{1,2}}月\d{{1,2}}日)?电|本报记者{NAME}(?:\s*{NAME})*[，,]|据[^，。]{{1,30}}?(?:报道|消息)[，,：:])"
)
CONT_RE = re.compile(r"^[（(]\s*(上接|下转)第\s*([0-9０-９一二三四五六七八九十]+)\s*版\s*[)）]\s*")
CREDIT_CORE = rf"(?:本报)?(?:记者|通讯员|实习生)?\s*{NAME}(?:\s+{NAME}){{0,3}}\s*(?:摄影报道|摄)"
CREDIT_LINE_RE = re.compile(rf"^{CREDIT_CORE}$")
TRAILING_CREDIT_RE = re.compile(rf"(?<=[。！？!?{CLOSERS}])\s*({CREDIT_CORE})$")
BYLINE_RE = re.compile(rf"[（(]\s*(?:本报|新华社|中新社)?(?:记者|通讯员)\s*([^）)]{{2,40}}?)\s*[）)]")
LEAD_REPORTER_RE = re.compile(rf"^本报记者\s*({NAME}(?:\s+{NAME})*)")
HEADLINE_PUNCT = set("，。；：！？、,;!?：")
MD_HEADING_RE = re.compile(r"^#{1,6}\s+")
PARA_END = tuple(SENTENCE_END)

# A photo story is a headline, a short caption and a credit; look this many
# lines ahead for the credit before deciding a headline run is one.
PHOTO_STORY_MAX_LINES = 8
# Below this match score a floating headline is not trusted as anyone's title.
MIN_TITLE_SCORE = 0.45


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
    text: str
    blank_before: bool
    kind: str = "body"  # body | lead | cont | credit | headline
    doubled: str | None = None
    spaced: str = ""  # whitespace runs kept as one space: headline separators matter


def undouble(text: str) -> str | None:
    """“““娘娘家家人人””” style bold headlines: every character printed twice."""
    s = re.sub(r"\s+", "", text)
    if len(s) < 4 or len(s) % 2:
        return None
    if all(s[i] == s[i + 1] for i in range(0, len(s), 2)):
        return s[::2]
    return None


def _headline_like(text: str) -> bool:
    s = text.strip()
    if not (3 <= len(s) <= 64) or any(ch in HEADLINE_PUNCT for ch in s):
        return False
    return cjk_ratio(s) >= 0.5


def _ends_paragraph(text: str) -> bool:
    return text.rstrip(CLOSERS).endswith(PARA_END)


def _names(text: str) -> str:
    return "、".join(re.split(r"\s+", text.strip()))


def _parse_credit(credit: str) -> tuple[str, bool]:
    """('陈艺', True) for '本报记者 陈艺 摄影报道'; True means the photographer also wrote it."""
    report = credit.endswith("摄影报道")
    core = re.sub(r"(摄影报道|摄)$", "", credit).strip()
    core = re.sub(r"^(本报)?(记者|通讯员|实习生)?", "", core).strip()
    return _names(core), report


# --------------------------------------------------------------------------- lines

def _split_lines(text: str) -> list[_Line]:
    lines: list[_Line] = []
    blank = True
    for raw in text.splitlines():
        stripped = raw.strip().replace("\ufeff", "")
        if not stripped:
            blank = True
            continue
        md = MD_HEADING_RE.match(stripped)
        content = MD_HEADING_RE.sub("", stripped)
        line = _Line(squeeze_spaces(content), blank, spaced=re.sub(r"\s+", " ", content))
        if md:
            line.kind = "headline"
        m = TRAILING_CREDIT_RE.search(line.text)
        if m and not CREDIT_LINE_RE.match(line.text):
            lines.append(_Line(line.text[: m.start()].rstrip(), blank))
            line = _Line(squeeze_spaces(m.group(1)), False, "credit")
        lines.append(line)
        blank = False
    return lines


def _classify(lines: list[_Line]) -> None:
    for ln in lines:
        if ln.kind != "body":
            continue
        if CONT_RE.match(ln.text):
            ln.kind = "cont"
        elif CREDIT_LINE_RE.match(ln.text):
            ln.kind = "credit"
        elif LEAD_RE.match(ln.text):
            ln.kind = "lead"
        else:
            ln.doubled = undouble(ln.text)
    # Headline runs: headline-like lines that start after a finished
    # paragraph. Whether the run really is a headline depends on what follows.
    i = 0
    n = len(lines)
    while i < n:
        prev = lines[i - 1] if i else None
        starts_clean = prev is None or prev.kind in ("credit", "headline") or _ends_paragraph(prev.text)
        if lines[i].kind != "body" or not starts_clean or not (_headline_like(lines[i].text) or lines[i].doubled):
            i += 1
            continue
        j = i
        while j < n and lines[j].kind == "body" and (_headline_like(lines[j].text) or lines[j].doubled):
            j += 1
        nxt = lines[j] if j < n else None
        is_headline = (
            i == 0
            or nxt is None
            or nxt.kind in ("lead", "cont", "credit", "headline")
            or any(lines[k].doubled for k in range(i, j))
            or _photo_story_follows(lines, j)
        )
        if is_headline:
            for k in range(i, j):
                lines[k].kind = "headline"
        # A run that is not a headline is body text; only its first line was
        # checked against the paragraph rule, so resume after the run.
        i = j if is_headline else i + 1


def _photo_story_follows(lines: list[_Line], j: int) -> bool:
    for k in range(j, min(j + PHOTO_STORY_MAX_LINES, len(lines))):
        if lines[k].kind == "credit":
            return True
        if lines[k].kind in ("lead", "cont", "headline"):
            return False
    return False


# ------------------------------------------------------------------ articles

@dataclass
class _Floating:
    text: str
    before_article: int | None  # index of the article right after this headline run
    after_article: int | None  # index of the article right before it
    opens: bool  # the run opened a photo story / untitled article


def segment_page(text: str) -> list[PageArticle]:
    lines = _split_lines(unicodedata.normalize("NFC", text))
    _classify(lines)
    articles: list[PageArticle] = []
    floating: list[_Floating] = []
    current: PageArticle | None = None
    para: str | None = None
    pending: list[_Line] = []  # the headline run not yet attached

    def close_para() -> None:
        nonlocal para
        if current is not None and para:
            current.paragraphs.append(para)
        para = None

    def open_article(opens_run: bool) -> PageArticle:
        nonlocal current, pending
        close_para()
        art = PageArticle()
        articles.append(art)
        for group in _group_run(pending):
            floating.append(_Floating(group, len(articles) - 1,
                                      len(articles) - 2 if len(articles) > 1 else None, opens_run))
        pending = []
        current = art
        return art

    def flush_pending_after() -> None:
        nonlocal pending
        for group in _group_run(pending):
            floating.append(_Floating(group, None, len(articles) - 1 if articles else None, False))
        pending = []

    for ln in lines:
        if ln.kind == "headline":
            close_para()
            if current is not None and not pending:
                # a headline run ends whatever article was open
                current = None
            pending.append(ln)
            continue
        if ln.kind == "credit":
            close_para()
            name, report = _parse_credit(ln.text)
            target = current or (articles[-1] if articles else None)
            if target is not None:
                target.photographer = name
                if report and not target.author:
                    target.author = name
                    target.byline = ln.text
            current = None if report else current
            continue
        if ln.kind in ("lead", "cont"):
            art = open_article(opens_run=False)
            body = ln.text
            if ln.kind == "cont":
                m = CONT_RE.match(body)
                assert m is not None
                art.continued_from = f"{m.group(1)}第{unicodedata.normalize('NFKC', m.group(2))}版"
                body = body[m.end():]
            else:
                _read_byline(art, body)
            if not body:
                continue
            para = body
        else:  # body
            if current is None:
                open_article(opens_run=bool(pending))
                para = None
            para = join_lines(para, ln.text) if para else ln.text
        if para and _ends_paragraph(para):
            close_para()
    close_para()
    flush_pending_after()
    articles_kept = [a for a in articles if a.paragraphs]
    _assign_titles(articles, floating)
    for art in articles_kept:
        if not art.title:
            art.title = _fallback_title(art)
    return articles_kept


def _read_byline(art: PageArticle, lead: str) -> None:
    m = BYLINE_RE.search(lead[:60])
    if m:
        art.author = _names(m.group(1))
        art.byline = m.group(0)
        return
    m = LEAD_REPORTER_RE.match(lead)
    if m:
        art.author = _names(m.group(1))


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
    sentence = BYLINE_RE.sub("", sentence)
    sentence = re.sub(r"^(本报讯|据[^，。]{1,30}?(?:报道|消息))[，,：:]?", "", sentence)
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
        df: dict[str, int] = {}
        for g in self.grams:
            for b in g:
                df[b] = df.get(b, 0) + 1
        self.idf = {b: math.log((n + 1) / (c + 0.5)) + 0.1 for b, c in df.items()}
        # A gram found nowhere on the page says little about which article a
        # headline belongs to (paraphrase), so it weighs like a common one.
        self.unseen = 0.5

    def score(self, headline: str, k: int) -> float:
        hb = _grams(headline)
        if not hb or not self.grams[k]:
            return 0.0
        total = sum(self.idf.get(b, self.unseen) for b in hb)
        hit = sum(self.idf[b] for b in hb if b in self.grams[k])
        return hit / total

    def best(self, headline: str) -> tuple[float, int]:
        return max((self.score(headline, k), k) for k in range(len(self.grams)))


def _split_run_together(text: str, m: _Matcher) -> list[str]:
    """'A标题B标题' → ['A标题', 'B标题'] when each half matches a different article
    clearly better than the whole line matches any one."""
    if len(text) < 14 or len(m.grams) < 2:
        return [text]
    whole, _ = m.best(text)
    best: tuple[float, int] | None = None
    for k in range(6, len(text) - 5):
        if text[k] in CLOSERS + "”’" or text[k - 1] in "“‘《（(「『【":
            continue
        (sl, al), (sr, ar) = m.best(text[:k]), m.best(text[k:])
        if al != ar and min(sl, sr) >= MIN_TITLE_SCORE and (best is None or sl + sr > best[0]):
            best = (sl + sr, k)
    if best and best[0] / 2 > whole + 0.15:
        k = best[1]
        return [text[:k], text[k:]]
    return [text]


def _assign_titles(articles: list[PageArticle], floating: list[_Floating]) -> None:
    live = [k for k, a in enumerate(articles) if a.paragraphs]
    if not live:
        return
    sub = [articles[k] for k in live]
    m = _Matcher(sub)
    pos = {k: i for i, k in enumerate(live)}
    cands: list[tuple[float, int, int]] = []  # (score, headline index, article sub-index)
    heads: list[tuple[str, _Floating]] = []
    for fl in floating:
        for part in _split_run_together(fl.text, m):
            heads.append((part, fl))
    for h, (text, fl) in enumerate(heads):
        for i, k in enumerate(live):
            s = m.score(text, i)
            if fl.before_article == k:
                s += 0.5 if fl.opens else 0.2
            elif fl.after_article == k:
                s += 0.1
            cands.append((s, h, i))
    used_h: set[int] = set()
    for s, h, i in sorted(cands, reverse=True):
        if s < MIN_TITLE_SCORE or h in used_h or sub[i].title:
            continue
        sub[i].title = heads[h][0]
        used_h.add(h)
    # Unused headlines printed right above an article are its kicker lines.
    for h, (text, fl) in enumerate(heads):
        if h not in used_h and fl.before_article in pos:
            articles[fl.before_article].kicker.append(text)
