"""The embedded and the Milvus backend side by side on CMRC 2018 dev:
Recall@1, MRR@10 (as `newsqa eval` prints them) and ask latency.

    .venv/bin/python bench/milvus.py [--limit 300] [--modes hybrid,bm25,dense] [--reader] [--uri URI]

Both backends index the same contexts (every paragraph of the file, as
`newsqa eval` does) with the same vectors: the Milvus build reuses the
embedded build's vectors by content hash, so only the engines differ. Without
--uri a local Milvus (milvus-lite 2.5.1's server) is started on a free port
over a temporary folder. Answers come from the rules unless --reader is given
(the reader re-ranks, which would hide retrieval differences).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from _common import EVAL, ROOT  # noqa: E402  (puts the repository on sys.path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--file", default=str(EVAL))
    ap.add_argument("--limit", type=int, default=300, help="questions (the first N of the file)")
    ap.add_argument("--modes", default="hybrid", help="comma-separated: hybrid, bm25, dense")
    ap.add_argument("--reader", action="store_true", help="answer with the trained reader (slower)")
    ap.add_argument("--uri", help="an existing Milvus server instead of a local one")
    ap.add_argument("--collection", default="newsqa_bench")
    args = ap.parse_args()

    from retrieval.app import load_encoder, load_reader, quiet_libraries
    from retrieval.index.backend import open_backend
    from retrieval.config import Config, MilvusConfig
    from retrieval.evaluate import eval_index, evaluate, load_items
    from retrieval.index.lexical import Tokenizer
    from retrieval.answer.qa import QA

    from bench.milvus_local import milvus

    quiet_libraries()
    path = Path(args.file)
    all_items = load_items(path)
    items = all_items[: args.limit]
    cfg = Config(base_dir=ROOT)
    if not args.reader:
        cfg = cfg.replace(reader=dataclasses.replace(cfg.reader, enabled=False))
    encoder = load_encoder(cfg)
    tokenizer = Tokenizer()
    cfg_e, report = eval_index(cfg, path, all_items, encoder, tokenizer)
    print(f"embedded index: {report.chunks} chunks ({report.embedded} embedded now)", file=sys.stderr)

    with milvus(args.uri) as target:
        cfg_m = cfg_e.replace(index=dataclasses.replace(cfg_e.index, backend="milvus"),
                              milvus=MilvusConfig(uri=target.uri, collection=args.collection))
        t0 = time.perf_counter()
        rep = open_backend(cfg_m).build(cfg_m, encoder, tokenizer)
        print(f"milvus build: {rep.chunks} chunks, {rep.embedded} embedded, {rep.reused} reused, "
              f"{time.perf_counter() - t0:.1f}s", file=sys.stderr)
        reader = load_reader(cfg) if args.reader else None
        qas = {"embedded": QA(cfg_e, encoder, tokenizer, reader=reader),
               "milvus": QA(cfg_m, encoder, tokenizer, reader=reader)}
        for qa in qas.values():
            qa.ask(items[0].question)  # warm up (jieba, first search)
        print(f"CMRC 2018 dev, first {len(items)} questions, {report.chunks} chunks, "
              f"answers by {'the reader' if args.reader else 'the rules'}")
        print(f"{'mode':8s}{'backend':10s}{'recall@1':>10s}{'recall@5':>10s}{'mrr@10':>10s}"
              f"{'ask p50 ms':>12s}{'ask p95 ms':>12s}")
        for mode in args.modes.split(","):
            rows = {}
            for name, qa in qas.items():
                s = evaluate(qa, items, mode).to_dict()
                rows[name] = s
                print(f"{mode:8s}{name:10s}{s['recall@1']:>10.4f}{s['recall@5']:>10.4f}{s['mrr@10']:>10.4f}"
                      f"{s['latency_p50_ms']:>12.1f}{s['latency_p95_ms']:>12.1f}", flush=True)
            e, m = rows["embedded"], rows["milvus"]
            print(f"{mode:8s}{'Δ m−e':10s}{m['recall@1'] - e['recall@1']:>+10.4f}{m['recall@5'] - e['recall@5']:>+10.4f}"
                  f"{m['mrr@10'] - e['mrr@10']:>+10.4f}{m['latency_p50_ms'] / max(e['latency_p50_ms'], 1e-9):>11.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
