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
from retrieval.days import DayQuery, day_match, mentioned_days
from retrieval.index.backend import SearchIndex
from retrieval.index.lexical import Tokenizer
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
    def __init__(self, index: SearchIndex, encoder: QueryEncoder | None, tokenizer: Tokenizer,
                 cfg: RetrievalConfig) -> None:
        self.index = index
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.cfg = cfg
        self.timings = Timings()
        self._mentions: dict[str, frozenset[str]] = {}  # article id → days its text names (this build)

    def search(self, question: str, k: int | None = None, mode: str | None = None,
               days: DayQuery | None = None) -> list[Hit]:
        """``days``: the days the question names (``retrieval.days.named_days``);
        articles of those days rank higher."""
        k = k or self.cfg.top_k
        mode = mode or self.cfg.mode
        if mode != "bm25" and self.encoder is None:
            mode = "bm25"
        n = self.index.size
        boost = self.cfg.day_boost if days is not None and days.days else 0.0
        # A named day: more candidates, so that day's article is among them to be boosted.
        cand = min(max(self.cfg.candidates * (2 if boost else 1), k), n)
        t = Timings()

        dense_map: dict[int, float] = {}
        if mode in ("dense", "hybrid"):
            assert self.encoder is not None
            t0 = time.perf_counter()
            q = self.encoder.encode_query(question)
            t.encode = (time.perf_counter() - t0) * 1000
            t0 = time.perf_counter()
            dense_map = dict(self.index.dense(q, cand))
            t.dense = (time.perf_counter() - t0) * 1000

        lex: dict[int, float] = {}
        lex_top: list[tuple[int, float]] = []
        if mode in ("bm25", "hybrid"):
            t0 = time.perf_counter()
            # The lexical scores of the dense candidates too: fusion mixes both for every candidate.
            found = self.index.lexical(question, self.tokenizer, k if mode == "bm25" else cand, dense_map)
            lex, lex_top = found.scores, found.top
            t.bm25 = (time.perf_counter() - t0) * 1000

        t0 = time.perf_counter()
        if mode == "bm25":
            fused = dict(lex_top)
        elif mode == "dense":
            fused = dict(dense_map)
        else:
            ids = set(i for i, _ in lex_top) | set(dense_map)
            lex_max = lex_top[0][1] if lex_top else 0.0
            # Dense similarities of e5 sit in a narrow band; scale them between
            # the weakest and strongest candidate so they can move the ranking.
            d_hi = max(dense_map.values(), default=0.0)
            d_lo = min(dense_map.values(), default=0.0)
            d_span = (d_hi - d_lo) or 1.0
            w = self.cfg.lexical_weight
            fused = {}
            for i in ids:
                lex_part = lex.get(i, 0.0) / lex_max if lex_max > 0 else 0.0
                d = dense_map.get(i, d_lo)
                fused[i] = w * lex_part + (1 - w) * (d - d_lo) / d_span
        if boost:
            assert days is not None
            fused = self._boost_days(fused, days, boost)
        ranked = sorted(fused.items(), key=lambda kv: -kv[1])[:k]
        found_chunks = self.index.resolve([i for i, _ in ranked])
        hits = []
        for i, s in ranked:
            if i not in found_chunks:  # removed by an update running right now
                continue
            chunk, article = found_chunks[i]
            hits.append(Hit(chunk, article, s, lex.get(i, 0.0), dense_map.get(i, 0.0)))
        t.fusion = (time.perf_counter() - t0) * 1000
        self.timings = t
        return hits

    def _boost_days(self, fused: dict[int, float], days: DayQuery, boost: float) -> dict[int, float]:
        """Scores × (1 + boost × how well the chunk's article fits the named days)."""
        resolved = self.index.resolve(list(fused))
        out = {}
        for i, s in fused.items():
            if i not in resolved:
                continue
            article = resolved[i][1]
            ms = self._mentions.get(article.id)
            if ms is None:
                ms = self._mentions[article.id] = mentioned_days(article)
            out[i] = s * (1.0 + boost * day_match(article, days, ms))
        return out

