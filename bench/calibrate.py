"""How well "not found" and the confidence work, on CMRC 2018 dev.

Indexes the dev paragraphs at even positions only, then asks the questions of
every paragraph: those whose paragraph is indexed should be answered, the
others declined. With the reader (default) it prints the share answered and
declined at the reader's calibrated threshold (fitted on held-out *train*
data by `newsqa reader calibrate`, never on dev), a sweep of thresholds, and
a reliability table: answers binned by confidence against the share right
(CMRC F1 ≥ 80). `--rules` measures the rule-based answers instead.

    .venv/bin/python bench/calibrate.py [--questions N] [--rules]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _common import EVAL  # noqa: E402  (puts the repository on sys.path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=1200)
    ap.add_argument("--rules", action="store_true", help="the rule-based answers, not the reader")
    ap.add_argument("--reader", default="", help="a reader directory instead of the shipped one")
    args = ap.parse_args()
    from retrieval.app import load_encoder, load_reader, quiet_libraries

    quiet_libraries()
    import numpy as np

    from retrieval.config import load_config
    from retrieval.evaluate import load_items, write_contexts
    from retrieval.index.lexical import Tokenizer
    from retrieval.answer.qa import QA
    from retrieval.reader.answering import ReadingOptions, choose, read_hits, threshold
    from retrieval.reader.decode import tidy_span as _tidy
    from retrieval.scoring import f1_score
    from retrieval.reader.calibration import RIGHT_F1, reliability
    from retrieval.index.store import IndexStore

    items = load_items(EVAL)
    ctx_ids = list(dict.fromkeys(it.context_id for it in items))
    kept = set(ctx_ids[::2])
    work = Path(tempfile.mkdtemp(prefix="newsqa-calib-"))
    write_contexts([it for it in items if it.context_id in kept], work / "half.jsonl")
    extra = "[reader]\nenabled = false\n[answer]\nmin_confidence = 0.0\n" if args.rules else ""
    if args.reader and not args.rules:
        extra = f'[reader]\npath = "{Path(args.reader).resolve()}"\n'

    (work / "config.toml").write_text(f'[corpus]\npaths = ["{work / "half.jsonl"}"]\n[index]\npath = "{work / "index"}"\n'
                                      + extra, encoding="utf-8")
    cfg = load_config(work / "config.toml")
    enc = load_encoder(cfg)
    tok = Tokenizer()
    IndexStore(cfg.index_path).build(cfg, enc, tok)
    reader = load_reader(cfg)
    qa = QA(cfg, enc, tok, reader=reader)
    pos, neg = [], []
    conf, right = [], []
    rc = cfg.reader
    opts = ReadingOptions(rc.depth, rc.rank_weight, rc.no_answer_threshold, cfg.answer.max_sources, rc.stop_at)
    for it in items[: args.questions]:
        if not it.question.strip():
            continue
        if reader is None:
            score = qa.ask(it.question).confidence
        else:
            readings = read_hits(it.question, qa.retrieve(it.question, max(rc.depth, cfg.retrieval.top_k)),
                                 reader, opts)
            best, score = choose(readings, reader, opts)
            if it.context_id in kept and best is not None and best.reading.span is not None:
                sp = best.reading.span
                a, b = _tidy(best.hit.chunk.text, sp.start, sp.end)
                conf.append(reader.confidence(best.reading))
                right.append(f1_score(best.hit.chunk.text[a:b], it.answers) >= RIGHT_F1)
        (pos if it.context_id in kept else neg).append(score)
    print(f"answerable {len(pos)}, unanswerable {len(neg)}")
    if reader is not None:
        t = threshold(reader, opts)
        answered = float(np.mean(np.asarray(pos) >= t))
        declined = float(np.mean(np.asarray(neg) < t))
        print(f"at the reader's threshold {t:.3f}: answerable answered {answered:.3f}, "
              f"unanswerable declined {declined:.3f}")
        print("reliability (answerable questions, right = CMRC F1 ≥ 80):")
        print(f"{'confidence':>12s} {'answers':>8s} {'mean conf':>10s} {'share right':>12s}")
        table = reliability(np.asarray(conf), np.asarray(right, dtype=float))
        for row in table:
            print(f"{row['bin']:>12s} {row['answers']:8d} {row['mean_confidence']:10.3f} {row['share_right']:12.3f}")
        hi = np.asarray(conf) >= 0.8
        share_hi = float(np.asarray(right)[hi].mean()) if hi.any() else float("nan")
        print(f"answers with confidence ≥ 0.8: {int(hi.sum())}, right {share_hi:.3f}")
    print(f"{'threshold':>10s} {'answered(in)':>14s} {'declined(out)':>14s} {'balanced':>10s}")
    grid = [x / 100 for x in range(20, 81, 5)] if reader is None else [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7]
    for g in grid:
        tp = sum(c >= g for c in pos) / len(pos)
        tn = sum(c < g for c in neg) / len(neg)
        print(f"{g:10.2f} {tp:14.3f} {tn:14.3f} {(tp + tn) / 2:10.3f}")
    if reader is not None:
        print(json.dumps({"threshold": round(t, 4), "answered": round(answered, 4), "declined": round(declined, 4),
                          "confidence>=0.8_right": round(share_hi, 4), "reliability": table}))


if __name__ == "__main__":
    main()
