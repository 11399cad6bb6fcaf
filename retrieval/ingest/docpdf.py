"""Document-style PDFs: articles typeset one after another in one column, one
font size, pages running on into each other (a day's paper written to PDF by
a downloader of e-paper text, a report, a collection of articles).

Read page by page as a newspaper page (retrieval/ingest/pagelayout.py), such a
PDF falls apart: with every line the same size there are no display lines, so
each page goes to the plain-text segmenter on its own, and the line that
finishes a sentence at the top of a page becomes a headline (a real 228-page
People's Daily download gave 278 "articles", most titled with a fragment).

Here the whole file is one text:

1. running headers and footers (a line at a page's top or bottom that repeats
   on many pages, digits aside, or is a page number) are dropped;
2. whether the PDF is document-style is measured (``doc_signals``): one size
   (nearly every character at the body size), one column (rows are single
   lines), lines as wide as a page (≥ 20 characters) that mostly reach the
   right edge; a newspaper page fails the first two, a plain-text dump of
   newspaper columns printed to PDF the third;
3. lines are joined into paragraphs over page breaks: a paragraph starts at an
   indented or centred line, after a blank line, or after a line that stops
   short of the right edge; a page's first line continues the last paragraph
   of the page before when that one reached the edge;
4. headings come from what the document shows: a contents list at the start
   whose entries are printed again later (those lines are titles); else a run
   of flush-left (or centred) short lines where the paragraphs are indented;
   where they are not, a short line that does not end a sentence and stands
   out by more blank space before it, a dateline or byline after it, or a
   second heading line next to it;
5. each heading run with the paragraphs under it is read as an e-paper article
   file (kicker, headline, subtitle, body; retrieval/ingest/epaper.py), so
   bylines, datelines, credits and signatures come out as they do there.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass, field

from retrieval.ingest.epaper import (BYLINE_LINE_RE, DATELINE_RE, MAX_TITLE_CHARS,
                                     read_article)
from retrieval.ingest.newspaper import (BYLINE_IN_LEAD_RE, LEAD_RE, PAGE_NO_LINE_RE, SUBTITLE_DASHES,
                                        PageArticle)
from retrieval.ingest.pagelayout import INDENT_MAX, INDENT_MIN, TextLine, _rows
from retrieval.textnorm import CLOSERS, SENTENCE_END, join_lines, squeeze_spaces

# Nearly every character is printed in the body size (a newspaper page's
# headlines are 3-10% of its characters).
UNIFORM_SHARE = 0.98
# Rows printed as more than one segment (columns side by side, a wide word space).
MAX_SPLIT_ROWS = 0.1
# The text width in body-size characters: a newspaper column holds 10-14.
MIN_LINE_CHARS = 20
# Lines that reach the right edge (within FULL_SLACK characters).
MIN_FULL_SHARE = 0.3
FULL_SLACK = 1.5
# A line is repeated furniture when it recurs on this share of pages.
REPEAT_SHARE = 0.5
# A blank line: the distance from the line above is this many line pitches.
BLANK_PITCH = 1.5
# Clearly centred lines (wider margins than an indent, both alike) that make
# centring a style of the document.
CENTRED_LINES = 3
# At most this many lines in a heading paragraph (a long subtitle wraps).
MAX_HEAD_LINES = 3

PAGE_NUMBER_RE = re.compile(r"^(?:[-–—\s]*\d{1,4}[-–—\s]*|第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?"
                            r"|\d{1,4}\s*/\s*\d{1,4}|page\s*\d{1,4}(?:\s*of\s*\d{1,4})?)$", re.I)
CONTENTS_RE = re.compile(r"^(?:目\s*录|目\s*次|contents)$", re.I)
# A contents entry's dot leader and page number.
LEADER_RE = re.compile(r"(?:[.．·・…。\s]{3,}|\s+)\d{1,4}$")
# A contents line: dots run to the page number at the right edge, the line ends there.
DOT_LEADER_RE = re.compile(r"[.．·…]{3,}\s*\d{1,4}$")
# In a contents list a truncated entry is matched by its first characters.
MIN_PREFIX = 6
# ... within this many paragraphs of the title before.
CONTENTS_WINDOW = 600
ENDS_SENTENCE = tuple(SENTENCE_END) + ("，", "、", "：")


@dataclass(frozen=True)
class DocSignals:
    """What says whether a PDF is one document in one column, measured over its pages."""

    pages: int
    uniform: float  # share of characters printed in the body size
    split_rows: float  # share of rows printed as several segments
    line_chars: float  # text width in body-size characters
    full: float  # share of lines reaching the right edge
    continued: float  # share of page breaks that fall inside a paragraph

    @property
    def is_document(self) -> bool:
        return (self.pages >= 2 and self.uniform >= UNIFORM_SHARE and self.split_rows <= MAX_SPLIT_ROWS
                and self.line_chars >= MIN_LINE_CHARS and self.full >= MIN_FULL_SHARE)


@dataclass
class _Line:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    page: int


@dataclass
class _Para:
    text: str
    page: int
    lines: int = 1
    indented: bool = False
    centred: bool = False
    gap: float = 0.0  # blank space before it, in line pitches beyond the usual
    ends_full: bool = False


@dataclass
class _Geometry:
    size: float
    left: float
    right: float
    pitch: float
    low: float  # the lowest a page's last line sits
    centres: bool = False  # lines are centred in this document (headings, most likely)


@dataclass
class DocumentRead:
    signals: DocSignals
    articles: list[PageArticle] = field(default_factory=list)


# ------------------------------------------------------------------ furniture

def _key(text: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", text))


def _without_furniture(pages: list[list[TextLine]]) -> list[list[list[TextLine]]]:
    """Each page's rows, running headers / footers and page numbers left out."""
    rows = [_rows(p) for p in pages]
    edge = [r[:2] + r[-2:] if len(r) > 4 else r for r in rows]
    seen: Counter[str] = Counter()
    for page_edge in edge:
        seen.update({_key(" ".join(ln.text for ln in row)) for row in page_edge})
    repeat = max(2, REPEAT_SHARE * len(pages))
    out = []
    for page_rows in rows:
        drop = set()
        ends = [0, len(page_rows) - 1] if page_rows else []
        for i in (0, 1, len(page_rows) - 2, len(page_rows) - 1):
            if not 0 <= i < len(page_rows):
                continue
            text = " ".join(ln.text for ln in sorted(page_rows[i], key=lambda s: s.x0)).strip()
            if (len(pages) >= 2 and seen[_key(text)] >= repeat) or (i in ends and PAGE_NUMBER_RE.match(text)):
                drop.add(i)
        out.append([r for i, r in enumerate(page_rows) if i not in drop])
    return out


# ------------------------------------------------------------------ signals

def _geometry(lines: list[_Line], sizes: Counter[float], pages: list[list[_Line]]) -> _Geometry:
    size = sizes.most_common(1)[0][0] if sizes else 10.0
    lefts = Counter(round(ln.x0) for ln in lines)
    left = float(min(x for x, n in lefts.most_common(3) if n >= lefts.most_common(1)[0][1] / 3))
    # Full lines of ideographs end on one edge (closing punctuation may hang past it).
    rights = Counter(round(ln.x1) for ln in lines)
    right = float(rights.most_common(1)[0][0]) if rights else left
    steps = Counter(round((b.top - a.top) * 2) / 2 for p in pages for a, b in zip(p, p[1:]) if b.top > a.top)
    pitch = steps.most_common(1)[0][0] if steps else 1.5 * size
    lows = sorted(p[-1].bottom for p in pages if p)
    low = lows[int(0.9 * (len(lows) - 1))] if lows else 0.0
    return _Geometry(size, left, right, pitch, low)


def _full(ln: _Line, g: _Geometry) -> bool:
    return ln.x1 >= g.right - FULL_SLACK * g.size


def _indented(ln: _Line, g: _Geometry) -> bool:
    return INDENT_MIN * g.size <= ln.x0 - g.left <= INDENT_MAX * g.size


def _centred(ln: _Line, g: _Geometry) -> bool:
    # an indented line is centred only when its margins match to half a character
    if _full(ln, g):
        return False
    left, right = ln.x0 - g.left, g.right - ln.x1
    if left > INDENT_MAX * g.size:
        return True
    # (where the document centres its headings, a centred line may start where an indent would)
    tolerance = 1.0 if g.centres or not _indented(ln, g) else 0.5
    return left > 0.5 * g.size and abs(left - right) < tolerance * g.size


def _measure(pages: list[list[TextLine]]) -> tuple[DocSignals, list[list[_Line]], _Geometry]:
    kept = _without_furniture(pages)
    sizes: Counter[float] = Counter()
    split = rows_n = 0
    lines: list[list[_Line]] = []
    for n, page_rows in enumerate(kept):
        page: list[_Line] = []
        for row in page_rows:
            row = sorted(row, key=lambda s: s.x0)
            rows_n += 1
            split += len(row) > 1
            for ln in row:
                sizes[round(ln.size * 2) / 2] += len(ln.text.replace(" ", ""))
            page.append(_Line(" ".join(ln.text for ln in row), row[0].x0, row[-1].x1,
                              min(ln.top for ln in row), max(ln.bottom for ln in row), n))
        lines.append(page)
    flat = [ln for p in lines for ln in p]
    g = _geometry(flat, sizes, lines)
    g.centres = sum(1 for ln in flat if ln.x0 - g.left > INDENT_MAX * g.size
                    and abs((ln.x0 - g.left) - (g.right - ln.x1)) < g.size) >= CENTRED_LINES
    total = sum(sizes.values()) or 1
    uniform = sum(v for s, v in sizes.items() if abs(s - g.size) <= 0.6) / total
    full = sum(_full(ln, g) for ln in flat) / (len(flat) or 1)
    breaks = [(a[-1], b[0]) for a, b in zip(lines, lines[1:]) if a and b]
    continued = sum(_full(x, g) and not _indented(y, g) and not _centred(y, g) for x, y in breaks) / (len(breaks) or 1)
    signals = DocSignals(pages=len(pages), uniform=round(uniform, 4), split_rows=round(split / (rows_n or 1), 4),
                         line_chars=round((g.right - g.left) / g.size, 1), full=round(full, 3),
                         continued=round(continued, 3))
    return signals, lines, g


def doc_signals(pages: list[list[TextLine]]) -> DocSignals:
    """The measures ``DocSignals.is_document`` decides by, for the pages' printed lines."""
    return _measure(pages)[0]


# ------------------------------------------------------------------ paragraphs

def _paragraphs(pages: list[list[_Line]], g: _Geometry) -> list[_Para]:
    paras: list[_Para] = []
    prev: _Line | None = None
    for page in pages:
        for i, ln in enumerate(page):
            centred = _centred(ln, g)
            indented = _indented(ln, g) and not centred
            if prev is None:
                gap, starts = 0.0, True
            elif i == 0:
                # the page before ended early: what follows starts afresh (an article on a new page)
                early = prev.bottom < g.low - BLANK_PITCH * g.pitch
                gap = 2.0 if early else 0.0
                starts = early or not _full(prev, g) or indented or centred or paras[-1].centred
            else:
                gap = max(0.0, (ln.top - prev.top) / g.pitch - 1)
                # a centred heading too long for a line: its first line is full, flush left
                wraps = (centred and _full(prev, g) and paras[-1].lines == 1 and not paras[-1].indented
                         and not paras[-1].text.endswith(SUBTITLE_DASHES))
                starts = (gap >= BLANK_PITCH - 1 or not _full(prev, g) or indented or (centred and not wraps)
                          or (paras[-1].centred and not wraps) or bool(DOT_LEADER_RE.search(prev.text)))
            if starts:
                paras.append(_Para(ln.text.strip(), ln.page, 1, indented, centred, round(gap), _full(ln, g)))
            else:
                p = paras[-1]
                p.centred = p.centred or centred
                p.text = join_lines(p.text, ln.text.strip())
                p.lines += 1
                p.ends_full = _full(ln, g)
            prev = ln
    return paras


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _ends_sentence(text: str) -> bool:
    return text.rstrip(CLOSERS).endswith(ENDS_SENTENCE)


# ------------------------------------------------------------------ headings

def _contents(paras: list[_Para], split: bool = True) -> tuple[list[_Para], int, dict[int, int]]:
    """(paragraphs, first paragraph after the contents list, {paragraph index:
    contents entry}) for the titles a contents list at the start names;
    (paragraphs, 0, {}) without one.

    The list is the run of flush, short paragraphs the document opens with;
    the first article's heading lines follow it in the same shape, so where
    the list ends is found by matching: the end that lets the most entries be
    found again, in order, in the text after it (a title listed twice, for a
    story printed on two pages, would otherwise match its own second entry).

    A heading line that happens to fill the line exactly runs on into the next
    one ("kicker" + "title" read as one paragraph); where a listed title is
    found at the start or end of such a paragraph, it is split there."""
    entries: list[tuple[int, str, bool]] = []  # (index, text, truncated?)
    for i, p in enumerate(paras):
        if p.indented or p.lines > MAX_HEAD_LINES + 1 or LEAD_RE.match(p.text):
            break
        text = _squeezed(p.text)
        if CONTENTS_RE.match(text):
            continue
        cut = LEADER_RE.search(p.text)
        entries.append((i, _squeezed(p.text[: cut.start()]) if cut else text, cut is not None))
    if len(entries) < 2:
        return paras, 0, {}
    texts = [_squeezed(p.text) for p in paras]
    where: dict[str, list[int]] = {}
    for j, t in enumerate(texts):
        where.setdefault(t, []).append(j)

    def found(text: str, truncated: bool, after: int) -> int | None:
        if not truncated:
            pos = where.get(text, [])
            k = bisect.bisect_right(pos, after)
            return pos[k] if k < len(pos) else None
        if len(text) < MIN_PREFIX:
            return None
        return next((j for j in range(after + 1, min(len(texts), after + 1 + CONTENTS_WINDOW))
                     if texts[j].startswith(text)), None)

    def matches(end: int) -> dict[int, int]:
        out: dict[int, int] = {}
        t = end - 1
        for i, text, truncated in entries:
            if i >= end:
                break
            j = found(text, truncated, t)
            if j is not None:
                out[j] = i
                t = j
        return out

    first_i, first_text, first_cut = entries[0]
    best: dict[int, int] = {}
    best_end = 0
    j = found(first_text, first_cut, first_i)
    while j is not None and j <= entries[-1][0] + 1:
        got = matches(j)
        if len(got) > len(best):
            best, best_end = got, j
        j = found(first_text, first_cut, j)
    listed = sum(1 for i, _, _ in entries if i < best_end)
    if len(best) < 2 or len(best) < 0.5 * listed:
        return paras, 0, {}
    if split:
        cuts = _run_together(paras, texts, [e for e in entries if e[0] < best_end], best)
        if cuts:
            for j, at in sorted(cuts.items(), reverse=True):
                paras[j: j + 1] = _split_para(paras[j], at)
            return _contents(paras, split=False)
    # the first article's kicker comes right before its title, after the list
    start = best_end
    while start - 1 > first_i and start - 1 not in best.values() and paras[start].gap == 0 \
            and not paras[start - 1].centred:
        start -= 1
    return paras, start, best


def _run_together(paras: list[_Para], texts: list[str], entries: list[tuple[int, str, bool]],
                  targets: dict[int, int]) -> dict[int, int]:
    """{paragraph: characters to cut after} for listed titles not found alone but at
    the start or end of a heading paragraph between the titles found before and
    after, and for entries that are two titles run together."""
    at = {i: j for j, i in targets.items()}
    ordered = sorted(targets)
    cuts: dict[int, int] = {}
    prev = entries[-1][0] if entries else 0
    prev = min(ordered) - 1 if ordered else prev
    for i, text, truncated in entries:
        if i in at:
            prev = at[i]
            continue
        if truncated or len(text) < 4:
            continue
        k = bisect.bisect_right(ordered, prev)
        nxt = ordered[k] if k < len(ordered) else len(paras)
        for j in range(prev + 1, nxt):
            p, t = paras[j], texts[j]
            if p.indented or p.lines > MAX_HEAD_LINES + 1 or len(t) <= len(text) or j in cuts:
                continue
            if t.startswith(text) or t.endswith(text):
                cuts[j] = len(text) if t.startswith(text) else len(t) - len(text)
                prev = j
                break
        else:
            # the entry itself filled its line and ran on into the next entry
            for j in range(prev + 1, nxt):
                t = texts[j]
                if 4 <= len(t) < len(text) and text.startswith(t) and not paras[j].indented:
                    cuts[i] = len(t)
                    prev = j
                    break
    return cuts


def _split_para(p: _Para, after: int) -> list[_Para]:
    """``p`` cut after ``after`` non-space characters."""
    seen = 0
    cut = len(p.text)
    for k, ch in enumerate(p.text):
        if seen == after:
            cut = k
            break
        seen += not ch.isspace()
    first, rest = p.text[:cut].strip(), p.text[cut:].strip()
    return [_Para(first, p.page, 1, p.indented, p.centred, p.gap, True),
            _Para(rest, p.page, max(1, p.lines - 1), False, p.centred, 0, p.ends_full)]


def _head_shape(p: _Para, indented_doc: bool) -> bool:
    if p.lines > MAX_HEAD_LINES or len(p.text) > MAX_TITLE_CHARS or p.indented:
        return False
    if BYLINE_LINE_RE.match(p.text) or LEAD_RE.match(p.text) or DATELINE_RE.match(p.text):
        return False
    if indented_doc or p.centred:
        return True
    return p.lines == 1 and not _ends_sentence(p.text)


def _tight_head(p: _Para) -> bool:
    return not p.indented and p.lines <= MAX_HEAD_LINES and len(p.text) <= MAX_TITLE_CHARS \
        and not _opens_body(p)


def _opens_body(p: _Para | None) -> bool:
    """A dateline or byline: the first paragraph of an article's body."""
    if p is None:
        return False
    text = p.text.strip()
    return bool(DATELINE_RE.match(text) or LEAD_RE.match(text) or BYLINE_LINE_RE.match(text)
                or BYLINE_IN_LEAD_RE.match(text[:40]))


def _head_runs(paras: list[_Para], start: int, titles: dict[int, int]) -> list[tuple[int, int, int | None]]:
    """Heading runs as (first, end, title index or None), in order."""
    body = [p for p in paras[start:] if p.lines > 1]
    indented_doc = bool(body) and sum(p.indented for p in body) >= 0.5 * len(body)
    centred_heads = any(paras[j].centred for j in titles)
    gaps = Counter(p.gap for p in paras[start:] if p.lines > 1)
    usual_gap = gaps.most_common(1)[0][0] if gaps else 0
    runs: list[tuple[int, int, int | None]] = []
    i = start
    while i < len(paras):
        def head(k: int) -> bool:
            return k in titles or (_head_shape(paras[k], indented_doc)
                                   and not (centred_heads and not paras[k].centred))

        if not head(i):
            i += 1
            continue
        # Heading lines sit closer together than paragraphs do (where a blank
        # line parts paragraphs, none parts a kicker from its headline); a
        # line that tight under a heading line is one, whatever its shape.
        tight = max(0, usual_gap - 1)
        j = i + 1
        while j < len(paras) and j - i < 4 and paras[j].gap <= tight \
                and (head(j) or (usual_gap > 0 and _tight_head(paras[j]))) \
                and not (j in titles and any(k in titles for k in range(i, j))):
            j += 1
        title = next((k for k in range(i, j) if k in titles), None)
        if j >= len(paras):
            break
        if title is not None:
            ok = True
        elif titles:
            # a contents list names every article: a heading it does not name
            # needs the evidence a document without one would give
            ok = _evidence(paras, i, j, start, usual_gap, indented_doc=False)
        else:
            ok = indented_doc or paras[i].centred or _evidence(paras, i, j, start, usual_gap, indented_doc)
        if ok:
            runs.append((i, j, title))
        i = j
    return runs


def _evidence(paras: list[_Para], i: int, j: int, start: int, usual_gap: float, indented_doc: bool) -> bool:
    if indented_doc and not paras[j].indented and paras[j].lines == 1:
        return False
    return i == start or paras[i].gap > usual_gap or _opens_body(paras[j]) or j - i >= 2


def _parts(run: list[_Para], title: int | None) -> tuple[str, str, str]:
    """(kicker, headline, subtitle) of a heading run."""
    texts = [p.text.strip() for p in run]
    if title is not None:
        return " ".join(texts[:title]), texts[title], " ".join(texts[title + 1:])
    if len(texts) == 1:
        return "", texts[0], ""
    if len(texts) == 2:
        # Measured on January 2020 (days 1-15): a two-line heading is kicker +
        # headline 260 times, headline + subtitle 58 times, when no dash says which.
        # A column tag in brackets ends a headline ("国家速滑馆正式封顶封围（走向冬奥）").
        if (texts[1].startswith(SUBTITLE_DASHES) and not texts[0].endswith(SUBTITLE_DASHES)) \
                or (texts[0].endswith(("）", ")")) and not texts[1].endswith(("）", ")"))):
            return "", texts[0], texts[1]
        return texts[0], texts[1], ""
    return texts[0], texts[1], " ".join(texts[2:])


def _article(kicker: str, title: str, subtitle: str, body: list[_Para]) -> PageArticle | None:
    text = "\n".join([kicker, title, subtitle, *("\u3000\u3000" + p.text for p in body)]) + "\n"
    art = read_article(text)
    if art is None or not art.paragraphs:
        return None
    return PageArticle(paragraphs=list(art.paragraphs), title=art.title or None, author=art.author,
                       photographer=art.photographer, kicker=[art.kicker] if art.kicker else [],
                       subtitle=art.subtitle, dateline=art.dateline)


def read_document(pages: list[list[TextLine]]) -> DocumentRead:
    """The articles of a document-style PDF from its pages' printed lines; none
    when ``signals.is_document`` is False (the caller reads it page by page)."""
    signals, lines, g = _measure(pages)
    out = DocumentRead(signals)
    if not signals.is_document:
        return out
    # "第4版": where the printed page changes, no text of any article
    paras = [p for p in _paragraphs(lines, g) if not PAGE_NO_LINE_RE.match(_squeezed(p.text))]
    paras, start, titles = _contents(paras)
    runs = _head_runs(paras, start, titles)
    bounds = [(i, j, t) for i, j, t in runs]
    if not bounds or bounds[0][0] > start:
        # text before the first heading: an article of its own, titled by its first sentence
        end = bounds[0][0] if bounds else len(paras)
        body = paras[start:end]
        if body:
            first = body[0].text
            m = re.search(r"[。！？!?]", first)
            snippet = (first[: m.start()] if m else first)[:30]
            art = _article("", snippet, "", body)
            if art is not None:
                out.articles.append(art)
    for n, (i, j, t) in enumerate(bounds):
        end = bounds[n + 1][0] if n + 1 < len(bounds) else len(paras)
        kicker, title, subtitle = _parts(paras[i:j], None if t is None else t - i)
        art = _article(kicker, title, subtitle, paras[j:end])
        if art is not None:
            out.articles.append(art)
    return out
