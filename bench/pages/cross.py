"""Page segmentation across two independent page generators.

    .venv/bin/python bench/pages/cross.py [--pages 120] [--train] [--show N] [--why]

Generator A: bench/pages/generate.py (CMRC 2018 paragraphs laid out like the sample page).
Generator B: bench/pages/rmrbgen.py (whole printed People's Daily pages from ../shared/archive, laid out
as a PDF text extraction gives them; skipped, with a note, without the archive).
Per generator and split it prints the figures of score.py (titles, authors, body F1, merged, split,
extra, pages/s) through the path ingest uses for .txt files, and for B also how many kickers and
subtitles were found exactly. --train adds the pages the line models are fitted on (A: tune 0-299,
B: train days 1-20); the held-out pages (A: held-out, B: days 21-31) are never fitted on.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate  # noqa: E402
import rmrbgen  # noqa: E402
from score import Score, score_page  # noqa: E402

from retrieval.ingest.corpus import _from_page_text  # noqa: E402


def _norm(s: str | None) -> str:
    return re.sub(r"\s+", "", s or "")


def run(name: str, make, count: int, show: int, extras: dict[str, int]) -> Score:
    score = Score()
    for n in range(count):
        page = make(n)
        t0 = time.perf_counter()
        found = _from_page_text(page.text, f"{name}_{n:03d}.txt")
        score.seconds += time.perf_counter() - t0
        score.pages += 1
        if n < show:
            print(f"--- {name} page {n}")
        score_page(page, found, score, show=n < show)
        for t in page.articles:
            if not hasattr(t, "subtitle"):
                continue
            grams = {_norm(t.body)[i : i + 3] for i in range(len(_norm(t.body)) - 2)}
            best = max(found, key=lambda a: len(grams & {_norm("".join(a.paragraphs))[i : i + 3] for i in
                                                          range(len(_norm("".join(a.paragraphs))) - 2)}),
                       default=None)
            if best is None:
                continue
            for what in ("kicker", "subtitle"):
                want = _norm(getattr(t, what))
                if want:
                    extras[f"{what}s"] = extras.get(f"{what}s", 0) + 1
                    extras[f"{what}s right"] = extras.get(f"{what}s right", 0) + (want == _norm(getattr(best, what)))
    return score


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=120, help="pages per generator and split (B has 124 held-out)")
    ap.add_argument("--train", action="store_true", help="also score the pages the models are fitted on")
    ap.add_argument("--show", type=int, default=0, help="print the errors of the first N pages of each")
    ap.add_argument("--why", action="store_true", help="count errors by kind, placement and lead")
    ap.add_argument("--model", type=Path, help="a page-line model folder other than the shipped one")
    args = ap.parse_args()
    if args.model:
        from retrieval.ingest import newspaper as nw

        nw.use_line_model(nw.load_line_model(args.model))
    _from_page_text(generate.make_page("tune", 0).text, "warm-up.txt")
    runs = [("A held-out", lambda n: generate.make_page("held-out", n), args.pages)]
    if args.train:
        runs.insert(0, ("A tune", lambda n: generate.make_page("tune", n), args.pages))
    if rmrbgen.available():
        b = [("B held-out", lambda n: rmrbgen.make_page("held-out", n), min(args.pages, rmrbgen.page_count("held-out")))]
        if args.train:
            b.insert(0, ("B train", lambda n: rmrbgen.make_page("train", n), min(args.pages, rmrbgen.page_count("train"))))
        runs += b
    else:
        print(f"generator B skipped: {rmrbgen.ARCHIVE} not found")
    for name, make, count in runs:
        extras: dict[str, int] = {}
        s = run(name, make, count, args.show, extras)
        tail = ""
        if extras:
            tail = "  " + "  ".join(f"{w} {extras.get(w + ' right', 0)}/{extras.get(w, 0)}" for w in ("kickers", "subtitles"))
        print(s.line(name) + tail, flush=True)
        if args.why:
            for cause, c in s.causes.most_common(15):
                print(f"  {c:4d}  {' '.join(cause)}")


if __name__ == "__main__":
    main()
