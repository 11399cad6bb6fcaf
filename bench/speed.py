"""Build throughput (chunks/s) and ask latency (p50/p95), real model, this machine.

    .venv/bin/python bench/speed.py [--contexts N] [--runs R]

Corpus: the first N paragraphs of CMRC 2018 dev (../shared/eval, CC BY-SA 4.0)
as a JSONL corpus, plus the bundled sample page. Each figure is the median
over R runs; latency is warm, one question at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import ROOT  # noqa: E402  (puts the repository on sys.path)

QUESTIONS = [
    "谁获得了岗位标兵？", "阎村镇总工会共表彰了多少名最美劳动者？", "顺义区总工会的消防安全检查由谁带队？",
    "政协全会共分为多少个组？", "黑山寨社区服务站位于哪个镇？", "谁获得了2019年诺贝尔文学奖？",
]


@dataclass(frozen=True)
class Speed:
    cores: int
    model: str
    articles: int
    chunks: int
    load_s: float
    build_chunks_per_s: float  # median over the runs
    noop_rebuild_s: float
    ask_p50_ms: float
    ask_p95_ms: float


def measure(contexts: int = 150, runs: int = 3) -> Speed:
    """Build and ask timings over the first ``contexts`` CMRC dev paragraphs."""
    from bot.cli import _quiet_libraries

    _quiet_libraries()
    from embeddings.encoder import Encoder
    from retrieval.config import default_cache_dir, load_config
    from retrieval.index.lexical import Tokenizer
    from retrieval.answer.qa import QA
    from retrieval.index.store import IndexStore

    work = Path(tempfile.mkdtemp(prefix="newsqa-bench-"))
    corpus = work / "corpus"
    corpus.mkdir()
    shutil.copy(ROOT / "data" / "000_1248635c6257c13a.txt", corpus)
    ctx_file = ROOT.parent / "shared" / "eval" / "cmrc2018_dev_contexts.jsonl"
    if ctx_file.exists():
        with ctx_file.open(encoding="utf-8") as src, (corpus / "cmrc.jsonl").open("w", encoding="utf-8") as dst:
            for i, line in enumerate(src):
                if i >= contexts:
                    break
                c = json.loads(line)
                dst.write(json.dumps({"id": c["context_id"], "title": c["title"], "text": c["context"]},
                                     ensure_ascii=False) + "\n")
    (work / "config.toml").write_text(f'[corpus]\npaths = ["{corpus}"]\n[index]\npath = "{work / "index"}"\n',
                                      encoding="utf-8")
    cfg = load_config(work / "config.toml")
    t0 = time.perf_counter()
    encoder = Encoder(cfg.embedding.model, cache_dir=default_cache_dir())
    tok = Tokenizer()
    load_s = time.perf_counter() - t0
    store = IndexStore(cfg.index_path)

    rates, chunks = [], 0
    for _ in range(runs):
        r = store.build(cfg, encoder, tok, full=True)
        chunks = r.chunks
        rates.append(r.chunks / r.seconds)
    t0 = time.perf_counter()
    r = store.build(cfg, encoder, tok)
    noop_s = time.perf_counter() - t0

    qa = QA(cfg, encoder, tok)
    for q in QUESTIONS:
        qa.ask(q)  # warm-up
    lat = []
    for _ in range(runs):
        for q in QUESTIONS:
            t = time.perf_counter()
            qa.ask(q)
            lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    p95 = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
    shutil.rmtree(work, ignore_errors=True)
    return Speed(os.cpu_count() or 0, cfg.embedding.model, r.articles, chunks, load_s, statistics.median(rates),
                 noop_s, statistics.median(lat), p95)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contexts", type=int, default=150)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    s = measure(args.contexts, args.runs)
    print(f"machine: {s.cores} cores; model {s.model}; corpus {s.articles} articles, {s.chunks} chunks")
    print(f"{'metric':32s} value")
    print(f"{'model+tokenizer load (s)':32s} {s.load_s:.2f}")
    print(f"{'build --full (chunks/s, median)':32s} {s.build_chunks_per_s:.1f}")
    print(f"{'rebuild, nothing changed (s)':32s} {s.noop_rebuild_s:.3f}")
    print(f"{'ask latency p50 (ms)':32s} {s.ask_p50_ms:.1f}")
    print(f"{'ask latency p95 (ms)':32s} {s.ask_p95_ms:.1f}")


if __name__ == "__main__":
    main()
