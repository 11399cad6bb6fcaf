"""BM25 over jieba tokens, persisted with bm25s."""

from __future__ import annotations

import logging
import re
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

from retrieval.textnorm import for_search

TOKENIZER_ID = "jieba-search+nfkc+zhconv+stop-v1"

# Question words and function words: they say what is asked, not what to find.
STOPWORDS = frozenset("""
的 了 是 在 和 与 及 或 也 都 就 而 被 把 对 于 为 以 之 其 这 那 个 着 过 吗 呢 吧 啊 呀 么
谁 哪 哪里 哪儿 哪些 哪个 哪位 哪年 哪天 什么 怎么 怎样 如何 为什么 为何 多少 几 几个 几年
是否 有没有 是不是 请问 请 一个 一种 有 有着 由 从 到 向 中 上 下 里 等 该 此 又 还 并 但
""".split())
_KEEP = re.compile(r"[\w]", re.UNICODE)


class Tokenizer:
    """jieba in search mode (long words also yield their sub-words) on the
    search-normalised text, minus stopwords and punctuation."""

    def __init__(self) -> None:
        import jieba

        logging.getLogger("jieba").setLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()

    def __call__(self, text: str) -> list[str]:
        return self.normalized(for_search(text))

    def normalized(self, norm: str) -> list[str]:
        """Tokens of text already passed through ``for_search``."""
        out = []
        for tok in self._jieba.cut_for_search(norm):
            tok = tok.strip()
            if tok and tok not in STOPWORDS and _KEEP.search(tok):
                out.append(tok)
        return out

    def words(self, text: str) -> list[str]:
        """Plain (non-search-mode) segmentation of already normalised text."""
        return list(self._jieba.cut(text))

    def posseg(self, text: str) -> list[tuple[str, str]]:
        return [(p.word, p.flag) for p in self._posseg.cut(text)]

    @cached_property
    def _posseg(self):  # type: ignore[no-untyped-def]
        import jieba.posseg

        return jieba.posseg.POSTokenizer(self._jieba)


def _bm25s():  # type: ignore[no-untyped-def]
    import bm25s

    # bm25s sets its own logger to DEBUG when imported.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


class BM25Index:
    def __init__(self, retriever) -> None:  # type: ignore[no-untyped-def]
        self._r = retriever
        self._vocab: dict[str, int] = retriever.vocab_dict

    @classmethod
    def build(cls, corpus_tokens: Sequence[list[str]]) -> BM25Index:
        bm25s = _bm25s()
        retriever = bm25s.BM25(k1=1.2, b=0.75)
        # An empty document would break bm25s; a placeholder token keeps ids aligned.
        docs = [toks if toks else ["\x00"] for toks in corpus_tokens]
        retriever.index(docs, show_progress=False)
        return cls(retriever)

    def save(self, path: Path) -> None:
        self._r.save(str(path), show_progress=False)

    @classmethod
    def load(cls, path: Path) -> BM25Index:
        bm25s = _bm25s()
        return cls(bm25s.BM25.load(str(path), show_progress=False, verbosity=0))

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every document (zeros when no query token is known)."""
        ids = [self._vocab[t] for t in query_tokens if t in self._vocab]
        n = int(self._r.scores["num_docs"])
        if not ids:
            return np.zeros(n, dtype=np.float32)
        return np.asarray(self._r.get_scores(ids), dtype=np.float32)
