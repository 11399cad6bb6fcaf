"""Ask latency and memory at 1k, 10k and 100k chunks, split by stage.

    .venv/bin/python bench/scale.py [--sizes 1000,10000,100000] [--questions 60] [--runs 3]
        [--no-reader] [--depth N] [--backends embedded,milvus] [--index-kind flat|hnsw|ivf] [--uri URI]
        [--work DIR --phases build|ask]

Each ask is the whole `newsqa ask` path: search, then the reader at the
configured depth (or the rules with --no-reader).

Corpus: CMRC 2018 dev paragraphs (../shared/eval, CC BY-SA 4.0) and, beyond
those, generated articles made of sentences drawn at random from them (so BM25
sees real Chinese term statistics). Every size contains the paragraphs the
benchmark questions are about.

Vectors: embedding 100k chunks on 2 cores takes over an hour, and the cost of
a search does not depend on what the vectors say. The first 1,200 distinct
chunks are embedded with the real model; every further chunk gets a
normalised mix of two of those real vectors. Queries are always embedded by the
real model, so every stage below is the real code path. Each size runs in its
own process so its memory figure is its own.

Backends: the embedded index is always built (it holds the vectors); with
``--backends embedded,milvus`` the same corpus is also built into Milvus (one
local milvus-lite 2.5.1 server for the whole run, or ``--uri``), taking every
vector from the embedded build, and both are asked the same questions, each
from its own process. For Milvus the table adds the server's resident memory
after the asks; each size's collections are dropped before the next size.

Builds at 1M chunks take the better part of an hour on 2 cores, and asks
should be timed on an otherwise idle machine: ``--work DIR --phases build``
builds every size (embedded index and, with a local server, Milvus data both
kept under DIR) and ``--work DIR --phases ask`` later asks them without
rebuilding (run it as often as wanted: collections are kept when the build
was a separate run).
"dense" and "bm25" are then one Milvus request each, and "fusion" includes
fetching the winning chunks and articles.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import EVAL  # noqa: E402  (puts the repository on sys.path)
POOL_MAX = 1200

from bench.milvus_local import drop_collections, milvus, rss_mb  # noqa: E402




def make_corpus(items: list, target_chunks: int, out: Path) -> None:
    """Write a JSONL corpus of roughly ``target_chunks`` chunks."""
    contexts: dict[str, dict] = {}
    for it in items:
        contexts.setdefault(it.context_id, {"id": it.context_id, "title": it.title, "text": it.context})
    ctx = list(contexts.values())
    # about 2.6 chunks per CMRC paragraph with the default chunking
    from retrieval.ingest.chunking import chunk_article
    from retrieval.config import ChunkingConfig

    n_real = min(len(ctx), max(1, int(target_chunks / 2.6)))  # about 2.6 chunks per CMRC paragraph
    rows = ctx[:n_real]
    sentences = [s for c in ctx for s in re.findall(r"[^。！？]+[。！？]", c["text"]) if len(s) > 8]
    rng = random.Random(0)
    chunks = sum(len(chunk_article(_article(r), ChunkingConfig())) for r in rows)
    i = 0
    while chunks < target_chunks:
        k = rng.randint(4, 9)
        text = "".join(rng.choice(sentences) for _ in range(k))
        row = {"id": f"gen-{i}", "title": rng.choice(ctx)["title"] + f"（{i}）", "text": text}
        rows.append(row)
        chunks += len(chunk_article(_article(row), ChunkingConfig()))
        i += 1
    with out.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def _article(row: dict):  # type: ignore[no-untyped-def]
    from retrieval.types import Article

    return Article(row["id"], row["title"], tuple(p for p in row["text"].split("\n") if p.strip()), "x")


class PoolEncoder:
    """Real vectors for the first POOL_MAX texts, mixes of them afterwards."""

    def __init__(self, real, pool_path: Path) -> None:  # type: ignore[no-untyped-def]
        self.real = real
        self.model_name = real.model_name
        self.passage_prompt = real.passage_prompt
        self.precision = real.precision
        self.dim = real.dim
        self.pool_path = pool_path
        self.pool: dict[str, np.ndarray] = {}
        if pool_path.exists():
            data = np.load(pool_path, allow_pickle=False)
            self.pool = dict(zip(data["keys"].tolist(), data["vectors"]))
        self.real_count = 0

    def encode_passages(self, texts, progress=None):  # type: ignore[no-untyped-def]
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        todo = [t for k, t in zip(keys, texts) if k not in self.pool][: max(0, POOL_MAX - len(self.pool))]
        if todo:
            vecs = self.real.encode_passages(todo)
            for t, v in zip(todo, vecs):
                self.pool[hashlib.sha1(t.encode()).hexdigest()] = v
            self.real_count += len(todo)
            np.savez(self.pool_path, keys=np.array(list(self.pool)), vectors=np.stack(list(self.pool.values())))
        base = np.stack(list(self.pool.values()))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for j, k in enumerate(keys):
            if k in self.pool:
                out[j] = self.pool[k]
            else:
                h = int(k[:12], 16)
                v = base[h % len(base)] + 0.5 * base[(h // len(base)) % len(base)]
                out[j] = v / np.linalg.norm(v)
            if progress:
                progress(1)
        return out


def _config(work: Path, size: int, backend: str, query_backend: str, reader: bool, depth: int, kind: str,
            uri: str, collection: str) -> Path:
    """One config per size and backend; both share ``[index] path``, so the
    Milvus build finds the embedded build's vectors there."""
    corpus = work / f"corpus-{size}"
    text = (f'[corpus]\npaths = ["{corpus}"]\n'
            f'[index]\npath = "{work / f"index-{size}"}"\nkind = "{kind}"\nbackend = "{backend}"\n'
            f'[embedding]\nquery_backend = "{query_backend}"\n'
            f'[reader]\nenabled = {"true" if reader else "false"}\n' + (f"depth = {depth}\n" if depth else ""))
    if backend == "milvus":
        # A long request timeout: at 1M chunks the first search after a server start waits
        # minutes while the server loads the collection (the warm-up pays it, not the timings).
        text += f'[milvus]\nuri = "{uri}"\ncollection = "{collection}_{size}"\ntimeout_seconds = 1800\n'
    path = work / f"config-{size}-{backend}.toml"
    path.write_text(text)
    return path


def child(args: argparse.Namespace) -> dict:
    from bot.cli import _quiet_libraries, load_query_encoder

    _quiet_libraries()
    from embeddings.encoder import Encoder
    from retrieval.config import default_cache_dir, load_config
    from retrieval.evaluate import load_items
    from retrieval.index.backend import open_backend
    from retrieval.index.lexical import Tokenizer
    from retrieval.answer.qa import QA

    size, work, backend = args.child, Path(args.work), args.index_backend
    items = load_items(EVAL)
    corpus_file = work / f"corpus-{size}" / "articles.jsonl"
    if args.phase == "build" and backend == "embedded":
        corpus_file.parent.mkdir(parents=True, exist_ok=True)
        make_corpus(items, size, corpus_file)
    cfg = load_config(_config(work, size, backend, args.backend, not args.no_reader, args.depth, args.index_kind,
                              args.uri, args.collection))
    rss_start = rss_mb()
    tokenizer = Tokenizer()
    if args.phase == "build":
        # The same encoder type for both backends: its model name, prompt and
        # precision key the vectors, so the Milvus build reuses the embedded
        # build's (or mixes pool vectors) instead of running the model.
        pool = PoolEncoder(Encoder(cfg.embedding.model, cache_dir=default_cache_dir()), work / "pool.npz")
        t0 = time.perf_counter()
        # Milvus: no --full, which would refuse to reuse the embedded vectors.
        report = open_backend(cfg).build(cfg, pool, tokenizer, full=backend == "embedded")
        return {"build_s": round(time.perf_counter() - t0, 1), "build_chunks": report.chunks,
                "to_encoder": report.embedded, "reused": report.reused, "real_encoded": pool.real_count}
    # A fresh process for measuring, so the build's garbage is not counted. The
    # question encoder is the one `newsqa ask`/`chat`/`bot` use ([embedding] query_backend).
    encoder = load_query_encoder(cfg)
    tokenizer.words("预热分词")
    rss_before = rss_mb()
    from retrieval.app import load_reader

    qa = QA(cfg, encoder, tokenizer, reader=load_reader(cfg, encoder=encoder))
    rss_loaded = rss_mb()
    qa.warm_up()
    # The questions whose paragraphs are in the corpus: read from the corpus
    # file, the same for both backends (listing Milvus' articles would be slow).
    with corpus_file.open(encoding="utf-8") as f:
        contexts_in = {json.loads(line)["id"] for line in f}
    questions = [it for it in items if it.context_id in contexts_in][:args.questions]
    stages: dict[str, list[float]] = {k: [] for k in ("encode", "dense", "bm25", "fusion", "answer", "total")}
    for _ in range(args.runs):
        for it in questions:
            # The whole `ask` path (the reader at the configured depth, or the
            # rules); "answer" is what follows the search.
            t0 = time.perf_counter()
            qa.ask(it.question)
            total_ms = (time.perf_counter() - t0) * 1000
            tm = qa._searcher.timings
            for k in ("encode", "dense", "bm25", "fusion"):
                stages[k].append(getattr(tm, k))
            stages["answer"].append(total_ms - sum(getattr(tm, k) for k in ("encode", "dense", "bm25", "fusion")))
            stages["total"].append(total_ms)
    rss_end = rss_mb()
    index_mb: float | str = "–"
    if backend == "embedded":
        index_mb = round(sum(f.stat().st_size for f in (cfg.index_path / "current").resolve().rglob("*")
                             if f.is_file()) / 2**20, 1)
    server_rss: float | str = "–"
    if backend == "milvus":
        # After the asks: the server holds this size's collection, loaded and warm.
        server_rss = round(rss_mb(args.server_pid)) if args.server_pid else "n/a"
        # Dropped here, not by the parent: a pymilvus client left idle there for
        # minutes is cut off by the server ("Too many pings").
        if not args.keep:
            drop_collections(cfg.milvus.uri, cfg.milvus.collection)
    total = sorted(stages["total"])
    counts = qa.index.manifest["counts"]
    return {
        "size": size, "backend": backend, "articles": counts["articles"], "chunks": counts["chunks"],
        "real_vectors": min(POOL_MAX, counts["chunks"]), "rss_mb_python": round(rss_start),
        "rss_mb_model_only": round(rss_before), "rss_mb_loaded": round(rss_loaded), "rss_mb_end": round(rss_end),
        "index_rss_mb": round(rss_loaded - rss_before),
        "index_mb_on_disk": index_mb, "server_rss_mb": server_rss, "questions": len(questions) * args.runs,
        **{f"{k}_p50_ms": round(statistics.median(v), 2) for k, v in stages.items()},
        "total_p95_ms": round(total[int(0.95 * (len(total) - 1))], 2),
    }


def run_child(args: argparse.Namespace, size: int, work: Path, phase: str, backend: str, uri: str,
              server_pid: int | None) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(size), "--work", str(work), "--phase", phase,
                          "--index-backend", backend, "--uri", uri, "--collection", args.collection,
                          "--index-kind", args.index_kind, "--server-pid", str(server_pid or 0),
                          "--questions", str(args.questions), "--runs", str(args.runs), "--backend", args.backend,
                          "--depth", str(args.depth)]
                         + (["--no-reader"] if args.no_reader else []) + (["--keep"] if args.keep else []),
                         capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"size {size}, {backend} {phase}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--questions", type=int, default=60)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--work", default="", help="working folder (reuse one to reuse its real-vector pool)")
    ap.add_argument("--phase", default="ask", help=argparse.SUPPRESS)
    ap.add_argument("--index-backend", default="embedded", help=argparse.SUPPRESS)
    ap.add_argument("--server-pid", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--no-reader", action="store_true", help="answer with the rules instead of the reader")
    ap.add_argument("--depth", type=int, default=0, help="reader depth (default: the configured one)")
    ap.add_argument("--backend", choices=["auto", "numpy", "torch"], default="auto",
                    help="[embedding] query_backend for the questions (auto: numpy for the default model)")
    ap.add_argument("--backends", default="embedded",
                    help="index backends to measure, comma-separated: embedded, milvus (embedded is always built: "
                         "Milvus takes its vectors)")
    ap.add_argument("--index-kind", choices=["flat", "hnsw", "ivf"], default="flat",
                    help="[index] kind, for both backends")
    ap.add_argument("--uri", default="", help="an existing Milvus server instead of a local one")
    ap.add_argument("--collection", default="newsqa_scale", help="Milvus base name (_<size> is appended)")
    ap.add_argument("--phases", default="build,ask",
                    help="build, ask or both (separate runs need --work; a separate build keeps its collections)")
    ap.add_argument("--keep", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    phases_wanted = {p.strip() for p in args.phases.split(",") if p.strip()}
    if not phases_wanted or phases_wanted - {"build", "ask"}:
        ap.error("--phases: use build, ask or build,ask")
    if phases_wanted != {"build", "ask"} and not args.work:
        ap.error("--phases build or ask alone needs --work DIR (where the builds are kept)")
    if args.child:
        print(json.dumps(child(args)), flush=True)
        return
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(backends) - {"embedded", "milvus"})
    if unknown or not backends:
        ap.error(f"--backends: unknown {', '.join(unknown) or '(none given)'}; use embedded, milvus")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="newsqa-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    # An ask-only run leaves the collections it asked in place, for the next ask-only run.
    args.keep = args.keep or phases_wanted == {"ask"}
    rows = []
    with contextlib.ExitStack() as stack:
        data_dir = work / "milvus-data" if args.work else None
        target = stack.enter_context(milvus(args.uri or None, data_dir)) if "milvus" in backends else None
        uri = target.uri if target else ""
        pid = target.server_pid if target else None
        for size in (int(s) for s in args.sizes.split(",")):
            built_file = work / f"built-{size}-{args.index_kind}.json"
            phases: dict[str, float] = {}
            if "build" in phases_wanted:
                t0 = time.perf_counter()
                built = {"embedded": run_child(args, size, work, "build", "embedded", uri, pid)}
                phases["embedded build"] = time.perf_counter() - t0
                if target is not None:
                    t0 = time.perf_counter()
                    built["milvus"] = b = run_child(args, size, work, "build", "milvus", uri, pid)
                    phases["milvus build"] = time.perf_counter() - t0
                    print(f"size {size}: milvus build of {b['build_chunks']} chunks: {b['reused']} vectors reused, "
                          f"{b['to_encoder']} given to the pool encoder, {b['real_encoded']} run through the model",
                          file=sys.stderr, flush=True)
                built_file.write_text(json.dumps(built))
                print(f"size {size}: " + ", ".join(f"{k} {v:.0f}s" for k, v in phases.items()), file=sys.stderr,
                      flush=True)
            if "ask" not in phases_wanted:
                continue
            if "build" not in phases_wanted:
                if not built_file.exists():
                    sys.exit(f"{built_file}: no build of {size} chunks ({args.index_kind}) here; "
                             f"run with --phases build first")
                built = json.loads(built_file.read_text())
                missing = [b for b in backends if b not in built]
                if missing:
                    sys.exit(f"{built_file}: no {', '.join(missing)} build; run --phases build with those --backends")
            for backend in backends:
                t0 = time.perf_counter()
                row = {**built[backend], **run_child(args, size, work, "ask", backend, uri, pid)}
                phases[f"{backend} ask"] = time.perf_counter() - t0
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
            print(f"size {size}: " + ", ".join(f"{k} {v:.0f}s" for k, v in phases.items()), file=sys.stderr,
                  flush=True)
    if not rows:
        return
    cols = ["chunks", "backend", "encode_p50_ms", "dense_p50_ms", "bm25_p50_ms", "fusion_p50_ms", "answer_p50_ms",
            "total_p50_ms", "total_p95_ms", "rss_mb_model_only", "rss_mb_loaded", "rss_mb_end", "index_rss_mb",
            "server_rss_mb", "index_mb_on_disk"]
    how = "rules" if args.no_reader else f"reader, depth {args.depth or 'as configured'}"
    print(f"answers: {how}; query_backend = {args.backend}; index kind = {args.index_kind}; cores: {os.cpu_count()}; "
          f"warm, one question at a time; {rows[0]['questions']} asks per size and backend")
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")
    if len(backends) > 1:
        for size in dict.fromkeys(r["size"] for r in rows):
            e, m = (next(r for r in rows if r["size"] == size and r["backend"] == b) for b in ("embedded", "milvus"))
            print(f"{e['chunks']} chunks: milvus p50 / embedded p50 = {m['total_p50_ms'] / e['total_p50_ms']:.2f}")


if __name__ == "__main__":
    main()
