"""Score reading scanned newspaper pages (images) into articles, OCR included.

    .venv/bin/python bench/ocrscore.py [--pages 6] [--start 0] [--dpi 150] [--no-sample] [--show]

Pages: generated newspaper pages (bench/pdfgen.py, CMRC 2018 contexts) and the
bundled sample page (data/000_*.txt, its articles as the plain-text segmenter
reads them, laid out by pdfgen.make_articles_page), drawn with an embedded
Chinese font and rendered to greyscale PNG with pypdfium2 — a clean scan, no
noise, skew or bleed. Each PNG goes through retrieval.ingest.ocrpage.read_image
(RapidOCR, then the PDF layout path), as `newsqa index` reads a .png.

Printed:
  OCR char acc  character accuracy of the OCR alone: each OCR line against
             the PDF text-layer segments under it (the source text as placed),
             1 − Levenshtein distance / printed characters, whitespace ignored;
             text not found at all counts as wrong;
  article char acc  the same measure over the article bodies read (each true
             body against the found article sharing most character trigrams
             with it), so reading order and segmentation errors cost too; the
             body is the printed body text (lead included; headline and byline
             lines not). Printed for the scans and, as the ceiling layout
             alone sets, for the same pages read through their text layer;
  title      share of true articles whose found article has exactly the true
             title (whitespace ignored; a continuation printed without
             headline counts as right when the found title says "（上接…）");
  author, body F1, merged, split, extra: as in bench/pdfscore.py;
  s/page     seconds per page, image decoding + OCR + layout, with the OCR
             engine on --threads threads (default 0: as `[corpus] ocr_threads = 0`, 2), loaded before
             timing starts. The load average is printed alongside: on a shared
             machine the figure is only as good as the cores were free; the
             CPU seconds the page cost (all threads) are printed too: on two
             free cores the wall time is about half of that or a little more.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pdfgen import PdfPage, cjk_font_file, make_articles_page, make_page, render_png  # noqa: E402
from pdfscore import Found, Score, _grams, _norm, score_page  # noqa: E402

SAMPLE = ROOT / "data" / "000_1248635c6257c13a.txt"


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions each 1), a row at a
    time in numpy: the insertion term of a row is a running minimum."""
    import numpy as np

    if not a or not b:
        return len(a) + len(b)
    bb = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    ramp = np.arange(len(b) + 1)
    prev = ramp.copy()
    for i, ch in enumerate(a, 1):
        cost = (bb != ord(ch)).astype(np.int64)
        tmp = np.empty_like(prev)
        tmp[0] = i
        tmp[1:] = np.minimum(prev[1:] + 1, prev[:-1] + cost)
        prev = np.minimum.accumulate(tmp - ramp) + ramp
    return int(prev[-1])


def char_accuracy(page: PdfPage, found: list[Found]) -> tuple[int, int]:
    """(characters right, true characters) over the page's true articles."""
    bodies = [_norm(f.body) for f in found]
    grams = [_grams(b) for b in bodies]
    right = total = 0
    for t in page.articles:
        truth = _norm(t.body)
        total += len(truth)
        if not bodies:
            continue
        tg = _grams(truth)
        k = max(range(len(bodies)), key=lambda i: len(tg & grams[i]))
        right += max(0, len(truth) - levenshtein(truth, bodies[k]))
    return right, total


def pages(n: int, start: int, sample: bool) -> list[tuple[str, PdfPage, bytes]]:
    font = cjk_font_file()
    out = []
    for seed in range(start, start + n):
        page, data = make_page(seed, font_file=font)
        out.append((f"page {seed} ({page.columns} columns, {page.size})", page, data))
    if sample:
        from retrieval.ingest.newspaper import segment_page

        arts = segment_page(SAMPLE.read_text(encoding="utf-8"))
        page, data = make_articles_page(arts, font_file=font)
        out.append((f"sample {SAMPLE.name}", page, data))
    return out


def line_accuracy(pdf: bytes, lines: list, dpi: int) -> tuple[int, int]:
    """(characters right, characters printed): each OCR line against the
    text-layer segments of the same PDF under it (pdfplumber, the source
    text as placed on the page), 1 − Levenshtein distance. Text the OCR
    missed altogether counts as wrong; layout plays no part."""
    import io

    import pdfplumber

    from retrieval.ingest.pdfpage import _page_lines

    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        truth, _ = _page_lines(doc.pages[0])
    k = dpi / 72
    under: dict[int, list] = {}
    missed = 0
    for seg in truth:
        x0, top, x1, bottom = seg.x0 * k, seg.top * k, seg.x1 * k, seg.bottom * k
        best, area = -1, 0.0
        for i, ln in enumerate(lines):
            w = min(x1, ln.x1) - max(x0, ln.x0)
            h = min(bottom, ln.bottom) - max(top, ln.top)
            if w > 0 and h > 0 and w * h > area:
                best, area = i, w * h
        if best < 0:
            missed += len(_norm(seg.text))
        else:
            under.setdefault(best, []).append(seg)
    total = sum(len(_norm(seg.text)) for seg in truth)
    wrong = missed
    for i, segs in under.items():
        wrong += levenshtein("".join(_norm(s.text) for s in sorted(segs, key=lambda s: s.x0)), _norm(lines[i].text))
    return max(0, total - wrong), total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=6, help="generated pages")
    ap.add_argument("--start", type=int, default=0, help="first page seed")
    ap.add_argument("--dpi", type=int, default=150)
    ap.add_argument("--no-sample", action="store_true", help="leave out the bundled sample page")
    ap.add_argument("--show", action="store_true", help="print each page's title errors")
    ap.add_argument("--threads", type=int, default=0, help="OCR threads (0: the default, 2)")
    args = ap.parse_args()

    from retrieval.ingest import ocrpage
    from retrieval.ingest.pagelayout import page_articles
    from retrieval.ingest.pdfpage import read_pdf

    score, layer = Score(), Score()
    right = total = line_right = line_total = layer_right = 0
    seconds: list[float] = []
    cpu: list[float] = []  # CPU seconds of this process, all its threads: what the page costs, busy cores or not
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        made = pages(args.pages, args.start, not args.no_sample)
        ocrpage._engine(ocrpage.ocr_threads(args.threads))  # loading the models is not reading time
        for name, page, data in made:
            png = Path(tmp) / f"{re.sub(r'[^0-9A-Za-z]+', '_', name)}.png"
            render_png(data, png, dpi=args.dpi)
            # what ocrpage.read_image does, kept in steps to score the OCR lines too
            t0, c0 = time.perf_counter(), time.process_time()
            gray = ocrpage.load_gray(png, png.name)
            lines = ocrpage.layout_lines(gray, ocrpage.recognise(gray, args.threads))
            h, w = gray.shape
            arts = page_articles(lines, float(w), float(h), ocrpage.horizontal_rules(gray))
            dt = time.perf_counter() - t0
            seconds.append(dt)
            cpu.append(time.process_time() - c0)
            found = [Found(a.title or "", a.author, "".join(a.paragraphs)) for a in arts]
            if args.show:
                print(f"--- {name}")
            score_page(page.articles, found, score, args.show)
            score.pages += 1
            score.seconds += dt
            r, t = char_accuracy(page, found)
            lr, lt = line_accuracy(data, lines, args.dpi)
            right, total, line_right, line_total = right + r, total + t, line_right + lr, line_total + lt
            # the same page through its text layer: what layout alone gets right
            pdf = Path(tmp) / "page.pdf"
            pdf.write_bytes(data)
            via_layer = [Found(a.title or "", a.author, "".join(a.paragraphs)) for a in read_pdf(pdf, "page.pdf").articles]
            score_page(page.articles, via_layer, layer)
            layer_right += char_accuracy(page, via_layer)[0]
            print(f"{name:40s} {len(page.articles):3d} articles  OCR lines {lr / max(lt, 1):.3f}  "
                  f"articles {r / max(t, 1):.3f}  {dt:5.1f} s")
    load1 = os.getloadavg()[0]
    n = max(score.articles, 1)
    print(f"pages {score.pages}  articles {score.articles}  dpi {args.dpi}  threads {ocrpage.ocr_threads(args.threads)}")
    print(f"OCR char acc {line_right / max(line_total, 1):.3f} (lines vs the text layer under them, "
          f"1 - Levenshtein / printed chars, {line_total} chars)")
    print(f"scan  article char acc {right / max(total, 1):.3f}  title {score.title_ok / n:.3f}  "
          f"author {score.author_ok / n:.3f}  body F1 {score.f1_sum / n:.3f}  merged {score.merged}  "
          f"split {score.split}  extra {score.extra}")
    print(f"layer article char acc {layer_right / max(total, 1):.3f}  title {layer.title_ok / n:.3f}  "
          f"author {layer.author_ok / n:.3f}  (same pages through the PDF text layer: layout alone)")
    print(f"s/page {sum(seconds) / max(len(seconds), 1):.1f} (min {min(seconds):.1f}, max {max(seconds):.1f})  "
          f"load average {load0:.1f} -> {load1:.1f} on {os.cpu_count()} cores; "
          f"CPU {sum(cpu) / max(len(cpu), 1):.1f} s/page")


if __name__ == "__main__":
    main()
