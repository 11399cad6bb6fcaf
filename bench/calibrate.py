"""Calibrate [answer] min_confidence on data.

Indexes the CMRC 2018 dev paragraphs at even positions only, then asks the
questions of every paragraph: those whose paragraph is indexed should be
answered, the others declined. Prints how often each is right for a range of
thresholds and the one with the best balanced accuracy.

    .venv/bin/python bench/calibrate.py [--questions N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
EVAL = ROOT.parent / "shared" / "eval" / "cmrc2018_dev.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=1200)
    args = ap.parse_args()
    from bot.cli import _quiet_libraries

    _quiet_libraries()
    from embeddings.encoder import Encoder
    from retrieval.config import default_cache_dir, load_config
    from retrieval.evaluate import load_items, write_contexts
    from retrieval.lexical import Tokenizer
    from retrieval.qa import QA
    from retrieval.store import IndexStore

    items = load_items(EVAL)
    ctx_ids = list(dict.fromkeys(it.context_id for it in items))
    kept = set(ctx_ids[::2])
    work = Path(tempfile.mkdtemp(prefix="newsqa-calib-"))
    write_contexts([it for it in items if it.context_id in kept], work / "half.jsonl")
    (work / "config.toml").write_text(f'[corpus]\npaths = ["{work / "half.jsonl"}"]\n[index]\npath = "{work / "index"}"\n'
                                      "[answer]\nmin_confidence = 0.0\n", encoding="utf-8")
    cfg = load_config(work / "config.toml")
    enc = Encoder(cfg.embedding.model, cache_dir=default_cache_dir())
    tok = Tokenizer()
    IndexStore(cfg.index_path).build(cfg, enc, tok)
    qa = QA(cfg, enc, tok)
    pos, neg = [], []
    for it in items[: args.questions]:
        conf = qa.ask(it.question).confidence
        (pos if it.context_id in kept else neg).append(conf)
    print(f"answerable {len(pos)}, unanswerable {len(neg)}")
    print(f"{'threshold':>10s} {'answered(in)':>14s} {'declined(out)':>14s} {'balanced':>10s}")
    best = (0.0, 0.0)
    for t in [x / 100 for x in range(20, 81, 5)]:
        tp = sum(c >= t for c in pos) / len(pos)
        tn = sum(c < t for c in neg) / len(neg)
        bal = (tp + tn) / 2
        best = max(best, (bal, t))
        print(f"{t:10.2f} {tp:14.3f} {tn:14.3f} {bal:10.3f}")
    print(f"best balanced accuracy {best[0]:.3f} at min_confidence = {best[1]:.2f}")
    print(json.dumps({"best_threshold": best[1], "balanced_accuracy": round(best[0], 4)}))


if __name__ == "__main__":
    main()
