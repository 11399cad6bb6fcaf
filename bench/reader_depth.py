"""Reading depth and re-ranking weight: what each costs and buys.

Over CMRC 2018 dev (the throwaway index `newsqa eval` builds, cached), for each
reading depth prints warm per-question latency (p50/p95, retrieval included),
F1/EM and Recall@1 after reading; then, at the chosen depth, Recall@1/MRR@10
and F1 for a range of rank weights (how much the retrieval score counts against
the reader's). Tune on `--split even`; report `--split odd` as well.

    .venv/bin/python bench/reader_depth.py [--split even] [--limit 400]
        [--depths 1,3,5,8,10,15,20] [--weights 0,1,2,4,8] [--depth 10] [--reader DIR]
        [--stop-at 0,0.9] [--backend onnx-u8]

``--stop-at``: dynamic depth (`[reader] stop_at`): each depth is also measured
stopping after the first chunk when it holds the answer with that probability.
``--backend onnx-u8`` runs the unsigned-weight int8 graph that CPUs without
VNNI get (`auto` there): the same arithmetic path, though not their speed.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

from _common import EVAL, load_bench_config  # noqa: E402  (puts the repository on sys.path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=["all", "even", "odd"], default="even")
    ap.add_argument("--limit", type=int, default=400)
    ap.add_argument("--depths", default="1,3,5,8,10,15,20")
    ap.add_argument("--weights", default="0,1,2,4,8")
    ap.add_argument("--depth", type=int, default=0, help="depth for the weight sweep (default: configured)")
    ap.add_argument("--file", default=str(EVAL))
    ap.add_argument("--reader", help="reader directory (default: the configured one)")
    ap.add_argument("--stop-at", default="0", help="comma-separated [reader] stop_at values (0: off)")
    ap.add_argument("--backend", default=None, help="[reader] backend for this run")
    ap.add_argument("--no-weights", action="store_true", help="skip the rank-weight sweep")
    args = ap.parse_args()
    from retrieval.app import load_encoder, load_query_encoder, load_reader, quiet_libraries

    quiet_libraries()
    from retrieval.evaluate import eval_index, evaluate, load_items
    from retrieval.index.lexical import Tokenizer
    from retrieval.answer.qa import QA

    cfg = load_bench_config(args.reader)
    path = Path(args.file)
    all_items = load_items(path)
    items = [it for i, it in enumerate(all_items)
             if args.split == "all" or i % 2 == (0 if args.split == "even" else 1)][: args.limit]
    tok = Tokenizer()
    cfg, _ = eval_index(cfg, path, all_items, load_encoder(cfg), tok)
    reader = load_reader(cfg, backend=args.backend)
    assert reader is not None, "no reader configured"
    enc = load_query_encoder(cfg)  # what `newsqa ask` uses
    print(f"{len(items)} questions ({args.split}), reader {reader.path.name} ({reader.manifest.layers} layers)")
    print(f"{'depth':>6s} {'stop_at':>7s} {'p50 ms':>8s} {'p95 ms':>8s} {'F1':>7s} {'EM':>7s} {'R@1 read':>9s} "
          f"{'R@1 retr':>9s}")
    for depth in [int(x) for x in args.depths.split(",")]:
        for stop in [float(x) for x in args.stop_at.split(",")]:
            if stop and depth == 1:
                continue
            c = cfg.replace(reader=dataclasses.replace(cfg.reader, depth=depth, stop_at=stop))
            qa = QA(c, enc, tok, reader=reader)
            qa.ask(items[0].question)  # warm
            s = evaluate(qa, items)
            lat = sorted(r.latency_ms for r in s.rows)
            print(f"{depth:6d} {stop:7.2f} {statistics.median(lat):8.1f} {lat[int(0.95 * (len(lat) - 1))]:8.1f} "
                  f"{s.f1:7.2f} {s.em:7.2f} {s.recall_at_1:9.4f} {s.retrieval_recall_at_1:9.4f}", flush=True)
    if args.no_weights:
        return
    depth = args.depth or cfg.reader.depth
    print(f"\nrank weight at depth {depth}:")
    print(f"{'weight':>7s} {'R@1':>7s} {'MRR@10':>7s} {'F1':>7s} {'EM':>7s}")
    for w in [float(x) for x in args.weights.split(",")]:
        c = cfg.replace(reader=dataclasses.replace(cfg.reader, depth=depth, rank_weight=w))
        s = evaluate(QA(c, enc, tok, reader=reader), items)
        print(f"{w:7.2f} {s.recall_at_1:7.4f} {s.mrr_at_10:7.4f} {s.f1:7.2f} {s.em:7.2f}")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s)")
