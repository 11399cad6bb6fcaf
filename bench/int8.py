"""Passage encoding in int8 (ONNX Runtime) against fp32 (sentence-transformers):
build throughput and retrieval quality on CMRC 2018 dev.

    .venv/bin/python bench/int8.py [--chunks 600] [--runs 3] [--split odd] [--limit 0] [--skip-quality]

Throughput: the first --chunks chunks of the CMRC dev contexts exactly as an
index build embeds them (title + chunk, passage prompt), encoded --runs times
by each path after a warm-up, both pinned to the configured threads; prints the
median chunks/s of each and the ratio int8/fp32.

Quality: each precision builds its own index of every dev paragraph (as
`newsqa eval` does; fp32 reuses the cached eval index when there is one), and
the questions of --split are asked with the question encoder `newsqa ask` uses
(numpy fp32 for the default model). Prints Recall@1 and MRR@10 for dense and
hybrid retrieval side by side (no reader: it re-ranks and would hide the
difference). Target (issue 10): hybrid Recall@1 within 0.003 of fp32.
CMRC 2018 (CC BY-SA 4.0).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

from _common import EVAL, ROOT  # noqa: E402  (puts the repository on sys.path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--file", default=str(EVAL))
    ap.add_argument("--chunks", type=int, default=600)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--split", choices=("all", "even", "odd"), default="odd")
    ap.add_argument("--limit", type=int, default=0, help="only the first N questions of the split")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    args = ap.parse_args()

    from retrieval.answer.qa import QA
    from retrieval.app import load_encoder, load_query_encoder, quiet_libraries
    from retrieval.config import Config
    from retrieval.evaluate import eval_index, evaluate, load_items
    from retrieval.index.lexical import Tokenizer
    from retrieval.ingest.chunking import chunk_article, embed_text
    from retrieval.types import Article

    quiet_libraries()
    path = Path(args.file)
    all_items = load_items(path)
    base = Config(base_dir=ROOT)
    base = base.replace(reader=dataclasses.replace(base.reader, enabled=False))
    cfgs = {p: base.replace(embedding=dataclasses.replace(base.embedding, passage_precision=p))
            for p in ("fp32", "int8")}

    if not args.skip_speed:
        texts: list[str] = []
        seen: set[str] = set()
        for it in all_items:
            if it.context_id in seen:
                continue
            seen.add(it.context_id)
            a = Article(it.context_id, it.title, tuple(p for p in it.context.split("\n") if p.strip()), "")
            texts += [embed_text(a, c) for c in chunk_article(a, base.chunking)]
            if len(texts) >= args.chunks:
                break
        texts = texts[: args.chunks]
        mean_chars = sum(map(len, texts)) / len(texts)
        speed = {}
        for p, cfg in cfgs.items():
            enc = load_encoder(cfg)
            assert enc.precision == p, f"{p} path unavailable here (got {enc.precision})"
            enc.encode_passages(texts[:32])  # warm-up
            rates = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                enc.encode_passages(texts)
                rates.append(len(texts) / (time.perf_counter() - t0))
            speed[p] = statistics.median(rates)
            print(f"{p}: {speed[p]:.1f} chunks/s (median of {args.runs}: "
                  + ", ".join(f"{r:.1f}" for r in rates) + f"; {len(texts)} chunks, {mean_chars:.0f} chars each)")
            del enc
        print(f"int8 / fp32 build throughput: {speed['int8'] / speed['fp32']:.2f}×")

    if not args.skip_quality:
        items = all_items
        if args.split != "all":
            items = [it for i, it in enumerate(items) if i % 2 == (0 if args.split == "even" else 1)]
        if args.limit:
            items = items[: args.limit]
        tok = Tokenizer()
        query_encoder = load_query_encoder(base)
        rows = {}
        for p, cfg in cfgs.items():
            cfg_p, report = eval_index(cfg, path, all_items, load_encoder(cfg), tok)
            print(f"{p} index: {report.chunks} chunks ({report.embedded} embedded now)", file=sys.stderr)
            qa = QA(cfg_p, query_encoder, tok, reader=None)
            rows[p] = {m: evaluate(qa, items, m).to_dict() for m in ("dense", "hybrid")}
        print(f"\n{len(items)} questions ({args.split} split), question encoder: {query_encoder.precision}")
        print(f"{'':8s}{'dense R@1':>12s}{'dense MRR':>12s}{'hybrid R@1':>12s}{'hybrid MRR':>12s}")
        for p, r in rows.items():
            print(f"{p:8s}{r['dense']['recall@1']:>12.4f}{r['dense']['mrr@10']:>12.4f}"
                  f"{r['hybrid']['recall@1']:>12.4f}{r['hybrid']['mrr@10']:>12.4f}")
        d = rows["int8"]["hybrid"]["recall@1"] - rows["fp32"]["hybrid"]["recall@1"]
        print(f"hybrid Recall@1 int8 − fp32: {d:+.4f} (target: within 0.003)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
