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
from functools import lru_cache

from retrieval.ingest.chunking import Span, sentence_spans
from retrieval.index.lexical import STOPWORDS, Tokenizer
from retrieval.textnorm import for_search
from retrieval.types import Answer, Article, Hit, Source

QTYPES: list[tuple[str, re.Pattern[str]]] = [
    ("time", re.compile(r"什么时候|何时|哪一?年|哪一?天|几月|几号|几日|哪个月|什么时间|何年|哪个朝代|什么年代|几点|哪个时期")),
    ("list", re.compile(r"哪几")),
    ("number", re.compile(r"多少|第几|几|多大|多高|多长|多远|多重|多深|多宽|多久")),
    ("person", re.compile(r"谁|哪位|哪个人|什么人|何人|哪些人")),
    ("place", re.compile(r"哪里|哪儿|在哪|何地|何处|什么地方|哪个国家|哪个城市|哪座|哪国|哪个省")),
    ("list", re.compile(r"哪些")),
    # 称为什么 / 改名为什么 ask for a name, not a reason.
    ("reason", re.compile(r"(?<![称名成作视列类误译分改定选升])为什么|为何|什么原因")),
    ("manner", re.compile(r"如何|怎么|怎样")),
    ("what", re.compile(r"什么|哪个|哪一|哪家|哪种|何")),
]
# Question words and polite fillers say what is asked; a passage never contains
# them, so they must not count against how well it covers the question.
WH_PHRASE = re.compile(r"哪[一几]?[个位家种所座支条部本首次届年月日天里儿些国省市队]?|什么(?:时候|样|地方|人)?|多少[个位名家种条次届项件座所只张部本首场]?"
                       r"|几(?![乎何])[个年月日天次届位名种]?|谁|怎么样?|怎样|如何|为什么|为何|何时|何地|何处|是否")
FILLER = re.compile(r"(?:能|可以|请)?(?:给我|跟我|帮我)?(?:介绍|讲讲|说说|讲|说)一下|请问|告诉我")
DETERMINER_WH = re.compile(r"哪个|哪家|哪种|哪一|哪座|哪所|哪|什么|多少|几")
CLAUSE_PUNCT = set("，。；：？！,;:?!")
TRIM = "，。；：、？！,;:?!　 \n"
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
    content: str  # ``norm`` with the question words and fillers blanked out
    words: frozenset[str]  # plain segmentation of ``content``
    unit: str  # the measure word a number question names: 多少平方公里 → 平方公里


def analyse(question: str, tokenizer: Tokenizer) -> Question:
    norm = for_search(question)
    qtype, wh = "what", None
    for name, pat in QTYPES:
        m = pat.search(norm)
        if m:
            qtype, wh = name, (m.start(), m.end())
            break
    content = FILLER.sub("，", WH_PHRASE.sub("，", norm))
    unit = ""
    if qtype == "number" and wh:
        m = re.match(r"[\u4e00-\u9fff]{1,4}", norm[wh[1] :])
        unit = m.group() if m else ""
    return Question(question, qtype, wh, tokenizer(content), norm, content,
                    frozenset(tokenizer.words(content)), unit)


class Scorer:
    """IDF weights from the index's document frequencies."""

    def __init__(self, doc_freq: dict[str, int]) -> None:
        self.df = doc_freq
        self.n = max(int(doc_freq.get("__docs__", 1)), 1)

    def idf(self, tok: str) -> float:
        df = self.df.get(tok, 0)
        return math.log((self.n - df + 0.5) / (df + 0.5) + 1.0)

    def coverage(self, q_tokens: list[str], text_tokens: set[str], text: str = "") -> float:
        """IDF-weighted share of the question's words found in the text. A word
        also counts when it occurs inside the text under another segmentation
        (jieba splits unknown names differently in different contexts)."""
        total = sum(self.idf(t) for t in set(q_tokens))
        if total <= 0:
            return 0.0
        return sum(self.idf(t) for t in set(q_tokens) if t in text_tokens or (text and t in text)) / total


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
            norm = for_search(text)
            toks = set(tok.normalized(norm))
            cov = scorer.coverage(q.tokens, toks, norm)
            cov_title = scorer.coverage(q.tokens, toks | title_toks, norm + "\n" + for_search(art.title))
            # Retrieval rank breaks ties between sentences that cover the question equally.
            score = cov + 0.3 * cov_title + 0.15 * (hit.score / top) - 0.02 * rank + 0.3 * _fits(q, norm)
            out.append(_Sentence(hit, sp, text, cov, score))
    out.sort(key=lambda s: -s.score)
    return out


NUM_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?|[一二三四五六七八九十百千万亿两〇零]+")


def _fits(q: Question, norm: str) -> float:
    """Whether the sentence holds something of the kind asked for that the
    question itself does not mention (a time for 何时, a number for 多少)."""
    if q.qtype == "time":
        found = [m.group() for m in TIME_RE.finditer(norm)]
    elif q.qtype == "number":
        found = [m.group() for m in NUM_RE.finditer(norm)]
    else:
        return 0.0
    return 1.0 if any(f not in q.norm for f in found) else -1.0


@lru_cache(maxsize=65536)
def _norm_word(word: str) -> str:
    # Words recur across sentences and questions; converting each one anew was a
    # fifth of the answer time.
    return for_search(word).strip()


def _matched(word: str, q_norm: str, q_tokens: set[str], q_words: frozenset[str]) -> bool:
    w = _norm_word(word)
    if not w or all(ch in CLAUSE_PUNCT for ch in w):
        return False
    if w in q_tokens:
        return True
    if len(w) >= 2:
        return w in q_norm
    # One character matches only as a word of its own in the question (年 is not matched by 青年).
    return (w in q_words or (w in q_norm and w not in TIME_UNIT_CHARS)) and w not in STOPCHARS and not w.isdigit()


def _type_score(qtype: str, words: list[tuple[str, str]], text: str) -> float:
    flags = {f for _, f in words}
    # 进一步 and 唯一 hold 一 but no number; a Chinese numeral counts with a measure word.
    has_num = bool(re.search(r"[0-9０-９]|[一二三四五六七八九十百千万两][个位名人只件条座种项届期次张首部集本所家户队对路朝分岁年月日天周层辆架艘场组匹头株枚间版份成倍]", text))
    if qtype == "number":
        return 2.0 if has_num else -6.0
    if qtype == "time":
        return 2.0 if ("t" in flags or TIME_RE.search(text)) else -6.0
    if qtype == "person":
        good = flags & {"nr", "nrfg", "nrt", "nt", "eng"} or text.endswith(PERSON_SUFFIX)
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
    if not CONTENT_RE.search(word):
        return True
    # Bound morphemes ("yg", "dg") and unknown characters ("x": 埼) are content.
    if flag.endswith("g") or flag in ("x", "eng"):
        return word in EDGE_WORDS
    return flag.startswith(EDGE_FLAGS) or word in EDGE_WORDS


def _in_number(words: list[tuple[str, str]], k: int) -> bool:
    """A comma or point inside a number (25,000), not a clause break."""
    w = words[k][0]
    return (w in (",", ".", "，") and 0 < k < len(words) - 1 and words[k - 1][0][-1:].isdigit()
            and words[k + 1][0][:1].isdigit() and (w != "，" or len(words[k + 1][0]) == 3))


TIME_UNIT_RE = re.compile(r"[年月日号时]|世纪|年代|[初末]|[上中下]旬|中叶|时期|时代")
TIME_WORD_RE = re.compile(r"[0-9０-９一二三四五六七八九十百千万两〇零元初末上中下旬年月日号时世纪代间前后多余/－-]+")
NUMERAL_RE = re.compile(r"[0-9０-９一二三四五六七八九十百千两〇零元]")
TIME_UNIT_CHARS = set("年月日号时")
YEAR_ASKED = re.compile(r"哪一?年|何年")


def _is_time_word(word: str, flag: str) -> bool:
    return (flag == "t" and len(word) >= 2) or bool(TIME_WORD_RE.fullmatch(word))


def _time_bounds(words: list[tuple[str, str]], a: int, b: int, year_only: bool) -> tuple[int, int] | None:
    """The first date or time expression inside words[a:b] (1994年5月30日,
    顺治十一年, 1950年代); for "哪一年" only up to its year."""
    k = a
    while k < b:
        if not _is_time_word(*words[k]):
            k += 1
            continue
        e = k
        while e < b and (_is_time_word(*words[e]) or (words[e][0] in "（(" and e + 1 < b and _is_time_word(*words[e + 1]))
                         or (words[e][0] in "）)" and e > k and words[e - 1][0] not in "（(")
                         or (e > k and words[e][0][0] in "年月日" and words[e - 1][0][-1:].isdigit())):
            e += 1
        group = words[k:e]
        text = "".join(w for w, _ in group)
        # A date has a numeral and a unit (1994年, 十一年) or is a named period
        # (战国时代); 当时, 后来 and bare numbers are not answers.
        dated = NUMERAL_RE.search(text) and TIME_UNIT_RE.search(text)
        if dated or any(f == "t" and len(w) >= 3 for w, f in group):
            if year_only:
                for n, (w, _) in enumerate(group):
                    if "年" in w:
                        e = k + n + 1
                        if e < b and words[e][0] in "（(":  # 崇祯四年（1631年）
                            close = next((x for x in range(e, b) if words[x][0] in "）)"), None)
                            if close is not None:
                                e = close + 1
                        break
            while e > k and words[e - 1][0] in "（(":
                e -= 1
            if e - k > 1 and words[e - 1][0] == "时" and not words[e - 2][0][-1:].isdigit():
                e -= 1  # 2002年时 → 2002年, but 18时 stays
            # An era name before a year counted in Chinese numerals: 万历十一年, 建安二十四年.
            if k > 0 and re.match(r"[一二三四五六七八九十元]", words[k][0]) and len(words[k - 1][0]) == 2 \
                    and CONTENT_RE.match(words[k - 1][0]) and not _edge(*words[k - 1]) and "年" in text:
                k -= 1
            return k, e
        k = e
    return None


def _glued_tail(words: list[tuple[str, str]], a: int, b: int) -> int:
    """Characters jieba glued to a date's last unit (1569年才, 2007年头): not part
    of the date. 时 after a number stays (18时)."""
    glued = re.fullmatch(r"[年月日]([^代初末间底中]+)", words[b - 1][0])
    if not glued:
        return 0
    if glued.group(1) == "时" and b - 2 >= a and words[b - 2][0][-1:].isdigit():
        return 0
    return len(glued.group(1))


def _content_bounds(run: list[tuple[str, str]]) -> tuple[int, int] | None:
    """The run without function words at either end; None if nothing is left."""
    a, b = 0, len(run)
    while a < b and _edge(*run[a]):
        a += 1
    while b > a and _edge(*run[b - 1]):
        b -= 1
    return (a, b) if b > a else None


_NUM = r"[0-9０-９一二三四五六七八九十百千万亿两〇零几][0-9０-９一二三四五六七八九十百千万亿两〇零,，.．]*(?:多|余)?[万亿]?"
NUMBER_RE = re.compile(rf"(?:第|约|近|逾|超过)?[A-Za-z]*[$＄]?{_NUM}(?:\s*(?:至|到|-|－|~|～)\s*{_NUM})?")
MEASURE_RE = re.compile(r"[A-Za-z]+[²³]?|立方\w{1,2}|分钟|小时|个月|个半\w{0,2}|年前|年后|美金|平方公里|平方千米|平方米|平方英里|公里|千米|公尺|公分|厘米|毫米|英寸|英尺|英里|公斤|千克|公顷|光年|"
                        r"美元|港元|港币|欧元|日元|人民币|元|万|[个位名人只件条座种项届期次张首部集本所家户队对路朝分秒岁年月日天周层辆架艘场组匹头株枚间版份亩吨米克度倍成%％℃]")


def _number_span(sentence: str, cs: int, ce: int, unit: str) -> tuple[int, int]:
    """Narrow a span to its number and measure word (中占第147位 → 第147位), taking
    the unit the question names (多少平方公里) even where the span stopped before it."""
    best: tuple[int, int] | None = None
    for m in NUMBER_RE.finditer(sentence, cs, ce):
        num_end = m.end()
        while num_end > m.start() and sentence[num_end - 1] in ",，.．":
            num_end -= 1
        rest = sentence[num_end:]
        mu = MEASURE_RE.match(rest)
        u = mu.group() if mu else (unit[0] if unit and rest[:1] == unit[0] else "")  # 多少话 → 33话
        span = (m.start(), num_end + len(u))
        if u and unit and unit.startswith(u):
            return span
        if u and best is None:
            best = span
    # A number with no measure word may be part of a name (四海帮): keep the span.
    return best if best else (cs, ce)


TITLE_END = tuple("家者师长官督员手编席裁演帝王后妃丑匠事") + ("博士", "院士", "护士", "学士", "女士", "人士", "创办人", "之子", "之女")
NAME_FLAGS = ("nr", "nrt", "nrfg", "ns", "nz", "eng")


def _name_after_title(words: list[tuple[str, str]], a: int, b: int) -> tuple[int, int] | None:
    """工程专家孙大文担任 → 孙大文: a title noun followed by a name names the person by it."""
    def name_part(w: str, f: str) -> bool:
        return f.startswith(NAME_FLAGS) or w.strip() in ("", "·", "・", ".", "、")

    for k in range(b - 2, a - 1, -1):
        w, f = words[k]
        if f.startswith("n") and not f.startswith(NAME_FLAGS) and len(w) >= 2 and w.endswith(TITLE_END):
            e = k + 1
            while e < b and name_part(*words[e]):
                e += 1
            while e > k + 1 and not words[e - 1][0].strip(" ·・.、"):
                e -= 1
            # The name must end where a verb or function word starts: a name jieba
            # split into pieces (王 院 淼) is better left whole with its title.
            ends = e == b or _edge(*words[e]) or words[e][1].startswith(("v", "m"))
            if any(f2.startswith(NAME_FLAGS) for _, f2 in words[k + 1 : e]) and ends:
                return k + 1, e
    return None


CAUSE_RE = re.compile(r"(?:因为|由于|(?<![原基])因(?![此而为素])|为了)([^，。；！？,;!?（(而]{2,})")


# "又叫什么 / 笔名是什么": the answer is the name a naming word introduces.
ALIAS_Q = re.compile(r"(?:叫|称|名)(?:作|做|为)?什么|什么名|(?:笔|本|原|学|别|俗|艺|简|全|旧|英文|商品)(?:名|称)|[改更]名")
NOT_ALIAS_Q = re.compile(r"由来|来由|来历|来源|原因|(?<![称名成作视列类误译分改定选升])为什么|为何|意思|含义|意义|得名")  # asks about the name, not for it
ALIAS_GENERAL = "又称|又名|亦称|亦名|也称|也叫|又叫|还叫|或称|俗称|俗名|简称|别称|别名|通称|称为|称作|叫做|叫作|名为|旧称|前称"
ALIAS_SPECIFIC = {"笔名": "笔名", "本名": "本名|原名", "原名": "原名|本名|旧称|旧名|前称", "学名": "学名",
                  "俗名": "俗名|俗称", "俗称": "俗称|俗名", "艺名": "艺名", "简称": "简称", "全称": "全称",
                  "英文名": "英文名|英语名|英文|英语", "商品名": "商品名", "改名": "改名为|更名为|改称|改为",
                  "更名": "更名为|改名为|改称|改为", "别名": "别名|别称|又名|又称"}


def _alias_span(sentence: str, q: Question) -> tuple[int, int] | None:
    marks = next((m for key, m in ALIAS_SPECIFIC.items() if key in q.norm), ALIAS_GENERAL)
    found = list(re.finditer(rf"(?:{marks})[：:为是作]?\s*([^，。；：:]{{1,40}})", sentence))
    if not found:
        return None
    # Several names (在日本称为…，在韩国称为…): the one whose lead-in repeats the question.
    def lead_in(f: re.Match[str]) -> int:
        window = for_search(sentence[max(0, f.start() - 12) : f.start()])
        return sum(len(t) for t in q.tokens if t in window)

    m = max(found, key=lead_in)
    start, end = m.start(1), m.end(1)
    if sentence[start] in QUOTES:  # 「Garamycin」是一种抗生素: the quoted name, unless a list follows
        close = sentence.find(QUOTES[sentence[start]], start + 1, end)
        if close > 0 and sentence[close + 1 : close + 2] not in ("或", "、", "及", "和", "与"):
            end = close + 1
    return start, end


def extract_span(sentence: str, q: Question, tok: Tokenizer) -> tuple[int, int, float]:
    """(start, end, score) of the answer inside ``sentence``."""
    if ALIAS_Q.search(q.norm) and not NOT_ALIAS_Q.search(q.norm):
        al = _alias_span(sentence, q)
        if al:
            return al[0], al[1], 3.0
    if q.qtype == "reason":
        # 为什么: the clause a causal conjunction introduces is the answer.
        m = CAUSE_RE.search(sentence)
        if m:
            return m.start(1), m.end(1), 3.0
    words = tok.posseg(sentence)
    q_tokens = set(q.tokens)
    spans: list[tuple[int, int]] = []
    pos = 0
    for w, _ in words:
        spans.append((pos, pos + len(w)))
        pos += len(w)
    # 年 in "哪一年" is part of the question word, not a word the passage repeats.
    matched = [_matched(w, q.content, q_tokens, q.words) for w, _ in words]
    punct = [all(ch in CLAUSE_PUNCT for ch in w) and not _in_number(words, k) for k, (w, _) in enumerate(words)]
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
        cut = 0  # characters to drop from the end of words[b - 1]
        if q.qtype == "time":
            tb = _time_bounds(words, a, b, bool(YEAR_ASKED.search(q.norm)))
            if tb is not None:
                a, b = tb
                cut = _glued_tail(words, a, b)
        titled = q.qtype == "person" and _name_after_title(words, a, b)
        if titled:
            a, b = titled
        run = words[a:b]
        text = sentence[spans[a][0] : spans[b - 1][1] - cut]
        score = _type_score(q.qtype, run, text) + (1.0 if titled else 0.0)
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
            end_j = b
            # "哪个镇/哪家公司": the noun after a determiner question word names the
            # answer's head, so it belongs to the answer (延寿镇, not 延寿).
            if head_noun and b == j and j < n and matched[j] and for_search(words[j][0]) == head_noun:
                end_j = j + 1
            cs, ce = spans[a][0], spans[end_j - 1][1] - (cut if end_j == b else 0)
            if q.qtype == "number":
                cs, ce = _number_span(sentence, cs, ce, q.unit)
            best = (cs, ce, score)
        i = j
    return best


QUOTES = {"《": "》", "「": "」", "『": "』", "“": "”", "【": "】", "〈": "〉", "‘": "’"}
PARENS = {"（": "）", "(": ")"}
CLOSERS = {v: k for k, v in {**QUOTES, **PARENS}.items()}


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Strip edge punctuation and balance brackets: a title or quote the span
    cuts is completed (悬崖》 → 《悬崖》); a parenthetical it only opens is dropped."""
    def strip() -> None:
        nonlocal start, end
        while start < end and text[start] in TRIM:
            start += 1
        while end > start and text[end - 1] in TRIM:
            end -= 1

    strip()
    for _ in range(4):
        seg = text[start:end]
        changed = False
        depth: list[tuple[str, int]] = []
        for k, ch in enumerate(seg):
            if ch in QUOTES or ch in PARENS:
                depth.append((ch, k))
            elif ch in CLOSERS:
                if depth and depth[-1][0] == CLOSERS[ch]:
                    depth.pop()
                elif start > 0 and text[start - 1] == CLOSERS[ch] and ch in QUOTES.values():
                    if CLOSERS[ch] not in seg[k:]:  # one title (not a list): it is the answer, not what follows
                        end = start + k + 1
                    start -= 1
                    changed = True
                    break
                elif seg[k + 1 :].strip(TRIM):
                    # SINOSAT-1）是…: what precedes a stray closer ends an aside
                    start += k + 1
                    changed = True
                    break
                else:
                    end = start + k
                    changed = True
                    break
        if not changed and depth:
            opener, k = depth[0]
            close = text.find({**QUOTES, **PARENS}[opener], end, end + 40)
            if close >= 0 and not any(c in CLAUSE_PUNCT for c in text[end:close]):
                end = close + 1
            elif k > 0:
                end = start + k
            else:
                start += 1
            changed = True
        if not changed:
            break
        strip()
    while end - start > 2 and text[end - 2 : end] in ("（）", "()"):  # an empty aside: 千色广场（）
        end -= 2
        strip()
    return start, end


def answer_question(question: str, hits: list[Hit], tokenizer: Tokenizer, scorer: Scorer,
                    min_confidence: float, max_sources: int) -> Answer:
    q = analyse(question, tokenizer)
    if not hits:
        return Answer(question, "", False, 0.0, (), ())
    sents = _sentences(hits, q, tokenizer, scorer)
    top_chunk = hits[0]
    chunk_tokens = set(tokenizer(top_chunk.article.title + "\n" + top_chunk.chunk.text))
    chunk_norm = for_search(top_chunk.article.title + "\n" + top_chunk.chunk.text)
    confidence = max(scorer.coverage(q.tokens, chunk_tokens, chunk_norm), sents[0].coverage if sents else 0.0)
    if not sents or confidence < min_confidence:
        return Answer(question, "", False, confidence, (), tuple(hits))

    # Try the best few sentences; the answer span's own score decides among near ties.
    best: tuple[float, _Sentence, int, int] | None = None
    for s in sents[:3]:
        a, b, span_score = extract_span(s.text, q, tokenizer)
        total = s.score * 2 + max(span_score, -1.0) * 0.3
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
    return art.source(quote, s.span.paragraph, s.score)
