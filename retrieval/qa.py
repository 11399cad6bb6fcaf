"""The QA core front ends talk to: load once, then ``ask`` many times."""

from __future__ import annotations

import dataclasses
import threading

from retrieval.answer import Scorer, answer_question
from retrieval.config import Config
from retrieval.errors import QuestionError
from retrieval.lexical import Tokenizer
from retrieval.search import QueryEncoder, Searcher
from retrieval.store import IndexStore, LoadedIndex
from retrieval.types import Answer

MAX_QUESTION_CHARS = 500


class QA:
    """Holds the encoder, tokenizer and the current index.

    ``reload_if_changed`` swaps in a newer build atomically: a question already
    running keeps the searcher it started with, so nothing in flight fails.
    """

    def __init__(self, cfg: Config, encoder: QueryEncoder | None, tokenizer: Tokenizer,
                 index: LoadedIndex | None = None) -> None:
        self.cfg = cfg
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.store = IndexStore(cfg.index_path)
        dim = getattr(encoder, "dim", None)
        self._lock = threading.Lock()
        self._searcher = self._make_searcher(index or self.store.load(cfg, expected_dim=dim))

    def _make_searcher(self, index: LoadedIndex) -> Searcher:
        return Searcher(index, self.encoder, self.tokenizer, self.cfg.retrieval)

    @property
    def index(self) -> LoadedIndex:
        return self._searcher.index

    def reload_if_changed(self) -> bool:
        current = self.store.current_build_id()
        if current is None or current == self._searcher.index.build_id:
            return False
        with self._lock:
            if current == self._searcher.index.build_id:
                return False
            index = self.store.load(self.cfg, expected_dim=getattr(self.encoder, "dim", None))
            self._searcher = self._make_searcher(index)
        return True

    def ask(self, question: str, mode: str | None = None, retrieve_k: int | None = None) -> Answer:
        """Answer ``question``. ``retrieve_k`` asks for a longer ranked list in
        ``Answer.hits`` (for evaluation); answering always reads the top_k."""
        question = question.strip()
        if not question:
            raise QuestionError("the question is empty", "empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise QuestionError(f"the question is too long ({len(question)} characters, at most {MAX_QUESTION_CHARS})",
                                "too_long", MAX_QUESTION_CHARS)
        searcher = self._searcher  # one consistent index for the whole question
        top_k = self.cfg.retrieval.top_k
        hits = searcher.search(question, max(top_k, retrieve_k or 0), mode)
        ans = answer_question(question, hits[:top_k], self.tokenizer, Scorer(searcher.index.doc_freq),
                              self.cfg.answer.min_confidence, self.cfg.answer.max_sources)
        return dataclasses.replace(ans, hits=tuple(hits))

    def warm_up(self) -> None:
        """Pay for lazy initialisation (jieba's part-of-speech dictionary, the
        encoder's first forward pass) now rather than in the first question."""
        self.tokenizer.posseg("谁在哪里举办了什么活动")
        self.ask("谁在哪里举办了什么活动？")
