"""Ranked chunks → a short answer, its verbatim supporting sentences, and a confidence.

Model-free: pick the sentences that best cover the question's informative
words, then take the stretch of the best sentence that the question leaves
open — the words next to where the question's own words match, of the kind
the question word asks for (谁 → a person or organisation, 多少/几 → a number
with its unit, 何时 → a time, 哪里 → a place, ...).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from retrieval.chunking import Span, sentence_spans
from retrieval.lexical import STOPWORDS, Tokenizer
from retrieval.textnorm import for_search
from retrieval.types import Answer, Article, Hit, Source

QTYPES: list[tuple[str, re.Pattern[str]]] = [
    ("time", re.compile(r"什么时候|何时|哪一?年|哪一?天|几月|几号|几日|哪个月|什么时间|何年|哪个朝代|什么年代|几点|哪个时期")),
    ("number", re.compile(r"多少|第几|几|多大|多高|多长|多远|多重|多深|多宽|多久")),
    ("person", re.compile(r"谁|哪位|哪个人|什么人|何人|哪些人")),
    ("place", re.compile(r"哪里|哪儿|在哪|何地|何处|什么地方|哪个国家|哪个城市|哪座|哪国|哪个省")),
    ("list", re.compile(r"哪些")),
    ("reason", re.compile(r"为什么|为何|什么原因")),
    ("manner", re.compile(r"如何|怎么|怎样")),
    ("what", re.compile(r"什么|哪个|哪一|哪家|哪种|何")),
]
DETERMINER_WH = re.compile(r"哪个|哪家|哪种|哪一|哪座|哪所|哪|什么|多少|几")
CLAUSE_PUNCT = set("，。；：？！,;:?!")
TRIM = "，。；：、？！,;:?!　 \n"
UNIT_CHARS = set("名个人位家户组条座种项年月日天元万亿千百十岁米公里吨%％倍次届期批所只件辆架艘部本首场")
STOPCHARS = set("的了是在和与及或也都就而被把对于为以之其这那个着过吗呢吧啊有从到向中上下里等该此又还并但谁哪几何么")
TIME_RE = re.compile(r"\d+年|\d+月|\d+日|世纪|年代|[春夏秋冬]季|年间|时期|初|末|上午|下午|凌晨|晚上|[一二三四五六七八九十〇零]+年|今年|去年|明年|昨天|今天|近日")
PLACE_SUFFIX = tuple("省市县区镇乡村国州山河湖海岛港湾街路站")
PERSON_SUFFIX = tuple("人者员长家师手主任书记") + ("单位", "公司", "集团", "组织", "协会", "委员会", "班组")


@dataclass(frozen=True)
class Question:
    text: str
    qtype: str
    wh: tuple[int, int] | None  # span of the question word in the normalised question
    tokens: list[str]
    norm: str


def analyse(question: str, tokenizer: Tokenizer) -> Question:
    norm = for_search(question)
    qtype, wh = "what", None
    for name, pat in QTYPES:
        m = pat.search(norm)
        if m:
            qtype, wh = name, (m.start(), m.end())
            break
    return Question(question, qtype, wh, tokenizer(question), norm)


class Scorer:
    """IDF weights from the index's document frequencies."""

    def __init__(self, doc_freq: dict[str, int]) -> None:
        self.df = doc_freq
        self.n = max(int(doc_freq.get("__docs__", 1)), 1)

    def idf(self, tok: str) -> float:
        df = self.df.get(tok, 0)
        return math.log((self.n - df + 0.5) / (df + 0.5) + 1.0)

    def coverage(self, q_tokens: list[str], text_tokens: set[str]) -> float:
        total = sum(self.idf(t) for t in set(q_tokens))
        if total <= 0:
            return 0.0
        return sum(self.idf(t) for t in set(q_tokens) if t in text_tokens) / total


@dataclass
class _Sentence:
    hit: Hit
    span: Span
    text: str
    coverage: float
    score: float


def _sentences(hits: list[Hit], q: Question, tok: Tokenizer, scorer: Scorer) -> list[_Sentence]:
    out: list[_Sentence] = []
    seen: set[tuple[str, int]] = set()
    top = hits[0].score if hits and hits[0].score > 0 else 1.0
    for rank, hit in enumerate(hits):
        art = hit.article
        title_toks = set(tok(art.title))
        for sp in sentence_spans(art):
            if sp.end <= hit.chunk.start or sp.start >= hit.chunk.end or (art.id, sp.start) in seen:
                continue
            seen.add((art.id, sp.start))
            text = art.text[sp.start : sp.end]
            toks = set(tok(text))
            cov = scorer.coverage(q.tokens, toks)
            cov_title = scorer.coverage(q.tokens, toks | title_toks)
            # Retrieval rank breaks ties between sentences that cover the question equally.
            score = cov + 0.3 * cov_title + 0.15 * (hit.score / top) - 0.02 * rank
            out.append(_Sentence(hit, sp, text, cov, score))
    out.sort(key=lambda s: -s.score)
    return out


def _matched(word: str, q_norm: str, q_tokens: set[str]) -> bool:
    w = for_search(word).strip()
    if not w or all(ch in CLAUSE_PUNCT for ch in w):
        return False
    if w in q_tokens:
        return True
    if len(w) >= 2:
        return w in q_norm
    return w in q_norm and w not in STOPCHARS and not w.isdigit()


def _type_score(qtype: str, words: list[tuple[str, str]], text: str) -> float:
    flags = {f for _, f in words}
    has_num = bool(re.search(r"[0-9０-９]|[一二三四五六七八九十百千万亿两]", text)) or "m" in flags
    if qtype == "number":
        return 2.0 if has_num else -2.0
    if qtype == "time":
        return 2.0 if ("t" in flags or TIME_RE.search(text)) else -1.5
    if qtype == "person":
        good = flags & {"nr", "nrfg", "nrt", "nt"} or text.endswith(PERSON_SUFFIX)
        return 1.5 if good else -0.5
    if qtype == "place":
        return 1.5 if ("ns" in flags or text.endswith(PLACE_SUFFIX)) else -0.5
    return 0.0


# Part-of-speech flags (jieba) of words that cannot start or end an answer:
# particles, conjunctions, prepositions, adverbs, pronouns, modal and copula.
EDGE_FLAGS = ("u", "c", "p", "d", "y", "e", "o", "r", "x", "w")
EDGE_WORDS = {"是", "为", "有", "在", "于", "被", "将", "把", "对", "与", "和", "及", "并", "则", "即", "乃"}
CONTENT_RE = re.compile(r"[\u4e00-\u9fff0-9A-Za-z０-９Ａ-Ｚａ-ｚ]")


def _edge(word: str, flag: str) -> bool:
    return (flag != "eng" and flag.startswith(EDGE_FLAGS)) or word in EDGE_WORDS or not CONTENT_RE.search(word)


def _content_bounds(run: list[tuple[str, str]]) -> tuple[int, int] | None:
    """The run without function words at either end; None if nothing is left."""
    a, b = 0, len(run)
    while a < b and _edge(*run[a]):
        a += 1
    while b > a and _edge(*run[b - 1]):
        b -= 1
    return (a, b) if b > a else None


def extract_span(sentence: str, q: Question, tok: Tokenizer) -> tuple[int, int, float]:
    """(start, end, score) of the answer inside ``sentence``."""
    words = tok.posseg(sentence)
    q_tokens = set(q.tokens)
    spans: list[tuple[int, int]] = []
    pos = 0
    for w, _ in words:
        spans.append((pos, pos + len(w)))
        pos += len(w)
    matched = [_matched(w, q.norm, q_tokens) for w, _ in words]
    punct = [all(ch in CLAUSE_PUNCT for ch in w) for w, _ in words]
    # Question words right before / after the question word: the answer sits next to them.
    left_anchor = right_anchor = ""
    if q.wh:
        before = [t for t in tok.words(q.norm[: q.wh[0]]) if t.strip() and t not in STOPWORDS]
        after = [t for t in tok.words(q.norm[q.wh[1] :]) if t.strip() and t not in STOPWORDS
                 and not all(ch in CLAUSE_PUNCT for ch in t)]
        left_anchor = before[-1] if before else ""
        right_anchor = after[0] if after else ""
    head_noun = ""
    if q.wh and DETERMINER_WH.fullmatch(q.norm[q.wh[0] : q.wh[1]]) and right_anchor and len(right_anchor) <= 2 \
            and q.norm[q.wh[1] :].startswith(right_anchor):
        head_noun = right_anchor
    clause_id, cid = [], 0
    for p in punct:
        clause_id.append(cid)
        if p:
            cid += 1
    clause_hits: dict[int, int] = {}
    for i, m in enumerate(matched):
        if m:
            clause_hits[clause_id[i]] = clause_hits.get(clause_id[i], 0) + 1

    best = (0, 0, -math.inf)
    i = 0
    n = len(words)
    while i < n:
        if matched[i] or punct[i]:
            i += 1
            continue
        j = i
        while j < n and not matched[j] and not punct[j]:
            j += 1
        bounds = _content_bounds(words[i:j])
        if bounds is None:  # only particles, pronouns, brackets: never an answer
            i = j
            continue
        a, b = i + bounds[0], i + bounds[1]
        run = words[a:b]
        text = sentence[spans[a][0] : spans[b - 1][1]]
        score = _type_score(q.qtype, run, text)
        prev_w = for_search(words[i - 1][0]) if i > 0 and matched[i - 1] else ""
        next_w = for_search(words[j][0]) if j < n and matched[j] else ""
        if right_anchor and next_w and (next_w in right_anchor or right_anchor in next_w):
            score += 2.0
        if left_anchor and prev_w and (prev_w in left_anchor or left_anchor in prev_w):
            score += 2.0
        if prev_w or next_w:
            score += 1.0
        score += 0.5 * min(clause_hits.get(clause_id[i], 0), 3)
        length = len(text.strip(TRIM))
        if length > 30:
            score -= 0.05 * (length - 30)
        if length < 2:
            score -= 1.0
        if score > best[2]:
            end_j = b if b < j else j
            # "哪个镇/哪家公司": the noun after a determiner question word names the
            # answer's head, so it belongs to the answer (延寿镇, not 延寿).
            if head_noun and b == j and j < n and matched[j] and for_search(words[j][0]) == head_noun:
                end_j = j + 1
            if q.qtype == "number":
                # keep the measure word that follows a number: 23名, 45人
                while end_j < n and len(words[end_j][0]) == 1 and words[end_j][0] in UNIT_CHARS:
                    end_j += 1
            best = (spans[a][0], spans[end_j - 1][1], score)
        i = j
    return best


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in TRIM:
        start += 1
    while end > start and text[end - 1] in TRIM:
        end -= 1
    seg = text[start:end]
    if seg.startswith("“") and "”" not in seg:
        start += 1
    if seg.endswith("”") and "“" not in seg:
        end -= 1
    return start, end


def answer_question(question: str, hits: list[Hit], tokenizer: Tokenizer, scorer: Scorer,
                    min_confidence: float, max_sources: int) -> Answer:
    q = analyse(question, tokenizer)
    if not hits:
        return Answer(question, "", False, 0.0, (), ())
    sents = _sentences(hits, q, tokenizer, scorer)
    top_chunk = hits[0]
    chunk_tokens = set(tokenizer(top_chunk.article.title + "\n" + top_chunk.chunk.text))
    confidence = max(scorer.coverage(q.tokens, chunk_tokens), sents[0].coverage if sents else 0.0)
    if not sents or confidence < min_confidence:
        return Answer(question, "", False, confidence, (), tuple(hits))

    # Try the best few sentences; the answer span's own score decides among near ties.
    best: tuple[float, _Sentence, int, int] | None = None
    for s in sents[:5]:
        a, b, span_score = extract_span(s.text, q, tokenizer)
        total = s.score * 2 + max(span_score, -2.0) * 0.4
        if best is None or total > best[0]:
            best = (total, s, a, b)
    assert best is not None
    _, chosen, a, b = best
    a, b = _trim(chosen.text, a, b)
    text = chosen.text[a:b] if b > a else chosen.text.strip(TRIM)

    sources = [_source(chosen)]
    used = {chosen.hit.article.id}
    for s in sents[1:]:
        if len(sources) >= max_sources:
            break
        if s.hit.article.id in used or s.coverage < max(min_confidence, 0.75 * chosen.coverage):
            continue
        used.add(s.hit.article.id)
        sources.append(_source(s))
    return Answer(question, text, True, confidence, tuple(sources), tuple(hits))


def _source(s: _Sentence) -> Source:
    art: Article = s.hit.article
    quote = art.text[s.span.start : s.span.end].strip()
    return Source(quote=quote, title=art.title, article_id=art.id, file=art.file,
                  paragraph=s.span.paragraph, score=s.score, author=art.author, date=art.date)
