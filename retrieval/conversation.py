"""Conversations: follow-up questions that lean on the previous turn.

A ``Conversation`` keeps the last few turns of one chat (in memory only: the
text of a conversation is never written to disk) and ``Chat`` answers a
question within one:

- ``leans_on_context`` decides whether the question leans on the previous
  turn ("他担任什么职务？", "还有呢？", "为什么？", a question with no name of its
  own, words the previous article prints). It is a logistic model over a
  handful of features whose weights were fitted on the even half of the
  follow-up dev set and checked on the odd half (``bench/followups.py --fit``
  prints them; docs/conversation.md has the figures);
- a leaning question is searched with the previous turn's key terms added and
  answered against the previous answer's article first (``read_in_article``:
  there the not-found verifier alone decides); when that article does not
  answer it, the best answer of the expanded search stands. An elliptic one
  ("自动速报呢？") is read in the previous question's frame
  (``frame_question``);
- a question the model doubts (``MAYBE_THRESHOLD`` ≤ P < ``THRESHOLD``) is
  read in the previous answer's article first as a question alone would be,
  and searched as asked;
- a question that stands on its own is answered exactly as ``QA.ask`` answers
  it alone.

``ConversationStore`` keeps conversations by key (a terminal session, a
Telegram chat or reply thread) and forgets them after ``expire_minutes`` of
silence.
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
import time
import unicodedata
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Hashable, Mapping

from retrieval.config import ConversationConfig
from retrieval.textnorm import CJK_RE
from retrieval.types import Answer, Article, Hit

if TYPE_CHECKING:
    from retrieval.answer.qa import QA
    from retrieval.config import LLMConfig
    from retrieval.index.lexical import Tokenizer
    from retrieval.llm.client import LLMClient
    from retrieval.llm.grounded import GroundedAnswer
    from retrieval.reader.model import Reader

# Words that point back at something said before. 这/那 alone also start
# "这次"/"那天"; they point back as well.
PRONOUNS = ("他们", "她们", "它们", "他", "她", "它", "该", "此", "这", "那", "其", "对方", "双方", "本次", "当时")
_ELLIPSIS = re.compile(r"(还有|另外|此外|其余|其他|其中|其它)|呢[？?！!。]?$")
# "为什么" anywhere: "两国为什么每年都要交换？" leans as much as "为什么要换搭档？".
_WHY = re.compile(r"为什么|为何|原因是什么|什么原因|怎么会|何以")
# jieba part-of-speech tags of a question's own subject: names of people,
# places, organisations and other proper nouns, English words, numbers and times.
_ENTITY_TAGS = ("nr", "ns", "nt", "nz", "eng")
# Numbers and times are the question's own only when they say something: "2019年",
# "十三年", not the question words "多少"/"几" nor "两国"/"一方", which jieba also
# tags as numerals (counting those made almost every "how many" question have an
# entity of its own).
_NUMBER_TAGS = ("m", "t")
_NUMBER = re.compile(r"[0-9０-９]|[〇零一二三四五六七八九十百千万亿]{2,}")

# Features, in order: bias, a pronoun, an ellipsis, "why", no entity of its
# own, few content words (≤ 3), the question's rarest word (its IDF over the
# index, divided by the largest possible IDF), and how much of it the previous
# turn's article says (the IDF-weighted share of its words found there: a
# follow-up asks about what that article covers, "有多少人应邀出席？"; a new
# question mostly does not).
FEATURES = ("bias", "pronoun", "ellipsis", "why", "no_entity", "few_words", "rarest", "in_previous")
# Fitted by `bench/followups.py --fit` on the even half of the follow-up set
# (leaning follow-ups against standalone follow-ups, first turns and the
# single-question dev set's even half, each after the article of the question
# before it; classes weighted equally). See docs/conversation.md for how it
# does on the odd half.
WEIGHTS = (-2.55, 0.98, 0.12, 0.40, 2.72, 1.17, -0.72, 2.26)
THRESHOLD = 0.5
# Below THRESHOLD but at least this likely to lean, a question is read in the previous answer's
# article first as a question alone would be read there (the reader's own bar, then the verifier's)
# and searched as asked: a follow-up the model doubts ("有多少人应邀出席？", 0.29: jieba tags
# 应邀出席 a name) is answered where it was asked, and a question that stands on its own is answered
# as alone unless that article plainly answers it. Chosen on the even half (docs/conversation.md):
# 0.15 and 0.25 caught the same follow-up and changed no single question's answer.
MAYBE_THRESHOLD = 0.25
_WORD = re.compile(r"\w")


@dataclass(frozen=True)
class Turn:
    """One question and answer of a conversation, as later turns need it."""

    question: str  # as asked
    search: str  # as searched
    terms: tuple[str, ...]  # its key words, rarest first: what a follow-up is expanded with
    answer: str  # "" when not found
    article: Article | None  # the answer's article; None when not found
    read: str = ""  # as the reader read it, when not as asked (an elliptic follow-up in its frame)


@dataclass(frozen=True)
class ChatAnswer:
    """An answer within a conversation: the answer, the question as it was
    searched, and whether it leaned on the previous turn."""

    answer: Answer
    search_question: str
    follow_up: bool
    grounded: GroundedAnswer | None = None  # the language model's checked answer, when [llm] is on
    read_question: str = ""  # the question as the reader read it, when not as asked

    def to_dict(self) -> dict[str, Any]:
        d = {**self.answer.to_dict(), "search_question": self.search_question, "follow_up": self.follow_up}
        if self.read_question:
            d["read_question"] = self.read_question
        if self.grounded is not None:
            d["llm"] = self.grounded.to_dict()
        return d


@dataclass
class Conversation:
    """The last turns of one chat. Only in memory."""

    max_turns: int = 3
    turns: deque[Turn] = field(default_factory=deque)
    last_active: float = 0.0

    @property
    def previous(self) -> Turn | None:
        return self.turns[-1] if self.turns else None

    def add(self, turn: Turn, now: float) -> None:
        self.turns.append(turn)
        while len(self.turns) > self.max_turns:
            self.turns.popleft()
        self.last_active = now

    def reset(self) -> None:
        self.turns.clear()


class ConversationStore:
    """Conversations by key, forgotten after ``expire_minutes`` without a
    question (and the oldest first beyond ``max_conversations``)."""

    def __init__(self, cfg: ConversationConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.clock = clock
        self._items: OrderedDict[Hashable, Conversation] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Conversation:
        now = self.clock()
        ttl = self.cfg.expire_minutes * 60.0
        with self._lock:
            conv = self._items.get(key)
            if conv is not None and conv.turns and now - conv.last_active > ttl:
                conv.reset()
            if conv is None:
                conv = Conversation(self.cfg.max_turns, last_active=now)
                self._items[key] = conv
            self._items.move_to_end(key)
            # Forget the silent ones now and then, not only when asked again.
            while self._items and (len(self._items) > self.cfg.max_conversations
                                   or now - next(iter(self._items.values())).last_active > ttl):
                oldest = next(iter(self._items))
                if oldest == key:
                    break
                self._items.popitem(last=False)
            return conv

    def reset(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)


def question_features(question: str, tokenizer: Tokenizer, doc_freq: Mapping[str, int] | None = None,
                      context: str = "") -> list[float]:
    """The features ``leans_on_context`` weighs (see ``FEATURES``); ``context``:
    the previous turn's article (its text), "" when there is none."""
    from retrieval.textnorm import for_search

    norm = for_search(question)
    pairs = tokenizer.posseg(norm)
    pronoun = any(p in norm for p in PRONOUNS)
    ellipsis = bool(_ELLIPSIS.search(norm))
    why = bool(_WHY.search(norm))
    words = [(w, flag) for w, flag in pairs if w.strip() and _WORD.search(w)]
    entity = any((flag.startswith(_ENTITY_TAGS) or (flag.startswith(_NUMBER_TAGS) and _NUMBER.search(w)))
                 and not any(w.startswith(p) for p in PRONOUNS) for w, flag in words)
    content = tokenizer.normalized(norm)
    rarest = 0.0
    n = max(int((doc_freq or {}).get("__docs__", 1)), 1)

    def idf(t: str) -> float:
        df = (doc_freq or {}).get(t, 0)
        return math.log((n - df + 0.5) / (df + 0.5) + 1.0)

    if doc_freq is not None and content:
        rarest = max(idf(t) for t in content) / math.log(n + 1.5)
    in_previous = 0.0
    said = {t for t in content if len(t) >= 2 or t.isdigit()}
    if context and said:
        # Not for_search over the whole article (its conversion to simplified characters costs ~1 ms
        # per 500 characters): the question's few words are looked for in traditional form too.
        context = unicodedata.normalize("NFKC", context).lower()
        total = sum(idf(t) for t in said)
        in_previous = sum(idf(t) for t in said if _said_in(t, context)) / total if total > 0 else 0.0
    return [1.0, float(pronoun), float(ellipsis), float(why), float(not entity), float(len(content) <= 3), rarest,
            in_previous]


def _said_in(word: str, text: str) -> bool:
    if word in text:
        return True
    if not CJK_RE.search(word):
        return False
    import zhconv

    return zhconv.convert(word, "zh-hant") in text


def lean_probability(features: list[float], weights: tuple[float, ...] = WEIGHTS) -> float:
    z = sum(w * x for w, x in zip(weights, features))
    return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))


def leans_on_context(question: str, tokenizer: Tokenizer, doc_freq: Mapping[str, int] | None = None,
                     context: str = "") -> bool:
    return lean_probability(question_features(question, tokenizer, doc_freq, context)) >= THRESHOLD


def previous_context(turn: Turn) -> str:
    """What a follow-up's words are looked for in: the previous turn's article,
    or its question when it had none."""
    return turn.article.text if turn.article is not None else turn.question


def key_terms(text: str, tokenizer: Tokenizer, doc_freq: Mapping[str, int], limit: int) -> tuple[str, ...]:
    """The ``limit`` rarest words of ``text`` (by IDF over the index), rarest
    first. Whole words (jieba's plain cut), not the sub-words search mode adds:
    "地下水" rather than "地下" and "下水"."""
    from retrieval.index.lexical import STOPWORDS
    from retrieval.textnorm import for_search

    n = max(int(doc_freq.get("__docs__", 1)), 1)
    seen: dict[str, float] = {}
    for t in tokenizer.words(for_search(text)):
        t = t.strip()
        if (len(t) < 2 and not t.isdigit()) or t in STOPWORDS or not _WORD.search(t):
            continue
        if any(t.startswith(p) for p in PRONOUNS):
            continue  # "他们" is what a follow-up replaces, not what it searches for
        df = doc_freq.get(t, 0)
        seen[t] = math.log((n - df + 0.5) / (df + 0.5) + 1.0)
    return tuple(sorted(seen, key=lambda t: -seen[t])[:limit])


# "自动速报呢？", "那美国呢？", "2018年呢？": a question that is only a new subject,
# asking the previous question again about it.
_ELLIPTIC = re.compile(r"^(?:那么|那|而|还有)?(?P<x>.{1,16}?)(?:的)?呢[？?！!。]?$")
# A subject sharing no characters with the previous question replaces a word of the same kind.
_FRAME_TAGS = ("nr", "ns", "nt", "nz", "m", "t", "eng")
# A new subject asks nothing itself: "比赛在哪里举行呢？" is a question of its own, not a subject.
_ASKS = re.compile(r"谁|什么|哪|多少|几|怎|如何|为何|吗|是否")


def _common_subsequence(a: str, b: str) -> int:
    """How many characters ``a`` and ``b`` share in order (their longest common subsequence)."""
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0]
        for j, cb in enumerate(b):
            cur.append(prev[j] + 1 if ca == cb else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


# Words a replaced span may consist of: nouns (names, places… too), adjectives and distinguishing
# words, numbers, measure words, times, places and directions, idioms, abbreviations, verbal nouns
# and English: the parts of a noun phrase ("男子精英组冠军", "2019年", "正式速报"), not its verbs,
# particles ("的"), prepositions or pronouns.
_SPAN_TAGS = ("n", "a", "b", "m", "q", "t", "s", "f", "l", "i", "j", "vn", "zg", "eng")
_SPAN_WORDS = 6


def _aligned_span(x: str, words: list[tuple[str, str]], bounds: list[tuple[int, int, str]]) -> tuple[int, int] | None:
    """The run of the previous question's words that ``x`` stands in for, by the characters they share
    ("女子冠军" → "男子个人冠军", not the 冠军 of "冠军赛"; "女子精英组的冠军" → "男子精英组冠军"):
    the phrase-like run of words (``_SPAN_TAGS``) sharing the most characters with ``x`` in order,
    then the one nearest ``x`` in length, then the shortest, then the first. One shared character
    is enough for a subject of at most two characters ("北京" → "北方") or when it is the last
    character of both, the head of the compound ("死亡人数" → "起数"). (start, end) offsets, or None."""
    ok = [flag.startswith(_SPAN_TAGS) and bool(_WORD.search(w)) for w, flag in words]
    best: tuple[tuple[int, int, int, int], tuple[int, int]] | None = None
    for i in range(len(words)):
        for j in range(i, min(i + _SPAN_WORDS, len(words))):
            if not ok[j]:
                break
            start, end = bounds[i][0], bounds[j][1]
            span = "".join(w for w, _ in words[i:j + 1])
            m = _common_subsequence(x, span)
            if m == 0 or (m == 1 and len(x) > 2 and x[-1] != span[-1]):
                continue
            key = (-m, abs(len(span) - len(x)), len(span), start)
            if best is None or key < best[0]:
                best = (key, (start, end))
    return best[1] if best is not None else None


def frame_question(question: str, previous: str, tokenizer: Tokenizer) -> str | None:
    """An elliptic follow-up ("自动速报呢？") put in the previous question's frame:
    the previous question with the words it replaces swapped for the new
    subject ("…2019年国内地震自动速报平均用时多少？" after "…2019年国内地震正式速报
    平均用时多少？"); None when the question is not elliptic or no words of the
    previous question match its subject.

    The words replaced are those most like the subject in their characters
    (``_aligned_span``: "那女子冠军呢？" after "…冠军赛的男子个人冠军是谁？" replaces
    "男子个人冠军"); without shared characters, the first word of the previous
    question tagged as the same kind (a name, a place, an organisation, a
    number or time)."""
    from retrieval.textnorm import for_search

    m = _ELLIPTIC.match(question.strip())
    if m is None or not previous:
        return None
    # Both normalised as search normalises them (NFKC, simplified characters), so offsets agree.
    x, previous = for_search(m.group("x")).strip(), for_search(previous)
    if not x or not _WORD.search(x) or _ASKS.search(x) or any(x.startswith(p) for p in PRONOUNS):
        return None
    words = tokenizer.posseg(previous)
    bounds = []  # (start, end, flag) of each word of the previous question
    at = 0
    for w, flag in words:
        bounds.append((at, at + len(w), flag))
        at += len(w)
    aligned = _aligned_span(x, words, bounds)
    if aligned is not None:
        start, end = aligned
    else:
        x_flags = [f for w, f in tokenizer.posseg(x) if _WORD.search(w)]
        kind = next((t for t in _FRAME_TAGS if x_flags and x_flags[-1].startswith(t)), None)
        if kind is None:
            return None
        run = [i for i, (_, _, f) in enumerate(bounds) if f.startswith(kind) and _WORD.search(words[i][0])]
        if not run:
            return None
        first = last = run[0]
        while last + 1 < len(bounds) and bounds[last + 1][2].startswith(kind):
            last += 1
        start, end = bounds[first][0], bounds[last][1]
    framed = previous[:start] + x + previous[end:]
    return framed if framed != previous else None


# How much the chunks' coverage of the expanded search counts when the reader
# ranks the previous article's chunks (the index's rank_weight is 15): the
# search carries the previous turn's words, so the chunk the previous answer
# came from covers it best, while the follow-up's answer is often elsewhere in
# the article. Any weight from 0.5 to 8 gave the same answers on the even half
# of the follow-up set (15 lost "为了安全作业" to the previous answer's chunk).
PINNED_RANK_WEIGHT = 4.0


def read_in_article(reader: Reader, question: str, hits: list[Hit], depth: int, max_sources: int,
                    no_answer_threshold: float = 0.0, stop_at: float = 0.0) -> Answer:
    """A follow-up read in the previous answer's article (``hits``: its chunks).

    Whether it is answered there is the not-found verifier's call alone (its
    calibrated threshold), without the reader's own lower bar that answering a
    question alone keeps first: a follow-up is short and names little of its
    article ("是几车道的？"), which keeps the reader's own score low where the
    span is right ("双向四车道"). Measured on the even half (docs/conversation.md)."""
    from retrieval.reader.answering import ReadingOptions, answer_with_reader

    opts = ReadingOptions(depth, PINNED_RANK_WEIGHT, no_answer_threshold, max_sources, stop_at, reader_bar=False)
    return answer_with_reader(question, hits, reader, opts)


class Chat:
    """Answers questions within conversations, over one ``QA``."""

    def __init__(self, qa: QA, cfg: ConversationConfig, llm: LLMClient | None = None,
                 llm_cfg: LLMConfig | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.qa = qa
        self.cfg = cfg
        self.llm = llm if llm_cfg is not None else None
        self.llm_cfg = llm_cfg
        self.clock = clock

    def lean(self, conv: Conversation, question: str) -> float:
        """P(``question`` leans on the previous turn); 0.0 without one (or with the memory off)."""
        prev = conv.previous
        if prev is None or not self.cfg.enabled:
            return 0.0
        return lean_probability(question_features(question, self.qa.tokenizer, self.qa.index.doc_freq,
                                                  previous_context(prev)))

    def rewrite(self, conv: Conversation, question: str, probability: float | None = None) -> tuple[str, bool]:
        """The question as it is searched, and whether it leans on the previous turn
        (``probability``: ``lean``'s, when already known)."""
        prev = conv.previous
        if probability is None:
            probability = self.lean(conv, question)
        if prev is None or probability < THRESHOLD:
            return question, False
        if self.llm is not None and self.llm_cfg is not None and self.llm_cfg.rewrite_follow_ups:
            from retrieval.llm.grounded import rewrite_follow_up

            rewritten = rewrite_follow_up(self.llm, self.llm_cfg, question, self.history(conv))
            if rewritten:
                return rewritten, True
        own = set(self.qa.tokenizer(question))
        extra = [t for t in prev.terms if t not in own and t not in question]
        if prev.answer and prev.answer not in question and len(prev.answer) <= 20:
            extra.insert(0, prev.answer)
        return " ".join(extra + [question]), True

    def _read_preferred(self, question: str, hits: list[Hit]) -> Answer:
        assert self.qa.reader is not None  # QA.ask reads the preferred article only with a reader
        rc = self.qa.cfg.reader
        return read_in_article(self.qa.reader, question, hits, rc.depth, self.qa.cfg.answer.max_sources,
                               rc.no_answer_threshold, rc.stop_at)

    @staticmethod
    def history(conv: Conversation) -> list[tuple[str, str]]:
        return [(t.question, t.answer) for t in conv.turns]

    def ask(self, conv: Conversation, question: str, mode: str | None = None,
            on_text: Callable[[str], None] | None = None) -> ChatAnswer:
        """Answer ``question`` in ``conv`` and remember the turn. With a
        language model configured, ``on_text`` gets its answer as it arrives."""
        p = self.lean(conv, question)
        search, leaning = self.rewrite(conv, question, p)
        prev = conv.previous
        read = ""
        if leaning and prev is not None:
            # "自动速报呢？" is read as the previous question about 自动速报; searched as expanded.
            read = frame_question(question, prev.read or prev.question, self.qa.tokenizer) or ""
            ans = self.qa.ask(read or question, mode, search=search, prefer=prev.article,
                              read_preferred=self._read_preferred)
            if read:
                ans = dataclasses.replace(ans, question=question)
        elif prev is not None and prev.article is not None and p >= MAYBE_THRESHOLD:
            # Perhaps a follow-up: the previous article first, on a question alone's terms.
            ans = self.qa.ask(question, mode, prefer=prev.article)
            leaning = ans.found and bool(ans.sources) and ans.sources[0].article_id == prev.article.id
        else:
            ans = self.qa.ask(question, mode)
        grounded = None
        if self.llm is not None and self.llm_cfg is not None and ans.found:
            from retrieval.llm.grounded import grounded_answer

            grounded = grounded_answer(self.llm, self.llm_cfg, question, self.history(conv), ans,
                                       self.qa.tokenizer, on_text)
        self.remember(conv, question, search, ans, prev if leaning else None, read)
        return ChatAnswer(ans, search, leaning, grounded, read)

    def remember(self, conv: Conversation, question: str, search: str, ans: Answer, prev: Turn | None,
                 read: str = "") -> None:
        doc_freq = self.qa.index.doc_freq
        terms = key_terms(question, self.qa.tokenizer, doc_freq, self.cfg.key_terms)
        if prev is not None:  # a follow-up keeps what it leaned on: "他" still means the same person
            terms = tuple(dict.fromkeys(terms + prev.terms))[: self.cfg.key_terms]
        article = None
        if ans.found and ans.sources:
            aid = ans.sources[0].article_id
            article = next((h.article for h in ans.hits if h.article.id == aid), None)
        elif prev is not None:
            article = prev.article  # "not found" in the article talked about: keep talking about it
        elif ans.hits:
            # Not found, but the question was about something: the article it retrieved first is
            # the likeliest subject of "他" in the next question (read there first, searched too).
            article = ans.hits[0].article
        conv.add(Turn(question, search, terms, ans.text if ans.found else "", article, read), self.clock())
