"""Choose the reader's not-found threshold on more than one source: the even
halves of our news dev set, of a held-out part of DRCD and of CMRC 2018 dev;
the odd halves are reported beside, held out.

    .venv/bin/python bench/choose_threshold.py --news NEWS.jsonl --eval drcd=DRCD.jsonl \
        --eval cmrc=CMRC.jsonl [--write READER_DIR]

Each report must come from a run that answered everything
(``[reader] no_answer_threshold = 1e-6``), so every question carries the
score "found" is decided on (``answerable_score`` from bench/newsdev.py
--report, ``answerable`` from `newsqa eval --report`) and the answer it
would give. A threshold t then keeps an answer when that score is ≥ t.

Per threshold it prints, by half: news answered right with the right article,
news traps declined, and each eval file's F1. The threshold chosen maximises,
on the even halves, the mean of those figures (each a share, F1 / 100): one
source cannot buy its gain with another's loss unseen. ``--write`` stores it
in the reader's manifest (``calibration.no_answer_threshold``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from _common import SHARED  # noqa: F401  (puts the repository on sys.path)

GRID = (0.005, 0.01, 0.02, 0.033, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def news_figures(rows: list[dict], t: float) -> tuple[float, float]:
    ans = [r for r in rows if r["answerable"]]
    traps = [r for r in rows if not r["answerable"]]
    right = sum(1 for r in ans if r["right_article"] and r["answerable_score"] >= t) / max(len(ans), 1)
    declined = sum(1 for r in traps if r["answerable_score"] < t) / max(len(traps), 1)
    return right, declined


def eval_f1(rows: list[dict], t: float) -> float:
    return sum(r["f1"] for r in rows if r["answerable"] >= t) / max(len(rows), 1) / 100


def halves(rows: list[dict], news: bool) -> dict[str, list[dict]]:
    if news:
        return {h: [r for r in rows if r["split"] == h] for h in ("even", "odd")}
    # `newsqa eval --split even` takes the questions at even positions of the file; a report of the
    # whole file lists them in file order.
    return {"even": rows[0::2], "odd": rows[1::2]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--news", required=True, help="bench/newsdev.py --report of a run that answered everything "
                    "(EVEN.jsonl+ODD.jsonl: one report per half)")
    ap.add_argument("--eval", action="append", default=[], metavar="NAME=REPORT",
                    help="`newsqa eval --report` of a run that answered everything, the whole file (halves by "
                         "position) or EVEN.jsonl+ODD.jsonl (repeatable)")
    ap.add_argument("--at", type=float, default=None, help="print the confidence figures at this threshold "
                    "instead of the chosen one (e.g. the reader's current one)")
    ap.add_argument("--write", default="", help="reader directory whose manifest gets the chosen threshold")
    args = ap.parse_args()
    news = halves([r for p in args.news.split("+") if p for r in load(Path(p))], True)
    evals = {}
    for spec in args.eval:
        name, _, path = spec.partition("=")
        if "+" in path:  # EVEN.jsonl+ODD.jsonl: reports of `newsqa eval --split even` and `--split odd`
            even, odd = path.split("+", 1)
            evals[name] = {"even": load(Path(even)), "odd": load(Path(odd)) if odd else []}
        else:
            evals[name] = halves(load(Path(path)), False)
    cols = ["news right", "news traps declined"] + [f"{n} F1" for n in evals]
    print(f"{'t':>6s}  " + "  ".join(f"{c:>20s}" for c in cols) + "  mean (even)")
    best = (-1.0, 0.0)
    for t in GRID:
        cells, mean_even = [], []
        vals = {h: list(news_figures(news[h], t)) + [eval_f1(e[h], t) for e in evals.values()]
                for h in ("even", "odd")}
        for i in range(len(cols)):
            cells.append(f"{vals['even'][i] * 100:9.1f} / {vals['odd'][i] * 100:5.1f}")
            mean_even.append(vals["even"][i])
        m = sum(mean_even) / len(mean_even)
        if m > best[0]:
            best = (m, t)
        print(f"{t:6.3f}  " + "  ".join(f"{c:>20s}" for c in cells) + f"  {m * 100:6.2f}")
    print(f"(each cell: even / odd half; chosen on the even halves) threshold {best[1]:.3f}")
    t = args.at if args.at is not None else best[1]
    print(f"\nat threshold {t:.3f}: answers with confidence >= 0.8 (news: right and from the right article "
          f"counts; traps answered count wrong; eval files: F1 >= 80 counts), then reliability by confidence")
    import numpy as np

    from retrieval.reader.calibration import reliability

    def answered(rows: list[dict], key: str) -> list[dict]:
        return [r for r in rows if r[key] >= t]

    sets = {"news": ({h: answered(news[h], "answerable_score") for h in news},
                     lambda r: bool(r["answerable"] and r["right"]))}
    for n, e in evals.items():
        sets[n] = ({h: answered(e[h], "answerable") for h in e}, lambda r: r["f1"] >= 80)
    for n, (by_half, ok) in sets.items():
        for h, rows in by_half.items():
            hi = [r for r in rows if r["confidence"] >= 0.8]
            share = sum(map(ok, hi)) / len(hi) if hi else float("nan")
            table = reliability(np.array([r["confidence"] for r in rows]), np.array([float(ok(r)) for r in rows]))
            print(f"{n:>6s} {h:>4s}: {len(rows)} answered, conf>=0.8: {len(hi)} answers, {share * 100:.1f}% right; "
                  + "; ".join(f"{b['bin']}: {b['answers']} @ {b['share_right'] * 100:.0f}%" for b in table))
    if args.write:
        from retrieval.reader.format import read_manifest, write_manifest

        d = Path(args.write)
        m = read_manifest(d)
        calib = {**m.calibration, "no_answer_threshold": best[1]}
        figures = {**m.figures, "threshold_chosen_on": "news dev even + " + " + ".join(f"{n} even" for n in evals)}
        write_manifest(d, dataclasses.replace(m, calibration=calib, figures=figures))
        print(f"{d}: no_answer_threshold = {best[1]:.3f}")


if __name__ == "__main__":
    main()
