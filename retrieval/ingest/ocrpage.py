"""Scanned newspaper pages (PNG / JPEG images, PDF pages without a text layer) → articles.

The text is read by RapidOCR (PP-OCRv4 detection and recognition, ONNX, the
models ship inside the ``rapidocr-onnxruntime`` wheel, so it works offline),
and the page then takes the same layout path as a PDF page with a text layer
(``pagelayout.page_articles``): columns and reading order by the XY cut,
headlines told from body by size, articles assembled from headline runs,
leads and bylines.

What OCR gives is not quite what a PDF gives, and is brought into that form:

* the detector joins text across a narrow gutter. Each detected line is cut
  where its ink leaves a blank as wide as a gutter (``pagelayout.SEGMENT_GAP``
  × the body size), the parts are read, and joined again where the reading
  shows the blank was punctuation's own ("，" is inked at the left of its
  cell) or a word space in a headline (narrower than the page's gutter).
  Read whole, Latin and digits on both sides of a gutter run together, and
  a line over four columns costs the recogniser far more than four lines;
* a box holding two lines of a tightly set headline is cut at the blank
  rows between them;
* there is no font size. A line's size is the height of its ideographs' ink,
  which for Chinese type is close to the em; the box the detector draws is
  looser and varies with the line's content. Sizes that differ by measuring
  noise only are made one (body text must come out as one size, or its
  larger-measured lines would read as display), and every line of a size
  gets the same height about its middle, so that line gaps are as even as
  in print;
* the recogniser reads Chinese without the spaces between the names of a
  byline; in body type they are put back where the ink leaves a blank
  clearly wider than the line's usual one;
* positions jitter by a pixel or two, so left edges that are the same to the
  eye are made the same (paragraph indents are read from them).

Coordinates stay in pixels: every threshold of the layout path is relative
to the body size, whatever the unit.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from retrieval.errors import CorpusError
from retrieval.ingest.newspaper import PageArticle
from retrieval.ingest.pagelayout import RULE_WIDTH, SEGMENT_GAP, TextLine, page_articles
from retrieval.textnorm import CJK, clean_text

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
CJK_RE = re.compile(f"[{CJK}]")
# A scanned PDF page is rendered at this resolution: body type of 8–10 pt is
# then 17–21 px high, where the recogniser reads it reliably; more only costs time.
PDF_DPI = 150
# The detector looks at the page at most this large (its longest side); text
# lines are still cut out of the full image for recognition. At full size
# (150 dpi A4) detection took about 3× as long (8.0 s against 2.5 s).
DETECT_SIDE = 1280
# Lines whose measured sizes differ by less than this share are one size.
SIZE_TOLERANCE = 0.15
# Left edges closer than this (× body size) are one edge.
EDGE_TOLERANCE = 0.3
# A gap inside a headline narrower than this (× its size) is a word space, not a gutter.
HEADLINE_SPACE = 0.45
# Nor is one narrower than this share of the page's gutter between body columns.
GUTTER_SHARE = 0.8
# Full-width punctuation: its recognised box is only as wide as its ink, but
# it takes a whole character cell (the gap after "，" is not a gutter).
OPENING_PUNCT = set("“‘（《「『【\"(")
CLOSING_PUNCT = set("，。、；：？！”’）》」』】\")")
# The blank a full-width punctuation mark leaves in its cell (× size).
PUNCT_BLANK = 0.6
# A blank this much (× size) wider than the usual one between two characters is a space.
SPACE_EXTRA = 0.15
# Pixels darker than this (0–255) are ink.
INK = 140
# Images and rendered PDF pages larger than this (pixels) are not a page (a
# broadsheet at 300 dpi is 30 million) but a mistake or a decompression bomb.
# Reading a page takes about 730 MB whatever its size (the detector's working
# memory at DETECT_SIDE) and about 6 bytes a pixel more (the image, its
# three-channel copy): a page at this limit peaked 950 MB over the process
# before it, one of 47 million pixels 1,018 MB, of 80 million 1.4 GB
# (bench/hostile.py reads a PDF page and an image at the limit).
MAX_PIXELS = 36_000_000


class ImageUnreadable(CorpusError):
    """The image cannot be decoded (truncated, not an image, too large); the message names the file."""

    def __init__(self, rel: str, reason: str) -> None:
        super().__init__(f"{rel}: unreadable image ({reason})")
        self.rel = rel
        self.reason = reason


@dataclass(frozen=True)
class OcrLine:
    """A line as the recogniser read it: its text, and each character's (or
    Latin word's) text and box in pixels (x0, top, x1, bottom)."""

    text: str
    score: float
    box: tuple[float, float, float, float]
    glyphs: tuple[tuple[str, tuple[float, float, float, float]], ...]


# ------------------------------------------------------------------ engine

_lock = threading.Lock()


def ocr_threads(wanted: int = 0) -> int:
    """Threads the OCR engine uses (``[corpus] ocr_threads``): ``wanted``, or
    2 for 0 — newsqa targets a 2-core machine — never more than the cores,
    where they would only contend."""
    n = wanted if wanted > 0 else 2
    return min(n, os.cpu_count() or n)


@lru_cache(maxsize=1)
def _engine(threads: int) -> Any:
    # Imported here: onnxruntime sessions and OpenCV load in about a second,
    # which `newsqa --help` and text-only corpora should not pay.
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise CorpusError("reading scanned pages needs the 'rapidocr-onnxruntime' package") from exc
    return RapidOCR(
        intra_op_num_threads=threads, inter_op_num_threads=1,
        # a scanned page is upright: no text direction classifier
        use_cls=False,
        det_limit_type="max", det_limit_side_len=DETECT_SIDE,
        # dilation joins lines across narrow gutters and line gaps
        det_use_dilation=False,
    )


def recognise(gray: Any, threads: int = 0) -> list[OcrLine]:
    """The text lines of a greyscale page image (numpy uint8, H×W), top to bottom.

    The detector joins text across a narrow gutter; read as one line, Latin
    or digits on both sides of it run together (characters lost or made
    up), and a line over four columns costs the recogniser many times four
    columns' time. So each detected line is cut wherever its ink leaves a
    gutter-wide blank, the parts are read, and parts are joined again where
    the reading shows the blank was punctuation's own ("，" is inked at the
    left of its cell, "“" at the right) or a word space in a headline."""
    import numpy as np

    engine = _engine(ocr_threads(threads))
    bgr = np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    h, w = gray.shape
    with _lock:  # one page at a time: the sessions already use every thread they are given
        found, _ = engine.text_det(bgr)
        boxes = []
        for quad in found if found is not None else []:
            x0, y0 = max(0, int(np.floor(quad[:, 0].min()))), max(0, int(np.floor(quad[:, 1].min())))
            x1, y1 = min(w, int(np.ceil(quad[:, 0].max()))), min(h, int(np.ceil(quad[:, 1].max())))
            if x1 - x0 > 3 and y1 - y0 > 3:
                boxes.append((x0, y0, x1, y1))
        boxes = _split_rows(gray, boxes)
        inks = [_ink_rows(gray, b) for b in boxes]
        sizes = _snap([(i[1] - i[0]) if i else float(b[3] - b[1]) for b, i in zip(boxes, inks)],
                      [float(b[2] - b[0]) for b in boxes], SIZE_TOLERANCE)
        mass: Counter[float] = Counter()
        for b, size in zip(boxes, sizes):
            mass[size] += b[2] - b[0]
        body = mass.most_common(1)[0][0] if mass else 0.0
        cuts = [_ink_runs(gray, b, _gap(size, body)) for b, size in zip(boxes, sizes)]
        parts = [_parts(b, r) for b, r in zip(boxes, cuts)]
        read = iter(_read(engine, bgr, [part for ps in parts for part in ps]))
        readings = [[next(read) for _ in ps] for ps in parts]
    gutter = _page_gutter(gray, boxes, sizes, body, cuts, readings)
    lines: list[OcrLine] = []
    for size, runs, got in zip(sizes, cuts, readings):
        lines.extend(_join(got, runs, size, body, gutter))
    lines.sort(key=lambda ln: (ln.box[1], ln.box[0]))
    return lines


def _ink_runs(gray: Any, box: tuple[int, int, int, int], gap: float) -> list[tuple[int, int]]:
    """Blank runs at least ``gap`` wide across a box, as (last inked column
    before, first after)."""
    import numpy as np

    x0, y0, x1, y1 = box
    inked = np.flatnonzero((gray[y0:y1, x0:x1] < INK).any(axis=0)) + x0
    if inked.size < 2:
        return []
    return [(int(inked[i]), int(inked[i + 1])) for i in np.flatnonzero(np.diff(inked) > gap)]


def _parts(box: tuple[int, int, int, int], runs: list[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """A box cut at blank runs, each part a little wider than its ink."""
    x0, y0, x1, y1 = box
    pad = max(2, int(0.25 * (y1 - y0)))
    edges = [x0, *(v for a, b in runs for v in (min(a + 1 + pad, (a + b) // 2), max(b - pad, (a + b) // 2))), x1]
    return [(max(x0, a), y0, min(x1, b), y1) for a, b in zip(edges[::2], edges[1::2])]


def _explained(left: OcrLine, right: OcrLine) -> int:
    """How many of the two characters next to a blank are punctuation whose
    own cell is blank on that side."""
    return int(left.text[-1:] in CLOSING_PUNCT) + int(right.text[:1] in OPENING_PUNCT)


def _join(got: list[OcrLine | None], runs: list[tuple[int, int]], size: float, body: float,
          gutter: float | None) -> list[OcrLine]:
    """The readings of a line's parts joined again where the blank between
    two was not a gutter: punctuation's own blank, or in a headline a word
    space (narrower than the page's gutter; on a page without columns any)."""
    out: list[OcrLine] = []
    prev: OcrLine | None = None
    for i, cur in enumerate(got):
        if cur is None:
            if prev is not None:
                out.append(prev)
            prev = None
            continue
        if prev is not None:
            a, b = runs[i - 1]
            blank = b - a
            explained = _explained(prev, cur)
            if explained and blank <= _gap(size, body) + PUNCT_BLANK * size * explained:
                prev = _merged(prev, cur, "")
                continue
            if size > (1 + SIZE_TOLERANCE) * body and (gutter is None or blank < GUTTER_SHARE * gutter):
                prev = _merged(prev, cur, " ")
                continue
            out.append(prev)
        prev = cur
    if prev is not None:
        out.append(prev)
    return out


def _merged(left: OcrLine, right: OcrLine, sep: str) -> OcrLine:
    return OcrLine(left.text + sep + right.text, min(left.score, right.score),
                   (left.box[0], min(left.box[1], right.box[1]), right.box[2], max(left.box[3], right.box[3])),
                   left.glyphs + right.glyphs)


def _page_gutter(gray: Any, boxes: list[tuple[int, int, int, int]], sizes: list[float], body: float,
                 cuts: list[list[tuple[int, int]]], readings: list[list[OcrLine | None]]) -> float | None:
    """The usual blank between two columns of body text, ink to ink: the
    median over the blanks body lines were cut at (punctuation's own left
    out) and the gaps between body lines side by side. None on a page of
    one column."""
    import numpy as np

    widths: list[float] = []
    ink: list[tuple[float, float, float]] = []  # (middle y, x0, x1) of body lines' ink
    for box, size, runs, got in zip(boxes, sizes, cuts, readings):
        if size != body:
            continue
        for (a, b), left, right in zip(runs, got, got[1:]):
            if left is not None and right is not None and not _explained(left, right):
                widths.append(float(b - a))
        x0, y0, x1, y1 = box
        cols = np.flatnonzero((gray[y0:y1, x0:x1] < INK).any(axis=0))
        if cols.size:
            ink.append(((y0 + y1) / 2, float(x0 + cols[0]), float(x0 + cols[-1] + 1)))
    ink.sort(key=lambda t: t[1])
    gap = _gap(body, body)
    for i, (y, _, x1) in enumerate(ink):
        nxt = next((o for o in ink[i + 1:] if abs(o[0] - y) < 0.5 * body and o[1] > x1), None)
        if nxt is not None and gap <= nxt[1] - x1 < 6 * body:
            widths.append(nxt[1] - x1)
    widths.sort()
    return widths[len(widths) // 2] if widths else None


def _split_rows(gray: Any, boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Boxes holding two or more lines (the detector joins the lines of a
    headline set tight) cut at the blank rows between them; the recogniser
    reads one line a box."""
    import numpy as np

    out: list[tuple[int, int, int, int]] = []
    for x0, y0, x1, y1 in boxes:
        inked = np.flatnonzero((gray[y0:y1, x0:x1] < INK).any(axis=1))
        if inked.size < 2:
            out.append((x0, y0, x1, y1))
            continue
        cuts = np.flatnonzero(np.diff(inked) > 2)  # a run of blank rows
        bands = np.split(inked, cuts + 1)
        if len(bands) < 2 or min(len(b) for b in bands) < 0.3 * (inked[-1] - inked[0]):
            out.append((x0, y0, x1, y1))  # one line, or one line and a stray mark
            continue
        edges = [y0, *(y0 + (int(a[-1]) + int(b[0])) // 2 for a, b in zip(bands, bands[1:])), y1]
        out.extend((x0, top, x1, bottom) for top, bottom in zip(edges, edges[1:]))
    return out


def _read(engine: Any, bgr: Any, boxes: list[tuple[int, int, int, int]]) -> list[OcrLine | None]:
    """Recognised text and character boxes of line boxes (x0, top, x1,
    bottom), one for each box; None where nothing was read with confidence."""
    import numpy as np

    if not boxes:
        return []
    crops = [bgr[y0:y1, x0:x1] for x0, y0, x1, y1 in boxes]
    read, _ = engine.text_rec(crops, True)
    quads = [np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32) for x0, y0, x1, y1 in boxes]
    lines: list[OcrLine | None] = []
    for (x0, y0, x1, y1), (text, score, word_boxes, word_texts, _) in zip(
            boxes, engine.cal_rec_boxes(crops, quads, read)):
        if not text.strip() or float(score) < engine.text_score:
            lines.append(None)
            continue
        glyphs = []
        for word_box, word in zip(word_boxes or [], word_texts or []):
            wx = [p[0] for p in word_box]
            wy = [p[1] for p in word_box]
            glyphs.append((str(word), (float(min(wx)), float(min(wy)), float(max(wx)), float(max(wy)))))
        lines.append(OcrLine(str(text), float(score), (float(x0), float(y0), float(x1), float(y1)), tuple(glyphs)))
    return lines


def _sizes(gray: Any, lines: list[OcrLine]) -> tuple[list[float], float]:
    """Each line's size (the height of its type, see ``_measure``, made one
    where it differs by noise only) and the page's body size."""
    inks = [_measure(gray, ln) for ln in lines]
    heights = [(ink[1] - ink[0]) if ink else ln.box[3] - ln.box[1] for ln, ink in zip(lines, inks)]
    sizes = _snap(heights, [float(max(len(ln.text), 1)) for ln in lines], SIZE_TOLERANCE)
    mass: Counter[float] = Counter()
    for ln, size in zip(lines, sizes):
        mass[size] += len(ln.text)
    return sizes, (mass.most_common(1)[0][0] if mass else 0.0)


def _gap(size: float, body: float) -> float:
    """The narrowest gap that parts two columns: as for PDF text
    (pdfpage._segments) as narrow between two headlines as between two
    columns of body text; but a headline's word space is wider than that."""
    gap = SEGMENT_GAP * min(size, body)
    return max(gap, HEADLINE_SPACE * size) if size > (1 + SIZE_TOLERANCE) * body else gap


def _spaced(line: OcrLine, spaces: list[float]) -> str:
    """The recognised text with a space where one of ``spaces`` (x positions)
    lies between two ideographs and the recogniser read none."""
    if not line.glyphs or not spaces:
        return line.text
    out: list[str] = []
    pos = 0
    prev_mid: float | None = None
    for word, (gx0, _, gx1, _) in line.glyphs:
        at = line.text.find(word, pos) if word else -1
        if at < 0:  # a glyph the text does not hold as such: leave the text as read
            return line.text
        skipped = line.text[pos:at]
        mid = (gx0 + gx1) / 2
        # between ideographs only: a digit "1" or Latin "i" leaves wide blanks of its own
        if not skipped and out and prev_mid is not None and CJK_RE.match(word[:1]) \
                and CJK_RE.match(out[-1][-1:]) and any(prev_mid < x < mid for x in spaces):
            skipped = " "
        out.append(skipped + word)
        pos = at + len(word)
        prev_mid = mid
    out.append(line.text[pos:])
    return "".join(out)


def _spaces(gray: Any, line: OcrLine, size: float, gap: float) -> list[float]:
    """Where a line's ink leaves a word space (x, the middle of the blank):
    a blank between two characters clearly wider than the line's usual one
    (which holds the justification), narrower than a gutter. The recogniser
    reads Chinese without the spaces that part names in a byline."""
    import numpy as np

    x0, y0, x1, y1 = (int(v) for v in line.box)
    inked = np.flatnonzero((gray[y0:y1, x0:x1] < INK).any(axis=0))
    if inked.size < 2:
        return []
    steps = np.diff(inked)
    blank = np.flatnonzero(steps > 1)
    if blank.size < 3:
        return []
    widths = steps[blank] - 1
    usual = float(np.median(widths))
    wide = (widths >= usual + SPACE_EXTRA * size) & (widths < gap)
    return [float(x0 + (inked[i] + inked[i + 1]) / 2) for i in blank[wide]]


def _ink_rows(gray: Any, box: tuple[float, float, float, float]) -> tuple[float, float] | None:
    """Top and bottom of the ink of the line in a box (pixels), or None for a
    blank box. The detector's box may clip a glyph's top or bottom, so a
    little more is looked at, up to the blank rows that part the line from
    its neighbours."""
    import numpy as np

    h, w = gray.shape
    margin = 0.25 * (box[3] - box[1])
    x0, x1 = int(max(0, box[0])), int(min(w, box[2] + 1))
    top, bottom = int(max(0, box[1] - margin)), int(min(h, box[3] + 1 + margin))
    if x1 <= x0 or bottom <= top:
        return None
    inked = (gray[top:bottom, x0:x1] < INK).any(axis=1)
    lo, hi = int(box[1]) - top, int(box[3]) + 1 - top  # the box itself, in the crop
    rows = np.flatnonzero(inked[lo:hi])
    if rows.size == 0:
        return None
    first, last = lo + int(rows[0]), lo + int(rows[-1])
    while first > 0 and inked[first - 1]:
        first -= 1
    while last + 1 < len(inked) and inked[last + 1]:
        last += 1
    return float(top + first), float(top + last + 1)


def _snap(values: list[float], weights: list[float], tolerance: float) -> list[float]:
    """Measured sizes made one where they differ by measuring noise only. The
    most common size (by weight) takes every value within ``tolerance`` (a
    share) of it, then the most common of the rest, and so on; each group is
    replaced by its weighted median. Grouping around the most common value,
    not chaining neighbours, keeps a kicker (1.3× body) apart from body text
    whose measures spread ±10%."""
    out = list(values)
    left = set(range(len(values)))
    while left:
        mass: Counter[float] = Counter()
        for i in left:
            mass[round(values[i])] += weights[i]
        centre = mass.most_common(1)[0][0]
        group = sorted((i for i in left if centre / (1 + tolerance) <= values[i] <= centre * (1 + tolerance)),
                       key=lambda i: values[i]) or [min(left, key=lambda i: abs(values[i] - centre))]
        total = sum(weights[i] for i in group)
        acc, median = 0.0, values[group[-1]]
        for i in group:
            acc += weights[i]
            if acc * 2 >= total:
                median = values[i]
                break
        for i in group:
            out[i] = median
        left.difference_update(group)
    return out


def _snap_edges(lines: list[TextLine], body: float) -> list[TextLine]:
    """Left edges within a fraction of the body size made one (the smallest)."""
    from dataclasses import replace

    order = sorted(range(len(lines)), key=lambda i: lines[i].x0)
    out = list(lines)
    start_x = None
    for i in order:
        x = lines[i].x0
        if start_x is None or x - start_x > EDGE_TOLERANCE * body:
            start_x = x
        out[i] = replace(lines[i], x0=start_x)
    return out


def _measure(gray: Any, line: OcrLine) -> tuple[float, float] | None:
    """The top and bottom of a line's type: the median ink extent of its
    ideographs (Latin, digits and brackets rise and fall differently, and a
    few ideographs such as 一 are flat), else the ink of the whole box."""
    spans = [_ink_rows(gray, (gx0, line.box[1], gx1, line.box[3]))
             for word, (gx0, _, gx1, _) in line.glyphs if len(word) == 1 and CJK_RE.match(word)]
    spans = [sp for sp in spans if sp is not None]
    if len(spans) < 2:
        return _ink_rows(gray, line.box)
    tops = sorted(t for t, _ in spans)
    bottoms = sorted(b for _, b in spans)
    return tops[len(tops) // 2], bottoms[len(bottoms) // 2]


def layout_lines(gray: Any, ocr: list[OcrLine]) -> list[TextLine]:
    """OCR lines (already parted at gutters, see ``recognise``) as the layout
    path's TextLines: sized by their ink, word spaces put back."""
    import numpy as np

    lines = [OcrLine(clean_text(ln.text).strip(), ln.score, ln.box, ln.glyphs) for ln in ocr]
    measured = [(ln, ink) for ln in lines if ln.text and (ink := _measure(gray, ln)) is not None]
    if not measured:
        return []
    sizes, body = _sizes(gray, [ln for ln, _ in measured])
    out: list[TextLine] = []
    for (line, ink), size in zip(measured, sizes):
        x0, y0, x1, y1 = (int(v) for v in line.box)
        inked = np.flatnonzero((gray[y0:y1, x0:x1] < INK).any(axis=0))
        left, right = (x0 + int(inked[0]), x0 + int(inked[-1]) + 1) if inked.size else (x0, x1)
        # Every line of a size is given the same height about the middle of
        # its ideographs: the gaps between lines are then as even as in print,
        # which the layout's cuts rely on (brackets, digits and Latin would
        # make the ink of each line a little taller or shorter).
        middle = (ink[0] + ink[1]) / 2
        # Word spaces are put back in body type only, where bylines need them
        # to part names; in a headline, narrow ideographs (日, 口) leave blanks
        # as wide as a space.
        text = _spaced(line, _spaces(gray, line, size, _gap(size, body))) if size <= body else line.text
        out.append(TextLine(text, float(left), middle - size / 2, float(right), middle + size / 2, size))
    return _snap_edges(out, body)


def horizontal_rules(gray: Any) -> list[tuple[float, float, float]]:
    """Long thin horizontal lines (the rules under a page's header and over
    its footer) as (y, x0, x1), the form ``page_articles`` takes."""
    import numpy as np

    h, w = gray.shape
    dark = gray < INK
    rules: list[tuple[float, float, float]] = []
    candidates = np.flatnonzero(dark.sum(axis=1) >= RULE_WIDTH * w)
    for y in candidates:
        row = dark[y]
        # the longest run of ink in the row: text rows are broken up, rules are not
        padded = np.concatenate(([0], row.astype(np.int8), [0]))
        edges = np.flatnonzero(np.diff(padded))
        starts, ends = edges[::2], edges[1::2]
        k = int(np.argmax(ends - starts))
        if ends[k] - starts[k] >= RULE_WIDTH * w:
            if rules and y - rules[-1][0] <= 3:
                continue  # the same rule, a few pixels thick
            rules.append((float(y), float(starts[k]), float(ends[k])))
    return rules


def page_from_gray(gray: Any, threads: int = 0) -> list[PageArticle]:
    """The articles of one greyscale page image (OCR on ``threads`` threads, 0: 2)."""
    lines = layout_lines(gray, recognise(gray, threads))
    h, w = gray.shape
    return page_articles(lines, float(w), float(h), horizontal_rules(gray))


# ------------------------------------------------------------------ files

def load_gray(path: Path, rel: str) -> Any:
    """A page image as greyscale numpy pixels; a file that is not a whole
    image raises ImageUnreadable naming ``rel``."""
    import warnings

    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # PIL's bomb warning would reach the user's terminal; MAX_PIXELS, lower, refuses such an image in one line.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            if img.width * img.height > MAX_PIXELS:
                raise ImageUnreadable(rel, f"{img.width}×{img.height} pixels is too large for a page")
            img.load()  # decodes now: a truncated file fails here, not half-read later
            return np.asarray(img.convert("L"))
    except UnidentifiedImageError as exc:
        raise ImageUnreadable(rel, "not an image PIL can read") from exc
    except Image.DecompressionBombError as exc:  # PIL refuses it before its size can be asked
        raise ImageUnreadable(rel, f"over {2 * (Image.MAX_IMAGE_PIXELS or 0) // 1_000_000:,} million pixels "
                                   f"is too large for a page") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError)):
            raise
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageUnreadable(rel, reason[:160]) from exc


def read_image(path: Path, rel: str, threads: int = 0) -> list[PageArticle]:
    """The articles of a scanned page image (.png, .jpg, .jpeg)."""
    return page_from_gray(load_gray(path, rel), threads)


def read_pdf_pages(path: Path, pages: list[int], dpi: int = PDF_DPI,
                   threads: int = 0) -> dict[int, list[PageArticle] | str]:
    """PDF pages without a text layer (1-based numbers), rendered and read by
    OCR: per page its articles, or a one-line reason it could not be read."""
    import pypdfium2 as pdfium

    out: dict[int, list[PageArticle] | str] = {}
    # Opened here, not by name: pdfium encodes a name as UTF-8, which a
    # file name that is not UTF-8 (surrogate-escaped) cannot be.
    with path.open("rb") as f:
        try:
            doc = pdfium.PdfDocument(f)
        except Exception as exc:  # pdfplumber could parse what pdfium cannot
            return {n: f"scanned page cannot be rendered ({str(exc)[:120] or type(exc).__name__})" for n in pages}
        try:
            for n in pages:
                out[n] = _render_and_read(doc, n, dpi, threads)
        finally:
            doc.close()
    return out


def _render_and_read(doc: Any, n: int, dpi: int, threads: int) -> list[PageArticle] | str:
    """One page rendered and read by OCR, or why it cannot be. A page is
    measured before it is rendered: the page size is the file's to choose
    (a 450-byte PDF can ask for 30,000 × 30,000 pixels, 5 GB rendered), so
    it gets the image files' limit."""
    import numpy as np

    try:
        width, height = doc[n - 1].get_size()  # points
    except Exception as exc:  # pdfium raises its own error types for a damaged page
        return f"scanned page cannot be rendered ({str(exc)[:120] or type(exc).__name__})"
    pixels = width * dpi / 72 * (height * dpi / 72)
    if not pixels <= MAX_PIXELS:  # `not <=`: a NaN size is refused too
        return (f"page too large to render for OCR ({width / 72 * 2.54:,.0f} × {height / 72 * 2.54:,.0f} cm, "
                f"{pixels / 1e6:,.0f} million pixels at {dpi} dpi; the limit is {MAX_PIXELS // 1_000_000} million)")
    try:
        bitmap = doc[n - 1].render(scale=dpi / 72, grayscale=True)
        gray = np.asarray(bitmap.to_pil().convert("L"))
    except Exception as exc:  # pdfium raises its own error types for a damaged page
        return f"scanned page cannot be rendered ({str(exc)[:120] or type(exc).__name__})"
    return page_from_gray(gray, threads)
