"""Build throughput against raw model throughput, incremental rebuilds, peak memory.

    .venv/bin/python bench/build.py [--articles 10000] [--files 100] [--sentences 2]

Corpus: ``--articles`` short news-like articles in ``--files`` JSON Lines files,
each article ``--sentences`` sentences drawn at random (seeded) from the CMRC
2018 dev paragraphs (../shared/eval, CC BY-SA 4.0), titled after a paragraph.

Prints, each from the real `newsqa` command in a fresh process:
  * `newsqa index rebuild --full`: wall time, the build's own time, chunks/s, peak RSS;
  * raw `SentenceTransformer.encode` over exactly the texts the build embeds
    (same prompt, same batch size), chunks/s, and the ratio build/raw;
  * `newsqa index rebuild` with nothing changed, and with 1% of the files changed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval" / "cmrc2018_dev_contexts.jsonl"

RAW = r"""
import json, sys, time
from pathlib import Path
from bot.cli import _quiet_libraries
_quiet_libraries()
from embeddings.encoder import Encoder
from retrieval.ingest.chunking import embed_text
from retrieval.config import load_config
from retrieval.index.store import IndexStore
from retrieval.types import Article, Chunk
cfg = load_config(Path(sys.argv[1]))
d = (cfg.index_path / "current").resolve()
arts = {a["id"]: Article.from_dict(a) for a in map(json.loads, (d / "articles.jsonl").open(encoding="utf-8"))}
chunks = [Chunk.from_dict(json.loads(l)) for l in (d / "chunks.jsonl").open(encoding="utf-8")]
texts = [cfg.embedding.passage_prompt + embed_text(arts[c.article_id], c) for c in chunks]
enc = Encoder(cfg.embedding.model, cache_dir=cfg.cache_dir, batch_size=cfg.embedding.batch_size)
model = enc.model
model.encode(texts[:64], batch_size=cfg.embedding.batch_size)  # warm-up
t0 = time.perf_counter()
model.encode(texts, batch_size=cfg.embedding.batch_size, normalize_embeddings=True)
print(json.dumps({"raw_seconds": time.perf_counter() - t0, "texts": len(texts)}))
"""


def make_corpus(out: Path, n_articles: int, n_files: int, n_sentences: int, seed: int = 0) -> None:
    ctx = [c for c in map(json.loads, EVAL.open(encoding="utf-8")) if c["title"].strip()]  # a few have no title
    sentences = [s for c in ctx for s in re.findall(r"[^。！？]+[。！？]", c["context"]) if 10 <= len(s) <= 120]
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    per_file = -(-n_articles // n_files)
    for f in range(n_files):
        with (out / f"part-{f:04d}.jsonl").open("w", encoding="utf-8") as fh:
            for i in range(f * per_file, min(n_articles, (f + 1) * per_file)):
                text = "".join(rng.choice(sentences) for _ in range(n_sentences))
                fh.write(json.dumps({"id": f"a{i}", "title": rng.choice(ctx)["title"], "text": text,
                                     "date": f"2020-01-{1 + i % 28:02d}"}, ensure_ascii=False) + "\n")


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    return time.perf_counter() - t0, out.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=10000)
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--sentences", type=int, default=2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="newsqa-build-"))
    corpus = work / "corpus"
    make_corpus(corpus, args.articles, args.files, args.sentences)
    cfg = work / "config.toml"
    cfg.write_text(f'[corpus]\npaths = ["{corpus}"]\n[index]\npath = "{work / "index"}"\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    newsqa = [sys.executable, "-m", "bot.cli", "--config", str(cfg)]

    full_wall, out = run(newsqa + ["index", "rebuild", "--full"], env)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    m = re.search(r"(\d+) articles, (\d+) chunks \((\d+) embedded.*?\) in ([\d.]+)s", out)
    assert m, out
    articles, chunks, build_s = int(m[1]), int(m[2]), float(m[4])
    _, raw_out = run([sys.executable, "-c", RAW, str(cfg)], env)
    raw = json.loads(raw_out.strip().splitlines()[-1])
    assert raw["texts"] == chunks
    assert articles == args.articles, f"only {articles} of {args.articles} articles indexed: {out}"
    noop_wall, noop_out = run(newsqa + ["index", "rebuild"], env)
    # 1% of the files: every article in them gets one more sentence.
    changed = sorted(corpus.glob("*.jsonl"))[: max(1, args.files // 100)]
    for p in changed:
        rows = [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines()]
        p.write_text("".join(json.dumps({**r, "text": r["text"] + "编者按：本文有更新。"}, ensure_ascii=False) + "\n"
                             for r in rows), encoding="utf-8")
    inc_wall, inc_out = run(newsqa + ["index", "rebuild"], env)
    inc = re.search(r"\((\d+) embedded, (\d+) reused\) in ([\d.]+)s", inc_out)
    assert inc, inc_out

    build_rate, raw_rate = chunks / build_s, raw["texts"] / raw["raw_seconds"]
    print(f"cores: {os.cpu_count()}; corpus: {articles} articles in {args.files} files, {chunks} chunks")
    print(f"index rebuild --full: {full_wall:.1f} s wall (incl. start-up and model load), build {build_s:.1f} s "
          f"= {build_rate:.1f} chunks/s; peak RSS {peak_mb:.0f} MB")
    print(f"raw SentenceTransformer.encode, same {chunks} texts: {raw['raw_seconds']:.1f} s = {raw_rate:.1f} chunks/s")
    print(f"ratio build/raw: {build_rate / raw_rate:.2f}")
    print(f"rebuild, nothing changed: {noop_wall:.2f} s wall ({noop_out.strip()})")
    print(f"rebuild, {len(changed)} of {args.files} files changed: {inc_wall:.1f} s wall, build {float(inc[3]):.1f} s "
          f"({inc[1]} chunks embedded, {inc[2]} reused)")


if __name__ == "__main__":
    main()
