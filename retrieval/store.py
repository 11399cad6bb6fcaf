"""The index on disk: one directory per build, a manifest written last, and a
``current`` symlink swapped atomically.

    <index.path>/current -> builds/<build-id>
    <index.path>/builds/<build-id>/{manifest.json, articles.jsonl, chunks.jsonl,
                                    vectors.npy, tokens.json, dense.faiss, bm25/}

A build is written under ``builds/.tmp-*`` and only becomes visible when the
symlink is replaced, so an interrupted or failed rebuild leaves the previous
index answering. Vectors and tokens of unchanged chunks are reused by content
hash, so a rebuild embeds only what is new.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from retrieval.chunking import chunk_article, embed_text
from retrieval.config import Config
from retrieval.errors import CorpusError, IndexMismatchError, IndexMissingError
from retrieval.ingest import CorpusFile, SkippedFile, iter_corpus_files, read_corpus
from retrieval.lexical import TOKENIZER_ID, BM25Index, Tokenizer
from retrieval.types import Article, Chunk, sha1

FORMAT_VERSION = 1
REBUILD_HINT = "run 'newsqa index rebuild --full'"


class Progress(Protocol):
    def update(self, n: int = 1) -> object: ...
    def close(self) -> object: ...


ProgressFactory = Callable[[int, str], Progress]


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def no_progress(total: int, desc: str) -> Progress:
    return _NoProgress()


class PassageEncoder(Protocol):
    model_name: str
    passage_prompt: str
    dim: int

    def encode_passages(self, texts: list[str], progress: Callable[[int], None] | None = None) -> np.ndarray: ...


@dataclass
class BuildReport:
    build_dir: Path | None
    files_indexed: int = 0
    articles: int = 0
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    up_to_date: bool = False
    seconds: float = 0.0


@dataclass
class LoadedIndex:
    """Everything a question needs, in memory."""

    build_id: str
    manifest: dict
    articles: dict[str, Article]
    chunks: list[Chunk]
    vectors: object  # embeddings.vectors.VectorIndex, imported lazily
    bm25: BM25Index
    doc_freq: dict[str, int]

    def article_of(self, chunk: Chunk) -> Article:
        return self.articles[chunk.article_id]


def _config_fingerprint(cfg: Config, model_name: str) -> dict:
    return {
        "format_version": FORMAT_VERSION, "model": model_name, "tokenizer": TOKENIZER_ID,
        "passage_prompt": cfg.embedding.passage_prompt, "index_kind": cfg.index.kind,
        "chunking": {"min_chars": cfg.chunking.min_chars, "max_chars": cfg.chunking.max_chars,
                     "overlap_sentences": cfg.chunking.overlap_sentences},
    }


def _file_listing(cfg: Config) -> tuple[dict[str, dict], list[SkippedFile]]:
    found, skipped = iter_corpus_files(cfg.corpus_paths)
    listing = {}
    for path, rel in found:
        st = path.stat()
        listing[rel] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    return listing, skipped


class IndexStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.builds = root / "builds"
        self.link = root / "current"

    # ---------------------------------------------------------------- reading
    def current_dir(self) -> Path | None:
        if not self.link.is_symlink() and not self.link.exists():
            return None
        target = self.link.resolve()
        return target if (target / "manifest.json").is_file() else None

    def current_build_id(self) -> str | None:
        d = self.current_dir()
        return d.name if d else None

    def manifest(self) -> dict | None:
        d = self.current_dir()
        if d is None:
            return None
        return json.loads((d / "manifest.json").read_text(encoding="utf-8"))

    def check_compatible(self, manifest: dict, cfg: Config) -> None:
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexMismatchError(
                f"index at {self.root} has format {manifest.get('format_version')}, this newsqa reads "
                f"{FORMAT_VERSION}; {REBUILD_HINT}")
        if manifest.get("model") != cfg.embedding.model:
            raise IndexMismatchError(
                f"index at {self.root} was built with model '{manifest.get('model')}' but the config "
                f"uses '{cfg.embedding.model}'; {REBUILD_HINT}")
        if manifest.get("tokenizer") != TOKENIZER_ID:
            raise IndexMismatchError(
                f"index at {self.root} was built with tokenizer '{manifest.get('tokenizer')}'; {REBUILD_HINT}")

    def load(self, cfg: Config, expected_dim: int | None = None) -> LoadedIndex:
        from embeddings.vectors import VectorIndex

        d = self.current_dir()
        if d is None:
            raise IndexMissingError(f"no index at {self.root}; run 'newsqa index rebuild'")
        manifest = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
        self.check_compatible(manifest, cfg)
        if expected_dim is not None and manifest.get("dim") != expected_dim:
            raise IndexMismatchError(
                f"index at {self.root} has {manifest.get('dim')}-dimensional vectors, the model gives "
                f"{expected_dim}; {REBUILD_HINT}")
        articles = {a.id: a for a in map(Article.from_dict, _read_jsonl(d / "articles.jsonl"))}
        chunks = [Chunk.from_dict(c) for c in _read_jsonl(d / "chunks.jsonl")]
        doc_freq = json.loads((d / "doc_freq.json").read_text(encoding="utf-8"))
        return LoadedIndex(d.name, manifest, articles, chunks, VectorIndex.load(d / "dense.faiss"),
                           BM25Index.load(d / "bm25"), doc_freq)

    def is_stale(self, cfg: Config) -> tuple[bool, str]:
        listing, _ = _file_listing(cfg)  # raises CorpusError for a missing corpus path
        manifest = self.manifest()
        if manifest is None:
            return True, "no index"
        if manifest.get("fingerprint") != _config_fingerprint(cfg, cfg.embedding.model):
            return True, "settings changed"
        if listing != manifest.get("files"):
            return True, "corpus files changed"
        return False, "up to date"

    # ---------------------------------------------------------------- writing
    def build(self, cfg: Config, encoder: PassageEncoder, tokenizer: Tokenizer, *, full: bool = False,
              progress: ProgressFactory = no_progress) -> BuildReport:
        started = time.perf_counter()
        fingerprint = _config_fingerprint(cfg, encoder.model_name)
        previous = None if full else self._reusable(fingerprint)
        listing, _ = _file_listing(cfg)
        if previous is not None and previous[0].get("files") == listing and listing:
            m = previous[0]
            return BuildReport(self.current_dir(), m["counts"]["files"], m["counts"]["articles"],
                               m["counts"]["chunks"], 0, m["counts"]["chunks"],
                               [SkippedFile(**s) for s in m.get("skipped", [])], True,
                               time.perf_counter() - started)

        files, skipped = read_corpus(cfg.corpus_paths)
        articles = [a for f in files for a in f.articles]
        if not articles:
            where = ", ".join(str(p) for p in cfg.corpus_paths)
            raise CorpusError(f"no articles found in {where}" + (
                f" ({len(skipped)} file(s) skipped: {skipped[0].path}: {skipped[0].reason})" if skipped else ""))

        chunks: list[Chunk] = []
        texts: list[str] = []
        by_id = {a.id: a for a in articles}
        for a in articles:
            for c in chunk_article(a, cfg.chunking, first_id=len(chunks)):
                chunks.append(c)
                texts.append(embed_text(by_id[c.article_id], c))
        hashes = [sha1(encoder.model_name + "\x00" + encoder.passage_prompt + t) for t in texts]

        old_vecs: dict[str, np.ndarray] = {}
        old_toks: dict[str, list[str]] = {}
        if previous is not None:
            _, prev_dir = previous
            prev_hashes = json.loads((prev_dir / "hashes.json").read_text(encoding="utf-8"))
            prev_vectors = np.load(prev_dir / "vectors.npy", mmap_mode="r")
            prev_tokens = json.loads((prev_dir / "tokens.json").read_text(encoding="utf-8"))
            wanted = set(hashes)
            for i, h in enumerate(prev_hashes):
                if h in wanted:
                    old_vecs[h] = np.asarray(prev_vectors[i])
                    old_toks[h] = prev_tokens[i]

        todo = [i for i, h in enumerate(hashes) if h not in old_vecs]
        vectors = np.zeros((len(chunks), encoder.dim), dtype=np.float32)
        for i, h in enumerate(hashes):
            if h in old_vecs:
                vectors[i] = old_vecs[h]
        if todo:
            bar = progress(len(todo), "embedding")
            try:
                vectors[todo] = encoder.encode_passages([texts[i] for i in todo], progress=bar.update)
            finally:
                bar.close()
        tokens = [old_toks[h] if h in old_toks else tokenizer(t) for h, t in zip(hashes, texts)]

        build_dir = self._write(cfg, fingerprint, encoder, files, skipped, articles, chunks, hashes,
                                vectors, tokens, listing)
        return BuildReport(build_dir, len(files), len(articles), len(chunks), len(todo),
                           len(chunks) - len(todo), skipped, False, time.perf_counter() - started)

    def _reusable(self, fingerprint: dict) -> tuple[dict, Path] | None:
        d = self.current_dir()
        if d is None:
            return None
        try:
            manifest = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        if manifest.get("fingerprint") != fingerprint:
            return None
        return manifest, d

    def _write(self, cfg: Config, fingerprint: dict, encoder: PassageEncoder, files: list[CorpusFile],
               skipped: list[SkippedFile], articles: list[Article], chunks: list[Chunk], hashes: list[str],
               vectors: np.ndarray, tokens: list[list[str]], listing: dict[str, dict]) -> Path:
        from embeddings.vectors import VectorIndex

        self.builds.mkdir(parents=True, exist_ok=True)
        self._clean_leftovers()
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.builds))
        try:
            _write_jsonl(tmp / "articles.jsonl", (a.to_dict() for a in articles))
            _write_jsonl(tmp / "chunks.jsonl", (c.to_dict() for c in chunks))
            (tmp / "hashes.json").write_text(json.dumps(hashes), encoding="utf-8")
            (tmp / "tokens.json").write_text(json.dumps(tokens, ensure_ascii=False), encoding="utf-8")
            np.save(tmp / "vectors.npy", vectors)
            VectorIndex.build(vectors, cfg.index.kind, cfg.index.hnsw_m, cfg.index.ivf_nlist).save(tmp / "dense.faiss")
            BM25Index.build(tokens).save(tmp / "bm25")
            df = Counter(t for toks in tokens for t in set(toks))
            (tmp / "doc_freq.json").write_text(json.dumps({"__docs__": len(tokens), **df}, ensure_ascii=False),
                                               encoding="utf-8")
            dates = sorted(a.date for a in articles if a.date)
            manifest = {
                **fingerprint, "fingerprint": fingerprint, "dim": encoder.dim,
                "corpus_hash": sha1("\n".join(sorted(a.content_hash for a in articles))),
                "corpus_paths": [str(p) for p in cfg.corpus_paths],
                "counts": {"files": len(files), "articles": len(articles), "chunks": len(chunks)},
                "date_range": [dates[0], dates[-1]] if dates else None,
                "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "files": listing,
                "skipped": [{"path": s.path, "reason": s.reason} for s in skipped],
            }
            _atomic_write(tmp / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
            build_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{tmp.name[-6:]}"
            final = self.builds / build_id
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        link_tmp = self.root / f".current-{os.getpid()}"
        if link_tmp.is_symlink():
            link_tmp.unlink()
        os.symlink(Path("builds") / final.name, link_tmp)
        os.replace(link_tmp, self.link)
        self._clean_old(keep=final.name)
        return final

    def _clean_leftovers(self) -> None:
        for d in self.builds.glob(".tmp-*"):
            # Only remove what a dead build left; a concurrent build's dir is fresh.
            if time.time() - d.stat().st_mtime > 3600:
                shutil.rmtree(d, ignore_errors=True)

    def _clean_old(self, keep: str) -> None:
        # Keep the previous build too: a running bot may still be reading it.
        builds = sorted((d for d in self.builds.iterdir() if not d.name.startswith(".")),
                        key=lambda d: d.stat().st_mtime)
        for d in builds[:-2]:
            if d.name != keep:
                shutil.rmtree(d, ignore_errors=True)


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _write_jsonl(path: Path, rows) -> None:  # type: ignore[no-untyped-def]
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
