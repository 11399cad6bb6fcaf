"""Score reading generated newspaper PDFs (bench/pdfgen.py) into articles.

    .venv/bin/python bench/pdfscore.py [--pages 40] [--start 0] [--via pdfpage,ingest,text] [--show N]

Each page is rendered to a PDF in a temporary folder and read back by:
  pdfpage  retrieval.ingest.pdfpage.read_pdf (layout-aware: positions and font sizes);
  ingest   retrieval.ingest.corpus.read_file, what `newsqa index` does with a .pdf;
  text     the plain text the page was made from, through the .txt path
           (retrieval.ingest.corpus._from_page_text): the articles the PDF should give.
Per reader it prints, over all true articles:
  title   share whose best-matching found article has exactly the true title
          (whitespace ignored; a continuation printed without headline counts
          as right when the found title says "（上接…）");
  author  share whose author is exactly right (None when there is no byline);
  body F1 mean character F1 between true and found body;
  merged  true articles whose best match is also a better match of another;
  split   true articles spread over two or more found articles (≥ 20% each);
  extra   found articles that are no true article's best match;
  pages/s reading speed, PDF parsing included (text: segmentation only).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pdfgen import TruthArticle, make_page  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent / "pages"))
# The measures are the plain-text page scorer's, so PDF and text figures compare.
from score import Score, _f1, _grams, _norm  # noqa: E402


@dataclass(frozen=True)
class Found:
    title: str
    author: str | None
    body: str


def match(truths: list, found: list[Found], score: Score,
          similarity: Callable[[set, set], float] = lambda t, f: len(t & f)) -> tuple[list[tuple[float, int]], Counter]:
    """Each true article's best-matching found one, as (similarity of their
    bodies' character grams, index; -1 when nothing was found), and how many
    true articles claim each found one; counts in ``score`` the true articles
    spread over two or more found ones (split)."""
    fgrams = [_grams(_norm(f.body)) for f in found]
    best: list[tuple[float, int]] = []
    for t in truths:
        tg = _grams(_norm(t.body))
        sims = [similarity(tg, g) for g in fgrams]
        k = max(range(len(found)), key=lambda i: sims[i]) if found else -1
        best.append((sims[k] if k >= 0 else 0, k))
        if tg and sum(1 for g in fgrams if len(tg & g) >= 0.2 * len(tg)) >= 2:
            score.split += 1
    return best, Counter(k for o, k in best if o > 0)


def merged(best: list[tuple[float, int]], claimed: Counter, ti: int) -> bool:
    """True article ``ti`` shares its found article with one that matches it better."""
    o, k = best[ti]
    return claimed[k] > 1 and any(best[j][1] == k and best[j][0] > o for j in range(len(best)) if j != ti)


def score_page(truths: list[TruthArticle], found: list[Found], score: Score, show: bool = False) -> None:
    bodies = [_norm(f.body) for f in found]
    best, claimed = match(truths, found, score)
    for ti, t in enumerate(truths):
        score.articles += 1
        o, k = best[ti]
        if o == 0:
            if show:
                print(f"  LOST  {t.title!r}")
            continue
        score.merged += merged(best, claimed, ti)
        f = found[k]
        title_ok = _norm(f.title).startswith("（上接") if t.title is None else _norm(f.title) == _norm(t.title)
        author_ok = (f.author or None) == t.author
        f1 = _f1(_norm(t.body), bodies[k])
        score.title_ok += title_ok
        score.author_ok += author_ok
        score.f1_sum += f1
        if show and not (title_ok and author_ok and f1 > 0.95):
            print(f"  truth {t.title!r} / {t.author!r}  found {f.title!r} / {f.author!r}  F1 {f1:.2f}")
    score.extra += sum(1 for k in range(len(found)) if k not in claimed)


def _via_pdfpage(path: Path, rel: str) -> list[Found]:
    from retrieval.ingest.pdfpage import read_pdf

    return [Found(a.title or "", a.author, "".join(a.paragraphs)) for a in read_pdf(path, rel).articles]


def _via_ingest(path: Path, rel: str) -> list[Found]:
    from retrieval.ingest.corpus import read_file

    return [Found(a.title, a.author, "".join(a.paragraphs)) for a in read_file(path, rel, [])]


def _via_text(text: str, rel: str) -> list[Found]:
    from retrieval.ingest.corpus import _from_page_text

    return [Found(a.title, a.author, "".join(a.paragraphs)) for a in _from_page_text(text, rel)]


def run(pages: int, start: int, vias: list[str], show: int) -> dict[str, Score]:
    scores = {v: Score() for v in vias}
    readers: dict[str, Callable[[Path, str], list[Found]]] = {"pdfpage": _via_pdfpage, "ingest": _via_ingest}
    with tempfile.TemporaryDirectory() as tmp:
        # warm-up: imports are not reading time
        warm = Path(tmp) / "warm.pdf"
        page, _ = make_page(start, out=warm)
        for v in vias:
            _via_text(page.source_text, "warm.txt") if v == "text" else readers[v](warm, "warm.pdf")
        for seed in range(start, start + pages):
            path = Path(tmp) / f"page_{seed:04d}.pdf"
            page, _ = make_page(seed, out=path)
            for v in vias:
                t0 = time.perf_counter()
                found = _via_text(page.source_text, path.name) if v == "text" else readers[v](path, path.name)
                scores[v].seconds += time.perf_counter() - t0
                scores[v].pages += 1
                shown = seed - start < show
                if shown:
                    print(f"--- {v} page {seed} ({page.columns} columns, {page.size})")
                score_page(page.articles, found, scores[v], shown)
    return scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--start", type=int, default=0, help="first page seed")
    ap.add_argument("--via", default="pdfpage,ingest,text", help="comma-separated: pdfpage, ingest, text")
    ap.add_argument("--show", type=int, default=0, help="print the errors of the first N pages")
    args = ap.parse_args()
    vias = [v for v in args.via.split(",") if v]
    for v, s in run(args.pages, args.start, vias, args.show).items():
        print(s.line(v))


if __name__ == "__main__":
    main()
