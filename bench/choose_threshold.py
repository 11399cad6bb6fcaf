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
news traps declined, and each eval file's F1 — or, for a file of unanswerable
questions only (bench/traps.py: the answer's sentence cut, a number changed),
the share declined. The threshold chosen maximises,
on the even halves, the mean of those figures (each a share, F1 / 100): one
source cannot buy its gain with another's loss unseen; and no eval file's
even-half F1 may fall more than ``--max-f1-loss`` points below the reader's as
it stands. ``--write`` stores it in the reader's manifest
(``calibration.no_answer_threshold``).

``--fit-verifier`` first fits the not-found verifier (retrieval/reader/verify.py:
a logistic model over the reader's scores and how much of the question the
article holds, from each row's ``support``) on the even halves — the news and
the eval files named by ``--fit-on`` (default all), each source weighing alike —
rescores every row with it, and then chooses its threshold the same way;
``--write`` stores the verifier too (``calibration.no_answer_score = "verify"``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from _common import SHARED  # noqa: F401  (puts the repository on sys.path)
from newsdev import is_right  # the news dev set's rule: contains an expected answer, at most 3x as long

GRID = (0.005, 0.01, 0.02, 0.033, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def news_figures(rows: list[dict], t: float) -> tuple[float, float]:
    ans = [r for r in rows if r["answerable"]]
    traps = [r for r in rows if not r["answerable"]]
    right = sum(1 for r in ans if r["right_article"] and r["answerable_score"] >= t) / max(len(ans), 1)
    declined = sum(1 for r in traps if r["answerable_score"] < t) / max(len(traps), 1)
    return right, declined


def is_traps(rows: list[dict]) -> bool:
    """A file of unanswerable questions only (bench/traps.py)."""
    return bool(rows) and not any(r["gold"] for r in rows)


def eval_f1(rows: list[dict], t: float) -> float:
    """An eval file's F1 at threshold t, as a share; for a file of traps, the share declined."""
    if is_traps(rows):
        return sum(1 for r in rows if r["answerable"] < t) / len(rows)
    return sum(r["f1"] for r in rows if r["answerable"] >= t) / max(len(rows), 1) / 100


def halves(rows: list[dict], news: bool) -> dict[str, list[dict]]:
    if news:
        return {h: [r for r in rows if r["split"] == h] for h in ("even", "odd")}
    # `newsqa eval --split even` takes the questions at even positions of the file; a report of the
    # whole file lists them in file order.
    return {"even": rows[0::2], "odd": rows[1::2]}


def reader_dir() -> Path:
    from retrieval.app import reader_path
    from retrieval.config import load_config

    path = reader_path(load_config(None))
    if path is None:
        raise SystemExit("no reader configured ([reader] enabled = false): nothing to choose a threshold for")
    return path


def fit_verifier(news: dict[str, list[dict]], evals: dict[str, dict[str, list[dict]]],  # type: ignore[no-untyped-def]
                 fit_on: list[str], reader_t: float):
    """Fit the verifier on the even halves (label: the answer is right; a trap
    answered is wrong), each source weighing as much as the others; then
    rescore every row (both halves) with it, in place, as the deployed
    reader would: the score "found" is decided on and the confidence. The
    verifier is a second opinion: an answer the reader itself declines
    (its own score below ``reader_t``) stays declined."""
    from retrieval.reader.verify import FEATURES, fit

    rows, weights = [], []
    sources = [(news["even"], lambda r: bool(r["answerable"] and r["right_article"]))]
    sources += [(e["even"], lambda r: is_right(r["predicted"], r["gold"])) for n, e in evals.items() if n in fit_on]
    for src, label in sources:
        usable = [r for r in src if len(r.get("support") or ()) == len(FEATURES)]
        for r in usable:
            rows.append((tuple(r["support"]), label(r)))
            weights.append(1.0 / max(len(usable), 1))
    v = fit(rows, weights)
    print("verifier: " + ", ".join(f"{n} {w:+.3f}" for n, w in zip(FEATURES, v.weights)) + f", bias {v.bias:+.3f}")
    for half in ("even", "odd"):
        for r in news[half]:
            ok = r["predicted"] and r["answerable_score"] >= reader_t
            r["answerable_score"] = r["confidence"] = v.prob(tuple(r["support"])) if ok else 0.0
        for e in evals.values():
            for r in e[half]:
                ok = r["predicted"] and r["answerable"] >= reader_t
                r["answerable"] = r["confidence"] = v.prob(tuple(r["support"])) if ok else 0.0
    return v


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
    ap.add_argument("--max-f1-loss", type=float, default=1.0,
                    help="skip thresholds at which an eval file's even-half F1 falls more than this many points "
                         "below the reader's as it stands (its own score and threshold, from --write's manifest "
                         "or the configured reader's): CMRC and DRCD must not regress (default 1.0)")
    ap.add_argument("--fit-on", default="", help="with --fit-verifier: the eval files (by NAME, comma-separated) "
                    "it is fitted on besides the news (default: all; the others only bound the threshold)")
    ap.add_argument("--fit-verifier", action="store_true",
                    help="first fit the not-found verifier (retrieval/reader/verify.py) on the even halves, every "
                         "source weighted alike, and choose its threshold; --write stores both")
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
    # The reader as it stands, before any refit: the floor no eval file may fall below.
    from retrieval.reader.format import read_manifest

    current = read_manifest(Path(args.write) if args.write else reader_dir())
    current_t = float(current.calibration.get("no_answer_threshold", 0.5))
    floor_f1 = {n: eval_f1(e["even"], current_t) for n, e in evals.items() if not is_traps(e["even"])}
    print(f"the reader as it stands (threshold {current_t:.3f}): "
          + ", ".join(f"{n} even F1 {v * 100:.1f}" for n, v in floor_f1.items()))
    fit_on = [n for n in args.fit_on.split(",") if n] or list(evals)
    reader_t = float(current.calibration.get("source_threshold", current_t)) if current.calibration.get(
        "no_answer_score") == "verify" else current_t
    verifier = fit_verifier(news, evals, fit_on, reader_t) if args.fit_verifier else None
    cols = ["news right", "news traps declined"] + [f"{n} {'declined' if is_traps(e['even']) else 'F1'}"
                                                    for n, e in evals.items()]
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
        f1_loss = max(((floor_f1[n] - eval_f1(e["even"], t)) * 100 for n, e in evals.items() if n in floor_f1),
                      default=0.0)
        if m > best[0] and f1_loss <= args.max_f1_loss:
            best = (m, t)
        print(f"{t:6.3f}  " + "  ".join(f"{c:>20s}" for c in cells) + f"  {m * 100:6.2f}")
    print(f"(each cell: even / odd half; chosen on the even halves, no eval F1 more than {args.max_f1_loss} below the reader as it stood) threshold {best[1]:.3f}")
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
        if verifier is not None:
            old = m.calibration
            calib.update({"no_answer_score": "verify", "verifier": verifier.to_dict(), "source_threshold": reader_t,
                          # the reader's own not-found score, which still declines on its own
                          "reader_score": old.get("reader_score", old.get("no_answer_score", "has"))
                          if old.get("no_answer_score") == "verify" else old.get("no_answer_score", "has")})
        figures = {**m.figures, "threshold_chosen_on": "news dev even + " + " + ".join(f"{n} even" for n in evals)}
        if verifier is not None:
            figures["verifier_fitted_on"] = "news dev even + " + " + ".join(f"{n} even" for n in fit_on)
        write_manifest(d, dataclasses.replace(m, calibration=calib, figures=figures))
        print(f"{d}: no_answer_threshold = {best[1]:.3f}")


if __name__ == "__main__":
    main()
