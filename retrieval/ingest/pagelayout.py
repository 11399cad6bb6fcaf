"""The layout half of reading a newspaper page: printed line boxes
(``TextLine``: text, box, size, boldness) → articles in reading order.

Steps 2–6 of retrieval/ingest/pdfpage.py's description: body size and display
lines, header and footer rows, reading order by the recursive XY cut,
paragraphs from the geometry, articles assembled from display runs, leads and
bylines. Both readers of a page feed it the same boxes: the PDF text layer
(pdfpage.py) and OCR of a scan or photo (ocrpage.py), so neither has to know
the other.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache

from retrieval.ingest.newspaper import (
    BYLINE_IN_LEAD_RE, CONT_RE, CREDIT_LINE_RE, EDITOR_RE, FURNITURE_SIGNS, LEAD_REPORTER_RE, LEAD_RE,
    PAGE_NO_LINE_RE, ROLE_ANY_RE, ROLE_RE, PageArticle, parse_names, segment_page,
)
from retrieval.textnorm import CJK, SENTENCE_END, join_lines, simplified_in_place, squeeze_spaces

# A line this much larger than the body text is display type.
DISPLAY_RATIO = 1.2
# Bold type needs only this much more size to be display.
BOLD_DISPLAY_RATIO = 1.05
# Characters farther apart than this (× size) belong to different segments (a gutter).
SEGMENT_GAP = 0.8
# A vertical gutter is at least this wide (× body size).
GUTTER = 0.5
# A first line indented by this many characters (× size) starts a paragraph.
INDENT_MIN, INDENT_MAX = 1.2, 3.2
# A gap between lines this much wider than the usual one starts a paragraph.
PARA_GAP = 1.6
# Header / footer: a rule this wide (share of the page) within this share of the top or bottom.
RULE_WIDTH, HEADER_BAND, FOOTER_BAND = 0.6, 0.15, 0.1
MAX_FURNITURE_CHARS = 60
# A byline line is no longer than this.
MAX_BYLINE = 40


@dataclass(frozen=True)
class TextLine:
    """A printed line segment: its text, its box (points, y growing downwards) and font."""

    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    size: float
    bold: bool = False




def body_size(lines: list[TextLine]) -> float:
    """The size most characters are printed in."""
    c: Counter[float] = Counter()
    for ln in lines:
        c[round(ln.size * 2) / 2] += len(ln.text)
    return c.most_common(1)[0][0] if c else 10.0


@lru_cache(maxsize=4096)
def _simplified(text: str) -> str:
    """The patterns are written in simplified characters; a traditional page reads the same."""
    return simplified_in_place(text)


def _is_furniture(text: str) -> bool:
    if len(text) > MAX_FURNITURE_CHARS or text.rstrip("”’」』）)》】").endswith(tuple(SENTENCE_END)):
        return False
    key = _simplified(text)
    squeezed = squeeze_spaces(key)
    if EDITOR_RE.search(key) or PAGE_NO_LINE_RE.match(squeezed):
        return True
    return sum(1 for p in FURNITURE_SIGNS if p.search(key)) >= 2


def _rows(lines: list[TextLine]) -> list[list[TextLine]]:
    """Page-wide rows: lines that overlap vertically."""
    rows: list[list[TextLine]] = []
    bottom = None
    for ln in sorted(lines, key=lambda s: s.top):
        if bottom is None or ln.top >= bottom - 0.1:
            rows.append([])
            bottom = ln.bottom
        rows[-1].append(ln)
        bottom = max(bottom, ln.bottom)
    return rows


def _drop_furniture(lines: list[TextLine], width: float, height: float,
                    rules: list[tuple[float, float, float]]) -> list[TextLine]:
    long_rules = [y for y, x0, x1 in rules if x1 - x0 >= RULE_WIDTH * width]
    head = max((y for y in long_rules if y <= HEADER_BAND * height), default=None)
    foot = min((y for y in long_rules if y >= (1 - FOOTER_BAND) * height), default=None)
    gone: set[int] = set()
    for ln in lines:
        if (head is not None and ln.bottom <= head + 1) or (foot is not None and ln.top >= foot - 1):
            gone.add(id(ln))
    rows = [r for r in _rows([ln for ln in lines if id(ln) not in gone])]
    for seq in (rows[:3], rows[::-1][:3]):
        for row in seq:
            text = "  ".join(ln.text for ln in sorted(row, key=lambda s: s.x0))
            if not _is_furniture(text):
                break
            gone.update(id(ln) for ln in row)
    return [ln for ln in lines if id(ln) not in gone]


def _x_groups(group: list[TextLine], gap: float) -> list[list[TextLine]]:
    s = sorted(group, key=lambda ln: ln.x0)
    out = [[s[0]]]
    right = s[0].x1
    for ln in s[1:]:
        if ln.x0 - right >= gap:
            out.append([])
        out[-1].append(ln)
        right = max(right, ln.x1)
    return out


def _y_cut(group: list[TextLine], body: float) -> list[list[TextLine]]:
    s = sorted(group, key=lambda ln: (ln.top, ln.x0))
    # gaps: index i means a cut before s[i]
    gaps: list[tuple[int, float]] = []
    if len(s) < 2:
        return [group]
    bottom = s[0].bottom
    for i in range(1, len(s)):
        if s[i].top > bottom:
            gaps.append((i, s[i].top - bottom))
        bottom = max(bottom, s[i].bottom)
    # A cut right under a headline that does not span the whole region would
    # part it from its body while the articles beside it are cut through too.
    x_lo, x_hi = min(ln.x0 for ln in s), max(ln.x1 for ln in s)
    tops_below: list[tuple[int, float]] = []
    for i, g in gaps:
        edge = max(ln.bottom for ln in s[:i])
        under_headline = any(_is_display(ln, body) and ln.x1 - ln.x0 < 0.9 * (x_hi - x_lo)
                             for ln in s[:i] if ln.bottom >= edge - 0.5 * body)
        if not under_headline:
            tops_below.append((i, g))
    gaps = tops_below or gaps
    if not gaps:
        return [group]
    # Gaps clearly wider than the usual one (between bands of articles, under
    # a headline) are cut first: the parts may then be cut into columns.
    widest = max(g for _, g in gaps)
    usual = Counter(round(g * 2) / 2 for _, g in gaps).most_common(1)[0][0]
    if widest >= 1.5 * usual + 0.2 * body:
        return _split_at(s, [i for i, g in gaps if g >= widest - 0.1 * body])
    # Lines that cross a gutter of the others (a headline over several
    # columns, a wide caption): cut right above and below them, so that the
    # columns between can be cut apart.
    widths = sorted(ln.x1 - ln.x0 for ln in s)
    median = widths[len(widths) // 2]
    narrow = [ln for ln in s if ln.x1 - ln.x0 <= 1.6 * median]
    gutters: list[tuple[float, float]] = []
    if narrow:
        cols = _x_groups(narrow, GUTTER * body)
        for a, b in zip(cols, cols[1:]):
            gutters.append((max(ln.x1 for ln in a), min(ln.x0 for ln in b)))
    spanning = {id(ln) for ln in s if any(ln.x0 < g0 and ln.x1 > g1 for g0, g1 in gutters)}
    cuts: list[int] = []
    if spanning:
        for i, _ in gaps:
            edge = _max_bottom(s[:i])
            above = [ln for ln in s[:i] if ln.bottom >= edge - 0.5 * body]
            below = [ln for ln in s[i:] if ln.top <= s[i].top + 0.5 * body]
            if any(id(ln) in spanning for ln in above + below):
                cuts.append(i)
    if not cuts:
        cuts = [i for i, g in gaps if g >= widest - 0.05 * body]
    return _split_at(s, cuts)


def _split_at(s: list[TextLine], cuts: list[int]) -> list[list[TextLine]]:
    out, start = [], 0
    for i in cuts:
        out.append(s[start:i])
        start = i
    out.append(s[start:])
    return out


def _is_display(ln: TextLine, body: float) -> bool:
    return ln.size >= DISPLAY_RATIO * body or (ln.bold and ln.size >= BOLD_DISPLAY_RATIO * body)


def _widen_headlines(lines: list[TextLine], body: float) -> list[TextLine]:
    """A headline centred over its article may not reach its outer columns,
    and the XY cut would then read those columns apart from it. A headline
    box is widened over the columns whose text starts on the row right under
    it, as long as nothing else is printed beside the headline there, and
    the headline is set flush left, centred or flush right over them."""
    display = [ln for ln in lines if _is_display(ln, body)]
    if not display:
        return lines
    text = [ln for ln in lines if not _is_display(ln, body)]
    wide: dict[int, TextLine] = {}
    for h in display:
        reach = h.bottom + 3 * h.size + 2 * body
        below = [ln for ln in text if h.bottom <= ln.top <= reach and ln.x0 < h.x1 and h.x0 < ln.x1]
        if not below:
            continue
        t0 = min(ln.top for ln in below)
        # the columns whose text starts on that row, as wide as their first
        # lines (which may be short or indented)
        # A byline line under the headline is a row of its own: the article's
        # other columns start on the next row, so lines starting within
        # about a line of it count too (one per column).
        row: list[TextLine] = []
        for c in sorted((ln for ln in text if -0.3 * body < ln.top - t0 < 2 * body), key=lambda ln: ln.x0):
            near = [c, *(o for o in text if t0 <= o.top <= t0 + 6 * body and o.x0 < c.x1 and c.x0 < o.x1)]
            col = replace(c, x0=min(o.x0 for o in near), x1=max(o.x1 for o in near))
            if row and col.x0 < row[-1].x1:
                row[-1] = replace(row[-1], x1=max(row[-1].x1, col.x1))
            else:
                row.append(col)

        # the top of the headline this line belongs to (a headline wraps over lines)
        top = h.top
        while True:
            above = [o for o in display if o.bottom <= top + 0.1 and top - o.bottom < 0.8 * o.size
                     and o.x0 < h.x1 and h.x0 < o.x1]
            if not above:
                break
            top = min(o.top for o in above)

        def free(c: TextLine) -> bool:
            return not any(o is not h and o.x0 < c.x1 and c.x0 < o.x1 and o.bottom > top and o.top < h.bottom - 0.1
                           and not (o.x0 < h.x1 and h.x0 < o.x1) for o in lines)

        mid = [i for i, c in enumerate(row) if c.x0 < h.x1 and h.x0 < c.x1]
        if not mid:
            continue
        lo, hi = mid[0], mid[-1]
        while lo > 0 and row[lo].x0 - row[lo - 1].x1 < 3 * body and free(row[lo - 1]):
            lo -= 1
        while hi + 1 < len(row) and row[hi + 1].x0 - row[hi].x1 < 3 * body and free(row[hi + 1]):
            hi += 1
        # The widest run of those columns that the headline is set flush left,
        # centred or flush right over (a column of text beside a headline may
        # be another article's, continued).
        x0, x1 = min(h.x0, row[mid[0]].x0), max(h.x1, row[mid[-1]].x1)
        best = -1
        for a in range(lo, mid[0] + 1):
            for b in range(mid[-1], hi + 1):
                e0, e1 = row[a].x0, row[b].x1
                aligned = (abs(h.x0 - e0) < body or abs(h.x1 - e1) < body
                           or abs((h.x0 + h.x1) / 2 - (e0 + e1) / 2) < body)
                if aligned and b - a > best:
                    best, x0, x1 = b - a, min(h.x0, e0), max(h.x1, e1)
        if (x0, x1) != (h.x0, h.x1):
            wide[id(h)] = replace(h, x0=x0, x1=x1)
    return [wide.get(id(ln), ln) for ln in lines]


def _max_bottom(lines: list[TextLine]) -> float:
    return max(ln.bottom for ln in lines)


def reading_order(lines: list[TextLine], body: float) -> list[list[TextLine]]:
    """Leaf regions (each top to bottom) in reading order, by recursive XY cut."""
    out: list[list[TextLine]] = []
    todo: list[list[TextLine]] = [lines] if lines else []
    while todo:
        group = todo.pop()
        parts = [group]
        if len(group) > 1:
            parts = _x_groups(group, GUTTER * body)
            if len(parts) == 1:
                parts = _y_cut(group, body)
        if len(parts) == 1:
            out.append(sorted(group, key=lambda ln: (ln.top, ln.x0)))
        else:
            todo.extend(reversed(parts))
    return out


# ------------------------------------------------------------------ units

@dataclass
class _Unit:
    kind: str  # display | body | subhead
    text: str  # layout spaces squeezed
    spaced: str  # spaces kept: names in bylines are separated by them
    size: float
    top: float
    bottom: float
    x0: float


def _join_spaced(a: str, b: str) -> str:
    """Two lines of a paragraph, keeping a space where the break falls between
    two names of a byline ("记者 崔燕佳|丁梅志"), not inside one ("丁|梅志")."""
    left = re.search(rf"[{CJK}]*$", a).group()
    right = re.match(rf"[{CJK}]*", b).group()
    if len(left) >= 2 and len(right) >= 2 and len(left) + len(right) > 4:
        return f"{a} {b}"
    return join_lines(a, b)


def _left_edges(lines: list[TextLine]) -> list[float]:
    c = Counter(round(ln.x0 * 2) / 2 for ln in lines)
    return sorted(x for x, n in c.items() if n >= 2)


def _indented(ln: TextLine, edges: list[float]) -> bool:
    return any(INDENT_MIN * ln.size <= ln.x0 - e <= INDENT_MAX * ln.size for e in edges)


def _stands_alone(text: str) -> bool:
    """A line that is a unit of its own whatever its indent: marks, credits, bylines."""
    key = _simplified(text)
    squeezed = squeeze_spaces(key)
    return bool(CONT_RE.match(squeezed) or CREDIT_LINE_RE.match(key) or CREDIT_LINE_RE.match(squeezed)
                or _byline_names(text) is not None)


def _units(leaves: list[list[TextLine]], body: float) -> list[_Unit]:
    body_lines = [ln for leaf in leaves for ln in leaf if ln.size < DISPLAY_RATIO * body]
    edges = _left_edges(body_lines)
    pitches = Counter(round(b.top - a.top) for leaf in leaves for a, b in zip(leaf, leaf[1:])
                      if abs(a.size - body) < 0.5 and abs(b.size - body) < 0.5 and b.top > a.top)
    pitch = pitches.most_common(1)[0][0] if pitches else 1.5 * body
    units: list[_Unit] = []
    prev: TextLine | None = None
    for leaf in leaves:
        for ln in leaf:
            display = _is_display(ln, body)
            kind = "display" if display else ("subhead" if ln.bold else "body")
            u = units[-1] if units else None
            if kind == "display":
                same = u is not None and u.kind == "display" and prev is not None \
                    and abs(u.size - ln.size) < 0.05 * ln.size \
                    and ((0 <= ln.top - prev.bottom < 0.8 * ln.size and ln.x0 < prev.x1 and prev.x0 < ln.x1)
                         or (abs(ln.top - prev.top) < 0.2 * ln.size and 0 <= ln.x0 - prev.x1 < 3 * ln.size))
                if same:
                    u.text = join_lines(u.text, squeeze_spaces(ln.text))
                    u.spaced += (" " if abs(ln.top - prev.top) < 0.2 * ln.size else "") + ln.text
                    u.bottom = ln.bottom
                else:
                    units.append(_Unit(kind, squeeze_spaces(ln.text), ln.text, ln.size, ln.top, ln.bottom, ln.x0))
            else:
                starts = (u is None or u.kind != kind or _indented(ln, edges) or _stands_alone(ln.text)
                          or _stands_alone(u.spaced) or (prev is not None and prev in leaf and
                                                          ln.top - prev.top > PARA_GAP * pitch))
                if starts:
                    units.append(_Unit(kind, squeeze_spaces(ln.text), ln.text, ln.size, ln.top, ln.bottom, ln.x0))
                else:
                    u.text = squeeze_spaces(join_lines(u.text, ln.text))
                    u.spaced = _join_spaced(u.spaced, ln.text)
                    u.bottom = ln.bottom
            prev = ln
    # A bold line at body size heads an article only when a lead or byline follows it.
    for i, u in enumerate(units):
        if u.kind == "subhead":
            nxt = units[i + 1] if i + 1 < len(units) else None
            opens = nxt is not None and nxt.kind == "body" and (
                LEAD_RE.match(_simplified(nxt.text)) or _byline_names(nxt.spaced) is not None)
            u.kind = "display" if opens else "body"
    return units


# ------------------------------------------------------------------ articles

def _byline_names(spaced: str) -> str | None:
    """'本报记者 吕蕾 沈鑫冰' → '吕蕾 沈鑫冰' for a line made only of roles and names."""
    sp = spaced.strip()
    if len(sp) > MAX_BYLINE:
        return None
    key = _simplified(sp)
    mark = re.match(r"[■●▲◆]\s*", key)
    off = mark.end() if mark else 0
    s = key[off:]
    if not ROLE_RE.match(s):
        return None
    tokens = re.findall(r"\S+", ROLE_ANY_RE.sub(" ", s))
    if not tokens or not all(re.fullmatch(rf"[{CJK}·]{{1,4}}", t) for t in tokens):
        return None
    return parse_names(sp[off:], s) or None


def _read_lead(art: PageArticle, text: str) -> None:
    key = _simplified(text)
    m = BYLINE_IN_LEAD_RE.search(key[:80])
    if m:
        names = parse_names(text[m.start(1) : m.end(1)], m.group(1))
        if names:
            art.author, art.byline = names, text[m.start() : m.end()]
            return
    m = LEAD_REPORTER_RE.match(key)
    if m:
        art.author = parse_names(text[m.start(1) : m.end(1)], m.group(1)) or None


def _fallback_title(art: PageArticle) -> str:
    first = art.paragraphs[0]
    m = re.search(r"[。！？!?]", first)
    sentence = BYLINE_IN_LEAD_RE.sub("", first[: m.start()] if m else first)
    sentence = re.sub(r"^(本报讯|本報訊|据[^，。]{1,30}?(?:报道|消息))[，,：:]?", "", sentence).strip()
    snippet = sentence if len(sentence) <= 30 else sentence[:30] + "…"
    return f"（{art.continued_from}）{snippet}" if art.continued_from else snippet


def _titled(run: list[_Unit]) -> PageArticle:
    """An article headed by a run of display units: the largest is the title
    (the last of equals, nearest the body), the others kicker / subtitle."""
    best = max(range(len(run)), key=lambda i: (round(run[i].size * 2), i))
    def shown(u: _Unit) -> str:
        # a space printed inside a headline separates its parts ("桥社 对比强烈的颜色")
        return re.sub(r"\s+", " ", u.spaced).strip()

    return PageArticle(title=shown(run[best]), kicker=[shown(u) for i, u in enumerate(run) if i != best])


def _assemble(units: list[_Unit]) -> list[PageArticle]:
    articles: list[PageArticle] = []
    current: PageArticle | None = None
    run: list[_Unit] = []

    def open_(art: PageArticle) -> PageArticle:
        articles.append(art)
        return art

    for u in units:
        if u.kind == "display":
            run.append(u)
            continue
        if run:
            current = open_(_titled(run))
            run = []
        key = _simplified(u.text)
        cont = CONT_RE.match(key)
        if cont:
            rest = u.text[cont.end():].strip()
            if cont.group(1) == "下转":
                current = None
                if not rest:
                    continue
                current = open_(PageArticle())
            else:
                if current is None or current.paragraphs or current.continued_from:
                    current = open_(PageArticle())
                current.continued_from = f"上接第{unicodedata.normalize('NFKC', cont.group(2))}版"
            if rest:
                current.paragraphs.append(rest)
            continue
        if CREDIT_LINE_RE.match(_simplified(u.spaced.strip())) or CREDIT_LINE_RE.match(key):
            target = current or (articles[-1] if articles else None)
            if target is not None:
                report = key.endswith(("摄影报道", "摄影报导"))
                cut = len(u.spaced.strip()) - (4 if report else 1)
                name = parse_names(u.spaced.strip()[:cut], _simplified(u.spaced.strip())[:cut])
                if name:
                    target.photographer = name
                    if report and not target.author:
                        target.author, target.byline = name, u.spaced.strip()
            continue
        names = _byline_names(u.spaced)
        if names is not None:
            if current is None or (current.paragraphs and current.author):
                current = open_(PageArticle())
            if not current.author:
                current.author, current.byline = names, u.spaced.strip()
            continue
        if current is None or (LEAD_RE.match(key) and current.paragraphs):
            current = open_(PageArticle())
        if not current.paragraphs and not current.author:
            _read_lead(current, re.sub(r"\s+", " ", u.spaced))
        current.paragraphs.append(u.text)
    kept = [a for a in articles if a.paragraphs]
    for a in kept:
        if not a.title:
            a.title = _fallback_title(a)
    return kept


def page_articles(lines: list[TextLine], width: float, height: float,
                  rules: list[tuple[float, float, float]] | None = None) -> list[PageArticle]:
    """The articles of one page from its printed lines (see the module docstring)."""
    lines = [ln for ln in lines if ln.text]
    if not lines:
        return []
    body = body_size(lines)
    lines = _drop_furniture(lines, width, height, rules or [])
    leaves = reading_order(_widen_headlines(lines, body), body)
    units = _units(leaves, body)
    if any(u.kind == "display" for u in units):
        return _assemble(units)
    return segment_page(page_text(leaves))


def page_text(leaves: list[list[TextLine]]) -> str:
    """Layout lines in reading order, a blank line where a region ends: the
    form the plain-text segmenter reads."""
    return "\n\n".join("\n".join(ln.text for ln in leaf) for leaf in leaves) + "\n"
