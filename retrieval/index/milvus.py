"""The index in a Milvus server: what several bot replicas read at once.

Everything a replica needs lives in the engine:

    <collection>_meta                 key → JSON: "current" (which build answers),
                                      "manifest:<build collection>", "df:<build id>:<n>"
    <collection>__<stamp>             chunks: text, article id, position, the
                                      BM25 text (Milvus' jieba analyzer and BM25
                                      function make the sparse vector), the dense vector
    <collection>__<stamp>_articles    articles as JSON, by id

A full rebuild writes a new build collection and then switches the
``current`` row. (That row, one atomic upsert, plays the part of a collection
alias: milvus-lite, the server the tests and ``newsqa milvus up`` run,
does not implement aliases.) An interrupted rebuild leaves ``current`` on the
old build. An incremental rebuild upserts the new chunks of the current build
and deletes the removed ones in place, then writes the manifest and moves
``current`` to a new build id, which readers follow (hot reload). An update
that dies half-way marks the manifest ``dirty``; the next rebuild writes a
fresh build instead, reusing every vector.

Fusion stays client-side (retrieval.index.search): Milvus returns BM25 and inner
product scores for the candidates, and newsqa's score-aware fusion beats
reciprocal-rank fusion on Chinese QA.

Rebuilds are serialised by the local rebuild lock of ``[index] path``: run
them from one host (the one with the corpus); replicas only read.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import secrets
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar

import numpy as np

from retrieval.config import Config
from retrieval.errors import (IndexDamagedError, IndexMismatchError, IndexMissingError, IndexUnavailableError,
                              IndexWriteError)
from retrieval.ingest.corpus import SkippedFile
from retrieval.index.lexical import STOPWORDS, TOKENIZER_ID, Tokenizer
from retrieval.index.store import (CRASH_ENV, FORMAT_VERSION, WAITING, BuildReport, IndexStore, LexicalScores,
                             PassageEncoder, ProgressFactory, RebuildLock, _config_fingerprint, _file_listing,
                             _silent, no_progress, read_chunks, reusable_vectors)
from retrieval.textnorm import for_search
from retrieval.types import Article, Chunk, sha1

# gRPC's C core prints keepalive chatter ("too_many_pings") to stderr; set before grpc loads.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")
TOKEN_ENV = "MILVUS_TOKEN"
# Milvus' own jieba (search mode) over the same normalised text newsqa's
# tokenizer sees, minus the same stopwords; punctuation dropped.
ANALYZER = {"tokenizer": "jieba", "filter": ["cnalphanumonly", {"type": "stop", "stop_words": sorted(STOPWORDS)}]}
ANALYZER_ID = "milvus-jieba-search+cnalphanumonly+stop-v1"
REBUILD_HINT = "run 'newsqa index rebuild --full'"
TEXT_BYTES = 65535  # Milvus' VARCHAR limit
BATCH = 500
DF_PART = 20000  # tokens per doc_freq row (a JSON field holds a few MB at most)
# Tests kill a rebuild at these points (os._exit) to check that `current` survives.
CRASH_STAGES = ("milvus-inserted", "milvus-manifest", "milvus-upserted", "milvus-swapped")

log = logging.getLogger(__name__)
T = TypeVar("T")


def _crash_point(stage: str) -> None:
    if os.environ.get(CRASH_ENV) == stage:
        os._exit(137)


def safe_uri(uri: str) -> str:
    """The URI without any user:password part, for messages."""
    return re.sub(r"//[^@/]*@", "//", uri)


def chunk_key(chunk: Chunk, content_hash: str) -> int:
    """A chunk's primary key: stable while its article, place and text stay the
    same, so an incremental rebuild touches only what changed."""
    raw = f"{chunk.article_id}\x00{chunk.start}\x00{chunk.end}\x00{chunk.paragraph}\x00{content_hash}"
    return int(sha1(raw)[:15], 16)  # 60 bits: fits INT64, collisions negligible


def article_digest(article: Article) -> str:
    return sha1(json.dumps(article.to_dict(), ensure_ascii=False, sort_keys=True))


def _fingerprint(cfg: Config, model_name: str) -> dict:
    return {**_config_fingerprint(cfg, model_name), "backend": "milvus", "analyzer": ANALYZER_ID}


def _batches(items: list[T], n: int = BATCH) -> Iterator[list[T]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


# ------------------------------------------------------------------ the connection

class Connection:
    """A MilvusClient that turns every failure into IndexUnavailableError (one
    line, no credentials) and reconnects on the next call after one."""

    def __init__(self, cfg: Config) -> None:
        self.uri = cfg.milvus.uri
        self.timeout = cfg.milvus.timeout_seconds
        self._client: Any = None
        self._guard = threading.Lock()

    def where(self) -> str:
        return f"Milvus at {safe_uri(self.uri)}"

    def _get(self) -> Any:
        with self._guard:
            if self._client is None:
                _quiet_pymilvus()
                from pymilvus import MilvusClient

                try:
                    # dedicated: this connection's own gRPC channel, so that dropping it
                    # after a failure really reconnects instead of reusing a shared one.
                    self._client = MilvusClient(uri=self.uri, token=os.environ.get(TOKEN_ENV, ""),
                                                timeout=self.timeout, dedicated=True)
                except Exception as exc:  # pymilvus raises MilvusException or grpc errors
                    raise self._unavailable("connect", exc) from None
            return self._client

    def call(self, what: str, method: str, *args: Any, retry: bool = False, **kwargs: Any) -> Any:
        """``retry``: the call is a read, safe to send again once on a fresh
        client. A gRPC channel the server has dropped (a restart, an idle
        connection cut off with "too many pings") fails its next call even when
        the server is up again; a read should not surface that to the user."""
        kwargs.setdefault("timeout", self.timeout)
        for attempt in (0, 1) if retry else (1,):
            client = self._get()
            try:
                return getattr(client, method)(*args, **kwargs)
            except Exception as exc:
                self._reset(client)
                if attempt:
                    raise self._unavailable(what, exc) from None
        raise AssertionError("unreachable")

    def _reset(self, client: Any) -> None:
        """Drop a client after a failure so the next call connects afresh."""
        with self._guard:
            if self._client is client:
                self._client = None
        try:
            client.close()
        except Exception:  # already broken; closing is best effort
            pass

    def _unavailable(self, what: str, exc: BaseException) -> IndexUnavailableError:
        reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        reason = safe_uri(str(reason).splitlines()[0])[:200]
        return IndexUnavailableError(
            f"{self.where()} failed ({what}: {reason}); is the server running? "
            "('newsqa milvus up' starts a local one; [milvus] uri says where it is)")

    def collections(self) -> list[str]:
        return list(self.call("list collections", "list_collections", retry=True))

    def query(self, what: str, collection: str, **kwargs: Any) -> list[dict]:
        return list(self.call(what, "query", collection, retry=True, **kwargs))

    def search(self, what: str, collection: str, **kwargs: Any) -> list[dict]:
        res = self.call(what, "search", collection, retry=True, **kwargs)
        return list(res[0]) if res else []


def _quiet_pymilvus() -> None:
    # pymilvus logs every failed call with a traceback; the user gets our one line instead.
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)


# ------------------------------------------------------------------ schemas

def _dummy_vector_field(schema: Any) -> None:
    from pymilvus import DataType

    # Every Milvus collection needs a vector field; metadata rows carry a zero one.
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)


def _create_keyed(conn: Connection, name: str, key_type: str) -> None:
    """A key → JSON collection (the meta rows, the articles)."""
    from pymilvus import DataType

    client = conn._get()
    schema = client.create_schema(auto_id=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=1024)
    schema.add_field("value", DataType.JSON)
    if key_type == "articles":
        schema.add_field("digest", DataType.VARCHAR, max_length=64)
    _dummy_vector_field(schema)
    ip = client.prepare_index_params()
    ip.add_index("v", index_type="FLAT", metric_type="L2")
    conn.call(f"create {name}", "create_collection", name, schema=schema, index_params=ip,
              consistency_level="Strong")


def _vector_index(cfg: Config, n: int, kind: str | None = None) -> tuple[str, dict, dict]:
    """Milvus index type, build params and search params for ``[index] kind``."""
    kind = kind or cfg.index.kind
    if kind == "hnsw":
        return "HNSW", {"M": cfg.index.hnsw_m, "efConstruction": 80}, {"ef": 64}
    if kind == "ivf" and n >= 64:
        nlist = cfg.index.ivf_nlist or max(1, min(int(4 * math.sqrt(n)), n // 39))
        return "IVF_FLAT", {"nlist": nlist}, {"nprobe": max(1, nlist // 8)}
    return "FLAT", {}, {}


def _create_chunks(conn: Connection, name: str, dim: int, cfg: Config, n: int) -> dict:
    from pymilvus import DataType, Function, FunctionType

    client = conn._get()
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("hash", DataType.VARCHAR, max_length=64)
    schema.add_field("article_id", DataType.VARCHAR, max_length=1024)
    schema.add_field("text", DataType.VARCHAR, max_length=TEXT_BYTES)
    schema.add_field("paragraph", DataType.INT64)
    schema.add_field("span_start", DataType.INT64)
    schema.add_field("span_end", DataType.INT64)
    schema.add_field("bm25_text", DataType.VARCHAR, max_length=TEXT_BYTES, enable_analyzer=True,
                     analyzer_params=ANALYZER)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["bm25_text"],
                                 output_field_names=["sparse"]))
    index_type, build_params, search_params = _vector_index(cfg, n)
    try:
        _create_with_index(conn, name, schema, index_type, build_params)
    except IndexUnavailableError as exc:
        # The single-process Milvus in milvus-lite builds only FLAT and IVF_FLAT;
        # a cluster builds HNSW. The nearest it has is IVF.
        if index_type != "HNSW" or "invalid index type" not in str(exc):
            raise
        index_type, build_params, search_params = _vector_index(cfg, n, kind="ivf")
        log.warning("this Milvus server cannot build HNSW indexes; using %s for [index] kind = \"hnsw\"",
                     index_type)
        _create_with_index(conn, name, schema, index_type, build_params)
    return {"type": index_type, "build": build_params, "search": search_params}


def _create_with_index(conn: Connection, name: str, schema: Any, index_type: str, build_params: dict) -> None:
    ip = conn._get().prepare_index_params()
    ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                 params={"bm25_k1": 1.2, "bm25_b": 0.75})
    ip.add_index("dense", index_type=index_type, metric_type="IP", params=build_params)
    conn.call(f"create {name}", "create_collection", name, schema=schema, index_params=ip,
              consistency_level="Strong")


# ------------------------------------------------------------------ reading

class MilvusArticles(Mapping[str, Article]):
    """The articles of one build, fetched by id on demand and kept (LRU)."""

    def __init__(self, conn: Connection, collection: str, count: int, keep: int = 4096) -> None:
        self.conn = conn
        self.collection = collection
        self.count = count
        self.keep = keep
        self._cache: OrderedDict[str, Article] = OrderedDict()
        self._guard = threading.Lock()

    def get_many(self, ids: Iterable[str]) -> dict[str, Article]:
        wanted = list(dict.fromkeys(ids))
        out: dict[str, Article] = {}
        with self._guard:
            for i in wanted:
                if i in self._cache:
                    self._cache.move_to_end(i)
                    out[i] = self._cache[i]
        missing = [i for i in wanted if i not in out]
        for part in _batches(missing):
            for row in self.conn.query("read articles", self.collection, ids=part, output_fields=["key", "value"]):
                out[row["key"]] = Article.from_dict(row["value"])
        with self._guard:
            for i in missing:
                if i in out:
                    self._cache[i] = out[i]
            while len(self._cache) > self.keep:
                self._cache.popitem(last=False)
        return out

    def __getitem__(self, key: str) -> Article:
        got = self.get_many([key])
        if key not in got:
            raise KeyError(key)
        return got[key]

    def __iter__(self) -> Iterator[str]:
        for rows in _iterate(self.conn, self.collection, ["key"]):
            for row in rows:
                yield row["key"]

    def __len__(self) -> int:
        return self.count


def _iterate(conn: Connection, collection: str, fields: list[str], batch: int = 2000) -> Iterator[list[dict]]:
    """Every row of ``collection`` (the chosen fields), a batch at a time."""
    client = conn._get()
    try:
        it = client.query_iterator(collection, batch_size=batch, output_fields=fields)
    except Exception as exc:
        raise conn._unavailable(f"read {collection}", exc) from None
    try:
        while True:
            try:
                rows = it.next()
            except Exception as exc:
                raise conn._unavailable(f"read {collection}", exc) from None
            if not rows:
                return
            yield list(rows)
    finally:
        it.close()


CHUNK_FIELDS = ["id", "article_id", "text", "paragraph", "span_start", "span_end"]


def _chunk_of(row: Mapping[str, Any]) -> Chunk:
    return Chunk(int(row["id"]), row["article_id"], row["text"], int(row["paragraph"]), int(row["span_start"]),
                 int(row["span_end"]))


class SeenChunks:
    """The chunks the last searches returned (LRU), for resolve(). Searches
    return their hits' fields at no measurable cost, while a query by primary
    key scans every segment: at 1M chunks 10 ids took 275-350 ms that way, and
    the same fields came with the search in under 1 ms more. An id names one
    text at one place of one article (chunk_key), so a kept chunk never goes
    stale; resolve() drops one whose article has changed since."""

    def __init__(self, keep: int = 4096) -> None:
        self.keep = keep
        self._rows: OrderedDict[int, Chunk] = OrderedDict()
        self._guard = threading.Lock()

    def add(self, hits: Iterable[Mapping[str, Any]]) -> None:
        with self._guard:
            for h in hits:
                entity = h.get("entity") or {}
                if "text" not in entity:
                    continue
                c = _chunk_of({**entity, "id": h["id"]})
                self._rows[c.id] = c
                self._rows.move_to_end(c.id)
            while len(self._rows) > self.keep:
                self._rows.popitem(last=False)

    def get(self, ids: list[int]) -> dict[int, Chunk]:
        with self._guard:
            return {i: self._rows[i] for i in ids if i in self._rows}


@dataclass
class MilvusIndex:
    """One build in Milvus, as a question sees it (retrieval.index.backend.SearchIndex)."""

    build_id: str
    manifest: dict
    doc_freq: dict[str, int]
    articles: MilvusArticles
    conn: Connection
    collection: str
    search_params: dict
    seen: SeenChunks = field(default_factory=SeenChunks)

    @property
    def size(self) -> int:
        return int(self.manifest["counts"]["chunks"])

    def lexical(self, question: str, tokenizer: Tokenizer, k: int, include: Iterable[int] = ()) -> LexicalScores:
        text = for_search(question)
        if not tokenizer.normalized(text):
            return LexicalScores([], {})  # only stopwords: BM25 has nothing to match
        params = {"metric_type": "BM25"}
        rows = self.conn.search("BM25 search", self.collection, data=[text], anns_field="sparse", limit=max(1, k),
                                search_params=params, output_fields=CHUNK_FIELDS)
        self.seen.add(rows)
        top = [(int(r["id"]), float(r["distance"])) for r in rows if r["distance"] > 0]
        scores = dict(top)
        missing = [int(i) for i in include if int(i) not in scores]
        if missing:
            # Fusion needs the BM25 score of every dense candidate, not only of the lexical top k.
            rows = self.conn.search("BM25 search", self.collection, data=[text], anns_field="sparse",
                                    limit=len(missing), search_params=params, output_fields=[],
                                    filter=f"id in {missing}")
            for r in rows:
                scores[int(r["id"])] = float(r["distance"])
            for i in missing:
                scores.setdefault(i, 0.0)
        return LexicalScores(top, scores)

    def dense(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        if k <= 0:
            return []
        rows = self.conn.search("vector search", self.collection, data=[np.asarray(vector, np.float32).ravel().tolist()],
                                anns_field="dense", limit=k, output_fields=CHUNK_FIELDS,
                                search_params={"metric_type": "IP", "params": self.search_params})
        self.seen.add(rows)
        return [(int(r["id"]), float(r["distance"])) for r in rows]

    def resolve(self, ids: Iterable[int]) -> dict[int, tuple[Chunk, Article]]:
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        chunks = self.seen.get(ids)
        missing = [i for i in ids if i not in chunks]
        if missing:
            rows = self.conn.query("read chunks", self.collection, ids=missing, output_fields=CHUNK_FIELDS)
            chunks.update({int(r["id"]): _chunk_of(r) for r in rows})
        arts = self.articles.get_many(c.article_id for c in chunks.values())
        # An update that rewrote the article after the search saw the chunk: the chunk is gone,
        # and quoting it against the new text would not be verbatim.
        return {i: (c, arts[c.article_id]) for i, c in chunks.items()
                if c.article_id in arts and arts[c.article_id].text[c.start:c.end] == c.text}

    def article_of(self, chunk: Chunk) -> Article:
        return self.articles[chunk.article_id]


# ------------------------------------------------------------------ the store

@dataclass(frozen=True)
class Pointer:
    """The ``current`` row: which build answers."""

    collection: str
    build_id: str


class MilvusStore:
    """retrieval.index.backend.IndexBackend over a Milvus server."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.base = cfg.milvus.collection
        self.meta = f"{self.base}_meta"
        self.conn = Connection(cfg)
        # Rebuilds are serialised by the local lock of [index] path (and so are
        # an embedded and a Milvus rebuild of one checkout).
        self.local = IndexStore(cfg.index_path)

    def describe(self) -> str:
        return f"{self.conn.where()}, collection {self.base}"

    # ---------------------------------------------------------------- meta rows
    def _has_meta(self) -> bool:
        return self.meta in self.conn.collections()

    def _get_meta(self, keys: list[str]) -> dict[str, Any]:
        rows = self.conn.query("read the manifest", self.meta, ids=keys, output_fields=["key", "value"])
        return {r["key"]: r["value"] for r in rows}

    def _put_meta(self, rows: dict[str, Any]) -> None:
        data = [{"key": k, "value": v, "v": [0.0, 0.0]} for k, v in rows.items()]
        for part in _batches(data, 50):
            self.conn.call("write the manifest", "upsert", self.meta, part)

    def pointer(self) -> Pointer | None:
        if not self._has_meta():
            return None
        cur = self._get_meta(["current"]).get("current")
        if not isinstance(cur, dict) or not isinstance(cur.get("collection"), str):
            return None
        return Pointer(cur["collection"], str(cur.get("build_id") or cur["collection"]))

    # ---------------------------------------------------------------- reading
    def current_build_id(self) -> str | None:
        p = self.pointer()
        return p.build_id if p else None

    def manifest(self) -> dict | None:
        p = self.pointer()
        if p is None:
            return None
        return self._manifest_of(p)

    def _manifest_of(self, p: Pointer) -> dict:
        m = self._get_meta([f"manifest:{p.collection}"]).get(f"manifest:{p.collection}")
        if not isinstance(m, dict) or not isinstance(m.get("counts"), dict) or "model" not in m:
            raise IndexDamagedError(f"manifest of Milvus collection {p.collection}")
        return m

    def verify(self) -> dict | None:
        """``manifest()`` plus a count of the chunks the build really holds."""
        p = self.pointer()
        if p is None:
            return None
        m = self._manifest_of(p)
        if not m.get("dirty"):
            rows = self.conn.query("count chunks", p.collection, filter="", output_fields=["count(*)"])
            n = int(rows[0]["count(*)"]) if rows else -1
            if n != m["counts"]["chunks"]:
                raise IndexDamagedError(f"Milvus collection {p.collection}: {n} chunks, "
                                        f"the manifest says {m['counts']['chunks']}")
        return m

    def check_compatible(self, manifest: dict, cfg: Config) -> None:
        where = self.describe()
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexMismatchError(f"index in {where} has format {manifest.get('format_version')}, this newsqa "
                                     f"reads {FORMAT_VERSION}; {REBUILD_HINT}")
        if manifest.get("model") != cfg.embedding.model:
            raise IndexMismatchError(f"index in {where} was built with model '{manifest.get('model')}' but the "
                                     f"config uses '{cfg.embedding.model}'; {REBUILD_HINT}")
        if manifest.get("tokenizer") != TOKENIZER_ID or manifest.get("analyzer") != ANALYZER_ID:
            raise IndexMismatchError(f"index in {where} was built with tokenizer '{manifest.get('tokenizer')}' and "
                                     f"analyzer '{manifest.get('analyzer')}'; {REBUILD_HINT}")

    def load(self, cfg: Config, expected_dim: int | None = None) -> MilvusIndex:
        p = self.pointer()
        if p is None:
            raise IndexMissingError(f"no index in {self.describe()}; run 'newsqa index rebuild'")
        m = self._manifest_of(p)
        self.check_compatible(m, cfg)
        if expected_dim is not None and m.get("dim") != expected_dim:
            raise IndexMismatchError(f"index in {self.describe()} has {m.get('dim')}-dimensional vectors, the "
                                     f"model gives {expected_dim}; {REBUILD_HINT}")
        parts = int(m.get("doc_freq_parts", 0))
        keys = [f"df:{p.build_id}:{i}" for i in range(parts)]
        got = self._get_meta(keys) if keys else {}
        doc_freq: dict[str, int] = {}
        for k in keys:
            if k not in got:
                raise IndexDamagedError(f"doc_freq of Milvus build {p.build_id}")
            doc_freq.update(got[k])
        arts = MilvusArticles(self.conn, f"{p.collection}_articles", int(m["counts"]["articles"]))
        return MilvusIndex(p.build_id, m, doc_freq, arts, self.conn, p.collection,
                           dict(m.get("vector_index", {}).get("search", {})))

    def is_stale(self, cfg: Config) -> tuple[bool, str]:
        manifest = self.verify()
        listing, _ = _file_listing(cfg)
        if manifest is None:
            return True, "no index"
        if manifest.get("dirty"):
            return True, "an update was interrupted"
        if manifest.get("fingerprint") != _fingerprint(cfg, cfg.embedding.model):
            return True, "settings changed"
        if listing != manifest.get("files"):
            return True, "corpus files changed"
        return False, "up to date"

    def check_corpus(self, cfg: Config) -> None:
        self.local.check_corpus(cfg)

    # ---------------------------------------------------------------- writing
    def rebuild_lock(self, note: Callable[[str], None] = _silent) -> RebuildLock:
        return self.local.rebuild_lock(note)

    def build(self, cfg: Config, encoder: PassageEncoder, tokenizer: Tokenizer, *, full: bool = False,
              progress: ProgressFactory = no_progress, note: Callable[[str], None] = _silent) -> BuildReport:
        lock = self.rebuild_lock()
        lock.acquire(on_wait=lambda: note(WAITING))
        try:
            return _Build(self, cfg, encoder, tokenizer, progress or no_progress, note).run(full)
        finally:
            lock.release()


class _Build:
    """One rebuild: a fresh build collection, or an in-place update of the current one."""

    def __init__(self, store: MilvusStore, cfg: Config, encoder: PassageEncoder, tokenizer: Tokenizer,
                 progress: ProgressFactory, note: Callable[[str], None]) -> None:
        self.store, self.conn, self.cfg = store, store.conn, cfg
        self.encoder, self.tokenizer, self.progress, self.note = encoder, tokenizer, progress, note
        self.fingerprint = _fingerprint(cfg, encoder.model_name)

    def run(self, full: bool) -> BuildReport:
        started = time.perf_counter()
        if not self.store._has_meta():
            _create_keyed(self.conn, self.store.meta, "meta")
        pointer = self.store.pointer()
        manifest = None
        if pointer is not None:
            try:
                manifest = self.store._manifest_of(pointer)
            except IndexDamagedError:
                manifest = None
        listing, _ = _file_listing(self.cfg)
        same = (manifest is not None and manifest.get("fingerprint") == self.fingerprint
                and manifest.get("dim") == self.encoder.dim)
        if same and not full and not manifest.get("dirty") and manifest.get("files") == listing and listing:
            try:
                healthy = self.store.verify() is not None
            except IndexDamagedError:
                healthy = False
            if healthy:
                c = manifest["counts"]
                return BuildReport(None, c["files"], c["articles"], c["chunks"], 0, c["chunks"],
                                   [SkippedFile(**s) for s in manifest.get("skipped", [])], True,
                                   time.perf_counter() - started)

        files, skipped, articles, chunks, texts, hashes = read_chunks(self.cfg, self.encoder, self.progress)
        keys = [chunk_key(c, h) for c, h in zip(chunks, hashes)]
        by_id = {a.id: a for a in articles}
        for c, t in zip(chunks, texts):
            if max(len(c.text.encode()), len(for_search(t).encode())) > TEXT_BYTES:
                raise IndexWriteError(f"a chunk of {by_id[c.article_id].file} is longer than Milvus stores "
                                      f"({TEXT_BYTES} bytes); lower [chunking] max_chars")
        in_place = same and not full and pointer is not None and manifest is not None and not manifest.get("dirty")
        reuse = not full  # --full re-embeds everything, as the embedded store does
        reuse_from = pointer.collection if same and reuse and pointer is not None else None
        if in_place:
            assert pointer is not None and manifest is not None
            return self._update(pointer, manifest, files, skipped, articles, chunks, texts, hashes, keys, listing,
                                started)
        return self._fresh(pointer, reuse, reuse_from, files, skipped, articles, chunks, texts, hashes, keys, listing,
                           started)

    # ---------------------------------------------------------------- vectors
    def _vectors(self, wanted: list[str], reuse_from: str | None) -> dict[str, np.ndarray]:
        """The vectors already computed for the content hashes in ``wanted``:
        from the current build, else from the embedded index when it has them."""
        need = set(wanted)
        got: dict[str, np.ndarray] = {}
        if reuse_from is not None and need:
            for part in _batches(sorted(need), 200):
                rows = self.conn.query("read vectors", reuse_from, filter=f"hash in {json.dumps(part)}",
                                       output_fields=["hash", "dense"])
                for r in rows:
                    got[r["hash"]] = np.asarray(r["dense"], dtype=np.float32)
        rest = need - set(got)
        if rest:
            got.update(reusable_vectors(self.cfg, self.encoder, rest))
        return got

    def _embed(self, got: dict[str, np.ndarray], hashes: list[str], texts: list[str]) -> None:
        order = list(dict.fromkeys(h for h in hashes if h not in got))
        if not order:
            return
        text_of = {h: t for h, t in zip(hashes, texts)}
        bar = self.progress(len(order), "embedding")
        try:
            vecs = self.encoder.encode_passages([text_of[h] for h in order], progress=bar.update)
        finally:
            bar.close()
        for h, v in zip(order, vecs):
            got[h] = np.asarray(v, dtype=np.float32)

    # ---------------------------------------------------------------- rows
    def _chunk_rows(self, idx: list[int], chunks: list[Chunk], texts: list[str], hashes: list[str],
                    keys: list[int], vectors: dict[str, np.ndarray]) -> list[dict]:
        return [{"id": keys[i], "hash": hashes[i], "article_id": chunks[i].article_id, "text": chunks[i].text,
                 "paragraph": chunks[i].paragraph, "span_start": chunks[i].start, "span_end": chunks[i].end,
                 "bm25_text": for_search(texts[i]), "dense": vectors[hashes[i]].tolist()} for i in idx]

    def _insert_chunks(self, collection: str, idx: list[int], chunks: list[Chunk], texts: list[str],
                       hashes: list[str], keys: list[int], vectors: dict[str, np.ndarray],
                       method: str = "insert") -> None:
        # Rows are made a batch at a time: a million chunks' vectors as Python
        # lists would take over 10 GB at once.
        for part in _batches(idx):
            self.conn.call(f"write {collection}", method, collection,
                           self._chunk_rows(part, chunks, texts, hashes, keys, vectors))

    def _insert(self, collection: str, rows: list[dict], method: str = "insert") -> None:
        for part in _batches(rows):
            self.conn.call(f"write {collection}", method, collection, part)

    def _article_rows(self, articles: Iterable[Article]) -> list[dict]:
        return [{"key": a.id, "value": a.to_dict(), "digest": article_digest(a), "v": [0.0, 0.0]} for a in articles]

    def _doc_freq_rows(self, build_id: str, doc_freq: dict[str, int]) -> dict[str, Any]:
        items = sorted(doc_freq.items())
        return {f"df:{build_id}:{n}": dict(items[i:i + DF_PART]) for n, i in enumerate(range(0, max(len(items), 1),
                                                                                               DF_PART))}

    def _manifest(self, collection: str, build_id: str, revision: int, files: list, skipped: list[SkippedFile],
                  articles: list[Article], n_chunks: int, listing: dict, df_parts: int, vector_index: dict,
                  previous: str | None) -> dict:
        dates = sorted(a.date for a in articles if a.date)
        return {
            **self.fingerprint, "fingerprint": self.fingerprint, "dim": self.encoder.dim,
            "collection": collection, "build_id": build_id, "revision": revision, "dirty": False,
            "previous_collection": previous,
            "corpus_hash": sha1("\n".join(sorted(a.content_hash for a in articles))),
            "corpus_paths": [str(p) for p in self.cfg.corpus_paths],
            "counts": {"files": len(files), "articles": len(articles), "chunks": n_chunks, "vectors": n_chunks},
            "date_range": [dates[0], dates[-1]] if dates else None, "issues": len(set(dates)),
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "files": listing,
            "skipped": [{"path": s.path, "reason": s.reason, "kind": s.kind, "line": s.line} for s in skipped],
            "doc_freq_parts": df_parts, "vector_index": vector_index,
        }

    def _doc_freq(self, texts: Iterable[str]) -> Counter:
        df: Counter = Counter()
        for t in texts:
            df.update(set(self.tokenizer(t)))
        return df

    # ---------------------------------------------------------------- a fresh build
    def _fresh(self, pointer: Pointer | None, reuse: bool, reuse_from: str | None, files: list, skipped: list[SkippedFile],
               articles: list[Article], chunks: list[Chunk], texts: list[str], hashes: list[str], keys: list[int],
               listing: dict, started: float) -> BuildReport:
        vectors = self._vectors(hashes, reuse_from) if reuse else {}
        embedded = len(set(hashes) - set(vectors))
        self._embed(vectors, hashes, texts)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        collection = f"{self.store.base}__{stamp}_{os.getpid()}_{secrets.token_hex(3)}"
        build_id = f"{collection}.1"
        try:
            vector_index = _create_chunks(self.conn, collection, self.encoder.dim, self.cfg, len(chunks))
            _create_keyed(self.conn, f"{collection}_articles", "articles")
            self._insert(f"{collection}_articles", self._article_rows(articles))
            self._insert_chunks(collection, list(range(len(chunks))), chunks, texts, hashes, keys, vectors)
            _crash_point("milvus-inserted")
            df = self._doc_freq(texts)
            df_rows = self._doc_freq_rows(build_id, {"__docs__": len(chunks), **df})
            manifest = self._manifest(collection, build_id, 1, files, skipped, articles, len(chunks), listing,
                                      len(df_rows), vector_index, pointer.collection if pointer else None)
            self.store._put_meta({**df_rows, f"manifest:{collection}": manifest})
            _crash_point("milvus-manifest")
            # The switch: one row, one atomic upsert. Readers follow it on their next reload.
            self.store._put_meta({"current": {"collection": collection, "build_id": build_id}})
        except BaseException:
            self._drop_quietly(collection)
            raise
        _crash_point("milvus-swapped")
        previous = pointer or Pointer(collection, build_id)
        self._clean_old(keep={collection, previous.collection})
        self._clean_meta({collection, previous.collection}, {build_id, previous.build_id})
        return BuildReport(None, len(files), len(articles), len(chunks), embedded, len(chunks) - embedded, skipped,
                           False, time.perf_counter() - started)

    def _drop_quietly(self, collection: str) -> None:
        for name in (collection, f"{collection}_articles"):
            try:
                if name in self.conn.collections():
                    self.conn.call(f"drop {name}", "drop_collection", name)
            except IndexUnavailableError:
                pass  # the next build removes it

    def _clean_old(self, keep: set[str]) -> None:
        # Keep the previous build too: a replica may still be answering from it.
        prefix = f"{self.store.base}__"
        kept = keep | {f"{k}_articles" for k in keep}
        for name in self.conn.collections():
            if name.startswith(prefix) and name not in kept:
                self._after_swap(f"drop old build {name}", lambda n=name: self.conn.call(f"drop {n}", "drop_collection", n))

    def _clean_meta(self, collections: set[str], build_ids: set[str]) -> None:
        """Drop the manifests and frequencies of every build but these."""
        def clean() -> None:
            rows = self.conn.query("read the manifest", self.store.meta, filter='key != "current"',
                                   output_fields=["key"])
            keep = {f"manifest:{c}" for c in collections}
            gone = [r["key"] for r in rows
                    if r["key"] not in keep and not any(r["key"].startswith(f"df:{b}:") for b in build_ids)]
            for part in _batches(gone, 200):
                self.conn.call("clean the manifest", "delete", self.store.meta, ids=part)

        self._after_swap("clean old manifests", clean)

    def _after_swap(self, what: str, step: Callable[[], None]) -> None:
        """Clean-up once the new build is live: a failure here must not report
        the build as failed, and whatever is left the next build removes. A drop
        can meet a read that holds the table ("database table is locked"), which
        passes a moment later, hence the retries."""
        for pause in (0.2, 1.0, None):
            try:
                step()
                return
            except IndexUnavailableError as exc:
                if pause is None:
                    self.note(f"warning: {what} failed ({exc}); the next build retries it")
                    return
                time.sleep(pause)

    # ---------------------------------------------------------------- an update in place
    def _update(self, pointer: Pointer, manifest: dict, files: list, skipped: list[SkippedFile],
                articles: list[Article], chunks: list[Chunk], texts: list[str], hashes: list[str], keys: list[int],
                listing: dict, started: float) -> BuildReport:
        coll = pointer.collection
        existing: set[int] = set()
        for rows in _iterate(self.conn, coll, ["id"]):
            existing.update(int(r["id"]) for r in rows)
        wanted = set(keys)
        add = [i for i, k in enumerate(keys) if k not in existing]
        remove = sorted(existing - wanted)
        # Vectors of moved chunks (same text, new place) come from the build itself.
        vectors = self._vectors([hashes[i] for i in add], coll)
        embedded = len({hashes[i] for i in add} - set(vectors))
        self._embed(vectors, [hashes[i] for i in add], [texts[i] for i in add])

        old_digest: dict[str, str] = {}
        for rows in _iterate(self.conn, f"{coll}_articles", ["key", "digest"]):
            old_digest.update((r["key"], r["digest"]) for r in rows)
        changed = [a for a in articles if old_digest.get(a.id) != article_digest(a)]
        gone_articles = sorted(set(old_digest) - {a.id for a in articles})

        # Texts of the removed chunks, for the document frequencies.
        removed_texts: list[str] = []
        for part in _batches(remove):
            rows = self.conn.query("read chunks", coll, ids=part, output_fields=["bm25_text"])
            removed_texts.extend(r["bm25_text"] for r in rows)

        # From here the build changes under its readers: mark it, so that a
        # rebuild after a crash writes a fresh build instead of trusting it.
        self.store._put_meta({f"manifest:{coll}": {**manifest, "dirty": True}})
        self._insert(f"{coll}_articles", self._article_rows(changed), "upsert")
        self._insert_chunks(coll, add, chunks, texts, hashes, keys, vectors, "upsert")
        _crash_point("milvus-upserted")
        for part in _batches(remove):
            self.conn.call(f"write {coll}", "delete", coll, ids=part)
        for part in _batches(gone_articles):
            self.conn.call(f"write {coll}_articles", "delete", f"{coll}_articles", ids=part)

        old_df = self._read_doc_freq(pointer, manifest)
        df = Counter({k: v for k, v in old_df.items() if k != "__docs__"})
        for t in removed_texts:
            df.subtract(set(self.tokenizer.normalized(t)))
        df.update(self._doc_freq(texts[i] for i in add))
        df = Counter({k: v for k, v in df.items() if v > 0})
        revision = int(manifest.get("revision", 1)) + 1
        build_id = f"{coll}.{revision}"
        df_rows = self._doc_freq_rows(build_id, {"__docs__": len(chunks), **df})
        new_manifest = self._manifest(coll, build_id, revision, files, skipped, articles, len(chunks), listing,
                                      len(df_rows), manifest.get("vector_index", {}),
                                      manifest.get("previous_collection"))
        self.store._put_meta(df_rows)
        self.store._put_meta({f"manifest:{coll}": new_manifest})
        self.store._put_meta({"current": {"collection": coll, "build_id": build_id}})
        # The previous revision's frequencies stay for readers loading right now.
        self._clean_meta({coll, manifest.get("previous_collection") or coll}, {build_id, pointer.build_id})
        return BuildReport(None, len(files), len(articles), len(chunks), embedded, len(chunks) - embedded, skipped,
                           False, time.perf_counter() - started)

    def _read_doc_freq(self, pointer: Pointer, manifest: dict) -> dict[str, int]:
        keys = [f"df:{pointer.build_id}:{i}" for i in range(int(manifest.get("doc_freq_parts", 0)))]
        got = self.store._get_meta(keys) if keys else {}
        out: dict[str, int] = {}
        for k in keys:
            out.update(got.get(k, {}))
        return out
