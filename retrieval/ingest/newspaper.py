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
   a third small logistic model then cuts an article where, after a blank
   line, the topic (shared rare character pairs) and column width change and
   a nearby headline matches the text after better than the text before;
5. split run-together headlines (between words, never after a comma) and
   give headlines to articles by one global assignment per block of nearby
   articles (IDF-weighted character/bigram match plus a small bonus for being
   next to the article), then a second one, at a lower score, among the
   headlines and articles the first left over.

Authors are the names of the byline joined by one space, roles (记者,
通讯员, 实习生, ...) dropped: "记者 邓燕鑫 通讯员 任娜" → "邓燕鑫 任娜".
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import math
import operator
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retrieval.errors import ModelError
from retrieval.textnorm import CJK, CLOSERS, SENTENCE_END, join_lines, simplified_in_place, squeeze_spaces

if TYPE_CHECKING:
    import jieba

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
    rf"(?:\d{{1,2}}月\d{{1,2}}日)?电|据(?:新华社|中新社)[{CJK}]{{0,8}}(?:\d{{1,2}}月\d{{1,2}}日)?电|本报记者\s*{NAME}(?:\s*{NAME})*[，,]|据[^，。]{{1,30}}?(?:报道|消息)[，,：:])"
)
CONT_RE = re.compile(r"^[（(]\s*(上接|下转)第\s*([0-9０-９一二三四五六七八九十]+)\s*版\s*[)）]\s*")
CREDIT_CORE = rf"(?:本报|新华社|中新社)?(?:记者|通讯员|实习生)?\s*{NAME}(?:\s+{NAME}){{0,3}}\s*(?:摄影报道|摄影报导|摄)"
CREDIT_LINE_RE = re.compile(rf"^{CREDIT_CORE}$")
TRAILING_CREDIT_RE = re.compile(rf"(?<=[。！？!?{CLOSERS}])\s*({CREDIT_CORE})$")
BYLINE_IN_LEAD_RE = re.compile(rf"[（(]\s*((?:{ROLE})[^）)]{{2,60}}?)\s*[）)]")
# a bracket opening a byline, possibly at the very end of the line
# or cut inside its role by a narrow column ("本报邢台1月1日电（记|者马晨）")
BYLINE_OPEN_RE = re.compile(rf"[（(]\s*(?:{ROLE}|(?:{ROLE_FRAGMENT_RE.pattern[:-1]}|[{CJK}])?$)")
LEAD_REPORTER_RE = re.compile(rf"^本报记者\s*({NAME}(?:\s+{NAME})*)")
# Page furniture: editors' credits, or a short line with two of date / weekday /
# page number / paper name.
EDITOR_RE = re.compile(r"责任编辑|本版编辑|版式设计|美术编辑|美编|校对|责编")
FURNITURE_SIGNS = [re.compile(p) for p in (
    r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日", r"星期[一二三四五六日天]|周[一二三四五六日]",
    r"第\s*\d{1,3}\s*版|^\d{1,2}\s|\s\d{1,2}$|^[A-Z]?\d{1,2}\s*版",
    # a paper's name: "…日报", "…晚报", or any short word ending in 报 standing alone ("晨光报")
    rf"[{CJK}]{{1,4}}(?:日报|晚报|时报|快报|商报|晨报|午报|早报|周报)|(?:^|\s)[{CJK}]{{2,4}}报(?:\s|$)",
)]
# what every sign above needs in the line (a digit, 星期 or 周, 版, 报): most lines have none of them
_FURNITURE_HINT_RE = re.compile(r"[报周版]|星期|\d")
# "第9版 国际", "A3版 要闻": a page number with at most a section name
PAGE_NO_LINE_RE = re.compile(rf"^(?:第\s*\d{{1,3}}\s*版|[A-Z]?\d{{1,2}}\s*版)\s*[{CJK}]{{0,8}}$")
LEAD_STARTS = ("本报", "新华社", "中新社", "据")
HALF_PUNCT = frozenset("，。、；：“”‘’（）《》「」")
MD_HEADING_RE = re.compile(r"^#{1,6}\s+")
PARA_END = tuple(SENTENCE_END)
SOFT_END = tuple("，、：；:,—")
SUBTITLE_DASHES = ("—", "－－", "--", "―")
INNER_PUNCT_RE = re.compile(r"[，。；！？：、,;!?]")

# A photo story is a headline, a short caption and a credit.
PHOTO_STORY_MAX_LINES = 8
# Below this match score (plus position bonus) a headline is nobody's title.
MIN_TITLE_SCORE = 0.45
# Headlines and articles left over by the assignment are paired at this lower
# score: a page rarely prints an article without headline or a headline without
# article, and a photo's headline paraphrases more than its short caption says.
LEFTOVER_TITLE_SCORE = 0.25
# The first pass scores a line after a line it gives at least this headline
# probability: the line after a doubtful kicker is often the title that
# settles it (through the second pass's view of the next line).
FIRST_PASS_CHAIN = 0.1
# Match weight a headline is assumed to have unmatched before its own grams count.
TITLE_PRIOR = 2.0
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
# ones): L2-regularised logistic regression (Newton's method in numpy). The
# first reads the line alone (_FEATURES, prev_headline left at 0); the second
# adds the first's verdict on the lines before and after, and weighs every
# feature again for a line after a blank line and for one after a headline
# (_FEATURES_2): what a line's shape says depends on what it follows.
_FEATURES = (
    "bias", "prev_clean", "prev_headline", "ends_sentence", "ends_soft", "inner_punct", "width_full",
    "width_indent", "wider", "shorter", "next_special", "next_indent", "next_full", "next_ends_sentence",
    "blank_before", "blank_after", "ascii_share", "width", "inner_space", "next_headlike", "very_short", "echo",
    "joins_next", "misfit", "misfit_x_next_ends", "indent_x_next_cont", "page_top", "no_punct",
    "next_para_start", "next_repeats", "run_unfinished", "credit_soon", "next_indented", "credit_x_indented",
    "topic_shift", "echo_below", "shift_x_misfit", "text_chars", "text_pairs", "text_start", "text_end", "prev_text_end",
)
_OWN_2 = _FEATURES + ("p1_prev", "p1_next", "p1_self_x_next")
_CONTEXTS_2 = ("blank_before", "prev_headline")
# (context, feature) pairs weighed again in pass 2; the context's own column
# and the bias would only repeat it
_CONTEXT_PAIRS_2 = np.array([(_OWN_2.index(c), j) for c in _CONTEXTS_2 for j in range(1, len(_OWN_2))
                             if _OWN_2[j] not in _CONTEXTS_2])
_FEATURES_2 = _OWN_2 + tuple(f"{_OWN_2[c]}*{_OWN_2[j]}" for c, j in _CONTEXT_PAIRS_2)
# "Another article starts here" at a paragraph after a blank line (features in
# _boundaries), fitted the same way on the same pages. The three weight vectors
# are the page-line model shipped in retrieval/ingest/pagemodel/ (read once, on
# first use, by line_model() at the end of this module).


@dataclass
class PageArticle:
    """An article as found on the page, before it gets an id and a file."""

    paragraphs: list[str] = field(default_factory=list)
    title: str | None = None
    author: str | None = None
    photographer: str | None = None
    kicker: list[str] = field(default_factory=list)
    subtitle: str | None = None
    continued_from: str | None = None
    byline: str | None = None
    dateline: str | None = None  # "本报北京1月8日电", where the reader keeps it apart


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
    text_score: tuple[float, ...] | None = None  # headline-ness of its words (_text_score), when asked
    # the key less what _bigrams drops, and its character pairs: computed once per line, since the
    # features of every line nearby read them (_topic_shift, _line_pairs)
    clean: str | None = None
    pairs: frozenset[str] = frozenset()
    ends: bool = False  # the text ends a paragraph (_ends_paragraph), read by most features

    def __post_init__(self) -> None:
        self.ends = _ends_paragraph(self.text)


def _clean_pairs(ln: _Line) -> str:
    """The line's key as _bigrams reads it (its pairs in ``ln.pairs``), computed on first use."""
    if ln.clean is None:
        s = _NOT_WORD_RE.sub("", ln.key)
        ln.pairs = frozenset([s[k : k + 2] for k in range(len(s) - 1)])
        ln.clean = s
    return ln.clean


def _line_pairs(run: Iterable[_Line]) -> set[str]:
    """``_bigrams`` of the lines' keys joined: each line's own pairs and those across each join
    (from one non-empty line to the next), without joining and slicing the text again."""
    out: set[str] = set()
    last = ""
    for ln in run:
        c = ln.clean if ln.clean is not None else _clean_pairs(ln)
        if not c:
            continue
        if last:
            out.add(last + c[0])
        out |= ln.pairs
        last = c[-1]
    return out


def undouble(text: str) -> str | None:
    """“““娘娘家家人人””” style bold headlines: every character printed twice."""
    s = _SPACES_RE.sub("", text)
    if len(s) < 4 or len(s) % 2 or s[0] != s[1]:
        return None
    if all(s[i] == s[i + 1] for i in range(0, len(s), 2)):
        return s[::2]
    return None


_SPACES_RE = re.compile(r"\s+")
_CJK_RE = re.compile(f"[{CJK}]")
_ASCII_ALNUM_RE = re.compile(r"[0-9A-Za-z]")
_WORD_CHAR_RE = re.compile(rf"[{CJK}0-9A-Za-z]")
_SPACED_CJK_RE = re.compile(rf"[{CJK}]\s+[{CJK}]")
_NOT_WORD_OR_SPACE_RE = re.compile(r"[^\w\s]")
_NOT_WORD_RE = re.compile(rf"[^{CJK}0-9a-zA-Z]")
_ASCII_RE = re.compile(r"[\x00-\x7f]+")


def _width(text: str, squeezed: bool = True) -> int:
    """Printed width in half-width units; Chinese punctuation counts as half
    width on pages that squeeze it (most do), else as full width."""
    printed = _SPACES_RE.sub("", text)
    wide = _ASCII_RE.sub("", printed)  # every character here is two units wide...
    half = sum(map(wide.count, HALF_PUNCT)) if squeezed else 0  # ...but squeezed punctuation
    return len(printed) + len(wide) - half


def _set_widths(lines: list[_Line]) -> None:
    """Widths under whichever punctuation measure the page uses: the one under
    which more neighbouring lines of a column come out equally wide."""
    def agreeing(widths: list[int]) -> int:
        return sum(1 for a, b in zip(widths, widths[1:]) if a == b and a >= 12)

    full, half = [], []
    for ln in lines:
        # _width(text, False) and _width(text, True), measured once
        printed = _SPACES_RE.sub("", ln.text)
        wide = _ASCII_RE.sub("", printed)
        full.append(len(printed) + len(wide))
        half.append(full[-1] - sum(map(wide.count, HALF_PUNCT)))
    widths = full if agreeing(full) > agreeing(half) else half
    for ln, w in zip(lines, widths):
        ln.width = w


def _ends_paragraph(text: str) -> bool:
    return text.rstrip(CLOSERS).endswith(PARA_END)


def parse_names(orig: str, key: str | None = None) -> str:
    """'本报记者 吕蕾 沈鑫冰' → '吕蕾 沈鑫冰'; '记者 邓燕鑫 通讯员 任娜' → '邓燕鑫 任娜'.

    Roles are read on ``key`` (the simplified copy) and names cut from ``orig``
    at the same places, so a traditional byline keeps its characters."""
    if key is None or len(key) != len(orig):
        key = orig
    # (word, a role came right before it)
    words: list[tuple[str, bool]] = []
    for m in re.finditer(r"[^\s■●▲◆、，,]+", key):
        start, tok = m.start(), m.group()
        after_role = False
        while (r := ROLE_RE.match(tok)) and r.end():
            start += r.end()
            tok = tok[r.end():]
            after_role = True
        if tok:
            words.append((orig[start : start + len(tok)], after_role))
    names: list[str] = []
    carry = ""
    for q, (word, after_role) in enumerate(words):
        word = carry + word
        carry = ""
        if len(word) == 1 and re.match(f"[{CJK}]", word):
            # a name broken by a stray layout space ("韩欣 军", "曾 思刚"): the
            # character goes to the side that makes a name of two or three
            prev_ok = bool(names) and not after_role and len(names[-1]) <= 3
            nxt = words[q + 1] if q + 1 < len(words) else None
            next_ok = nxt is not None and not nxt[1] and len(nxt[0]) <= 3
            if prev_ok and (len(names[-1]) <= 2 or not next_ok or len(nxt[0]) > 2):
                names[-1] += word
            elif next_ok:
                carry = word
            elif prev_ok:
                names[-1] += word
            continue
        if NAME_RE.match(word):
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
        self._done: dict[str, str] = {}
        if _CJK_RE.search(sample):
            from retrieval.textnorm import _zhconv

            head = sample[:4000]
            conv = _zhconv().convert(head, "zh-cn")
            changed = 0 if conv == head else sum(a != b and bool(_CJK_RE.match(a)) for a, b in zip(head, conv))
            # a few variant characters occur in simplified text too (人名, 引文)
            self.active = changed >= 3 and changed >= len(_CJK_RE.findall(head)) // 50

    def __call__(self, text: str) -> str:
        if not self.active:
            return text
        # a line without layout spaces is asked for twice (squeezed and spaced)
        got = self._done.get(text)
        if got is None:
            got = self._done[text] = simplified_in_place(text)
        return got


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
        spaced = _SPACES_RE.sub(" ", content)
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
    _set_widths(lines)
    return lines


def _is_furniture(ln: _Line) -> bool:
    if len(ln.text) > 48 or ln.ends:
        return False
    if EDITOR_RE.search(ln.key) or PAGE_NO_LINE_RE.match(ln.skey):
        return True
    if not _FURNITURE_HINT_RE.search(ln.skey):
        return False
    return sum(1 for p in FURNITURE_SIGNS if p.search(ln.skey)) >= 2


_BULLET_RE = re.compile(r"^[■●▲◆]\s*")


def _byline_tokens(skey: str) -> list[str] | None:
    """Name tokens of a line made only of roles and names, or None."""
    s = _BULLET_RE.sub("", skey.strip())
    if not ROLE_RE.match(s):
        return None
    tokens = re.findall(r"\S+", ROLE_ANY_RE.sub(" ", s))
    if not tokens or not all(re.fullmatch(rf"[{CJK}·]{{1,4}}", t) for t in tokens):
        return None
    return tokens


def _byline_open(key: str) -> bool:
    """A lead whose bracketed byline ("本报讯（记者 张三 李") is not closed on this line."""
    m = BYLINE_OPEN_RE.search(key[:40])
    return m is not None and not re.search(r"[）)]", key[m.end():])


def _join_byline(a: str, b: str) -> str:
    """Two parts of a wrapped byline; a name cut in two has a one-character part."""
    left = re.search(rf"[{CJK}·]*$", a.rstrip()).group()
    right = re.match(rf"[{CJK}·]*", b.lstrip()).group()
    whole_tokens = len(left) >= 2 and len(right) >= 2 and not ROLE_END_RE.search(a.rstrip()) \
        and not ROLE_FRAGMENT_RE.search(a.rstrip())
    return f"{a.rstrip()} {b.lstrip()}" if whole_tokens else a.rstrip() + b.lstrip()


def _mark_certain(lines: list[_Line]) -> None:
    """Kinds known from the words alone."""
    for i, ln in enumerate(lines):
        if ln.kind != "body":
            continue
        if CONT_RE.match(ln.key):
            ln.kind = "cont"
        elif CREDIT_LINE_RE.match(ln.skey) or CREDIT_LINE_RE.match(ln.key):
            ln.kind = "credit"
        elif LEAD_RE.match(ln.key) or (
                # a dateline longer than a narrow column runs on to the next line
                ln.key.startswith(LEAD_STARTS) and i + 1 < len(lines) and not lines[i + 1].blank_before
                and LEAD_RE.match(ln.key + lines[i + 1].key) and not LEAD_RE.match(lines[i + 1].key)):
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
        if a.key and b.key and _CJK_RE.match(a.key[-1]) and _CJK_RE.match(b.key[0]):
            a.joins_next = (a.key[-1] + b.key[0]) in pairs
    # A lead's bracketed byline can run over a few lines, which then read like
    # bylines of their own ("见习记者 罗程海 李艺") but are the lead going on.
    for i, ln in enumerate(lines):
        if ln.kind == "lead" and _byline_open(ln.skey):
            joined = ln.skey
            for nxt in lines[i + 1 : i + 4]:
                if not _byline_open(joined):
                    break
                if nxt.kind in ("byline", "byline_cont", "credit"):
                    nxt.kind = "body"
                joined = _join_byline(joined, nxt.skey)
    # A byline wrapped over two lines: the second part is a short run of names.
    for a, b in zip(lines, lines[1:]):
        if a.kind == "byline" and b.kind == "body" and len(b.text) <= 16 and not INNER_PUNCT_RE.search(b.text):
            tokens = _byline_tokens(_join_byline(a.skey, b.skey))
            if tokens and all(2 <= len(t) <= 4 for t in tokens):
                b.kind = "byline_cont"


def _mode_width(c: dict[int, int]) -> int:
    """The column width among counted line widths: lines of mixed Latin text end
    one unit short and lines with hanging punctuation one long, so neighbours
    count half."""
    return max(c, key=lambda w: (c[w] + 0.5 * (c.get(w - 1, 0) + c.get(w + 1, 0)), w))


def _column_widths(lines: list[_Line]) -> list[int]:
    """Most common width of the full body lines that follow (else those before),
    not looking past a line known to end an article (a credit, page furniture):
    the next article may be set in another column width."""
    widths = [ln.width if ln.kind == "body" and not ln.ends and ln.width >= 12 else 0
              for ln in lines]
    # a credit, a continuation note or page furniture ends an article, a lead
    # or byline starts the next one: the width there may differ
    hard = [ln.kind in ("credit", "cont", "header") or ln.doubled is not None for ln in lines]
    soft = [h or ln.kind != "body" for h, ln in zip(hard, lines)]
    n = len(lines)
    counted_at = [j for j in range(n) if widths[j]]  # the lines whose width counts

    def next_stops(stops: list[bool]) -> list[int]:
        """Per line, the first stop after it (n: none)."""
        got, nxt = [n] * n, n
        for j in range(n - 1, -1, -1):
            got[j] = nxt
            if stops[j]:
                nxt = j
        return got

    next_soft, next_hard = next_stops(soft), next_stops(hard)
    prev_soft, last = [-1] * n, -1  # per line, the last soft stop before it
    for j in range(n):
        prev_soft[j] = last
        if soft[j]:
            last = j

    def after(i: int, stop: int) -> list[int]:
        """Widths of the (at most 10) counted lines after line i, within 15 lines and before ``stop``."""
        a = bisect.bisect_right(counted_at, i)
        b = bisect.bisect_left(counted_at, min(stop, i + 16), a)
        return [widths[j] for j in counted_at[a : min(b, a + 10)]]

    def before(i: int) -> list[int]:
        """Widths of the counted lines of the 7 before line i, back to the last soft stop."""
        a = bisect.bisect_right(counted_at, max(prev_soft[i], i - 8))
        return [widths[j] for j in counted_at[a : bisect.bisect_left(counted_at, i, a)]]

    modes: dict[frozenset[tuple[int, int]], int] = {}  # neighbouring lines count the same widths
    out = []
    for i in range(n):
        # headlines run straight into a lead: then the lead's article is the one to measure
        got: list[int] = []
        for stops in (next_soft, next_hard):
            got = after(i, stops[i])
            if len(got) >= 3:
                break
            # a paragraph's last lines before the next article: measure its own
            # article (the lines before it), not the one after the lead
            if got and stops is next_soft:
                got += before(i)
                if len(got) >= 3:
                    break
        if len(got) < 2:
            got += before(i)
        if not got:
            out.append(0)
            continue
        c: dict[int, int] = {}  # width → lines counted
        for w in got:
            c[w] = c.get(w, 0) + 1
        key = frozenset(c.items())
        mode = modes.get(key)
        if mode is None:
            mode = modes[key] = _mode_width(c)
        out.append(mode)
    return out


def line_features(lines: list[_Line], i: int, colw: int, prev_headline: bool) -> np.ndarray:
    ln = lines[i]
    prev = lines[i - 1] if i else None
    nxt = lines[i + 1] if i + 1 < len(lines) else None
    w = ln.width
    t = ln.text
    prev_clean = prev is None or prev.kind in ("credit", "header", "byline", "byline_cont", "cont", "headline") \
        or prev.ends
    next_special = nxt is None or nxt.kind in ("lead", "byline", "cont", "header")
    near = lambda a, b, tol: colw > 0 and abs(a - b) <= tol  # noqa: E731
    nw = nxt.width if nxt is not None else 0
    next_body = nxt is not None and nxt.kind == "body"
    ascii_share = len(_ASCII_ALNUM_RE.findall(t)) / max(len(t), 1)
    inner = len(INNER_PUNCT_RE.findall(t[:-1]))
    ends = ln.ends
    next_ends = next_body and nxt.ends
    # a line inside a paragraph fills the column (the first one less its indent);
    # one that neither fills it nor ends a sentence is no body line
    misfit = colw > 0 and not ends and not (colw - 5 <= w <= colw + 2)
    # the next line goes on with the paragraph (a blank line between is a column break)
    next_cont = next_body and (near(nw, colw, 2) or (next_ends and not nxt.blank_before))
    # the next line starts a paragraph: indented width, or a one-line paragraph after a break
    next_para = next_body and (near(nw, colw - 4, 1) or (next_ends and nxt.blank_before))
    # the next line is indented against the one after it, whatever the column
    # width: it opens a paragraph (a photo caption's column is its own)
    after = lines[i + 2] if i + 2 < len(lines) else None
    next_indented = next_body and after is not None and after.kind == "body" and 3 <= after.width - nw <= 5
    run_unfinished = _run_unfinished(lines, i)
    credit_soon = _credit_soon(lines, i)
    shift, echo_below = _topic_shift(lines, i)
    return np.array([
        1.0,
        float(prev_clean),
        float(prev_headline),
        float(ends),
        float(t.endswith(SOFT_END)),
        min(inner, 2) / 2,
        float(near(w, colw, 2)),
        float(near(w, colw - 4, 1)),
        float(colw > 0 and w > colw + 3),
        float(colw > 0 and w < colw - 6),
        float(next_special),
        float(next_body and near(nw, colw - 4, 1)),
        float(next_body and near(nw, colw, 2)),
        float(next_body and nxt.ends),
        float(ln.blank_before),
        float(nxt is None or nxt.blank_before),
        ascii_share,
        min(w, 80) / 40,
        float(bool(_SPACED_CJK_RE.search(ln.spaced))),
        float(next_body and not nxt.ends and not near(nw, colw, 2) and not near(nw, colw - 4, 1)),
        float(w <= 8),
        _echo(lines, i),
        float(ln.joins_next),
        float(misfit),
        float(misfit and next_ends),
        float(near(w, colw - 4, 1) and next_cont),
        float(prev is None or prev.kind == "header"),
        float(not _NOT_WORD_OR_SPACE_RE.search(t)),
        float(next_para),
        _next_repeats(ln, nxt),
        run_unfinished,
        credit_soon,
        float(next_indented),
        float(credit_soon and next_indented),
        shift,
        echo_below,
        shift * float(misfit),
        *_text_score(ln),
        _text_score(prev)[3] if prev is not None and prev.kind == "body" else 0.0,
    ])


_DIGIT_RE = re.compile(r"[0-9０-９]+")
_LATIN_RE = re.compile(r"[A-Za-zＡ-Ｚａ-ｚ]+")
# a line's mean gram weight is clipped to this: one line's words are weak evidence on their own
TEXT_SCORE_CLIP = 3.0


def text_grams(key: str) -> list[list[str]]:
    """The line's characters, its character pairs, its first one and two characters (marked ^) and its
    last one and two (marked $). Numbers read as 0 and Latin words as a: a headline's words, not its
    figures, tell it from body text. Body lines are cut by the column anywhere inside a sentence;
    headline lines start and end where a phrase does."""
    s = _LATIN_RE.sub("a", _DIGIT_RE.sub("0", _SPACES_RE.sub("", key)))
    if not s:
        return [[], [], [], []]
    return [list(s), [s[k : k + 2] for k in range(len(s) - 1)], ["^" + s[:1], "^" + s[:2]],
            [s[-1:] + "$", s[-2:] + "$"]]


def _text_score(ln: _Line) -> tuple[float, ...]:
    """How much the line's words read like a headline line rather than a body line: the mean log-odds
    of its characters, of its pairs, of its start and of its end under the headline-text table of the
    page-line model (naive Bayes, fitted on the same generated pages)."""
    if ln.text_score is None:
        text = line_model()["headline_text"]
        table, default = text["grams"], text["default"]
        got = []
        for grams in text_grams(ln.key):
            v = sum(map(table.get, grams, itertools.repeat(default, len(grams)))) / len(grams) if grams else 0.0
            got.append(max(-TEXT_SCORE_CLIP, min(TEXT_SCORE_CLIP, v)) / TEXT_SCORE_CLIP)
        ln.text_score = tuple(got)
    return ln.text_score


def _topic_shift(lines: list[_Line], i: int) -> tuple[float, float]:
    """(share of the character pairs of the text below the line that the text above does not use,
    share of the line's pairs used below minus the share used above). An article printed without a
    lead starts where the topic changes, and its headline names what the text below is about."""
    ga = _line_pairs([ln for ln in lines[max(0, i - 8) : i] if ln.kind == "body"])
    gb = _line_pairs([ln for ln in lines[i + 1 : i + 9] if ln.kind == "body"])
    if not ga or not gb:
        return 0.0, 0.0
    shift = 1.0 - len(ga & gb) / len(gb)
    _clean_pairs(lines[i])
    gl = lines[i].pairs
    side = (len(gl & gb) - len(gl & ga)) / len(gl) if gl else 0.0
    return shift, side


def _run_unfinished(lines: list[_Line], i: int) -> float:
    """1 when the line and the few after it finish no sentence and run into a
    line that starts or ends an article (lead, byline, credit, page furniture,
    a bold headline) or the end of the text: a paragraph goes on until its
    sentence ends, a run of headlines (kicker, titles, several at the top or
    foot of the page) does not. A "下转" note follows a paragraph cut off
    mid-sentence, so it does not count."""
    for j in range(i, min(len(lines), i + 4)):
        ln = lines[j]
        if j > i and (ln.kind != "body" or ln.doubled):
            cont = CONT_RE.match(ln.key) if ln.kind == "cont" else None
            return float(cont is None or cont.group(1) != "下转")
        if ln.ends:
            return 0.0
    return float(i + 4 >= len(lines))


def _credit_soon(lines: list[_Line], i: int) -> float:
    """1 when a photo credit ends the text that follows within a few lines:
    a photo story is a headline over a short caption and its credit."""
    for j in range(i + 1, min(len(lines), i + PHOTO_STORY_MAX_LINES + 1)):
        if lines[j].kind != "body":
            return float(lines[j].kind == "credit")
    return 0.0


def _next_repeats(ln: _Line, nxt: _Line | None) -> float:
    """How much of the next line's opening the line already says: an article's
    first sentence names its subject, which its headline names too."""
    if nxt is None or nxt.kind != "body":
        return 0.0
    return _repeats(ln.key, nxt.key)


def _repeats(head: str, text: str) -> float:
    """Share (of four characters) of the text's opening that the headline says."""
    a = _NOT_WORD_RE.sub("", head)
    b = _NOT_WORD_RE.sub("", text[:16])
    k = 0
    while k < min(len(b), 8) and b[: k + 1] in a:
        k += 1
    return min(k, 4) / 4


def _echo(lines: list[_Line], i: int) -> float:
    """Share of the line's bigrams printed again in the lines around it: a
    headline repeats words of its article, a body line mostly does not."""
    t = _SPACES_RE.sub("", lines[i].key)
    grams = {t[k : k + 2] for k in range(len(t) - 1)}
    if not grams:
        return 0.0
    text = "\n".join([ln.key for ln in lines[max(0, i - 12) : i]] + [ln.key for ln in lines[i + 1 : i + 13]])
    return sum(1 for g in grams if g in text) / len(grams)


def may_be_headline(lines: list[_Line], i: int, prev_headline: bool, colws: list[int]) -> bool:
    """Only a line that starts after a finished paragraph (or a headline, or
    page furniture) can be a headline; a short last line ends a paragraph too."""
    ln = lines[i]
    if len(_WORD_CHAR_RE.findall(ln.text)) < 2 or len(ln.text) > 64:
        return False
    if ln.text.rstrip(CLOSERS).endswith(("。", "；", ";")):
        return False  # a headline has no full stop
    if i == 0 or prev_headline:
        return True
    prev = lines[i - 1]
    # a line much shorter than the column ends a paragraph; one much wider is
    # no line of a paragraph at all; nor is a line after a break (blank line)
    # that neither fills the column nor ends a sentence; a bracket closing a
    # line may close a commentary's signature ("（作者为…研究员）")
    return prev.kind != "body" or prev.ends or prev.text.endswith(("）", ")")) or (
        colws[i - 1] > 0 and not colws[i - 1] - 6 <= prev.width <= colws[i - 1] + 3) or (
        ln.blank_before and colws[i] > 0 and not colws[i] - 5 <= ln.width <= colws[i] + 2)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))


def first_pass(lines: list[_Line], colws: list[int], features: dict[int, np.ndarray] | None = None
               ) -> list[float]:
    """Headline probability of every body line from its own shape (prev_headline unknown).
    ``features``, if given, keeps each line's features for the second pass."""
    p1: list[float] = []
    w1 = line_model()["headline_1"]
    for i, ln in enumerate(lines):
        if ln.kind == "headline" or ln.doubled:
            p1.append(1.0)
        elif ln.kind == "body" and may_be_headline(lines, i, bool(p1) and p1[-1] > FIRST_PASS_CHAIN, colws):
            x = line_features(lines, i, colws[i], False)
            if features is not None:
                features[i] = x
            p1.append(_sigmoid(float(x @ w1)))
        else:
            p1.append(0.0)
    return p1


# which of line_features' values is prev_headline (the one that differs between the passes)
_PREV_HEADLINE = _FEATURES.index("prev_headline")
# how far back line_features reads the kinds of the lines before (_topic_shift reads 8)
_KINDS_BACK = 8


def second_features(lines: list[_Line], i: int, colw: int, prev_headline: bool, p1: list[float],
                    own: np.ndarray | None = None) -> np.ndarray:
    """The line's own features plus what the first pass thinks of its neighbours:
    headlines come in runs (kicker, title, several titles in a row). ``own``: the line's
    line_features, when known."""
    nxt = p1[i + 1] if i + 1 < len(p1) else 0.0
    prev = p1[i - 1] if i else 0.0
    if own is None:
        own = line_features(lines, i, colw, prev_headline)
    own = np.concatenate([own, [prev, nxt, p1[i] * nxt]])
    return np.concatenate([own, own[_CONTEXT_PAIRS_2[:, 0]] * own[_CONTEXT_PAIRS_2[:, 1]]])


# Pass 2's log-odds, when the model has boosted trees: this share of the trees' and the rest of the logistic
# weights'. The trees alone find more of the headlines the logistic misses, but fitted on train lines they
# are surer than they should be: alone (or above a margin under 0.5) they made a sentence cut by a column
# break into a headline on the sample page. Chosen on train pages neither was fitted on (docs/pages.md).
HEADLINE_TREES_SHARE = 0.5


def _second_score(x: np.ndarray) -> float:
    """Pass 2's log-odds that the line is a headline: the logistic weights, blended with the boosted trees
    when the model has them."""
    model = line_model()
    logistic = float(x @ model["headline_2"])
    trees = model.get("headline_2_trees")
    if trees is None:
        return logistic
    return HEADLINE_TREES_SHARE * _forest(x, trees) + (1 - HEADLINE_TREES_SHARE) * logistic


def _forest(x: np.ndarray, t: dict) -> float:
    """The boosted trees' log-odds for one line. The trees are turned into one Python function of nested
    comparisons the first time (walking the node lists took a fifth of a page's segmentation)."""
    return _forest_fn(t)(x.tolist())


def _forest_fn(t: dict) -> Callable[[list[float]], float]:
    """The trees ``t`` as one compiled function of a feature list (compiled once per trees dict)."""
    got = _FORESTS.get(id(t))
    if got is None or got[0] is not t:
        got = _FORESTS[id(t)] = (t, _compile_forest(t))
    return got[1]


# the compiled trees of each trees dict in use (kept with the dict, so that its id is not reused)
_FORESTS: dict[int, tuple[dict, Callable[[list[float]], float]]] = {}


def _compile_forest(t: dict) -> Callable[[list[float]], float]:
    feature, threshold, left, right, value = t["feature"], t["threshold"], t["left"], t["right"], t["value"]
    def num(v: float) -> str:
        v = float(v)
        return repr(v) if math.isfinite(v) else f"float('{v}')"

    out = ["def forest(x):", f"    total = {num(t['base'])}"]

    def node(k: int, depth: int) -> None:
        pad = "    " * depth
        if left[k] < 0:
            out.append(f"{pad}total += {num(value[k])}")
            return
        out.append(f"{pad}if x[{int(feature[k])}] <= {num(threshold[k])}:")
        node(left[k], depth + 1)
        out.append(f"{pad}else:")
        node(right[k], depth + 1)

    for root in t["roots"]:
        node(root, 1)
    out.append("    return total")
    scope: dict = {}
    exec(compile("\n".join(out), "<page-line trees>", "exec"), scope)  # numbers from the model file only
    return scope["forest"]


def _classify(lines: list[_Line]) -> list[int]:
    """Mark every line's kind; returns the column width at each line."""
    _mark_certain(lines)
    colws = _column_widths(lines)
    for ln in lines:
        _clean_pairs(ln)  # every line is read by the topic shift of a line near it
    first: dict[int, np.ndarray] = {}
    p1 = first_pass(lines, colws, first)
    prev_headline = False
    changed = -_KINDS_BACK - 1  # the last line this pass made a headline
    for i, ln in enumerate(lines):
        if ln.kind == "headline":
            prev_headline = True
            continue
        if ln.kind != "body":
            prev_headline = False
            continue
        # a bold (doubled) line is a headline wherever it stands
        if ln.doubled:
            ln.kind = "headline"
            prev_headline = True
            changed = i
            continue
        if not may_be_headline(lines, i, prev_headline, colws):
            prev_headline = False
            continue
        # the first pass's features stand while no line they read has become a headline since,
        # but for prev_headline, which it left at 0
        own = first.get(i) if i - changed > _KINDS_BACK else None
        if own is not None:
            own = own.copy()
            own[_PREV_HEADLINE] = float(prev_headline)
        z = _second_score(second_features(lines, i, colws[i], prev_headline, p1, own))
        if z > 0.0:
            ln.kind = "headline"
            prev_headline = True
            changed = i
        elif z > PAIR_FLOOR and _headline_pair(lines, i, colws, p1, z):
            # the line and the next one are one headline run (a title over two lines, a kicker and its
            # title) that neither shows alone: the next line was no candidate while this one was body
            lines[i + 1].kind = "headline"
            prev_headline = True
            changed = i + 1
        else:
            prev_headline = False
    return colws


# "This line and the one under it are headline lines together": a line pass 2 turned down, but not by
# much (its log-odds above PAIR_FLOOR), is weighed again with the next line, scored by pass 2 as if this
# one were a headline. Two lines of one headline printed as wide as the column, flush under an article,
# show only together: the second was never a candidate while the first was read as body.
PAIR_FLOOR = -3.0
# the pair is taken above this log-odds of the headline-pair model (chosen on train pages it was not fitted on)
PAIR_MARGIN = -1.5
_PAIR_FEATURES = ("bias", "z", "z_next", "z_min", "blank_after", "lead_after", "next_ends", "next_wider",
                  "both_short")
# (source line, features) of every pair weighed, while fitting
_PAIR_LOG: list[tuple[int, np.ndarray]] | None = None


def _headline_pair(lines: list[_Line], i: int, colws: list[int], p1: list[float], z: float) -> bool:
    """Whether line ``i`` (pass 2's log-odds ``z``, under 0) and line i+1 are headline lines together,
    under the headline-pair model; line i is left a headline when they are."""
    if i + 1 >= len(lines) or lines[i + 1].kind != "body" or lines[i + 1].blank_before \
            or not may_be_headline(lines, i + 1, True, colws):
        return False
    ln, nxt = lines[i], lines[i + 1]
    after = lines[i + 2] if i + 2 < len(lines) else None
    ln.kind = "headline"  # tentatively: the next line's features read the kind of the line before
    zn = _second_score(second_features(lines, i + 1, colws[i + 1], True, p1))
    colw = colws[i]
    x = np.array([
        1.0,
        max(-10.0, min(10.0, z)) / 5,
        max(-10.0, min(10.0, zn)) / 5,
        max(-10.0, min(10.0, min(z, zn))) / 5,
        float(after is None or after.blank_before),
        float(after is not None and after.kind in ("lead", "byline", "cont", "header")),
        float(nxt.ends),
        float(colw > 0 and nxt.width > colw + 2),
        float(colw > 0 and ln.width < colw - 2 and nxt.width < colw - 2),
    ])
    if _PAIR_LOG is not None:
        _PAIR_LOG.append((ln.raw, x))
    w = line_model().get("headline_pair")
    if w is not None and float(x @ w) > PAIR_MARGIN:
        return True
    ln.kind = "body"
    return False


# An in-article subheading (小标题): a short phrase line between two paragraphs of one article, printed like
# a headline. The headline passes take it for one, and the article would be cut in two under it; the
# subheading model says whether a headline run with body (no lead, byline or continuation) right under
# it, after an article, is such a subheading: then it is a paragraph of the article above.
_SUBHEAD_FEATURES = ("bias", "run_lines", "run_chars", "rel_width", "numbered", "ends_punct", "blank_before",
                     "blank_after", "prev_titled", "prev_lead", "prev_paras", "prev_chars", "prev_signed_off",
                     "prev_ends", "start_soon", "share", "rare_share", "run_after", "run_before", "text_chars",
                     "text_pairs", "text_start", "text_end", "repeats", "run_after_near", "all_short")
# the run is taken as a subheading above this log-odds of the subheading model (chosen on train pages)
SUBHEAD_MARGIN = 0.0
_SUBHEAD_NUMBERED_RE = re.compile(r"^(?:[（(]?[一二三四五六七八九十0-9０-９]{1,3}[、.．）)]|[■●▲◆□◎★☆])")
# (source line of the run's first line, source line of the body under it, source line of the article
# above's last paragraph, features) of every run weighed, while fitting
_SUBHEAD_LOG: list[tuple[int, int, int, np.ndarray]] | None = None


def _subheading(lines: list[_Line], n: int, run: list[_Line], art: PageArticle, titled: bool, opened: str,
                colw: int, df: Counter[str]) -> np.ndarray:
    """Features of the headline run ``run`` printed between the article ``art`` (its paragraphs so far;
    ``titled`` when a headline run was printed above it, ``opened`` how it began) and the body line ``n``
    under the run."""
    text = "".join(ln.key for ln in run)
    before = _bigrams("".join(art.paragraphs)[-300:])
    after = _line_pairs([ln for ln in lines[n : n + 10] if ln.kind == "body"])
    share = len(before & after) / len(after) if after else 0.0
    rare_after = {g for g in after if df.get(g, 0) <= 2}
    rare = len(before & rare_after) / len(rare_after) if rare_after else 0.0
    gl = _bigrams(text)
    near = _line_pairs([ln for ln in lines[n : n + 3] if ln.kind == "body"])
    scores = [_text_score(ln) for ln in run]
    last = art.paragraphs[-1] if art.paragraphs else ""
    start_soon = any(ln.kind in ("lead", "byline", "cont", "credit") for ln in lines[n + 1 : n + 6])
    return np.array([
        1.0,
        min(len(run), 3) / 3,
        min(len(_NOT_WORD_RE.sub("", text)), 30) / 30,
        min(max(ln.width for ln in run) / colw, 2.0) if colw > 0 else 1.0,
        float(bool(_SUBHEAD_NUMBERED_RE.match(run[0].key.lstrip()))),
        float(run[-1].key.rstrip()[-1:] in "：:？?！!。；"),
        float(run[0].blank_before),
        float(lines[n].blank_before),
        float(titled),
        float(opened in ("lead", "byline", "cont")),
        math.log1p(len(art.paragraphs)) / 3,
        math.log1p(sum(map(len, art.paragraphs))) / 8,
        float(_signed_off(last) or bool(CONT_RE.match(last))),
        float(_ends_paragraph(last)),
        float(start_soon),
        share,
        rare,
        len(gl & after) / len(gl) if gl else 0.0,
        len(gl & before) / len(gl) if gl else 0.0,
        *(sum(s[k] for s in scores) / len(scores) for k in range(4)),
        _repeats(text, lines[n].key),
        len(gl & near) / len(gl) if gl else 0.0,
        float(colw > 0 and all(ln.width < 0.6 * colw for ln in run)),
    ])


# ------------------------------------------------------------------ articles

@dataclass
class _Floating:
    text: str
    before_article: int | None  # index of the article right after this headline run
    after_article: int | None  # index of the article right before it
    last_in_run: bool  # printed right above the article that follows
    bold: bool = False  # printed with doubled characters: one headline, never two run together
    run: int = -1  # which run of consecutive headline lines it was printed in
    pos: int = 0  # its place in that run
    raw: int = -1  # the source line it starts on


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


def segment_page(text: str, progress: Callable[[int, int], None] | None = None) -> list[PageArticle]:
    """The articles of a page's text, in page order. ``progress``, if given, is
    called with (characters done, characters in all) after each chunk: a file
    of many pages takes a while."""
    text = unicodedata.normalize("NFC", text)
    out: list[PageArticle] = []
    done = 0
    for chunk in _chunks(text):
        out.extend(_segment_chunk(chunk))
        done += len(chunk)
        if progress is not None:
            progress(done, len(text))
    return out


def _segment_chunk(text: str, boundary_log: list[tuple[int, int, np.ndarray]] | None = None
                   ) -> list[PageArticle]:
    """Articles of one chunk; with ``boundary_log`` (fitting only) nothing is split
    at topic shifts and the candidate places are logged instead: (source line of
    the paragraph, source line of the paragraph before, features)."""
    lines = _split_lines(text)
    colws = _classify(lines)
    articles: list[PageArticle] = []
    opened_by: list[str] = []
    floating: list[_Floating] = []
    current: PageArticle | None = None
    para: str | None = None
    para_at = 0  # index of the line the open paragraph starts on
    starts: list[list[int]] = []  # per article, the line each paragraph starts on
    pending: list[_Line] = []  # the headline run not yet attached
    pending_at = 0  # index of its first line
    df: Counter[str] | None = None  # in how many lines each character pair is, when first needed

    def _is_subheading(n: int) -> bool:
        nonlocal df
        w = line_model().get("subheading")
        if w is None and _SUBHEAD_LOG is None:
            return False
        if df is None:
            df = Counter()
            for ln_d in lines:
                _clean_pairs(ln_d)
                df.update(ln_d.pairs)
        k = len(articles) - 1
        titled = any(fl.before_article == k for fl in floating)
        if not titled:
            # the article above has no headline over it: a run under its body is most often its own
            # headline, printed after it (and the body under the run another article)
            return False
        x = _subheading(lines, n, pending, articles[k], titled, opened_by[k], colws[n], df)
        if _SUBHEAD_LOG is not None:
            _SUBHEAD_LOG.append((pending[0].raw, lines[n].raw, lines[starts[k][-1]].raw, x))
        return w is not None and float(x @ w) > SUBHEAD_MARGIN

    def close_para() -> None:
        nonlocal para
        if current is not None and para:
            current.paragraphs.append(para)
            starts[-1].append(para_at)
        para = None

    def open_article(how: str) -> PageArticle:
        nonlocal current, pending
        close_para()
        art = PageArticle()
        articles.append(art)
        opened_by.append(how)
        starts.append([])
        groups = _group_run(pending)
        # the headline printed right above the text: the last of the run that is no subtitle
        last = max((g for g, group in enumerate(groups) if not _is_subtitle(group[0], g)
                    and not _is_kicker(group[0])), default=len(groups) - 1)
        for g, group in enumerate(groups):
            floating.append(_Floating(group[0], len(articles) - 1,
                                      len(articles) - 2 if len(articles) > 1 else None, g == last,
                                      group[1], run=len(articles), pos=g, raw=group[2]))
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
            if not pending:
                pending_at = i - 1
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
                    para, para_at = body, i - 1
                continue
            art = open_article("cont")
            art.continued_from = f"{m.group(1)}第{unicodedata.normalize('NFKC', m.group(2))}版"
            if not body:
                continue
            para, para_at = body, i - 1
        elif ln.kind == "lead":
            art = current if (current is not None and not current.paragraphs and para is None
                              and opened_by[-1] == "byline") else open_article("lead")
            spaced, skey = ln.spaced, ln.skey
            j = i
            while j < min(len(lines), i + 3) and lines[j].kind == "body" and (
                    _byline_open(skey) or not LEAD_RE.match(skey)
                    or (j == i and BYLINE_OPEN_RE.match(lines[j].skey.lstrip()))):
                # the bracketed byline goes on to the next line(s)
                spaced = _join_byline(spaced, lines[j].spaced)
                skey = _join_byline(skey, lines[j].skey)
                j += 1
            _read_byline(art, spaced, skey)
            para, para_at = ln.text, i - 1
        else:  # body
            if current is None and pending and articles and articles[-1].paragraphs and _is_subheading(i - 1):
                # an in-article subheading: a paragraph of the article above, which goes on under it
                current = articles[-1]
                para = functools.reduce(join_lines, (ln_p.doubled or undouble(ln_p.text) or ln_p.text
                                                     for ln_p in pending))
                para_at = pending_at
                close_para()
                pending = []
            if current is None:
                open_article("body" if pending or not articles else "after")
                para = None
            if not para:
                para_at = i - 1
            para = join_lines(para, ln.text) if para else ln.text
        if para and (_ends_paragraph(para) or _signed_off(para)):
            # a bracketed sign-off ("（新华社电）", "（本报记者X整理）", "（作者为…）") ends its paragraph
            # though no full stop closes it: the text after it is another paragraph, often another article
            close_para()
    close_para()
    for g, (text_g, bold, raw) in enumerate(_group_run(pending)):
        floating.append(_Floating(text_g, None, len(articles) - 1 if articles else None, False, bold,
                                  run=len(articles) + 1, pos=g, raw=raw))
    pair_memo = _PairMemo()
    if boundary_log is not None:
        boundary_log.extend((lines[b].raw, lines[starts[k][j - 1]].raw, x)
                            for k, j, b, x in _boundaries(lines, articles, starts, floating))
    else:
        articles, opened_by, starts, floating = _split_articles(lines, articles, opened_by, starts, floating,
                                                                pair_memo)

    # Debris: a short scrap with no sentence in it is a headline nobody took, not an article.
    for k, art in enumerate(articles):
        body = "".join(art.paragraphs)
        if art.paragraphs and len(body) < MIN_BODY_CHARS and not any(_ends_paragraph(p) for p in art.paragraphs) \
                and not art.author and not art.photographer and not art.continued_from:
            floating.append(_Floating(body, k + 1 if k + 1 < len(articles) else None, k - 1 if k else None, True))
            art.paragraphs = []
    floating = [fl for fl in floating if fl.text.strip()]
    grams: dict[str, set[str]] = {}
    titled = False
    if boundary_log is None:
        articles, opened_by, starts, floating, titled = _split_for_headlines(lines, colws, articles, opened_by,
                                                                              starts, floating, grams, pair_memo)
    if not titled:
        _assign_titles(articles, floating, opened_by, grams=grams)
    kept = [a for a in articles if a.paragraphs]
    for art in kept:
        if not art.title:
            art.title = _fallback_title(art)
    return kept


def _bigrams(text: str) -> set[str]:
    s = _NOT_WORD_RE.sub("", text)
    return {s[k : k + 2] for k in range(len(s) - 1)}


class _PairMemo:
    """_bigrams of the paragraphs of a chunk, each made once (the boundary and the headline-split
    models read the same paragraphs), and of any stretch of text running over several of them. The
    sets are shared: never change them."""

    def __init__(self) -> None:
        self.sets: dict[str, set[str]] = {}
        self.ends: dict[str, str] = {}  # a paragraph's first and last character that _bigrams reads

    def of(self, p: str) -> set[str]:
        got = self.sets.get(p)
        if got is None:
            c = _NOT_WORD_RE.sub("", p)
            got = self.sets[p] = {c[k : k + 2] for k in range(len(c) - 1)}
            self.ends[p] = c[:1] + c[-1:]
        return got

    def window(self, paras: list[str], start: int, end: int) -> set[str]:
        """_bigrams("".join(paras)[start:end]): the pairs of each paragraph and those across each join
        (from one paragraph's last character to the next one's first), without slicing the text again."""
        out: set[str] = set()
        last = ""
        at = 0
        for p in paras:
            lo, hi = max(start - at, 0), min(end - at, len(p))
            at += len(p)
            if lo >= hi:
                continue
            if lo == 0 and hi == len(p):
                pairs = self.of(p)
                ends = self.ends[p]
            else:
                c = _NOT_WORD_RE.sub("", p[lo:hi])
                pairs = {c[k : k + 2] for k in range(len(c) - 1)}
                ends = c[:1] + c[-1:]
            if not ends:
                continue
            if last:
                out.add(last + ends[0])
            out |= pairs
            last = ends[-1]
        return out


def _para_bigrams(paras: list[str], memo: _PairMemo | None) -> list[set[str]]:
    """_bigrams of each paragraph, from ``memo`` when given."""
    if memo is None:
        return [_bigrams(p) for p in paras]
    return [memo.of(p) for p in paras]


class _Idf(dict):
    """Pair → log((n + 1) / (document frequency + 0.5)); a pair counted nowhere (one across two
    paragraphs, a headline's) is computed when first asked."""

    def __init__(self, df: Counter[str], n: int):
        # every counted pair at once, without a call per pair (the same arithmetic as __missing__)
        super().__init__(zip(df.keys(), map(math.log, map(operator.truediv, itertools.repeat(n + 1),
                                                           map(operator.add, df.values(), itertools.repeat(0.5))))))
        self.df, self.n = df, n

    def __missing__(self, g: str) -> float:
        v = self[g] = math.log((self.n + 1) / (self.df.get(g, 0) + 0.5))
        return v

    def weight(self, gs: Iterable[str]) -> float:
        return sum(map(self.__getitem__, gs))


def _width_mode(lines: list[_Line], idx: range, first: set[int]) -> int:
    """Column width of a run of body lines; a paragraph's first line is indented."""
    c = Counter(lines[j].width + (4 if j in first else 0) for j in idx
                if lines[j].kind == "body" and not lines[j].ends and lines[j].width >= 12)
    return _mode_width(c) if c else 0


def _boundaries(lines: list[_Line], articles: list[PageArticle], starts: list[list[int]],
                floating: list[_Floating], memo: _PairMemo | None = None
                ) -> list[tuple[int, int, int, np.ndarray]]:
    """(article, paragraph, line, features) of every place inside an article
    where another article might begin: a paragraph that starts after a blank
    line. An article printed without lead or nearby headline runs on from the
    one above; what tells them apart is a change of topic (few shared rare
    character pairs), of column width, and a headline nearby that matches the
    text after the place much better than the text before."""
    memo = memo or _PairMemo()
    paras = _para_bigrams([p for a in articles for p in a.paragraphs], memo)
    df: Counter[str] = Counter()
    for g in paras:
        df.update(g)
    n = max(len(paras), 1)
    weight = _Idf(df, n).weight
    near: dict[int, list[tuple[str, set[str]]]] = {}
    for fl in floating:
        centre = fl.before_article if fl.before_article is not None else fl.after_article
        if centre is not None:
            head = (fl.text, _bigrams(fl.text))
            for k in range(max(0, centre - 3), centre + 4):
                near.setdefault(k, []).append(head)
    out = []
    for k, art in enumerate(articles):
        for j in range(1, len(art.paragraphs)):
            b = starts[k][j]
            if not lines[b].blank_before:
                # (fitted on every paragraph start as well, with a model of their own, none was told
                # apart: 271 article starts among 21,203 paragraphs printed flush under another)
                continue
            was, upto = _joined_parts(art.paragraphs, j, -1, 1500), _joined_parts(art.paragraphs, j, 1, 1500)
            before, after = "".join(was)[-1500:], "".join(upto)[:1500]
            # the pairs of before, after[:300], after and before[-300:], from the paragraphs' own
            size_b = sum(map(len, was))
            ga = memo.window(was, size_b - len(before), size_b)
            gb = memo.window(upto, 0, min(len(after), 300))
            total = weight(gb) or 1.0
            cohesion = weight(gb & ga) / total
            # and the other way: does the text before share words with what follows?
            gb_all = memo.window(upto, 0, len(after))
            ga_tail = memo.window(was, size_b - min(len(before), 300), size_b)
            back = weight(ga_tail & gb_all) / (weight(ga_tail) or 1.0)
            first = set(starts[k])
            w_before = _width_mode(lines, range(starts[k][j - 1], b), first)
            stop = starts[k][j + 1] if j + 1 < len(starts[k]) else min(len(lines), b + 12)
            w_after = _width_mode(lines, range(b, stop), first)
            known = bool(w_before and w_after)
            head_gain = head_opens = 0.0
            for text_h, gh in near.get(k, []):
                if gh:
                    head_gain = max(head_gain, (len(gh & gb_all) - len(gh & ga)) / len(gh))
                # a headline names the subject that its article's first sentence opens with
                head_opens = max(head_opens, _repeats(text_h, after))
            out.append((k, j, b, np.array([
                1.0,
                # shares of IDF weight are small numbers: scaled so that the
                # fit's L2 penalty does not flatten them
                10 * cohesion,
                10 * back,
                10 * min(cohesion, back),
                float(known and abs(w_before - w_after) >= 2),
                float(not known),
                min(len(after), 600) / 600,
                # is there a paragraph's worth of text before to judge its topic by
                min(len(before), 120) / 120,
                float(lines[b].width <= 24 and lines[b].ends),
                max(head_gain, 0.0),
                # a short text running into a photo credit: a photo story's caption
                _credit_soon(lines, b - 1),
                head_opens,
                # (almost) no rare character pair shared either way: a clean change of topic, which
                # a short paragraph after the place cannot show through the shares above
                float(cohesion < 0.02 and back < 0.02),
                # the paragraph before ends with a dateline or byline in brackets ("（新华社电）",
                # "（本报华盛顿1月2日电）"): where a report signs off
                float(bool(SIGN_OFF_RE.search(art.paragraphs[j - 1]))),
                # the paragraph opens with a day or "recently": how a report (or a photo caption) starts
                float(bool(OPENS_WITH_TIME_RE.match(art.paragraphs[j]))),
            ])))
    return out


def _joined_parts(paras: list[str], j: int, way: int, limit: int) -> list[str]:
    """The paragraphs j, j+1, … (way 1) or …, j-2, j-1 (way -1) that reach ``limit`` characters
    next to paragraph j, in page order: long articles cost no more per place than short ones."""
    got: list[str] = []
    size = 0
    idx = range(j, len(paras)) if way > 0 else range(j - 1, -1, -1)
    for q in idx:
        got.append(paras[q])
        size += len(paras[q])
        if size >= limit:
            break
    return got if way > 0 else got[::-1]


def _joined(paras: list[str], j: int, way: int, limit: int) -> str:
    """The text of those paragraphs, at most ``limit`` characters next to paragraph j."""
    text = "".join(_joined_parts(paras, j, way, limit))
    return text[:limit] if way > 0 else text[-limit:]


_BOUNDARY_FEATURES = ("bias", "cohesion", "back", "min_cohesion", "width_change", "width_unknown",
                      "after_len", "before_len", "one_line_para", "headline_gain", "caption",
                      "headline_opens", "disjoint", "sign_off_before", "opens_with_time")
SIGN_OFF_RE = re.compile(r"[（(](?:据)?(?:本报|新华社|中新社)[^（）()]{0,24}电(?:\s*记者[^（）()]{1,12})?[）)]$")
OPENS_WITH_TIME_RE = re.compile(r"^(?:\d{1,2}月\d{1,2}日|\d{1,2}日|近日|日前|当地时间|本周|昨天|今天)")


def _bracketed(para: str) -> bool:
    """The paragraph ends with a bracket opened at its start or after a full sentence (a sign-off:
    "……发展。（本报记者X整理）", "（作者为…）")."""
    if len(para) < 3 or para[-1] not in "）)":
        return False
    depth = 0
    for at in range(len(para) - 1, -1, -1):
        ch = para[at]
        depth += ch in "）)"
        depth -= ch in "（("
        if depth == 0:
            return at == 0 or para[:at].rstrip(CLOSERS).endswith(PARA_END)
    return False


def _signed_off(para: str) -> bool:
    """The paragraph ends with a sign-off: a wire or correspondent credit ("（新华社电）") or any bracket
    closing it after a full sentence ("（本报记者X整理）", "（作者为…）")."""
    return bool(SIGN_OFF_RE.search(para)) or _bracketed(para)


def _split_articles(lines: list[_Line], articles: list[PageArticle], opened_by: list[str],
                    starts: list[list[int]], floating: list[_Floating], memo: _PairMemo | None = None
                    ) -> tuple[list[PageArticle], list[str], list[list[int]], list[_Floating]]:
    """Cut articles where the boundary model sees another article begin."""
    cuts: dict[int, list[int]] = {}
    wb = line_model()["boundary"]
    for k, j, _, x in _boundaries(lines, articles, starts, floating, memo):
        if float(x @ wb) > 0:
            cuts.setdefault(k, []).append(j)
    return _apply_cuts(articles, opened_by, starts, floating, cuts)


def _apply_cuts(articles: list[PageArticle], opened_by: list[str], starts: list[list[int]],
                floating: list[_Floating], cuts: dict[int, list[int]]
                ) -> tuple[list[PageArticle], list[str], list[list[int]], list[_Floating]]:
    """Articles cut before the paragraphs ``cuts`` names (article → paragraph indexes); headlines
    printed before an article go with its first part, those after it with its last."""
    if not cuts:
        return articles, opened_by, starts, floating
    new_articles: list[PageArticle] = []
    new_opened: list[str] = []
    new_starts: list[list[int]] = []
    first: list[int] = []  # old article → index of its first part
    last: list[int] = []  # old article → index of its last part
    for k, art in enumerate(articles):
        first.append(len(new_articles))
        bounds = [0] + sorted(set(cuts.get(k, []))) + [len(art.paragraphs)]
        rest, at = art.paragraphs, starts[k]
        for part, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
            if part == 0:
                art.paragraphs = rest[:hi]
                new_articles.append(art)
                new_opened.append(opened_by[k])
            else:
                new_articles.append(PageArticle(paragraphs=rest[lo:hi]))
                new_opened.append("split")
            new_starts.append(at[lo:hi])
        last.append(len(new_articles) - 1)
    for fl in floating:
        fl.before_article = first[fl.before_article] if fl.before_article is not None else None
        fl.after_article = last[fl.after_article] if fl.after_article is not None else None
    return new_articles, new_opened, new_starts, floating


# "Another article starts at this paragraph, the one a headline nobody took describes": a paragraph
# inside a found article (after a blank line or printed flush under the one before) scored for one
# headline left over by a first, dry title assignment. An article printed without a lead under a
# headline placed after its text or in a block at the page top runs on from the one above; the page
# still prints its headline, which then has no article of its own. Fitted by bench/pages/fit.py.
_SPLIT_FEATURES = ("bias", "near_after", "near_before", "far_after", "far_before", "best_gain", "s_whole",
                   "other_best", "title_near_before", "title_near_after", "no_title", "blank_before",
                   "indent_start", "short_end", "cohesion", "back", "min_cohesion", "disjoint", "width_change",
                   "opens_with_time", "sign_off_before", "after_len", "before_len", "printed_after",
                   "printed_before", "distance", "head_len", "role", "frac")
# articles either side of a leftover headline's place whose paragraphs are candidates
SPLIT_WINDOW = 3
# A leftover headline cuts at its best paragraph when the split model's log-odds pass this (the best
# of many candidates is taken, so a margin under 0 still cuts rarely; chosen on train pages: -2.0 with the
# logistic pass 2, -2.5 since it blends the boosted trees, on train pages neither was fitted on)
SPLIT_MARGIN = -2.5
# With boosted trees over the same features in the model (headline_split_trees), their log-odds weigh this
# much against the logistic's, and the cut is made above SPLIT_TREES_MARGIN instead (chosen on train pages
# neither was fitted on)
SPLIT_TREES_SHARE = 1.0
SPLIT_TREES_MARGIN = -3.0
# (source line of the paragraph, source line before it, features) of every candidate, while fitting
_SPLIT_LOG: list[tuple[int, int, np.ndarray, int]] | None = None

_SPLIT_AT = {name: i for i, name in enumerate(_SPLIT_FEATURES)}
# candidate places of one article handled together: bounds the pair masks of a very long article
PLACES_BLOCK = 64


class _Places:
    """The headline-split features of every place j (1..paragraphs-1) of one article that do not
    depend on the headline (``static``, one row per place), and the character pairs either side of
    each place for the headline's own: the whole paragraphs before it up to about 1500 characters
    (and 300, its tail), and from it up to 300 (near) and 1500 characters, as boolean masks over the
    pairs those paragraphs use, so that the IDF-weighted overlaps of a headline with every place are
    a few products (the boundary model reads the same from the text)."""

    def __init__(self, lines: list[_Line], colws: list[int], paras: list[str], starts: list[int],
                 grams: list[set[str]], idf: _Idf, title: set[str], title_total: float):
        count = len(paras)
        lens = [len(p) for p in paras]
        # the paragraphs each side spans, per place: [lo, hi)
        spans = {name: [] for name in ("before", "tail", "near", "after")}
        for j in range(1, count):
            for name, limit in (("before", 1500), ("tail", 300)):
                size, lo = 0, 0
                for q in range(j - 1, -1, -1):
                    size += lens[q]
                    if size >= limit:
                        lo = q
                        break
                spans[name].append((lo, j))
            for name, limit in (("near", 300), ("after", 1500)):
                size, hi = 0, count
                for q in range(j, count):
                    size += lens[q]
                    if size >= limit:
                        hi = q + 1
                        break
                spans[name].append((j, hi))
        # (first place, pair index, IDF per pair, masks per side) per block of places
        self.blocks: list[tuple[int, dict[str, int], np.ndarray, dict[str, np.ndarray]]] = []
        cohesion, back = np.zeros(count - 1), np.zeros(count - 1)
        title_tail, title_near = np.zeros(count - 1), np.zeros(count - 1)
        for p0 in range(0, count - 1, PLACES_BLOCK):
            p1 = min(count - 1, p0 + PLACES_BLOCK)
            q0 = min(spans["before"][p][0] for p in range(p0, p1))
            q1 = max(spans["after"][p][1] for p in range(p0, p1))
            used = set().union(*grams[q0:q1])
            index = dict(zip(used, range(len(used))))
            weights = np.fromiter(map(idf.__getitem__, index), float, len(index))
            # cumulative counts of each pair over the paragraphs: a side's pairs are those counted
            # more often at its end than at its start
            cum = np.zeros((q1 - q0 + 1, len(index)), np.int32)
            for q in range(q0, q1):
                cum[q - q0 + 1, np.fromiter(map(index.__getitem__, grams[q]), np.intp, len(grams[q]))] = 1
            cum = np.cumsum(cum, axis=0, dtype=np.int32)
            masks = {}
            for name, span in spans.items():
                lo = np.array([a for a, _ in span[p0:p1]]) - q0
                hi = np.array([b for _, b in span[p0:p1]]) - q0
                masks[name] = cum[hi] > cum[lo]
            self.blocks.append((p0, index, weights, masks))
            near_w = masks["near"] @ weights
            tail_w = masks["tail"] @ weights
            cohesion[p0:p1] = ((masks["near"] & masks["before"]) @ weights) / np.where(near_w == 0, 1.0, near_w)
            back[p0:p1] = ((masks["tail"] & masks["after"]) @ weights) / np.where(tail_w == 0, 1.0, tail_w)
            if title and title_total:
                t_tail, t_near = self._overlap(index, weights, masks, title, title_total, ("tail", "near"))
                title_tail[p0:p1], title_near[p0:p1] = t_tail, t_near
        first = set(starts)
        after = [0] * (count + 1)  # characters from paragraph j on
        for q in range(count - 1, -1, -1):
            after[q] = after[q + 1] + lens[q]
        x = np.zeros((count - 1, len(_SPLIT_FEATURES)))
        x[:, _SPLIT_AT["bias"]] = 1.0
        x[:, _SPLIT_AT["title_near_before"]] = title_tail
        x[:, _SPLIT_AT["title_near_after"]] = title_near
        x[:, _SPLIT_AT["no_title"]] = float(not title)
        x[:, _SPLIT_AT["cohesion"]] = 10 * cohesion
        x[:, _SPLIT_AT["back"]] = 10 * back
        x[:, _SPLIT_AT["min_cohesion"]] = 10 * np.minimum(cohesion, back)
        x[:, _SPLIT_AT["disjoint"]] = (cohesion < 0.02) & (back < 0.02)
        # column width of each paragraph (the last one's: its first 12 lines), read either side of a place
        modes = [_width_mode(lines, range(starts[j], starts[j + 1] if j + 1 < len(starts)
                                          else min(len(lines), starts[j] + 12)), first) for j in range(count)]
        for j in range(1, count):
            b = starts[j]
            prev_last = b - 1
            w_before, w_after = modes[j - 1], modes[j]
            x[j - 1, _SPLIT_AT["blank_before"]] = lines[b].blank_before
            x[j - 1, _SPLIT_AT["indent_start"]] = colws[b] > 0 and abs(lines[b].width - (colws[b] - 4)) <= 1
            x[j - 1, _SPLIT_AT["short_end"]] = (prev_last >= 0 and colws[prev_last] > 0
                                                and lines[prev_last].width < colws[prev_last] - 6)
            x[j - 1, _SPLIT_AT["width_change"]] = bool(w_before and w_after) and abs(w_before - w_after) >= 2
            x[j - 1, _SPLIT_AT["opens_with_time"]] = bool(OPENS_WITH_TIME_RE.match(paras[j]))
            x[j - 1, _SPLIT_AT["sign_off_before"]] = _signed_off(paras[j - 1])
            x[j - 1, _SPLIT_AT["after_len"]] = min(after[j], 600) / 600
            x[j - 1, _SPLIT_AT["before_len"]] = min(after[0] - after[j], 600) / 600
            x[j - 1, _SPLIT_AT["frac"]] = j / count
        self.static = x
        # per place: the paragraph after it is a bracket alone, a sign-off ("（本报记者X整理）")
        self.sign_off = [paras[j].startswith(("（", "(")) and _bracketed(paras[j]) for j in range(1, count)]

    @staticmethod
    def _overlap(index: dict[str, int], weights: np.ndarray, masks: dict[str, np.ndarray], head: set[str],
                 total: float, sides: tuple[str, ...]) -> list[np.ndarray]:
        """IDF-weighted share of the headline's pairs printed on each side, per place of one block."""
        at = [index[g] for g in head if g in index]
        if not at:
            return [np.zeros(len(masks[s])) for s in sides]
        w = weights[at]
        return [(masks[s][:, at] @ w) / total for s in sides]

    def overlaps(self, head: set[str], total: float) -> list[np.ndarray]:
        """Per place, the headline's overlap with the text near after, near before, after, before."""
        sides = ("near", "tail", "after", "before")
        count = len(self.static)
        if not total:
            return [np.zeros(count) for _ in sides]
        parts = [self._overlap(index, weights, masks, head, total, sides) for _, index, weights, masks in self.blocks]
        return [np.concatenate([p[i] for p in parts]) for i in range(len(sides))]


def _split_for_headlines(lines: list[_Line], colws: list[int], articles: list[PageArticle], opened_by: list[str],
                         starts: list[list[int]], floating: list[_Floating], grams: dict[str, set[str]],
                         memo: _PairMemo | None = None
                         ) -> tuple[list[PageArticle], list[str], list[list[int]], list[_Floating], bool]:
    """Cut an article where a headline left over by the title assignment describes the text after
    (or before) a paragraph and the article's own title the other side: per leftover headline, its
    best paragraph under the headline-split model, when the model says yes. The last value says
    whether the articles have their titles already: when nothing is cut, the dry assignment is the
    one the articles would get (``grams``: _grams of the texts seen, kept for the next matchers;
    ``memo``: _bigrams of the paragraphs seen)."""
    model = line_model()
    w = model["headline_split"]
    trees = model.get("headline_split_trees")
    margin = SPLIT_MARGIN if trees is None else SPLIT_TREES_MARGIN
    if not w.any() and _SPLIT_LOG is None:
        return articles, opened_by, starts, floating, False
    dry = _assign_titles(articles, floating, opened_by, dry=True, grams=grams)
    titles = [a.title for a in articles]
    for a in articles:
        a.title = None

    def uncut() -> tuple[list[PageArticle], list[str], list[list[int]], list[_Floating], bool]:
        if _ROLE_LOG is not None:
            return articles, opened_by, starts, floating, False  # the role model's fit logs the real one
        for a, t in zip(articles, titles):
            a.title = t
        for block in dry.blocks:
            _kickers_and_subtitles(articles, block.heads, block.title_of, block.matcher, block.base)
        return articles, opened_by, starts, floating, True

    leftover = [(t, fl, r) for t, fl, r in dry.leftover if not _is_subtitle(t, fl.pos) and not _is_kicker(t)]
    if not leftover:
        return uncut()
    n = len(articles)
    # the dry assignment's matcher when one block saw every article
    m = dry.blocks[0].matcher if len(dry.blocks) == 1 and dry.blocks[0].base == 0 and dry.blocks[0].top == n \
        else _Matcher(articles, grams)
    para_grams = [_para_bigrams(a.paragraphs, memo) for a in articles]
    df: Counter[str] = Counter()
    for gs in para_grams:
        for g in gs:
            df.update(g)
    npara = max(sum(len(gs) for gs in para_grams), 1)
    idf = _Idf(df, npara)
    head_total: dict[frozenset[str], float] = {}

    def head_weight(head: set[str]) -> float:
        key = frozenset(head)
        total = head_total.get(key)
        if total is None:
            total = head_total[key] = idf.weight(head)
        return total

    places: dict[int, _Places] = {}
    cuts: dict[int, list[int]] = {}
    for text, fl, role in leftover:
        anchor = fl.before_article if fl.before_article is not None else fl.after_article
        if anchor is None:
            continue
        window = range(max(0, anchor - SPLIT_WINDOW), min(n, anchor + SPLIT_WINDOW + 1))
        whole = {k: m.score(text, k) for k in window}
        gh = _bigrams(text)
        total_h = head_weight(gh)
        best: tuple[float, int, int] | None = None
        for k in window:
            count = len(articles[k].paragraphs)
            if count < 2:
                continue
            other = max((v for q, v in whole.items() if q != k), default=0.0)
            at = places.get(k)
            if at is None:
                gt = _bigrams(titles[k]) if titles[k] else set()
                at = places[k] = _Places(lines, colws, articles[k].paragraphs, starts[k], para_grams[k], idf,
                                         gt, head_weight(gt))
            na, nb, fa, fb = at.overlaps(gh, total_h)
            gain = fa - fb
            x = at.static.copy()
            x[:, _SPLIT_AT["near_after"]] = na
            x[:, _SPLIT_AT["near_before"]] = nb
            x[:, _SPLIT_AT["far_after"]] = fa
            x[:, _SPLIT_AT["far_before"]] = fb
            x[:, _SPLIT_AT["best_gain"]] = gain >= gain.max() - 1e-9
            x[:, _SPLIT_AT["s_whole"]] = whole[k]
            x[:, _SPLIT_AT["other_best"]] = other
            x[:, _SPLIT_AT["printed_after"]] = float(fl.after_article == k and fl.before_article != k)
            x[:, _SPLIT_AT["printed_before"]] = float(fl.before_article == k)
            x[:, _SPLIT_AT["distance"]] = abs(k - anchor) / SPLIT_WINDOW
            x[:, _SPLIT_AT["head_len"]] = min(len(text), 30) / 15
            x[:, _SPLIT_AT["role"]] = role
            if _SPLIT_LOG is not None:
                for j in range(1, count):
                    b = starts[k][j]
                    _SPLIT_LOG.append((lines[b].raw, lines[b - 1].raw if b >= 1 else -1, x[j - 1].copy(), fl.raw))
                continue
            z_all = x @ w
            if trees is not None:
                z_all = SPLIT_TREES_SHARE * np.array(list(map(_forest_fn(trees), x.tolist()))) \
                    + (1 - SPLIT_TREES_SHARE) * z_all
            for j, z in enumerate(z_all.tolist(), start=1):
                if at.sign_off[j - 1]:
                    continue  # a sign-off closes the article above, it opens none
                if z > margin and (best is None or z > best[0]):
                    best = (z, k, j)
        if best is not None:
            cuts.setdefault(best[1], []).append(best[2])
    if not cuts:
        return uncut()
    return *_apply_cuts(articles, opened_by, starts, floating, cuts), False


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


def _is_subtitle(text: str, pos: int) -> bool:
    """A line opening with a dash under another headline line is a subtitle (副题), never a title."""
    return pos > 0 and text.lstrip().startswith(SUBTITLE_DASHES)


def _is_kicker(text: str) -> bool:
    """A line ending in a dash leads into the title under it: a kicker (引题), never a title."""
    return text.rstrip().endswith(SUBTITLE_DASHES)


_PART_RE = re.compile(rf"^[{CJK}0-9A-Za-z“”《》·]{{2,12}}(?:[（(][^）)]{{1,14}}[）)])?$")


def _join_two_part(heads: list[tuple[str, _Floating]], m: _Matcher, base: int, n: int
                   ) -> list[tuple[str, _Floating]]:
    """A two-part headline ("全面小康 冲锋号已经吹响") printed as two short lines of one run: both
    lines short phrases, and both best match the same article, which the two together match at
    least as well. Two articles' short headlines printed together match different articles."""
    out: list[tuple[str, _Floating]] = []
    for text, fl in heads:
        if out:
            prev_text, prev_fl = out[-1]
            if (prev_fl.run == fl.run and fl.run >= 0 and fl.pos == prev_fl.pos + 1 and not fl.bold
                    and not prev_fl.bold and _PART_RE.match(prev_text) and _PART_RE.match(text)
                    and not re.search(r"[（(]", prev_text)):
                ks = range(max(0, _window(fl, n).start - base), min(len(m.grams), _window(fl, n).stop - base))
                (sa, ka), (sb, kb) = m.best(prev_text, ks), m.best(text, ks)
                joined = f"{prev_text} {text}"
                sj, kj = m.best(joined, ks)
                if ka == kb == kj and min(sa, sb) >= LEFTOVER_TITLE_SCORE and sj >= max(sa, sb):
                    out[-1] = (joined, prev_fl)
                    continue
        out.append((text, fl))
    return out


def _group_run(run: list[_Line]) -> list[tuple[str, bool, int]]:
    """(headline, bold, source line of its first line) of a run: doubled lines printed on consecutive
    lines are one bold headline broken over lines; other lines stand alone."""
    groups: list[tuple[str, bool, int]] = []
    prev_doubled = False
    prev: _Line | None = None
    for ln in run:
        doubled = ln.doubled or undouble(ln.text)
        text = doubled or ln.spaced or ln.text
        if doubled and prev_doubled and not ln.blank_before and groups:
            groups[-1] = (groups[-1][0] + text, True, groups[-1][2])
        elif (not doubled and prev is not None and not prev_doubled and not ln.blank_before and groups
              and _one_headline(prev, ln)):
            # one headline broken over two lines: inside a word ("…部分全|国人大…"), in the middle,
            # or between its two parts ("全面小康|冲锋号已经吹响")
            groups[-1] = (groups[-1][0] + ("" if prev.joins_next else " ") + text, False, groups[-1][2])
        else:
            groups.append((text, bool(doubled), ln.raw))
        prev_doubled = bool(doubled)
        prev = ln
    return groups


_JOIN_FEATURES = ("bias", "joins_next", "len_a", "len_b", "a_longer", "similar", "a_closes", "a_dash",
                  "b_dash", "b_tag", "a_space", "b_space", "a_end_text", "b_start_text", "a_pair_text",
                  "b_pair_text", "a_comma", "b_comma", "role_a", "role_b", "role_joined", "role_gain",
                  "role_a_end", "role_b_start", "a_left_open", "b_closes_unopened")
# Two headline lines are joined only when the join model's log-odds pass this margin: a short kicker
# over a short title reads much like the two parts of one title, and a kicker glued to its title is
# worse than a two-part title cut in two (the second part still becomes the subtitle).
HEADLINE_JOIN_MARGIN = 0.5
# (source line of the first line, features) of every pair judged by _one_headline, while fitting
_JOIN_LOG: list[tuple[int, np.ndarray]] | None = None


def _join_role_features(ta: str, tb: str) -> tuple[float, ...]:
    """How the two lines read, alone and together, under the role-text table (title against kicker /
    subtitle / section line): the two halves of a two-line title read like a title once joined, often
    more than either half alone ("…强调" closes a kicker, "——" or "访…" opens a subtitle)."""
    table = line_model()["role_text"]
    ra, rb, rj = _role_text_scores(table, ta), _role_text_scores(table, tb), _role_text_scores(table, ta + tb)
    return ra[0], rb[0], rj[0], rj[0] - max(ra[0], rb[0]), ra[2], rb[1]


_OPENERS, _CLOSERS_OF = "（(“《「『【", {"）": "（(", ")": "（(", "”": "“", "》": "《", "」": "「", "』": "『", "】": "【"}


def _bracket_balance(text: str) -> tuple[bool, bool]:
    """(a bracket or quote opened and not closed by the end, a closing one with no opener before it):
    a bracketed column tag broken over two lines (`…要紧事（守初心` / `担使命 找差距…）`) is one headline."""
    stack: list[str] = []
    unopened = False
    for ch in text:
        if ch in _OPENERS:
            stack.append(ch)
        elif ch in _CLOSERS_OF:
            if stack and stack[-1] in _CLOSERS_OF[ch]:
                stack.pop()
            else:
                unopened = True
    return bool(stack), unopened


def _one_headline(a: _Line, b: _Line) -> bool:
    """Are two consecutive headline lines one headline (a title broken over two lines: inside a
    word, in the middle, or between its two parts) rather than two (kicker and title, title and
    subtitle, two articles' titles)? The headline-join logistic model of the page-line model: the
    two lines' lengths, whether the break falls inside a word, dashes, a bracketed column tag, how
    the first line ends and the second starts under the headline-text table, a bracket or quote the first
    line leaves open and the second closes."""
    ta, tb = _SPACES_RE.sub("", a.text), _SPACES_RE.sub("", b.text)
    sa, sb = _text_score(a), _text_score(b)
    x = np.array([
        1.0,
        float(a.joins_next and bool(re.search(f"[{CJK}]$", ta)) and bool(re.match(f"[{CJK}]", tb))),
        min(len(ta), 40) / 20,
        min(len(tb), 40) / 20,
        float(len(ta) > len(tb)),
        float(abs(len(ta) - len(tb)) <= 3),
        float(ta.endswith(tuple(CLOSERS + "：:，。！？"))),
        float(ta.endswith(SUBTITLE_DASHES)),
        float(tb.startswith(SUBTITLE_DASHES)),
        float(tb.endswith(("）", ")"))),
        float(" " in a.spaced.strip()),
        float(" " in b.spaced.strip()),
        sa[3],
        sb[2],
        sa[1],
        sb[1],
        float(bool(re.search(r"[，、,]", ta))),
        float(bool(re.search(r"[，、,]", tb))),
        *_join_role_features(ta, tb),
        float(_bracket_balance(ta)[0]),
        float(_bracket_balance(tb)[1]),
    ])
    if _JOIN_LOG is not None:
        _JOIN_LOG.append((a.raw, x))
    return float(x @ line_model()["headline_join"]) > HEADLINE_JOIN_MARGIN


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
    s = _NOT_WORD_RE.sub("", unicodedata.normalize("NFKC", text).lower())
    return set(s) | {s[i : i + 2] for i in range(len(s) - 1)}


def _text_grams(text: str) -> set[str]:
    """_grams of an article's text, built faster; the order of a set that is only looked up in
    does not matter (a headline's grams are summed in their set's order: those stay _grams)."""
    s = _NOT_WORD_RE.sub("", unicodedata.normalize("NFKC", text).lower())
    return set(s).union(map(operator.add, s, s[1:]))


class _Matcher:
    def __init__(self, articles: list[PageArticle], memo: dict[str, set[str]] | None = None):
        """``memo``: _grams of texts already read (the same articles are matched more than once)."""
        memo = {} if memo is None else memo
        self.grams = []
        for a in articles:
            text = "".join(a.paragraphs)
            got = memo.get(text)
            if got is None:
                got = memo[text] = _text_grams(text)
            self.grams.append(got)
        self.n = len(articles)
        self.df: Counter[str] = Counter()
        for g in self.grams:
            self.df.update(g)
        # A gram found nowhere near says little about which article a
        # headline belongs to (paraphrase), so it weighs like a common one.
        self.unseen = 0.5

        self._weighted: dict[str, tuple[list[str], list[float], float]] = {}
        self._idf: dict[str, float] = {}

    def idf(self, b: str) -> float:
        """The gram's IDF over the articles, read only for a headline's grams (most grams are never asked)."""
        got = self._idf.get(b)
        if got is None:
            c = self.df.get(b)
            got = self._idf[b] = self.unseen if c is None else math.log((self.n + 1) / (c + 0.5)) + 0.1
        return got

    def _weights(self, headline: str) -> tuple[list[str], list[float], float]:
        """The headline's grams, their weights, and the weights' sum with the prior."""
        got = self._weighted.get(headline)
        if got is None:
            grams = list(_grams(headline))
            weights = [self.idf(b) for b in grams]
            # a short line matches some article by chance ("文化", "国际"): its
            # score is shrunk towards zero by a prior weight of TITLE_PRIOR
            got = self._weighted[headline] = (grams, weights, sum(weights) + TITLE_PRIOR)
        return got

    def score(self, headline: str, k: int) -> float:
        grams, weights, total = self._weights(headline)
        seen = self.grams[k]
        if not grams or not seen:
            return 0.0
        return sum(itertools.compress(weights, map(seen.__contains__, grams))) / total

    def best(self, headline: str, ks: range) -> tuple[float, int]:
        """(score, article) of the best-matching article among ``ks`` (the later one of a tie)."""
        if not ks:
            return 0.0, -1
        grams, weights, total = self._weights(headline)
        if not grams:
            return 0.0, ks[-1]
        got = (-1.0, -1)
        for k in ks:
            seen = self.grams[k]
            s = sum(itertools.compress(weights, map(seen.__contains__, grams))) / total if seen else 0.0
            if (s, k) > got:
                got = (s, k)
        return got


def _window(fl: _Floating, n: int) -> range:
    centre = fl.before_article if fl.before_article is not None else (fl.after_article or 0)
    return range(max(0, centre - TITLE_WINDOW), min(n, centre + TITLE_WINDOW + 1))


@functools.cache
def _jieba() -> jieba.Tokenizer:
    """jieba, loaded on first use: only a headline that may be two needs it."""
    import logging

    import jieba

    logging.getLogger("jieba").setLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def _word_starts(text: str) -> set[int]:
    """Offsets where a word begins (jieba's dictionary, no guessing of unknown
    words): two headlines run together meet between words."""
    starts, at = set(), 0
    for word in _jieba().cut(text, HMM=False):
        starts.add(at)
        at += len(word)
    return starts


_RUN_SPLIT_FEATURES = ("bias", "gain", "min_half", "max_half", "whole", "short_half", "right_bracket",
                       "dash_end", "unbalanced", "len_left", "len_right")
# A line is cut in two headlines when the run-split model's log-odds pass this margin (chosen on train
# pages the model was not fitted on: a margin under 0 keeps generator A's run-together headlines apart)
RUN_SPLIT_MARGIN = -0.5
# (the two halves, features) of every line _split_run_together weighs cutting, while fitting
_RUN_SPLIT_LOG: list[tuple[tuple[str, str], np.ndarray]] | None = None
_BRACKETED_RE = re.compile(r"[（(][^）)]*[）)]?")


def _run_split_features(text: str, left: str, right: str, whole: float, sl: float, sr: float) -> np.ndarray:
    """What says whether a headline line is two headlines run together or one: how much better its
    halves match two articles than the whole matches one, and the shape of the cut — a bracketed column
    tag (（人民论坛）) or a one-character stub left as a half, a line ending with a kicker's dash, a
    bracket or quote left open (the line continues on the next one) belong to one headline."""
    bare = [_BRACKETED_RE.sub("", p) for p in (left, right)]
    return np.array([
        1.0,
        (sl + sr) / 2 - whole,
        min(sl, sr),
        max(sl, sr),
        whole,
        float(min(len(b) for b in bare) <= 4),
        float(right.startswith(("（", "("))),
        float(text.endswith(SUBTITLE_DASHES)),
        float(text.count("（") + text.count("(") != text.count("）") + text.count(")")
              or text.count("“") != text.count("”")),
        min(len(left), 30) / 15,
        min(len(right), 30) / 15,
    ])


def _split_run_together(text: str, m: _Matcher, ks: range) -> list[str]:
    """'A标题B标题' → ['A标题', 'B标题'] when each half matches a different article and the
    run-split model (the page-line model's headline_run_split part) says the halves are two
    headlines: the best cut is where the two halves match best; the model weighs how much better than
    the whole they match, and the cut's shape."""
    if len(text) < 10 or len(ks) < 2:
        return [text]
    whole, _ = m.best(text, ks)
    word_starts = _word_starts(text)
    best: tuple[float, int, float, float] | None = None
    for k in range(4, len(text) - 3):
        # no headline starts with closing punctuation, or ends with opening or
        # inner punctuation ("天使在人间，" is half of one headline)
        if text[k] in CLOSERS + "”’，。：；！？、" or text[k - 1] in "“‘《（(「『【—，、：；":
            continue
        if text[k - 1].isascii() and text[k - 1].isalnum() and text[k].isascii() and text[k].isalnum():
            continue  # inside a Latin word or a number
        if k not in word_starts:
            continue  # inside a word
        (sl, al), (sr, ar) = m.best(text[:k], ks), m.best(text[k:], ks)
        if al != ar and min(sl, sr) >= MIN_TITLE_SCORE and (best is None or sl + sr > best[0]):
            best = (sl + sr, k, sl, sr)
    if best is None:
        return [text]
    left, right = text[: best[1]].strip(), text[best[1]:].strip()
    x = _run_split_features(text, left, right, whole, best[2], best[3])
    if _RUN_SPLIT_LOG is not None:
        _RUN_SPLIT_LOG.append(((left, right), x))
    if float(x @ line_model()["headline_run_split"]) > RUN_SPLIT_MARGIN:
        return [left, right]
    return [text]


@dataclass
class _TitleBlock:
    """One block of a title assignment: its headlines, which of them became whose title, and the
    matcher over the articles it saw (base..top), as kickers and subtitles are then given."""
    heads: list[tuple[str, _Floating]]
    title_of: dict[int, int]
    matcher: _Matcher
    base: int
    top: int


@dataclass
class _Titles:
    leftover: list[tuple[str, _Floating, float]]  # headlines no article took, with their title-role score
    blocks: list[_TitleBlock]


def _assign_titles(articles: list[PageArticle], floating: list[_Floating], opened_by: list[str],
                   dry: bool = False, grams: dict[str, set[str]] | None = None) -> _Titles:
    """Give every article its title (and kicker / subtitle) from the headlines printed near it.
    Returns the headlines no article took as its title, each with its title-role score; ``dry``
    sets titles only (the caller clears them, or gives kickers and subtitles from the blocks), for
    the headline-split model to read."""
    from scipy.optimize import linear_sum_assignment

    n = len(articles)
    leftover: list[tuple[str, _Floating, float]] = []
    blocks: list[_TitleBlock] = []
    for lo in range(0, n, ASSIGN_BLOCK):
        hi = min(n, lo + ASSIGN_BLOCK)
        block_fl = [fl for fl in floating
                    if lo <= (fl.before_article if fl.before_article is not None else (fl.after_article or 0)) < hi]
        if not block_fl:
            continue
        # the matcher sees the window around the block, so IDF is local
        base = max(0, lo - TITLE_WINDOW)
        top = min(n, hi + TITLE_WINDOW)
        m = _Matcher(articles[base:top], grams)
        heads: list[tuple[str, _Floating]] = []
        for fl in block_fl:
            ks = range(max(0, _window(fl, n).start - base), min(top, _window(fl, n).stop) - base)
            for part in ([fl.text] if fl.bold else _split_run_together(fl.text, m, ks)):
                heads.append((part, fl))
        heads = _join_two_part(heads, m, base, n)
        roles = _title_roles(heads, log=not dry)
        scores = np.zeros((len(heads), top - base))
        for h, (text, fl) in enumerate(heads):
            if _is_subtitle(text, fl.pos) or (_is_kicker(text) and not fl.last_in_run):
                continue
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
                scores[h, k - base] = s + TITLE_ROLE_WEIGHT * roles[h]
        used: set[int] = set()
        title_of: dict[int, int] = {}  # head → the article it is the title of
        for threshold in (MIN_TITLE_SCORE, LEFTOVER_TITLE_SCORE):
            free = np.maximum(scores - threshold, 0.0)
            free[sorted(used), :] = 0.0
            free[:, [c for c in range(top - base) if articles[base + c].title]] = 0.0
            rows, cols = linear_sum_assignment(-free)
            for h, c in zip(rows, cols):
                if free[h, c] > 0:
                    articles[base + c].title = heads[h][0]
                    used.add(h)
                    title_of[h] = base + c
        leftover.extend((text, fl, roles[h]) for h, (text, fl) in enumerate(heads) if h not in title_of)
        blocks.append(_TitleBlock(heads, title_of, m, base, top))
        if not dry:
            _kickers_and_subtitles(articles, heads, title_of, m, base)
    return _Titles(leftover, blocks)


# A headline line's chance of being its run's title rather than a kicker, subtitle or section line
# (the title-role model, -1..1) adds this much to its match score with every article.
TITLE_ROLE_WEIGHT = 0.3
_ROLE_SHAPE_FEATURES = ("bias", "first", "last", "alone", "run3", "length", "rel_length", "shortest", "longest",
                        "dash_start", "dash_end", "bracket_end", "comma", "space", "colon", "last_in_run",
                        "after_article", "prev_longer", "next_longer")
# what the headline's words say, under the role-text table (role_text_features)
_ROLE_TEXT_FEATURES = ("role_text", "role_text_start", "role_text_end", "role_text_margin", "role_text_top")
_ROLE_FEATURES = _ROLE_SHAPE_FEATURES + _ROLE_TEXT_FEATURES
# (source line, shape features, headline, its run's headlines, its place in the run) of every headline
# scored by _title_roles, while fitting (bench/pages/fit.py: the text features come from cross-fitted tables)
_ROLE_LOG: list[tuple[int, np.ndarray, str, list[str], int]] | None = None


def _role_text_scores(table: dict, text: str) -> tuple[float, float, float]:
    """The mean log-odds (title against kicker / subtitle / section line) of the headline's characters
    and pairs, of its start and of its end, each clipped like _text_score's."""
    grams, default = table["grams"], table["default"]
    chars, pairs, starts, ends = text_grams(text)
    got = []
    for part in (chars + pairs, starts, ends):
        v = sum(grams.get(g, default) for g in part) / len(part) if part else 0.0
        got.append(max(-TEXT_SCORE_CLIP, min(TEXT_SCORE_CLIP, v)) / TEXT_SCORE_CLIP)
    return got[0], got[1], got[2]


def role_text_features(table: dict, run: list[str], at: int) -> list[float]:
    """What the words of headline ``at`` of its run say of its role, under the role-text table (naive
    Bayes log-odds of a headline line being its article's title rather than a kicker, subtitle or section
    line — "…强调", "——访…", a list of names read as kicker or subtitle): its own scores, how far it
    reads more like a title than the best of the others in its run, and whether it reads most so."""
    scores = [_role_text_scores(table, t) for t in run]
    own = scores[at]
    others = max((s[0] for g, s in enumerate(scores) if g != at), default=own[0])
    return [own[0], own[1], own[2], own[0] - others, float(own[0] >= others)]


def _title_roles(heads: list[tuple[str, _Floating]], log: bool = True) -> list[float]:
    """Per headline, -1..1: how much its place and shape in its run of headline lines (first or last,
    longer or shorter than the others, a dash, a column tag in brackets) say it is the title rather
    than a kicker (引题, a longer line above the title), a subtitle (副题, under it) or a section line:
    the title-role logistic model of the page-line model. A headline alone in its run reads 0."""
    runs: dict[int, list[int]] = {}
    for h, (_, fl) in enumerate(heads):
        runs.setdefault(fl.run, []).append(h)
    model = line_model()
    w = model["title_role"]
    table = model.get("role_text", _EMPTY_TABLE)
    texts = [text for text, _ in heads]
    out = []
    for h, (text, fl) in enumerate(heads):
        members = runs[fl.run] if fl.run >= 0 else [h]
        at = members.index(h)
        sizes = [len(_SPACES_RE.sub("", heads[g][0])) for g in members]
        size = sizes[at]
        t = text.strip()
        x = np.array([
            1.0,
            float(at == 0),
            float(at == len(members) - 1),
            float(len(members) == 1),
            float(len(members) >= 3),
            min(size, 40) / 20,
            size / (sum(sizes) / len(sizes)),
            float(len(members) > 1 and size == min(sizes)),
            float(len(members) > 1 and size == max(sizes)),
            float(t.startswith(SUBTITLE_DASHES)),
            float(t.endswith(SUBTITLE_DASHES)),
            float(t.endswith(("）", ")"))),
            float(bool(re.search(r"[，、,]", t))),
            float(" " in t),
            float("：" in t or ":" in t),
            float(fl.last_in_run),
            float(fl.before_article is None),
            float(at > 0 and sizes[at - 1] > size),
            float(at + 1 < len(members) and sizes[at + 1] > size),
        ])
        if len(members) == 1:
            out.append(0.0)
            continue
        run = [texts[g] for g in members]
        if _ROLE_LOG is not None and log:
            _ROLE_LOG.append((fl.raw, x, text, run, at))
        x = np.concatenate([x, role_text_features(table, run, at)])
        out.append(2 * _sigmoid(float(x @ w)) - 1)
    return out


def _kickers_and_subtitles(articles: list[PageArticle], heads: list[tuple[str, _Floating]],
                           title_of: dict[int, int], m: _Matcher, base: int) -> None:
    """Headline lines no article took as its title are the kicker (引题, printed before a title) or
    the subtitle (副题, after it) of a title printed in the same run: of the titles before and after the
    line in its run, the one whose article the line matches better (a subtitle opens with a dash).
    A line with no title in its run is the kicker of the article printed right below it."""
    for h, (text, fl) in enumerate(heads):
        if h in title_of:
            continue
        same_run = [g for g in title_of if heads[g][1].run == fl.run and fl.run >= 0]
        before = max((g for g in same_run if heads[g][1].pos < fl.pos or (heads[g][1].pos == fl.pos and g < h)),
                     key=lambda g: (heads[g][1].pos, g), default=None)
        after = min((g for g in same_run if heads[g][1].pos > fl.pos or (heads[g][1].pos == fl.pos and g > h)),
                    key=lambda g: (heads[g][1].pos, g), default=None)
        dash = text.lstrip().startswith(SUBTITLE_DASHES)
        if after is not None and _is_kicker(text):
            target, as_sub = after, False
        elif before is not None and (dash or after is None):
            target, as_sub = before, True
        elif after is not None and before is None:
            target, as_sub = after, False
        elif after is not None and before is not None:
            kb, ka = title_of[before] - base, title_of[after] - base
            sb = m.score(text, kb) if 0 <= kb < len(m.grams) else 0.0
            sa = m.score(text, ka) if 0 <= ka < len(m.grams) else 0.0
            target, as_sub = (before, True) if sb > sa else (after, False)
        else:
            if fl.before_article is not None and articles[fl.before_article].paragraphs:
                articles[fl.before_article].kicker.append(text)
            continue
        art = articles[title_of[target]]
        if as_sub:
            art.subtitle = f"{art.subtitle} {text}" if art.subtitle else text
        else:
            art.kicker.append(text)


# ------------------------------------------------------------ the line model

LINE_MODEL_DIR = Path(__file__).with_name("pagemodel")
LINE_MODEL_FORMAT = "newsqa-pagelines"
LINE_MODEL_VERSION = 1
# which weight vector reads which features
LINE_MODEL_PARTS = {"headline_1": _FEATURES, "headline_2": _FEATURES_2, "boundary": _BOUNDARY_FEATURES,
                    "title_role": _ROLE_FEATURES, "headline_join": _JOIN_FEATURES,
                    "headline_split": _SPLIT_FEATURES, "headline_run_split": _RUN_SPLIT_FEATURES,
                    "headline_pair": _PAIR_FEATURES}
# what the headline-text table's keys are (text_grams); a table of other grams is refused
HEADLINE_TEXT_GRAMS = "chars+pairs, ^first1/^first2/last1$/last2$, digits 0, latin a"
# the role-text table (title against the other roles of a headline line) reads the same grams
ROLE_TEXT_GRAMS = HEADLINE_TEXT_GRAMS
# a role-text table that says nothing (while the title-role model is being fitted)
_EMPTY_TABLE: dict = {"default": 0.0, "grams": {}}


def load_line_model(path: Path = LINE_MODEL_DIR) -> dict:
    """The weight vectors of the page-line model in ``path`` (weights.json, manifest.json written last by
    bench/pages/fit.py --write). A model made for other features is refused: the code and the file
    must come from the same checkout."""
    fix = "refit it with `bench/pages/fit.py --write` or restore retrieval/ingest/pagemodel from git"
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        weights = json.loads((path / "weights.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"page-line model {path} unreadable ({e}); {fix}") from e
    if manifest.get("format") != LINE_MODEL_FORMAT or manifest.get("format_version") != LINE_MODEL_VERSION:
        raise ModelError(f"page-line model {path} has format {manifest.get('format')!r} "
                         f"v{manifest.get('format_version')}, this code reads {LINE_MODEL_FORMAT} "
                         f"v{LINE_MODEL_VERSION}; {fix}")
    out: dict = {}
    for part, names in LINE_MODEL_PARTS.items():
        if manifest.get("features", {}).get(part) != list(names) or len(weights.get(part, [])) != len(names):
            raise ModelError(f"page-line model {path}: the {part} weights were fitted on other features "
                             f"than this code computes; {fix}")
        out[part] = np.array(weights[part], dtype=float)
    if manifest.get("features", {}).get("headline_text") != HEADLINE_TEXT_GRAMS or \
            not isinstance(weights.get("headline_text", {}).get("grams"), dict):
        raise ModelError(f"page-line model {path}: the headline-text table is missing or made of other grams "
                         f"than this code reads; {fix}")
    text = weights["headline_text"]
    # {gram: log-odds}, and what a gram not in the table weighs
    out["headline_text"] = {"default": float(text["default"]), "grams": text["grams"]}
    role = weights.get("role_text")
    if manifest.get("features", {}).get("role_text") != ROLE_TEXT_GRAMS or not isinstance(
            (role or {}).get("grams"), dict):
        raise ModelError(f"page-line model {path}: the role-text table is missing or made of other grams "
                         f"than this code reads; {fix}")
    out["role_text"] = {"default": float(role["default"]), "grams": role["grams"]}
    if "subheading" in weights:
        # the subheading model came after the others: a model without it keeps every headline run
        if manifest.get("features", {}).get("subheading") != list(_SUBHEAD_FEATURES) or \
                len(weights["subheading"]) != len(_SUBHEAD_FEATURES):
            raise ModelError(f"page-line model {path}: the subheading weights were fitted on other features "
                             f"than this code computes; {fix}")
        out["subheading"] = np.array(weights["subheading"], dtype=float)
    for part, names in (("headline_2_trees", _FEATURES_2), ("headline_split_trees", _SPLIT_FEATURES)):
        trees = weights.get(part)
        if trees is None:
            continue
        # gradient-boosted trees over pass 2's (or the headline split's) features, flattened: node k splits
        # on feature[k] <= threshold[k] into left[k] / right[k]; left[k] == -1 marks a leaf
        if manifest.get("features", {}).get(part) != list(names) or \
                max(trees["feature"], default=0) >= len(names):
            raise ModelError(f"page-line model {path}: the {part} were fitted on other features "
                             f"than this code computes; {fix}")
        out[part] = {k: trees[k] for k in ("feature", "threshold", "left", "right", "value",
                                           "roots")} | {"base": float(trees["base"])}
    return out


_LINE_MODEL: dict | None = None


def line_model() -> dict:
    """The shipped page-line model, read on first use and kept."""
    global _LINE_MODEL
    if _LINE_MODEL is None:
        _LINE_MODEL = load_line_model()
    return _LINE_MODEL


def use_line_model(weights: dict) -> None:
    """Segment with these weights instead (bench/pages/fit.py, while it fits them)."""
    global _LINE_MODEL
    _LINE_MODEL = dict(weights)
