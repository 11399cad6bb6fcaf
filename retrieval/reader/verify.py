"""Is the question about what the passage says? The not-found decision's
second opinion.

The reader's has-answer head judges one window at a time and learnt from
Wikipedia, where a question copies its paragraph's words. A newspaper reader's
trap is a near miss: the article is about 嫦娥四号 and the question asks about
嫦娥五号, or about 2017 when the article gives 2019's figure; the head still finds
a plausible span. So the decision also looks at how much of the question the
article and the chunk contain. The features are tokenizer-free (character pairs
and digit runs), so they work the same on traditional text, and a small
logistic model over them and the reader's own scores, fitted on measured
questions (bench/choose_threshold.py --fit-verifier: our news dev set's even
half together with DRCD and CMRC even halves), gives P(the answer is right).
The fitted weights live in the reader's manifest (``calibration.verifier``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from retrieval.errors import ReaderError
from retrieval.textnorm import simplified_in_place

FEATURES: tuple[str, ...] = (
    "has_logit",  # the reader's has-answer logit for the chosen chunk
    "span_logprob",  # log P of the reader's best span in it
    "missing_article",  # share of the question's word pairs the article lacks
    "missing_chunk",  # share the chunk lacks
    "missing_run",  # longest run of consecutive missing pairs (a missing name), / 4, at most 1
    "missing_number",  # 1 when a number the question names is not in the article
    "type_mismatch",  # 1 when the answer is not the kind of thing asked for (answer_type_mismatch)
    "number_far",  # 1 when a number the question names (not its day) is not printed near the answer
)

# How near the answer a number the question names must be printed. On the news dev set's even half
# (run-6 reader), a year or count asked but absent from the 150 characters either side of the answer
# marked 10 of 19 answered traps that name one and 2 of 23 right answers; over the whole article
# (missing_number) 7 and 2: a trap's year is often printed elsewhere in the article, as the
# comparison.
NEAR = 150

# Question words and function characters say nothing about the article's content.
_FUNCTION = set("谁什么哪些里儿个位多少几怎样么为何时候吗呢吧啊的了是在有和与及或对把被给从到向于就都也还所其之这那该此年月日")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_DIGITS = re.compile(r"\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千万亿]{2,}")
_FULLWIDTH = str.maketrans("０１２３４５６７８９．", "0123456789.")


def _content_pairs(question: str) -> list[str]:
    """Adjacent character pairs of the question's content (CJK, letters and
    digits), skipping pairs that touch a question word or function character (the
    question's own wording, 是在哪里, which the article need not share). The pairs
    keep the question's own script (an article in traditional characters is
    searched in them); function characters are told in simplified (什麼 = 什么)."""
    q = question.translate(_FULLWIDTH).lower()
    simple = simplified_in_place(q)  # same length, character for character
    pairs = []
    for i in range(len(q) - 1):
        if not (q[i].isalnum() and q[i + 1].isalnum()):
            continue
        if simple[i] in _FUNCTION or simple[i + 1] in _FUNCTION:
            continue
        pairs.append(q[i : i + 2])
    return pairs


def _longest_missing_run(pairs: list[str], text: str) -> int:
    best = run = 0
    for p in pairs:
        run = run + 1 if p not in text else 0
        best = max(best, run)
    return best


_COUNT = re.compile(r"(?:多少|几)([\u3400-\u9fff])")
_WHEN = re.compile(r"哪一?天|哪一?年|什么时候|何时|几月|几号|哪个月|什么时间")
_WHO = re.compile(r"谁|叫什么名字|哪位")
_DAY_CHARS = re.compile(r"[0-9０-９年月日时号天周季春夏秋冬初底末旬前后]")


def answer_type_mismatch(question: str, answer: str) -> float:
    """1.0 when the answer plainly is not what the question asks for: a count
    without the measure word asked (多少次 → "550余天"), a "when" without any
    time word, a "who" with digits in it. Coarse on purpose: the verifier
    learns how much to trust it."""
    if not answer:
        return 0.0
    question, answer = simplified_in_place(question), simplified_in_place(answer)
    m = _COUNT.search(question)
    if m and m.group(1) not in answer and m.group(1) not in "个种项名位":
        return 1.0
    if _WHEN.search(question) and not _DAY_CHARS.search(answer):
        return 1.0
    if _WHO.search(question) and any(ch.isdigit() for ch in answer):
        return 1.0
    return 0.0


# A day of the month the question names (1月9日的报道) is the paper's day, found by the day boost, and
# seldom printed beside the answer.
_DAY_REF = re.compile(r"\d+月\d+日|\d+[日号]|\d+月")


def support_features(question: str, chunk_text: str, article_text: str, has_logit: float,
                     span_logprob: float, answer: str = "", answer_at: int = -1) -> tuple[float, ...]:
    """The features of ``FEATURES`` for one question, the chunk the answer
    comes from and the answer (in that order); ``answer_at`` is where the
    answer begins in the article (-1: unknown, the chunk stands for its
    neighbourhood)."""
    article = article_text.translate(_FULLWIDTH).lower()
    chunk = chunk_text.translate(_FULLWIDTH).lower()
    pairs = _content_pairs(question)
    n = max(len(pairs), 1)
    missing_article = sum(1 for p in pairs if p not in article) / n
    missing_chunk = sum(1 for p in pairs if p not in chunk) / n
    run = min(_longest_missing_run(pairs, article) / 4.0, 1.0)
    numbers = _DIGITS.findall(question.translate(_FULLWIDTH))
    missing_number = 1.0 if any(x not in article for x in numbers) else 0.0
    near = chunk if answer_at < 0 else article[max(0, answer_at - NEAR): answer_at + len(answer) + NEAR]
    asked = _DIGITS.findall(_DAY_REF.sub(" ", question.translate(_FULLWIDTH)))
    number_far = 1.0 if any(x not in near for x in asked) else 0.0
    return (max(min(has_logit, 20.0), -20.0), max(span_logprob, -20.0), missing_article, missing_chunk, run,
            missing_number, answer_type_mismatch(question, answer), number_far)


@dataclass(frozen=True)
class Verifier:
    """A logistic model over ``FEATURES``: P(the reader's answer is right)."""

    weights: tuple[float, ...]
    bias: float

    def prob(self, features: tuple[float, ...]) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, features))
        return 1.0 / (1.0 + math.exp(-z)) if z > -60 else 0.0

    def to_dict(self) -> dict[str, object]:
        return {"features": list(FEATURES), "weights": [round(w, 6) for w in self.weights],
                "bias": round(self.bias, 6)}

    @classmethod
    def from_dict(cls, d: dict[str, object], where: str) -> Verifier:
        names = d.get("features")
        weights = d.get("weights")
        if names != list(FEATURES) or not isinstance(weights, list) or len(weights) != len(FEATURES):
            raise ReaderError(f"{where}: calibration.verifier was fitted on other features ({names}); refit it "
                              "with bench/choose_threshold.py --fit-verifier, or set calibration.no_answer_score "
                              'to "has"')
        return cls(tuple(float(w) for w in weights), float(d.get("bias", 0.0)))  # type: ignore[arg-type]


def fit(rows: list[tuple[tuple[float, ...], bool]], weights: list[float] | None = None, l2: float = 1.0,
        steps: int = 3000) -> Verifier:
    """Logistic regression by gradient descent on standardised features (a few
    hundred rows, seven features: numpy is plenty); rows are (features, right),
    ``weights`` one per row (e.g. so that each source counts alike)."""
    import numpy as np

    x = np.array([r[0] for r in rows], dtype=np.float64)
    y = np.array([1.0 if r[1] else 0.0 for r in rows])
    sw = np.ones(len(rows)) if weights is None else np.asarray(weights, dtype=np.float64)
    sw = sw / sw.mean()
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mu) / sd
    w = np.zeros(z.shape[1])
    b = 0.0
    lr = 0.5
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
        g = (p - y) * sw
        w -= lr * (z.T @ g / len(y) + l2 * w / len(y))
        b -= lr * g.mean()
    # Back to the raw features' scale, so inference needs no statistics.
    raw_w = w / sd
    return Verifier(tuple(float(v) for v in raw_w), float(b - (raw_w * mu).sum()))
