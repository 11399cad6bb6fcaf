"""The QA core front ends talk to: load once, then ``ask`` many times."""

from __future__ import annotations

import dataclasses
import re
import threading
from typing import TYPE_CHECKING, Callable

from retrieval.answer.rules import Scorer, answer_question
from retrieval.config import Config
from retrieval.days import DayQuery, named_days
from retrieval.errors import QuestionError
from retrieval.index.lexical import Tokenizer
from retrieval.index.search import QueryEncoder, Searcher
from retrieval.index.backend import SearchIndex, open_backend
from retrieval.textnorm import clean_text
from retrieval.types import Answer, Article, Hit

if TYPE_CHECKING:
    from retrieval.reader.model import Reader

MAX_QUESTION_CHARS = 500

# English question words in an otherwise Chinese question ("Who 获得了岗位标兵?")
# say what is asked just as their Chinese equivalents do.
_EN_QUESTION_WORDS = [
    (re.compile(r"\bhow\s+(many|much)\b", re.I), "多少"),
    (re.compile(r"\bwhose\b", re.I), "谁的"),
    (re.compile(r"\bwho(m)?\b", re.I), "谁"),
    (re.compile(r"\bwhen\b", re.I), "什么时候"),
    (re.compile(r"\bwhere\b", re.I), "哪里"),
    (re.compile(r"\bwhy\b", re.I), "为什么"),
    (re.compile(r"\bwhich\b", re.I), "哪个"),
    (re.compile(r"\bwhat\b", re.I), "什么"),
    (re.compile(r"\bhow\b", re.I), "怎样"),
]
_CJK = re.compile(r"[\u4e00-\u9fff]")


def normalize_question(question: str) -> str:
    """Mixed-language questions with their English question words in Chinese;
    all-English questions are left alone."""
    if not _CJK.search(question):
        return question
    for pattern, zh in _EN_QUESTION_WORDS:
        question = pattern.sub(zh, question)
    return re.sub(r"(?<=[\u4e00-\u9fff])\s+|\s+(?=[\u4e00-\u9fff])", "", question)


class QA:
    """Holds the encoder, tokenizer and the current index.

    ``reload_if_changed`` swaps in a newer build atomically: a question already
    running keeps the searcher it started with, so nothing in flight fails.
    """

    def __init__(self, cfg: Config, encoder: QueryEncoder | None, tokenizer: Tokenizer,
                 index: SearchIndex | None = None, reader: Reader | None = None) -> None:
        self.cfg = cfg
        self.reader = reader
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.store = open_backend(cfg)
        dim = getattr(encoder, "dim", None)
        self._lock = threading.Lock()
        self._searcher = self._make_searcher(index or self.store.load(cfg, expected_dim=dim))

    def _make_searcher(self, index: SearchIndex) -> Searcher:
        return Searcher(index, self.encoder, self.tokenizer, self.cfg.retrieval)

    @property
    def index(self) -> SearchIndex:
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

    def ask(self, question: str, mode: str | None = None, retrieve_k: int | None = None, *,
            search: str | None = None, prefer: Article | None = None,
            read_preferred: Callable[[str, list[Hit]], Answer] | None = None) -> Answer:
        """Answer ``question``. ``retrieve_k`` asks for a longer ranked list in
        ``Answer.hits`` (for evaluation); answering always reads the top_k.
        ``search``: the text to retrieve with instead of the question (a
        follow-up expanded with the previous turn's words); ``prefer``: an
        article to answer from first (the previous answer's), whose best
        chunks for ``search`` are read before anything retrieved; when it
        holds no answer, the answer of the search stands. ``read_preferred``
        answers the question from those chunks instead of the reader's usual
        reading (a conversation decides on its own terms there)."""
        question = self._checked(question)
        asked, question = question, normalize_question(question)
        searcher = self._searcher  # one consistent index for the whole question
        query = normalize_question(clean_text(search)) if search else question
        if prefer is not None and self.reader is not None:
            hits = self._article_hits(prefer, query, searcher)
            if read_preferred is not None:
                first = read_preferred(self.days_named(question, searcher.index).search_text, hits)
            else:
                first = self._answer(question, hits, searcher, None)
            if first.found:
                return dataclasses.replace(first, question=asked)
        return dataclasses.replace(self._answer(question, None, searcher, mode, retrieve_k, query), question=asked)

    def _checked(self, question: str) -> str:
        # Invisible and control characters are stripped from articles at
        # ingestion; the question gets the same treatment so both sides match.
        question = clean_text(question).strip()
        if not question:
            raise QuestionError("the question is empty", "empty")
        if not any(ch.isalnum() for ch in question):
            # "？？？" or a lone emoji: nothing to search for, and the reader would
            # still pick some span of whatever ranked first.
            raise QuestionError(f"the question has no words ({question[:20]!r})", "empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise QuestionError(f"the question is too long ({len(question)} characters, at most {MAX_QUESTION_CHARS})",
                                "too_long", MAX_QUESTION_CHARS)
        return question

    def _answer(self, question: str, hits: list[Hit] | None, searcher: Searcher, mode: str | None,
                retrieve_k: int | None = None, query: str | None = None) -> Answer:
        """The answer read from ``hits``, or from what ``query`` retrieves."""
        top_k = self.cfg.retrieval.top_k
        days = self.days_named(query or question, searcher.index)
        # "1月9日的报道中，" names the paper, which the articles never say: searched and read without it.
        if query and query != question:
            question = self.days_named(question, searcher.index).search_text
        else:
            question = days.search_text
        query = days.search_text
        if self.reader is not None:
            from retrieval.reader.answering import ReadingOptions, answer_with_reader

            rc = self.cfg.reader
            if hits is None:
                hits = searcher.search(query, max(top_k, rc.depth, retrieve_k or 0), mode, days)
            # A question naming a day reads every chunk: the day's boost lifts that day's articles on the
            # topic, and a running story (counts reported every day) puts another day's figure first with
            # a confident reading. News dev: 3 more of its 63 right, none lost (docs/reader.md).
            stop_at = 0.0 if days.days else rc.stop_at
            opts = ReadingOptions(rc.depth, rc.rank_weight, rc.no_answer_threshold, self.cfg.answer.max_sources, stop_at)
            return dataclasses.replace(answer_with_reader(question, hits, self.reader, opts), days=days.days)
        if hits is None:
            hits = searcher.search(query, max(top_k, retrieve_k or 0), mode, days)
        ans = answer_question(question, hits[:top_k], self.tokenizer, Scorer(searcher.index.doc_freq),
                              self.cfg.answer.min_confidence, self.cfg.answer.max_sources)
        return dataclasses.replace(ans, hits=tuple(hits), retrieved=tuple(hits), days=days.days)

    def _article_hits(self, article: Article, query: str, searcher: Searcher) -> list[Hit]:
        """The chunks of ``article`` best covering ``query``'s words (IDF-weighted),
        as hits for the reader; the article's own chunks, cut as the index cuts them."""
        from retrieval.ingest.chunking import chunk_article

        scorer = Scorer(searcher.index.doc_freq)
        q_tokens = self.tokenizer(query)
        chunks = chunk_article(article, self.cfg.chunking)
        scored = [(scorer.coverage(q_tokens, set(self.tokenizer(c.text)), c.text), c) for c in chunks]
        scored.sort(key=lambda x: -x[0])
        top = scored[0][0] if scored and scored[0][0] > 0 else 1.0
        depth = self.cfg.reader.depth
        return [Hit(c, article, max(s, 1e-3) / top) for s, c in scored[:depth]]

    def days_named(self, question: str, index: SearchIndex | None = None) -> DayQuery:
        """The days ``question`` names, relative ones counted from the newest
        issue in the index (``retrieval.days``)."""
        if self.cfg.retrieval.day_boost <= 0:
            return DayQuery((), question)
        index = index or self.index
        span = index.manifest.get("date_range") or (None, None)
        return named_days(question, span[1])

    def retrieve(self, question: str, k: int, mode: str | None = None) -> list[Hit]:
        """The ranked chunks alone (no answer), from the current index."""
        days = self.days_named(question)
        return self._searcher.search(days.search_text, k, mode, days)

    def warm_up(self) -> None:
        """Pay for lazy initialisation (jieba's part-of-speech dictionary, the
        encoder's first forward pass) now rather than in the first question."""
        self.tokenizer.posseg("谁在哪里举办了什么活动")
        self.ask("谁在哪里举办了什么活动？")
