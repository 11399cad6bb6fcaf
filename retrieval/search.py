"""Question → ranked chunks: BM25, dense, or a score-aware fusion of both.

Reciprocal-rank fusion throws away how confident each retriever is; on
Chinese QA it is worse than BM25 alone. We instead scale each retriever's
scores into [0, 1] over the candidate set and mix them with a lexical weight
chosen by measurement (bench/tune_fusion.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from retrieval.config import RetrievalConfig
from retrieval.lexical import Tokenizer
from retrieval.store import LoadedIndex
from retrieval.types import Hit


class QueryEncoder(Protocol):
    def encode_query(self, text: str) -> np.ndarray: ...


@dataclass
class Timings:
    """Milliseconds spent per stage of the last search (for benchmarks)."""

    encode: float = 0.0
    dense: float = 0.0
    bm25: float = 0.0
    fusion: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


class Searcher:
    def __init__(self, index: LoadedIndex, encoder: QueryEncoder | None, tokenizer: Tokenizer,
                 cfg: RetrievalConfig) -> None:
        self.index = index
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.cfg = cfg
        self.timings = Timings()

    def search(self, question: str, k: int | None = None, mode: str | None = None) -> list[Hit]:
        k = k or self.cfg.top_k
        mode = mode or self.cfg.mode
        if mode != "bm25" and self.encoder is None:
            mode = "bm25"
        n = len(self.index.chunks)
        cand = min(max(self.cfg.candidates, k), n)
        t = Timings()

        lex = np.zeros(n, dtype=np.float32)
        if mode in ("bm25", "hybrid"):
            t0 = time.perf_counter()
            lex = self.index.bm25.scores(self.tokenizer(question))
            t.bm25 = (time.perf_counter() - t0) * 1000

        dense_ids = np.zeros(0, dtype=np.int64)
        dense_scores = np.zeros(0, dtype=np.float32)
        if mode in ("dense", "hybrid"):
            assert self.encoder is not None
            t0 = time.perf_counter()
            q = self.encoder.encode_query(question)
            t.encode = (time.perf_counter() - t0) * 1000
            t0 = time.perf_counter()
            dense_scores, dense_ids = self.index.vectors.search(q, cand)  # type: ignore[attr-defined]
            t.dense = (time.perf_counter() - t0) * 1000

        t0 = time.perf_counter()
        dense_map = {int(i): float(s) for i, s in zip(dense_ids, dense_scores)}
        if mode == "bm25":
            order = _top(lex, k)
            fused = {int(i): float(lex[i]) for i in order if lex[i] > 0}
        elif mode == "dense":
            fused = dict(dense_map)
        else:
            lex_top = _top(lex, cand)
            ids = set(int(i) for i in lex_top if lex[i] > 0) | set(dense_map)
            lex_max = float(lex.max()) if n else 0.0
            # Dense similarities of e5 sit in a narrow band; scale them between
            # the weakest and strongest candidate so they can move the ranking.
            d_hi = max(dense_map.values(), default=0.0)
            d_lo = min(dense_map.values(), default=0.0)
            d_span = (d_hi - d_lo) or 1.0
            w = self.cfg.lexical_weight
            fused = {}
            for i in ids:
                lex_part = float(lex[i]) / lex_max if lex_max > 0 else 0.0
                d = dense_map.get(i, d_lo)
                fused[i] = w * lex_part + (1 - w) * (d - d_lo) / d_span
        ranked = sorted(fused.items(), key=lambda kv: -kv[1])[:k]
        hits = []
        for i, s in ranked:
            chunk = self.index.chunks[i]
            hits.append(Hit(chunk, self.index.article_of(chunk), s, float(lex[i]), dense_map.get(i, 0.0)))
        t.fusion = (time.perf_counter() - t0) * 1000
        self.timings = t
        return hits


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    if len(scores) <= k:
        return np.argsort(-scores)
    part = np.argpartition(-scores, k)[:k]
    return part[np.argsort(-scores[part])]
