"""Where the index lives: one small interface, two implementations.

``IndexBackend`` is what the store side needs (build, staleness, the rebuild
lock, loading) and ``SearchIndex`` what a question needs (lexical and dense
candidates with their scores, chunks and articles by id, the manifest). The
searcher, ``QA``, the CLI and the bot use only these; ``open_backend`` is the
one place that knows which implementation runs:

- ``embedded`` (the default): ``retrieval.index.store.IndexStore``, FAISS + BM25
  files in a local directory;
- ``milvus``: ``retrieval.index.milvus.MilvusStore``, a Milvus server
  (several bot replicas can read one collection).

Chunk ids are opaque integers chosen by the backend (positions in the
embedded index, content keys in Milvus); only the index that returned an id
resolves it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Protocol

import numpy as np

from retrieval.config import Config
from retrieval.index.lexical import Tokenizer
from retrieval.types import Article, Chunk

if TYPE_CHECKING:
    from retrieval.index.store import BuildReport, LexicalScores, PassageEncoder, ProgressFactory, RebuildLock

Note = Callable[[str], None]


class SearchIndex(Protocol):
    """One loaded build, as a question sees it."""

    build_id: str
    manifest: dict
    doc_freq: Mapping[str, int]  # token → chunks containing it (jieba tokens; "__docs__": chunk count)
    articles: Mapping[str, Article]

    @property
    def size(self) -> int: ...

    def lexical(self, question: str, tokenizer: Tokenizer, k: int, include: Iterable[int] = ()) -> LexicalScores:
        """The ``k`` best BM25 chunks, plus the scores of the ``include`` ids.
        Backends that analyse text themselves ignore ``tokenizer``."""
        ...

    def dense(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(id, inner product) of the ``k`` nearest chunks, best first."""
        ...

    def resolve(self, ids: Iterable[int]) -> dict[int, tuple[Chunk, Article]]:
        """Chunks and their articles; an id that is gone (deleted by an update
        running now) is left out."""
        ...

    def article_of(self, chunk: Chunk) -> Article: ...


class IndexBackend(Protocol):
    """Builds and the current build, wherever they are kept."""

    def describe(self) -> str:
        """Where the index is, for messages (no credentials)."""
        ...

    def manifest(self) -> dict | None: ...

    def verify(self) -> dict | None: ...

    def check_compatible(self, manifest: dict, cfg: Config) -> None: ...

    def current_build_id(self) -> str | None: ...

    def is_stale(self, cfg: Config) -> tuple[bool, str]: ...

    def check_corpus(self, cfg: Config) -> None: ...

    def rebuild_lock(self, note: Note = ...) -> RebuildLock: ...

    def build(self, cfg: Config, encoder: PassageEncoder, tokenizer: Tokenizer, *, full: bool = False,
              progress: ProgressFactory = ..., note: Note = ...) -> BuildReport: ...

    def load(self, cfg: Config, expected_dim: int | None = None) -> SearchIndex: ...


def open_backend(cfg: Config) -> IndexBackend:
    """The configured index backend (nothing is contacted yet)."""
    if cfg.index.backend == "milvus":
        from retrieval.index.milvus import MilvusStore

        return MilvusStore(cfg)
    from retrieval.index.store import IndexStore

    return IndexStore(cfg.index_path)
