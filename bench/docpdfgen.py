"""Document-style PDFs: one day's articles typeset one after another, the way a
downloader of e-paper text writes a day's paper to PDF, with the truth per article.

    .venv/bin/python bench/docpdfgen.py --day 20200105 --seed 3 --out /tmp/doc.pdf

Unlike bench/pdfgen.py (multi-column newspaper pages, headlines by size), here
everything is one column and one font size: a contents list first (the
headlines, maybe with their PDF page, maybe grouped by printed page), then
each article's header lines (kicker, headline, subtitle, as the e-paper file
has them) and its body, paragraphs indented (or set apart by a blank line),
sentences and articles running on over PDF page breaks. Layout varies by seed:
page size and margins, font size and leading, the contents' form or none,
running header and page-number footer or none, blank lines between articles or
each article on a new page, the header lines flush left or centred, a
"第N版" line where the printed page changes.

Source: ../shared/archive/rmrb-2020-01/ (one e-paper file per article), read
at bench time; nothing generated from it is stored in the repository. Tests
pass hand-written articles (``DocArticle``) instead.

Truth per article: the file's headline, kicker and subtitle, and its author
and body as the project's e-paper reader (retrieval/ingest/epaper.py) reads
the file: the PDF carries the same text, so it should give the same articles.
The face is an embedded TrueType one (WenQuanYi Micro Hei, from a test
dependency; a downloader embeds its font), so the text layer gives back what
was drawn.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from retrieval.ingest.epaper import read_article  # noqa: E402

ARCHIVE = ROOT.parent / "shared" / "archive" / "rmrb-2020-01"
IND = "\u3000\u3000"
# a line may not start with these (they hang at the end of the line before)
NO_LINE_START = "，。、；：？！）”』」》…"
PAGE_SIZES = {"A4": (595.0, 842.0), "B5": (499.0, 709.0), "A5": (420.0, 595.0)}


@dataclass
class DocArticle:
    """An article as the e-paper file has it: header lines and body lines as printed
    (byline and credit lines among them)."""

    title: str
    paragraphs: list[str]
    kicker: str = ""
    subtitle: str = ""
    page: int | None = None  # the printed page (版次)

    def epaper_text(self) -> str:
        return "\n".join([self.kicker, self.title, self.subtitle, *(IND + p for p in self.paragraphs)]) + "\n"


@dataclass
class DocTruth:
    title: str
    kicker: str | None
    subtitle: str | None
    author: str | None
    body: str  # paragraphs as the e-paper reader keeps them, no whitespace


@dataclass
class DocLayout:
    size: str = "A4"
    margin: float = 60.0
    font_size: float = 11.0
    leading: float = 1.6  # × font size
    contents: str = "titles"  # none | titles | numbered (with PDF page) | by_page (under 第N版 lines)
    header: bool = True  # a running header line (paper and date)
    footer: str = "dash"  # none | dash (- 3 -) | of (第 3 页 共 9 页) | slash (3 / 9)
    between: int = 1  # blank lines between articles; 0: each article on a new page
    centred: bool = False  # header lines centred
    indent: bool = True  # paragraphs indented two characters; False: a blank line between them
    page_marks: bool = False  # a "第N版" line before the first article of each printed page
    gap_after_head: bool = True  # a blank line between header lines and body


@dataclass
class DocPdf:
    articles: list[DocTruth]
    pages: int
    layout: DocLayout
    data: bytes = field(repr=False, default=b"")


def available() -> bool:
    return ARCHIVE.is_dir()


def days() -> list[str]:
    return sorted(p.name for p in ARCHIVE.iterdir() if p.is_dir())


def day_articles(day: str) -> list[DocArticle]:
    """The day's articles in print order (page, then place on the page); files
    with no body are left out."""
    out = []
    for f in sorted((ARCHIVE / day).glob("*.txt")):
        lines = f.read_text(encoding="utf-8").replace("\r", "").split("\n")
        if len(lines) < 4:
            continue
        paras = [ln.strip("\u3000 \u00a0\t") for ln in lines[3:]]
        paras = [p for p in paras if p]
        if not paras or not lines[1].strip():
            continue
        m = re.search(r"-(\d+)-\d+$", f.stem)
        out.append(DocArticle(title=lines[1].strip(), paragraphs=paras, kicker=lines[0].strip(),
                              subtitle=lines[2].strip(), page=int(m.group(1)) if m else None))
    return out


def truth_of(a: DocArticle) -> DocTruth:
    art = read_article(a.epaper_text())
    assert art is not None
    return DocTruth(title=art.title, kicker=art.kicker, subtitle=art.subtitle, author=art.author,
                    body=re.sub(r"\s+", "", "".join(art.paragraphs)))


def random_layout(seed: int) -> DocLayout:
    rng = random.Random(seed)
    return DocLayout(
        size=rng.choice(["A4", "A4", "B5", "A5"]),
        margin=rng.choice([45.0, 55.0, 65.0, 72.0]),
        font_size=rng.choice([10.0, 10.5, 11.0, 12.0]),
        leading=rng.choice([1.4, 1.5, 1.6, 1.8]),
        contents=rng.choice(["none", "titles", "numbered", "by_page"]),
        header=rng.random() < 0.5,
        footer=rng.choice(["none", "dash", "of", "slash"]),
        between=rng.choice([0, 1, 1, 2]),
        centred=rng.random() < 0.3,
        indent=rng.random() < 0.75,
        page_marks=rng.random() < 0.3,
        gap_after_head=rng.random() < 0.6,
    )


def _face() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    from pdfgen import cjk_font_file

    if "DocFace" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DocFace", str(cjk_font_file()), subfontIndex=0))
    return "DocFace"


def _wrap(text: str, width: float, face: str, size: float, first_indent: float) -> list[str]:
    """Greedy line breaking, closing punctuation kept off a line's start."""
    from reportlab.pdfbase import pdfmetrics

    lines: list[str] = []
    cur, w, avail = "", 0.0, width - first_indent
    for ch in text:
        cw = pdfmetrics.stringWidth(ch, face, size)
        if cur and w + cw > avail and ch not in NO_LINE_START:
            lines.append(cur)
            cur, w, avail = "", 0.0, width
        cur += ch
        w += cw
    if cur:
        lines.append(cur)
    return lines


# A drawn line: (text, x offset from the left margin, centred?) or None for a blank line.
_Row = tuple[str, float, bool] | None


def _article_rows(a: DocArticle, lay: DocLayout, width: float, face: str) -> list[_Row]:
    size = lay.font_size
    rows: list[_Row] = []
    for head in (a.kicker, a.title, a.subtitle):
        if head:
            rows += [(ln, 0.0, lay.centred) for ln in _wrap(head, width, face, size, 0.0)]
    if lay.gap_after_head:
        rows.append(None)
    for i, p in enumerate(a.paragraphs):
        if not lay.indent and i:
            rows.append(None)
        ind = 2 * size if lay.indent else 0.0
        for j, ln in enumerate(_wrap(p, width, face, size, ind)):
            rows.append((ln, ind if j == 0 else 0.0, False))
    return rows


def _contents_rows(arts: list[DocArticle], lay: DocLayout, width: float, face: str,
                   pages: dict[int, int]) -> list[_Row]:
    from reportlab.pdfbase import pdfmetrics

    size = lay.font_size
    rows: list[_Row] = [("目录", 0.0, True), None]
    last_page = None
    for i, a in enumerate(arts):
        if lay.contents == "by_page" and a.page != last_page:
            if last_page is not None:
                rows.append(None)
            rows.append((f"第{a.page:02d}版", 0.0, False))
            last_page = a.page
        if lay.contents == "numbered":
            num = str(pages.get(i, 0))
            title = a.title
            room = width - pdfmetrics.stringWidth(num, face, size) - 2 * size
            while pdfmetrics.stringWidth(title, face, size) > room:
                title = title[:-1]
            dots = "." * max(3, int((width - pdfmetrics.stringWidth(title + num, face, size))
                                    / pdfmetrics.stringWidth(".", face, size)) - 2)
            rows.append((f"{title}{dots}{num}", 0.0, False))
        else:
            rows += [(ln, 0.0, False) for ln in _wrap(a.title, width, face, size, 0.0)]
    return rows


def make_doc_pdf(arts: list[DocArticle], out: Path | None = None, seed: int = 0,
                 layout: DocLayout | None = None, date: str = "2020年1月5日") -> DocPdf:
    """Typeset ``arts`` one after another into one PDF (see the module docstring)."""
    lay = layout or random_layout(seed)
    face = _face()
    pw, ph = PAGE_SIZES[lay.size]
    width = pw - 2 * lay.margin
    pitch = lay.font_size * lay.leading
    top = lay.margin + (2 * pitch if lay.header else 0)
    bottom = ph - lay.margin - (2 * pitch if lay.footer != "none" else 0)
    per_page = int((bottom - top) // pitch)
    art_rows = [_article_rows(a, lay, width, face) for a in arts]

    def paginate(contents: list[_Row]) -> tuple[list[list[_Row]], dict[int, int]]:
        pages: list[list[_Row]] = [[]]
        starts: dict[int, int] = {}

        def put(row: _Row) -> None:
            if len(pages[-1]) >= per_page:
                pages.append([])
            if row is None and not pages[-1]:
                return  # no blank line at the top of a page
            pages[-1].append(row)

        for row in contents:
            put(row)
        if contents:
            pages.append([])
        last_page = None
        for i, (a, rows) in enumerate(zip(arts, art_rows)):
            if i and lay.between == 0 and pages[-1]:
                pages.append([])
            elif pages[-1]:
                for _ in range(lay.between):
                    put(None)
            if lay.page_marks and a.page != last_page and a.page is not None:
                put((f"第{a.page:02d}版", 0.0, False))
                put(None)
            last_page = a.page
            # header lines are kept with the body's first lines (as a word processor does)
            heads = sum(1 for h in (a.kicker, a.title, a.subtitle) if h) + 3
            if per_page - len(pages[-1]) < heads:
                pages.append([])
            starts[i] = len(pages)
            for row in rows:
                put(row)
        return [p for p in pages if p], starts

    contents: list[_Row] = []
    pages, starts = paginate([])
    if lay.contents != "none":
        # twice: the contents' own length moves the pages it lists
        for _ in range(3):
            contents = _contents_rows(arts, lay, width, face, starts)
            pages, starts = paginate(contents)

    from io import BytesIO

    from reportlab.pdfgen import canvas

    buf = BytesIO()
    c = canvas.Canvas(buf, pagesize=(pw, ph))
    n = len(pages)
    for k, rows in enumerate(pages, 1):
        c.setFont(face, lay.font_size)
        if lay.header:
            c.drawString(lay.margin, ph - lay.margin - lay.font_size, f"人民日报  {date}")
        foot = {"none": "", "dash": f"- {k} -", "of": f"第 {k} 页 共 {n} 页", "slash": f"{k} / {n}"}[lay.footer]
        if foot:
            c.drawCentredString(pw / 2, lay.margin, foot)
        for r, row in enumerate(rows):
            if row is None:
                continue
            text, dx, centred = row
            y = ph - top - (r + 1) * pitch + (pitch - lay.font_size) / 2
            if centred:
                c.drawCentredString(lay.margin + width / 2, y, text)
            else:
                c.drawString(lay.margin + dx, y, text)
        c.showPage()
    c.save()
    data = buf.getvalue()
    if out is not None:
        out.write_bytes(data)
    return DocPdf([truth_of(a) for a in arts], n, lay, data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--day", default="20200105")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("/tmp/doc.pdf"))
    args = ap.parse_args()
    doc = make_doc_pdf(day_articles(args.day), args.out, args.seed)
    print(f"{args.out}: {doc.pages} pages, {len(doc.articles)} articles, {doc.layout}")


if __name__ == "__main__":
    main()
