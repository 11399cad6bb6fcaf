"""The index on disk: one directory per build, a manifest written last, and a
``current`` symlink swapped atomically.

    <index.path>/current -> builds/<build-id>
    <index.path>/.rebuild.lock
    <index.path>/builds/<build-id>/{manifest.json, articles.jsonl, chunks.jsonl,
                                    vectors.npy, tokens.json, hashes.json, dense.faiss, bm25/}

A build is written under ``builds/.tmp-*`` and only becomes visible when the
symlink is replaced, so an interrupted or failed rebuild leaves the previous
index answering. Vectors and tokens of unchanged chunks are reused by content
hash, so a rebuild embeds only what is new.

The manifest records the size and checksum of every other file of its build,
and loading checks them and the counts, so a damaged build is reported as such
instead of failing somewhere inside a library. One process at a time writes
builds (an ``flock`` on ``.rebuild.lock``); readers never take it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

import numpy as np

from retrieval.ingest.chunking import chunk_article, embed_text
from retrieval.config import Config
from retrieval.errors import (CorpusError, IndexDamagedError, IndexMismatchError, IndexMissingError,
                              IndexWriteError)
from retrieval.ingest.corpus import CorpusFile, SkippedFile, iter_corpus_files, read_corpus
from retrieval.index.lexical import TOKENIZER_ID, BM25Index, Tokenizer
from retrieval.types import Article, Chunk, ProgressFactory, no_progress, sha1

# 2: articles carry page, section, subtitle, dateline and also_printed, and
# kicker and subtitle are embedded with the title (an index of 1 lacks them).
FORMAT_VERSION = 2
REBUILD_HINT = "run 'newsqa index rebuild --full'"
LOCK_NAME = ".rebuild.lock"
WAITING = "a rebuild is already running; waiting…"
# Read by every load (and so checked on every load); the reuse files are only
# read by a rebuild, which checks them itself and re-embeds when they fail.
LOAD_FILES = ("articles.jsonl", "chunks.jsonl", "doc_freq.json", "dense.faiss")
REUSE_FILES = ("hashes.json", "vectors.npy", "tokens.json")
# Tests kill a rebuild here (os._exit) to check that `current` survives.
CRASH_ENV = "NEWSQA_TEST_CRASH_AT"
CRASH_STAGES = ("embedded", "files-written", "manifest-written", "renamed", "swapped")

Note = Callable[[str], None]


def _silent(_: str) -> None:
    pass


class PassageEncoder(Protocol):
    model_name: str
    passage_prompt: str
    dim: int
    precision: str  # "fp32" or "int8": vectors of one are never reused for the other

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
    # The previous build's file that could not be reused (everything was re-embedded).
    reuse_failed: str | None = None


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

    # What a question needs (retrieval.index.backend.SearchIndex); chunk ids are positions.
    @property
    def size(self) -> int:
        return len(self.chunks)

    def lexical(self, question: str, tokenizer: Tokenizer, k: int, include: Iterable[int] = ()) -> LexicalScores:
        lex = self.bm25.scores(tokenizer(question))
        order = _top_ids(lex, k)
        top = [(int(i), float(lex[i])) for i in order if lex[i] > 0]
        scores = dict(top)
        for i in include:
            scores[int(i)] = float(lex[i])
        return LexicalScores(top, scores)

    def dense(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        scores, ids = self.vectors.search(vector, k)  # type: ignore[attr-defined]
        return [(int(i), float(s)) for i, s in zip(ids, scores)]

    def resolve(self, ids: Iterable[int]) -> dict[int, tuple[Chunk, Article]]:
        out = {}
        for i in ids:
            chunk = self.chunks[i]
            out[i] = (chunk, self.article_of(chunk))
        return out


@dataclass
class LexicalScores:
    """BM25 scores of one question: the best chunks (score > 0, best first)
    and the scores of those plus of any chunk asked about (0 when absent)."""

    top: list[tuple[int, float]]
    scores: dict[int, float]


def _top_ids(scores: np.ndarray, k: int) -> np.ndarray:
    if len(scores) <= k:
        return np.argsort(-scores)
    part = np.argpartition(-scores, k)[:k]
    return part[np.argsort(-scores[part])]


@dataclass(frozen=True)
class FileRecord:
    """Size and checksum of one file of a build, as its manifest records them."""

    size: int
    blake2b: str

    @classmethod
    def of(cls, path: Path) -> FileRecord:
        return cls(path.stat().st_size, _checksum_file(path))

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "blake2b": self.blake2b}


@dataclass
class _Reuse:
    """Vectors and tokens of the previous build, by chunk content hash."""

    hashes: list[str]
    vectors: np.ndarray
    tokens: list[list[str]]


def _checksum_file(path: Path) -> str:
    h = hashlib.blake2b(digest_size=20)
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _crash_point(stage: str) -> None:
    if os.environ.get(CRASH_ENV) == stage:
        os._exit(137)


def _config_fingerprint(cfg: Config, model_name: str) -> dict:
    return {
        "format_version": FORMAT_VERSION, "model": model_name, "tokenizer": TOKENIZER_ID,
        "passage_prompt": cfg.embedding.passage_prompt, "index_kind": cfg.index.kind,
        "passage_precision": cfg.embedding.passage_precision, "layout": cfg.corpus.layout,
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


# ------------------------------------------------------------------ manifest checks

_MANIFEST_KEYS = {"format_version": int, "model": str, "tokenizer": str, "dim": int, "fingerprint": dict,
                  "counts": dict, "files": dict, "built_at": str}


def _parse_manifest(raw: bytes) -> dict:
    try:
        m = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise IndexDamagedError("manifest.json") from None
    if not isinstance(m, dict) or any(not isinstance(m.get(k), t) for k, t in _MANIFEST_KEYS.items()):
        raise IndexDamagedError("manifest.json")
    counts = m["counts"]
    if any(not isinstance(counts.get(k), int) for k in ("files", "articles", "chunks")):
        raise IndexDamagedError("manifest.json")
    contents = m.get("contents")
    if contents is not None and not (isinstance(contents, dict) and all(
            isinstance(v, dict) and isinstance(v.get("size"), int) and isinstance(v.get("blake2b"), str)
            for v in contents.values())):
        raise IndexDamagedError("manifest.json")
    return m


def _records(manifest: dict) -> dict[str, FileRecord]:
    """The recorded files of a build; empty for builds written before they were recorded."""
    return {rel: FileRecord(v["size"], v["blake2b"]) for rel, v in (manifest.get("contents") or {}).items()}


def _is_load_file(rel: str) -> bool:
    return rel in LOAD_FILES or rel.startswith("bm25/")


def _check_sizes(d: Path, manifest: dict) -> None:
    for rel, rec in _records(manifest).items():
        if not _is_load_file(rel):
            continue
        try:
            size = (d / rel).stat().st_size
        except OSError:
            raise IndexDamagedError(rel) from None
        if size != rec.size:
            raise IndexDamagedError(rel)


# A build directory never changes once visible, so a checksum that passed once
# in this process need not be recomputed while sizes and mtimes stay the same.
_verified: dict[str, tuple] = {}
_verified_guard = threading.Lock()


def _signature(d: Path, rels: list[str]) -> tuple:
    out = []
    for rel in rels:
        st = (d / rel).stat()
        out.append((rel, st.st_size, st.st_mtime_ns))
    return tuple(out)


def _check_checksums(d: Path, manifest: dict) -> None:
    contents = _records(manifest)
    if not contents:
        return  # a build written before checksums were recorded: sizes and counts are all there is
    rels = sorted(r for r in contents if _is_load_file(r))
    try:
        sig = _signature(d, rels)
    except OSError as exc:
        raise IndexDamagedError(Path(exc.filename or "?").name) from None
    with _verified_guard:
        if _verified.get(str(d)) == sig:
            return
    for rel in rels:
        try:
            ok = _checksum_file(d / rel) == contents[rel].blake2b
        except OSError:
            ok = False
        if not ok:
            raise IndexDamagedError(rel)
    with _verified_guard:
        _verified[str(d)] = sig


# ------------------------------------------------------------------ the rebuild lock

@dataclass
class _LockState:
    rlock: threading.RLock = field(default_factory=threading.RLock)
    fd: int | None = None
    depth: int = 0


_locks: dict[str, _LockState] = {}
_locks_guard = threading.Lock()


class RebuildLock:
    """The right to write builds under one index folder: exclusive across
    processes (``flock``, released by the kernel when a holder dies, even by
    kill -9) and threads, re-entrant within a thread."""

    def __init__(self, store: IndexStore, note: Note = _silent) -> None:
        self.store = store
        self.note = note  # told when a ``with`` block has to wait
        self.path = store.root / LOCK_NAME
        with _locks_guard:
            self._state = _locks.setdefault(str(self.path), _LockState())

    def acquire(self, wait: bool = True, on_wait: Callable[[], None] | None = None) -> bool:
        """Take the lock; False when ``wait`` is False and someone else holds it.
        ``on_wait`` is called once before blocking."""
        s = self._state
        waited = False
        if not s.rlock.acquire(blocking=False):
            if not wait:
                return False
            if on_wait:
                on_wait()
            waited = True
            s.rlock.acquire()
        if s.depth == 0:
            try:
                fd = self._open()
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if not wait:
                        os.close(fd)
                        s.rlock.release()
                        return False
                    if on_wait and not waited:
                        on_wait()
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX)
                    except BaseException:
                        os.close(fd)
                        raise
            except BaseException:
                s.rlock.release()
                raise
            s.fd = fd
        s.depth += 1
        return True

    def release(self) -> None:
        s = self._state
        s.depth -= 1
        if s.depth == 0 and s.fd is not None:
            fcntl.flock(s.fd, fcntl.LOCK_UN)
            os.close(s.fd)
            s.fd = None
        s.rlock.release()

    def _open(self) -> int:
        self.store.check_writable()
        try:
            self.store.root.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise IndexWriteError(f"cannot write the index at {self.store.root}: {exc.strerror or exc}") from None

    def __enter__(self) -> RebuildLock:
        self.acquire(on_wait=lambda: self.note(WAITING))
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class IndexStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.builds = root / "builds"
        self.link = root / "current"

    def describe(self) -> str:
        return str(self.root)

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
        """The current build's manifest, None when there is no index. Raises
        IndexDamagedError when the manifest is unreadable or a file has the
        wrong size (cheap: no file is read but the manifest)."""
        d = self.current_dir()
        if d is None:
            return None
        m = self._read_manifest(d)
        _check_sizes(d, m)
        return m

    def verify(self) -> dict | None:
        """``manifest()`` plus the checksums of every file a load reads."""
        d = self.current_dir()
        if d is None:
            return None
        m = self._read_manifest(d)
        _check_sizes(d, m)
        _check_checksums(d, m)
        return m

    @staticmethod
    def _read_manifest(d: Path) -> dict:
        try:
            raw = (d / "manifest.json").read_bytes()
        except OSError:
            raise IndexDamagedError("manifest.json") from None
        return _parse_manifest(raw)

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
        from embeddings.errors import VectorIndexError
        from embeddings.vectors import VectorIndex

        d, manifest = self._current_checked(cfg)
        _check_checksums(d, manifest)
        if expected_dim is not None and manifest.get("dim") != expected_dim:
            raise IndexMismatchError(
                f"index at {self.root} has {manifest.get('dim')}-dimensional vectors, the model gives "
                f"{expected_dim}; {REBUILD_HINT}")
        counts = manifest["counts"]
        articles = {a.id: a for a in _read_articles(d, manifest)}
        if len(articles) != counts["articles"]:
            raise IndexDamagedError("articles.jsonl")
        chunks = _read_rows(d, "chunks.jsonl", Chunk.from_dict)
        if len(chunks) != counts["chunks"] or any(c.article_id not in articles for c in chunks):
            raise IndexDamagedError("chunks.jsonl")
        try:
            doc_freq = json.loads((d / "doc_freq.json").read_bytes())
            ok = isinstance(doc_freq, dict) and doc_freq.get("__docs__") == len(chunks)
        except (OSError, ValueError):
            ok = False
        if not ok:
            raise IndexDamagedError("doc_freq.json")
        try:
            vectors = VectorIndex.load(d / "dense.faiss")
        except VectorIndexError:
            raise IndexDamagedError("dense.faiss") from None
        if vectors.size != len(chunks) or vectors.dim != manifest["dim"]:
            raise IndexDamagedError("dense.faiss")
        try:
            bm25 = BM25Index.load(d / "bm25")
            ok = len(bm25.scores([])) == len(chunks)
        except Exception:  # bm25s fails in many ways on a bad file (numpy, json, KeyError)
            ok = False
        if not ok:
            raise IndexDamagedError("bm25/")
        return LoadedIndex(d.name, manifest, articles, chunks, vectors, bm25, doc_freq)

    def load_articles(self, cfg: Config) -> list[Article]:
        """The current build's articles alone (their stored metadata), without
        the vectors and BM25: browsing by day needs nothing else."""
        d, manifest = self._current_checked(cfg)
        return _read_articles(d, manifest)

    def _current_checked(self, cfg: Config) -> tuple[Path, dict]:
        """The current build's folder and manifest, made for ``cfg`` and with
        every file the size the manifest says."""
        d = self.current_dir()
        if d is None:
            raise IndexMissingError(f"no index at {self.root}; run 'newsqa index rebuild'")
        manifest = self._read_manifest(d)
        self.check_compatible(manifest, cfg)
        _check_sizes(d, manifest)
        return d, manifest

    def is_stale(self, cfg: Config) -> tuple[bool, str]:
        manifest = self.verify()  # a damaged index is reported as such, never as "up to date"
        listing, _ = _file_listing(cfg)  # raises CorpusError for a missing corpus path
        if manifest is None:
            return True, "no index"
        if manifest.get("fingerprint") != _config_fingerprint(cfg, cfg.embedding.model):
            return True, "settings changed"
        if listing != manifest.get("files"):
            return True, "corpus files changed"
        return False, "up to date"

    def check_corpus(self, cfg: Config) -> None:
        """Fail cheaply, before a model loads, when a build could only fail:
        a corpus path is missing or holds no file newsqa reads."""
        listing, skipped = _file_listing(cfg)
        if not listing:
            first = next((s for s in skipped if s.kind == "skipped"), None)
            raise CorpusError(f"no articles found in {', '.join(str(p) for p in cfg.corpus_paths)}" + (
                f" ({sum(s.kind == 'skipped' for s in skipped)} file(s) skipped, first {first.place}: {first.reason})"
                if first else ""))

    # ---------------------------------------------------------------- writing
    def rebuild_lock(self, note: Note = _silent) -> RebuildLock:
        return RebuildLock(self, note)

    def check_writable(self) -> None:
        """Fail before any slow work when builds cannot be written here."""
        probe = self.root
        while not probe.exists() and not probe.is_symlink() and probe.parent != probe:
            probe = probe.parent
        if not probe.is_dir():
            raise IndexWriteError(f"cannot write the index at {self.root}: {probe} is not a folder")
        for d in (self.builds, self.root, probe):
            if d.is_dir():
                if not os.access(d, os.W_OK | os.X_OK):
                    raise IndexWriteError(f"cannot write the index at {self.root}: no write permission on {d}")
                break

    def build(self, cfg: Config, encoder: PassageEncoder, tokenizer: Tokenizer, *, full: bool = False,
              progress: ProgressFactory = no_progress, note: Note = _silent) -> BuildReport:
        lock = self.rebuild_lock()
        lock.acquire(on_wait=lambda: note(WAITING))
        try:
            return self._build(cfg, encoder, tokenizer, full, progress or no_progress, note)
        finally:
            lock.release()

    def _build(self, cfg: Config, encoder: PassageEncoder, tokenizer: Tokenizer, full: bool,
               progress: ProgressFactory, note: Note) -> BuildReport:
        started = time.perf_counter()
        fingerprint = _config_fingerprint(cfg, encoder.model_name)
        previous = None if full else self._reusable(fingerprint)
        listing, _ = _file_listing(cfg)
        if (previous is not None and previous[0].get("fingerprint") == fingerprint
                and previous[0].get("files") == listing and listing and self._healthy()):
            m = previous[0]
            return BuildReport(self.current_dir(), m["counts"]["files"], m["counts"]["articles"],
                               m["counts"]["chunks"], 0, m["counts"]["chunks"],
                               [SkippedFile(**s) for s in m.get("skipped", [])], True,
                               time.perf_counter() - started)

        files, skipped, articles, chunks, texts, hashes = read_chunks(cfg, encoder, progress)

        old_vecs: dict[str, np.ndarray] = {}
        old_toks: dict[str, list[str]] = {}
        reuse_failed = None
        if previous is not None:
            reuse, reuse_failed = _read_reuse(previous[1], previous[0], encoder.dim)
            if reuse is None:
                note(f"warning: the previous index's {reuse_failed} is unreadable; embedding everything again")
            else:
                wanted = set(hashes)
                for i, h in enumerate(reuse.hashes):
                    if h in wanted:
                        old_vecs[h] = np.asarray(reuse.vectors[i])
                        old_toks[h] = reuse.tokens[i]

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
        _crash_point("embedded")

        try:
            build_dir = self._write(cfg, fingerprint, encoder, files, skipped, articles, chunks, hashes,
                                    vectors, tokens, listing)
        except OSError as exc:
            raise IndexWriteError(f"cannot write the index at {self.root}: {exc.strerror or exc}") from None
        return BuildReport(build_dir, len(files), len(articles), len(chunks), len(todo),
                           len(chunks) - len(todo), skipped, False, time.perf_counter() - started, reuse_failed)

    def _reusable(self, fingerprint: dict) -> tuple[dict, Path] | None:
        d = self.current_dir()
        if d is None:
            return None
        try:
            manifest = self._read_manifest(d)
        except IndexDamagedError:
            return None
        # Vectors and tokens are keyed by a hash of model, precision, prompt and
        # text, so they stay valid across other setting changes (chunking,
        # index kind): only the token format must match.
        old = manifest.get("fingerprint") or {}
        if any(old.get(k) != fingerprint.get(k) for k in ("format_version", "tokenizer")):
            return None
        return manifest, d

    def _healthy(self) -> bool:
        try:
            return self.verify() is not None
        except IndexDamagedError:
            return False

    def _write(self, cfg: Config, fingerprint: dict, encoder: PassageEncoder, files: list[CorpusFile],
               skipped: list[SkippedFile], articles: list[Article], chunks: list[Chunk], hashes: list[str],
               vectors: np.ndarray, tokens: list[list[str]], listing: dict[str, dict]) -> Path:
        from embeddings.vectors import VectorIndex

        self.builds.mkdir(parents=True, exist_ok=True)
        previous = self.current_build_id()
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
            _crash_point("files-written")
            # Readable by a bot running as another user (mkdtemp makes 0700).
            contents = _publish_tree(tmp)
            dates = sorted(a.date for a in articles if a.date)
            manifest = {
                **fingerprint, "fingerprint": fingerprint, "dim": encoder.dim,
                "corpus_hash": sha1("\n".join(sorted(a.content_hash for a in articles))),
                "corpus_paths": [str(p) for p in cfg.corpus_paths],
                "counts": {"files": len(files), "articles": len(articles), "chunks": len(chunks),
                           "vectors": len(vectors)},
                "date_range": [dates[0], dates[-1]] if dates else None, "issues": len(set(dates)),
                "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "files": listing,
                "skipped": [{"path": s.path, "reason": s.reason, "kind": s.kind, "line": s.line} for s in skipped],
                "contents": {rel: rec.to_dict() for rel, rec in sorted(contents.items())},
            }
            _atomic_write(tmp / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
            os.chmod(tmp / "manifest.json", 0o644)
            _crash_point("manifest-written")
            build_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{tmp.name[-6:]}"
            final = self.builds / build_id
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _crash_point("renamed")
        link_tmp = self.root / f".current-{os.getpid()}"
        if link_tmp.is_symlink():
            link_tmp.unlink()
        os.symlink(Path("builds") / final.name, link_tmp)
        os.replace(link_tmp, self.link)
        _crash_point("swapped")
        self._clean_old(keep={final.name, previous or final.name})
        return final

    def _clean_leftovers(self) -> None:
        # Called under the rebuild lock: no other build is running, so whatever
        # temporary files are here were left by a build that died.
        for d in self.builds.glob(".tmp-*"):
            shutil.rmtree(d, ignore_errors=True)
        for link in self.root.glob(".current-*"):
            if link.is_symlink():
                link.unlink(missing_ok=True)

    def _clean_old(self, keep: set[str]) -> None:
        # Keep the previous build too: a running bot may still be reading it.
        for d in self.builds.iterdir():
            if not d.name.startswith(".") and d.name not in keep:
                shutil.rmtree(d, ignore_errors=True)


def read_chunks(cfg: Config, encoder: PassageEncoder, progress: ProgressFactory = no_progress
                ) -> tuple[list[CorpusFile], list[SkippedFile], list[Article], list[Chunk], list[str], list[str]]:
    """The corpus as chunks, with the text each is embedded from and its
    content hash (what vector reuse is keyed by, in every backend)."""
    files, skipped = read_corpus(cfg.corpus_paths, progress=progress, ocr_threads=cfg.corpus.ocr_threads,
                                 layout=cfg.corpus.layout, workers=cfg.corpus.workers)
    articles = [a for f in files for a in f.articles]
    if not articles:
        where = ", ".join(str(p) for p in cfg.corpus_paths)
        first = next((s for s in skipped if s.kind == "skipped"), None)
        raise CorpusError(f"no articles found in {where}" + (
            f" ({sum(s.kind == 'skipped' for s in skipped)} file(s) skipped, first {first.place}: {first.reason})"
            if first else ""))
    chunks: list[Chunk] = []
    texts: list[str] = []
    by_id = {a.id: a for a in articles}
    for a in articles:
        for c in chunk_article(a, cfg.chunking, first_id=len(chunks)):
            chunks.append(c)
            texts.append(embed_text(by_id[c.article_id], c))
    tag = encoder.model_name + "\x00" + ("" if encoder.precision == "fp32" else encoder.precision + "\x00")
    hashes = [sha1(tag + encoder.passage_prompt + t) for t in texts]
    return files, skipped, articles, chunks, texts, hashes


def reusable_vectors(cfg: Config, encoder: PassageEncoder, wanted: set[str]) -> dict[str, np.ndarray]:
    """Vectors of the embedded index at ``cfg.index_path`` for the content
    hashes in ``wanted``, when that index was built with the same settings;
    another backend's rebuild starts from them instead of embedding again."""
    store = IndexStore(cfg.index_path)
    previous = store._reusable(_config_fingerprint(cfg, encoder.model_name))
    if previous is None:
        return {}
    reuse, _ = _read_reuse(previous[1], previous[0], encoder.dim)
    if reuse is None:
        return {}
    return {h: np.asarray(reuse.vectors[i]) for i, h in enumerate(reuse.hashes) if h in wanted}


def _read_reuse(d: Path, manifest: dict, dim: int) -> tuple[_Reuse | None, str | None]:
    """The previous build's vectors and tokens, or (None, the file that failed)."""
    contents = _records(manifest)
    name = "manifest.json"
    try:
        for name in REUSE_FILES:
            rec = contents.get(name)
            if rec is not None and FileRecord.of(d / name) != rec:
                return None, name
        name = "hashes.json"
        hashes = json.loads((d / name).read_bytes())
        name = "tokens.json"
        tokens = json.loads((d / name).read_bytes())
        name = "vectors.npy"
        vectors = np.load(d / name, mmap_mode="r")
        n = len(hashes) if isinstance(hashes, list) else -1
        if (n < 0 or not isinstance(tokens, list) or len(tokens) != n or vectors.dtype != np.float32
                or vectors.shape != (n, dim)):
            return None, name
    except (OSError, ValueError, EOFError):
        return None, name
    return _Reuse(hashes, vectors, tokens), None


def _publish_tree(root: Path) -> dict[str, FileRecord]:
    """Make a finished build world-readable and record every file in it."""
    os.chmod(root, 0o755)
    out: dict[str, FileRecord] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for dn in dirnames:
            os.chmod(os.path.join(dirpath, dn), 0o755)
        for fn in filenames:
            p = Path(dirpath, fn)
            os.chmod(p, 0o644)
            out[p.relative_to(root).as_posix()] = FileRecord.of(p)
    return out


def _read_articles(d: Path, manifest: dict) -> list[Article]:
    articles = _read_rows(d, "articles.jsonl", Article.from_dict)
    if len(articles) != manifest["counts"]["articles"]:
        raise IndexDamagedError("articles.jsonl")
    return articles


def _read_rows(d: Path, rel: str, make: Callable[[dict], Any]) -> list:
    try:
        with (d / rel).open(encoding="utf-8") as f:
            return [make(json.loads(line)) for line in f if line.strip()]
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError):
        raise IndexDamagedError(rel) from None


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
