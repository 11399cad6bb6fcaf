"""The embedded and the Milvus backend side by side on CMRC 2018 dev:
Recall@1, MRR@10 (as `newsqa eval` prints them) and ask latency.

    .venv/bin/python bench/milvus.py [--limit 300] [--modes hybrid,bm25,dense] [--reader] [--uri URI]
        [--rankers]

Both backends index the same contexts (every paragraph of the file, as
`newsqa eval` does) with the same vectors: the Milvus build reuses the
embedded build's vectors by content hash, so only the engines differ. Without
--uri a local Milvus (milvus-lite 2.5.1's server) is started on a free port
over a temporary folder. Answers come from the rules unless --reader is given
(the reader re-ranks, which would hide retrieval differences).

--rankers adds Milvus' own fusion beside newsqa's client-side one: one
``hybrid_search`` call (dense + BM25 requests of 50 each) with RRFRanker(60)
and with WeightedRanker at newsqa's weights ([retrieval] lexical_weight), scored the same way
(articles in the order of their best chunk).
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
    ap.add_argument("--rankers", action="store_true", help="also Milvus' server-side RRF and weighted rankers")
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
        if args.rankers:
            compare_rankers(qas["milvus"], items, cfg_m)
    return 0


def compare_rankers(qa, items, cfg) -> None:  # type: ignore[no-untyped-def]
    """Milvus' server-side fusion on the same collection and questions."""
    import statistics

    from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker

    from retrieval.textnorm import for_search

    index = qa.index
    conn, collection = index.conn, index.collection
    client = conn._get()
    w = 1 - cfg.retrieval.lexical_weight  # newsqa's dense share
    rankers = {"milvus RRF(60)": lambda: RRFRanker(60),
               f"milvus weighted({w:.2f}/{1 - w:.2f})": lambda: WeightedRanker(w, 1 - w, norm_score=True),
               # BM25 alone through the same ranker: shows how it treats BM25 scores
               "milvus weighted(0/1)": lambda: WeightedRanker(0.0, 1.0, norm_score=True)}
    # Each question embedded once for all rankers; the timings are the server's call alone.
    vectors = [qa._searcher.encoder.encode_query(it.question).astype("float32").ravel().tolist() for it in items]
    for name, make in rankers.items():
        ranks, lat = [], []
        for it, vec in zip(items, vectors):
            t0 = time.perf_counter()
            reqs = [AnnSearchRequest(data=[vec], anns_field="dense",
                                     param={"metric_type": "IP", "params": index.search_params}, limit=50),
                    AnnSearchRequest(data=[for_search(it.question)], anns_field="sparse",
                                     param={"metric_type": "BM25"}, limit=50)]
            res = client.hybrid_search(collection, reqs=reqs, ranker=make(), limit=50, output_fields=["article_id"])
            lat.append((time.perf_counter() - t0) * 1000)
            arts = list(dict.fromkeys(r["entity"]["article_id"] for r in res[0]))
            ranks.append(arts.index(it.context_id) + 1 if it.context_id in arts else None)
        n = len(ranks)
        r1 = sum(1 for r in ranks if r == 1) / n
        r5 = sum(1 for r in ranks if r and r <= 5) / n
        mrr = sum(1 / r for r in ranks if r and r <= 10) / n
        print(f"{'hybrid':8s}{name:10s}{r1:>10.4f}{r5:>10.4f}{mrr:>10.4f}{statistics.median(lat):>12.1f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
