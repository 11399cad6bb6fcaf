"""Score reading document-style PDFs (bench/docpdfgen.py: one day's People's Daily
articles typeset one after another, one column, one size) into articles.

    .venv/bin/python bench/docpdfscore.py [--split held-out|dev|all] [--seeds 2] [--show N] [--newspaper 40]

Days 1-15 of January 2020 are where the reader was developed ("dev"), days
16-31 are held out. Each day is typeset with ``--seeds`` layouts (seed = day
number × 10 + k: contents list or not, blank lines or new pages between
articles, indented or block paragraphs, running header / footer ...), written
to a temporary folder and read back by retrieval.ingest.pdfpage.read_pdf
(what ``newsqa index`` reads a .pdf with). Per split it prints over all true
articles the measures of bench/pdfscore.py (title exact, author exact, body
F1, merged, split, extra) and also kicker / subtitle exact, true vs found
article counts and how many PDFs were recognised as documents. With
``--newspaper N`` it prints the multi-column newspaper PDF figures
(bench/pdfscore.py, pdfpage reader) for N pages too: those must not move.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from docpdfgen import available, day_articles, days, make_doc_pdf  # noqa: E402
from pdfscore import Found, match, merged  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent / "pages"))
from score import Score, _f1, _norm  # noqa: E402


@dataclass
class Extra:
    kicker_ok: int = 0
    subtitle_ok: int = 0
    true_n: int = 0
    found_n: int = 0
    documents: int = 0
    pdfs: int = 0
    pages: int = 0


def score_doc(truths: list, found: list, arts: list, score: Score, extra: Extra, show: bool = False) -> None:
    """bench/pdfscore.py's measures, a true article's match being the found one
    whose body is most like it (Jaccard of character grams): in a document of
    long and very short articles, the most shared grams would pick a long one."""
    fbodies = [_norm(f.body) for f in found]
    best, claimed = match(truths, found, score, lambda t, f: len(t & f) / (len(t | f) or 1))
    for ti, t in enumerate(truths):
        score.articles += 1
        o, k = best[ti]
        if o == 0:
            if show:
                print(f"  LOST  {t.title!r}")
            continue
        score.merged += merged(best, claimed, ti)
        f, a = found[k], arts[k]
        title_ok = _norm(f.title) == _norm(t.title)
        author_ok = (f.author or None) == t.author
        f1 = _f1(_norm(t.body), fbodies[k])
        score.title_ok += title_ok
        score.author_ok += author_ok
        score.f1_sum += f1
        kicker = " ".join(a.kicker) if isinstance(a.kicker, list) else a.kicker or ""
        extra.kicker_ok += _norm(kicker) == _norm(t.kicker or "")
        extra.subtitle_ok += _norm(a.subtitle or "") == _norm(t.subtitle or "")
        if show and not (title_ok and author_ok and f1 > 0.95):
            print(f"  truth {t.title!r} / {t.author!r}  found {f.title!r} / {f.author!r}  F1 {f1:.2f}")
    score.extra += sum(1 for k in range(len(found)) if k not in claimed)


def run(day_list: list[str], seeds: int, show: int) -> tuple[Score, Extra]:
    from retrieval.ingest.pdfpage import read_pdf

    score, extra = Score(), Extra()
    shown = 0
    with tempfile.TemporaryDirectory() as tmp:
        for day in day_list:
            arts = day_articles(day)
            for k in range(seeds):
                seed = int(day[-2:]) * 10 + k
                path = Path(tmp) / f"{day}-{seed}.pdf"
                doc = make_doc_pdf(arts, path, seed, date=f"{day[:4]}年{int(day[4:6])}月{int(day[6:])}日")
                t0 = time.perf_counter()
                pdf = read_pdf(path, path.name)
                score.seconds += time.perf_counter() - t0
                got, sig = pdf.articles, pdf.signals
                extra.documents += bool(sig and sig.is_document)
                extra.pdfs += 1
                extra.pages += doc.pages
                score.pages += 1
                found = [Found(a.title or "", a.author, "".join(a.paragraphs)) for a in got]
                extra.true_n += len(doc.articles)
                extra.found_n += len(found)
                see = shown < show
                if see:
                    print(f"--- {path.name}: {doc.pages} pages, {len(doc.articles)} true, {len(found)} found; "
                          f"{doc.layout}\n    {sig}")
                    shown += 1
                score_doc(doc.articles, found, got, score, extra, see)
    return score, extra


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="held-out", choices=["held-out", "dev", "all"])
    ap.add_argument("--seeds", type=int, default=2, help="layouts per day")
    ap.add_argument("--days", type=int, default=0, help="only the first N days of the split")
    ap.add_argument("--show", type=int, default=0, help="print the errors of the first N PDFs")
    ap.add_argument("--newspaper", type=int, default=0, help="also score N newspaper PDF pages (bench/pdfscore.py)")
    args = ap.parse_args()
    if not available():
        sys.exit("needs ../shared/archive/rmrb-2020-01")
    all_days = days()
    split = {"dev": all_days[:15], "held-out": all_days[15:], "all": all_days}[args.split]
    if args.days:
        split = split[: args.days]
    score, extra = run(split, args.seeds, args.show)
    n = max(score.articles, 1)
    print(f"document PDFs, {args.split} ({len(split)} days × {args.seeds} layouts, {extra.pages} PDF pages): "
          f"{extra.documents}/{extra.pdfs} recognised as documents; articles true {extra.true_n}, found "
          f"{extra.found_n}")
    print(score.line("document"))
    print(f"  kicker {extra.kicker_ok / n:.3f}  subtitle {extra.subtitle_ok / n:.3f}  "
          f"{extra.pages / max(score.seconds, 1e-9):.1f} PDF pages/s")
    if args.newspaper:
        from pdfscore import run as run_newspaper

        for v, s in run_newspaper(args.newspaper, 0, ["pdfpage"], 0).items():
            print(s.line(f"newspaper {v}"))


if __name__ == "__main__":
    main()
