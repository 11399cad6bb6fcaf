"""Newspaper PDF pages → articles, read from where and how big each character is printed.

A PDF's text layer comes in whatever order the typesetter drew it; read
straight through, a multi-column page interleaves columns and glues
headlines to the wrong body. Here every character comes with its box and
font (pdfplumber), and:

1. characters are grouped into line segments (same baseline, no gap wider
   than a character; overprinted fake-bold duplicates dropped);
2. the page's body size is the size most characters are printed in; a line
   is *display* (headline, kicker, subtitle) when it is clearly larger
   (≥ 1.2×), or bold and at least a little larger; a bold line at body size
   is an in-text subhead unless a lead or byline follows it;
3. header and footer rows (paper, date, page number, editors), found by
   their words or because they lie beyond the page's top / bottom rule, are
   dropped;
4. reading order is a recursive XY cut: a region is cut first at vertical
   gutters that run its whole height (columns, side-by-side articles), else
   horizontally — next to lines that span a gutter of the rest (a headline
   over several columns, a wide caption), or at its widest gaps. A headline
   spanning columns therefore comes right before its body, and a body that
   goes on in the next column is read on there;
5. paragraphs are known from the geometry (a first line indented by about
   two characters, or a wider gap), lines are joined without layout spaces;
6. articles are assembled directly: each run of display lines opens an
   article (the largest group is the title, the others are kicker /
   subtitle lines); a lead ("本报讯…") or a continuation ("（上接第N版）")
   without a headline opens one too; bylines, leads, credits and
   continuation marks are read with the same patterns as the plain-text
   segmenter (retrieval/newspaper.py).

Why not print the page as text and let ``segment_page`` guess? On plain text
the segmenter must guess which lines are headlines and which body each
headline belongs to (global title assignment by word overlap); here font
size says which lines are headlines, and position says which body each one
heads. Turning that certainty back into text would throw it away. Only a
page with no display lines (everything in one size: a plain text dump printed
to PDF) goes through ``segment_page``, as its layout lines in reading order.

Steps 2–6 are ``page_articles`` (retrieval/ingest/pagelayout.py). It takes
plain ``TextLine`` boxes, so scanned pages take the same path: a page with no text layer is listed in ``PdfRead.textless_pages``
and read by OCR (retrieval/ingest/ocrpage.py: lines with boxes, the height of
their ink standing for size).
"""


from __future__ import annotations

import logging
import re
import unicodedata
import warnings
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from retrieval.errors import CorpusError
from retrieval.ingest.docpdf import DocSignals, read_document
from retrieval.ingest.newspaper import PageArticle
from retrieval.ingest.pagelayout import SEGMENT_GAP, TextLine, page_articles
from retrieval.textnorm import clean_text

# Font names of bold faces.
BOLD_RE = re.compile(r"bold|heavy|black|semibold|demi|hei", re.I)


class PdfUnreadable(CorpusError):
    """The PDF cannot be opened or parsed at all; the message names the file."""

    def __init__(self, rel: str, reason: str) -> None:
        super().__init__(f"{rel}: unreadable PDF ({reason})")
        self.rel = rel
        self.reason = reason


@dataclass
class PdfRead:
    """What a PDF file became."""

    articles: list[PageArticle] = field(default_factory=list)
    # one line each, e.g. "page 3: text cannot be extracted (...); left out"
    problems: list[str] = field(default_factory=list)
    textless_pages: list[int] = field(default_factory=list)  # 1-based; scans, read by OCR
    signals: DocSignals | None = None  # measured on a PDF of two pages or more


# ------------------------------------------------------------------ reading

class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _quiet() -> Iterator[list[str]]:
    """pdfminer's complaints about a damaged file are collected for one clean
    line instead of reaching the user's terminal."""
    logger = logging.getLogger("pdfminer")
    handler = _Collect()
    propagate, level = logger.propagate, logger.level
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        logger.setLevel(level)


def _why(exc: BaseException, complaints: list[str]) -> str:
    said = list(dict.fromkeys([*complaints, str(exc) or type(exc).__name__]))
    return "; ".join(s.replace("\n", " ") for s in said)[:200]


# A compressed stream of a PDF inflated beyond this is refused: 100 KB of file
# can be 100 MB of stream (a "flate bomb"; pdfminer took 670 MB to read one).
# A page's content stream is rarely more than a megabyte.
MAX_PDF_STREAM_BYTES = 32 * 1024 * 1024


class PdfStreamTooLarge(Exception):
    """A compressed PDF stream inflates beyond MAX_PDF_STREAM_BYTES."""

    def __init__(self) -> None:
        super().__init__(f"a compressed stream inflates to over {MAX_PDF_STREAM_BYTES // 2**20} MB")


class _BoundedZlib:
    """What pdfminer sees as ``zlib``: the same, but ``decompress`` stops at
    MAX_PDF_STREAM_BYTES instead of inflating a stream whole."""

    error = zlib.error
    decompressobj = staticmethod(zlib.decompressobj)

    @staticmethod
    def decompress(data: bytes, *args: object) -> bytes:
        d = zlib.decompressobj()
        out = d.decompress(data, MAX_PDF_STREAM_BYTES + 1)
        if len(out) > MAX_PDF_STREAM_BYTES:
            raise PdfStreamTooLarge()
        if not d.eof:
            # Cut short or damaged: zlib's own error, which pdfminer answers by
            # inflating what it can (``_bounded_corrupted``). Under the bound whole.
            return zlib.decompress(data)
        return out


def _bounded_corrupted(data: bytes) -> bytes:
    """pdfminer's ``decompress_corrupted`` (inflate a stream with a damaged
    checksum byte by byte), bounded like ``_BoundedZlib``."""
    d = zlib.decompressobj()
    out = bytearray()
    i = 0
    try:
        for i in range(len(data)):
            out += d.decompress(data[i : i + 1])
            if len(out) > MAX_PDF_STREAM_BYTES:
                raise PdfStreamTooLarge()
    except zlib.error:
        if i < len(data) - 3:  # not in the checksum: really damaged
            raise
    return bytes(out)


@lru_cache(maxsize=1)
def _bound_pdf_streams() -> None:
    """Once per process, before the first PDF is read: pdfminer inflates every
    compressed stream whole, with no limit of its own."""
    from pdfminer import pdftypes

    pdftypes.zlib = _BoundedZlib  # type: ignore[assignment]
    pdftypes.decompress_corrupted = _bounded_corrupted


def read_pdf(path: Path, rel: str, ocr: bool = True, ocr_threads: int = 0) -> PdfRead:
    """The articles of every page of a PDF, in page order. A file that cannot
    be parsed raises PdfUnreadable (a CorpusError naming ``rel``); a page that
    cannot be read is left out with a line in ``problems``. A page without a
    text layer (a scan) is read by OCR (retrieval/ingest/ocrpage.py) unless
    ``ocr`` is False."""
    try:
        import pdfplumber
    except ImportError as exc:  # pragma: no cover
        raise PdfUnreadable(rel, "reading PDF needs the 'pdfplumber' package") from exc
    _bound_pdf_streams()
    out = PdfRead()
    with _quiet() as complaints:
        try:
            pdf = pdfplumber.open(path)
            pages = list(pdf.pages)
        except OSError:
            raise
        # a damaged file fails anywhere in the parser, with any exception type
        except Exception as exc:
            raise PdfUnreadable(rel, _why(exc, complaints)) from exc
        by_page: dict[int, list[PageArticle]] = {}
        read: dict[int, tuple[list[TextLine], list[tuple[float, float, float]], float, float]] = {}
        try:
            for n, page in enumerate(pages, 1):
                try:
                    lines, rules = _page_lines(page)
                except Exception as exc:
                    out.problems.append(f"page {n}: text cannot be extracted ({_why(exc, [])[:120]}); left out")
                    continue
                if not lines:
                    out.textless_pages.append(n)
                    continue
                read[n] = (lines, rules, float(page.width), float(page.height))
        finally:
            pdf.close()
    # One document in one column and one size, pages running on (a day's
    # articles written to PDF): read as one text (retrieval/ingest/docpdf.py).
    doc = read_document([read[n][0] for n in sorted(read)]) if len(read) >= 2 else None
    out.signals = doc.signals if doc is not None else None
    if doc is not None and doc.signals.is_document and doc.articles:
        by_page[min(read)] = doc.articles
    else:
        for n, (lines, rules, width, height) in read.items():
            by_page[n] = page_articles(lines, width, height, rules)
    if out.textless_pages and ocr:
        # Scanned pages: rendered and read by OCR, then the same layout path.
        from retrieval.ingest.ocrpage import read_pdf_pages

        for n, got in read_pdf_pages(path, out.textless_pages, threads=ocr_threads).items():
            if isinstance(got, str):
                out.problems.append(f"page {n}: {got}; left out")
            else:
                by_page[n] = got
    out.articles = [a for n in sorted(by_page) for a in by_page[n]]
    return out


def _fold(ch: str) -> str:
    # Some PDFs map ideographs to Kangxi / CJK radical code points that look the same.
    return unicodedata.normalize("NFKC", ch) if "\u2e80" <= ch <= "\u2fdf" else ch


def _page_lines(page: object) -> tuple[list[TextLine], list[tuple[float, float, float]]]:
    """Line segments of a pdfplumber page, and its horizontal rules as (y, x0, x1)."""
    chars = [c for c in page.chars if c.get("upright", True) and c.get("text")]  # type: ignore[attr-defined]
    rules = []
    for obj in [*page.lines, *page.rects]:  # type: ignore[attr-defined]
        if abs(obj["bottom"] - obj["top"]) <= 2.5:
            rules.append(((obj["top"] + obj["bottom"]) / 2, obj["x0"], obj["x1"]))
    return _segments(chars), rules


def _segments(chars: list[dict]) -> list[TextLine]:
    sizes = Counter(round(c["size"] * 2) / 2 for c in chars if not c["text"].isspace())
    # a gutter between two headlines is as narrow as between two body columns
    body = sizes.most_common(1)[0][0] if sizes else 10.0
    chars = sorted(chars, key=lambda c: (c["bottom"], c["x0"]))
    rows: list[list[dict]] = []
    anchor = None
    for c in chars:
        if anchor is None or abs(c["bottom"] - anchor) > 0.35 * max(c["size"], 1.0):
            rows.append([])
            anchor = c["bottom"]
        rows[-1].append(c)
    out: list[TextLine] = []
    for row in rows:
        row.sort(key=lambda c: c["x0"])
        seg: list[dict] = []
        for c in row:
            if seg:
                prev = seg[-1]
                size = min(c["size"], prev["size"], body) or 1.0
                if c["text"] == prev["text"] and abs(c["x0"] - prev["x0"]) < 0.2 * (prev["x1"] - prev["x0"]) \
                        and abs(c["top"] - prev["top"]) < 0.2 * size:
                    prev["_over"] = True  # drawn twice, offset: fake bold
                    continue
                if c["x0"] - prev["x1"] > SEGMENT_GAP * size or not 0.8 < c["size"] / (prev["size"] or 1) < 1.25:
                    out.append(_line(seg))
                    seg = []
            seg.append(c)
        if seg:
            out.append(_line(seg))
    return [ln for ln in out if ln.text]


def _line(chars: list[dict]) -> TextLine:
    sizes = Counter(round(c["size"] * 2) / 2 for c in chars if not c["text"].isspace())
    size = sizes.most_common(1)[0][0] if sizes else chars[0]["size"]
    parts: list[str] = []
    prev = None
    for c in chars:
        if prev is not None and c["x0"] - prev["x1"] > 0.25 * size and not c["text"].isspace() \
                and not prev["text"].isspace():
            parts.append(" ")
        parts.append("".join(_fold(ch) for ch in c["text"]))
        prev = c
    text = re.sub(r"\s+", " ", clean_text("".join(parts))).strip()
    ink = [c for c in chars if not c["text"].isspace()] or chars
    bold = sum(1 for c in ink if c.get("_over") or BOLD_RE.search(str(c.get("fontname", "")))) * 2 > len(ink)
    return TextLine(text, min(c["x0"] for c in chars), min(c["top"] for c in chars),
                    max(c["x1"] for c in chars), max(c["bottom"] for c in chars), float(size), bold)
