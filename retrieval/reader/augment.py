"""Synthetic training questions for what news asks and CMRC 2018 rarely does:
the day something happened, and one count among several.

CMRC 2018 train (Wikipedia) has 8 questions asking for a day (哪天, 哪一天,
几月几日…) among 10,142, and its 什么时候 answers are years seven times as
often as days; a reader trained on it answered "哪天举行的？" about a news
report with the year beside the day ("1月9日，2019年…" → 2019年). News reports
lead with the day. Each sentence of a training paragraph that holds exactly one
day-level date (1月9日, 1822年6月29日, 1月8日上午) becomes a question: the
sentence without the date, plus a 哪天 / 什么时候 ending; the answer is the date
as written. The sentence's words are all in the paragraph, so what the reader
learns from these is the kind of answer, not how to match words.

Only paragraphs outside the training file's held-out slice are used, so model
selection and calibration stay on real questions.

Counts: news sentences give a total and then its breakdown ("表彰最美劳动者23名，
其中优秀员工9名、技术能手3名…"); a reader trained on CMRC answered the total's
question with the breakdown clause. In each sentence holding two or more counts
(a number with its measure word), a clause holding exactly one becomes a
question: the clause with the number replaced by 多少; the answer is the number
with its measure word. The other counts stay in the passage as distractors.
"""

from __future__ import annotations

import random
import re
from typing import Iterator

from retrieval.reader.train import is_holdout

DATE = re.compile(r"(?:\d{3,4}年)?\d{1,2}月\d{1,2}日(?:上午|下午|晚上|凌晨|早上|中午|晚|早)?")
TEMPLATES = ("{s}是哪天？", "{s}是什么时候？", "{s}是在哪一天？", "{s}的日期是？", "{s}是在什么时候？", "{s}是几月几日？")
SENTENCE = re.compile(r"[^。！？]+[。！？]?")
# A date in parentheses (birth and death) or opening a range is no event a question asks the day of.
_RANGE = re.compile(r"\s*[－\-—–~～至到]")
# What askers leave out of a question: asides in parentheses, and other years ("1月9日，2019年京津冀…
# 大会在…举行" is asked as "京津冀…大会是哪天举行的？"). Left in, the question would match the year
# and the reader would learn nothing about telling a year from a day.
_ASIDE = re.compile(r"（[^（）]*）|\([^()]*\)|(?<!\d)\d{2,4}年度?")


def _sentences(rows: list[dict], holdout: float) -> Iterator[tuple[dict, re.Match[str]]]:
    """Each sentence of each paragraph outside the held-out share, with the
    paragraph's record (the first question on it)."""
    contexts: dict[str, dict] = {}
    for r in rows:
        contexts.setdefault(r["context_id"], r)
    for cid, r in contexts.items():
        if not is_holdout(cid, holdout):
            for m in SENTENCE.finditer(r["context"]):
                yield r, m


def _question(qid: str, question: str, answer: str, start: int, paragraph: dict) -> dict:
    """A CMRC-style record asking ``question`` about ``paragraph``'s context."""
    return {"id": qid, "question": question, "answers": [answer], "answer_starts": [start],
            "context_id": paragraph["context_id"], "context": paragraph["context"],
            **({"title": paragraph["title"]} if "title" in paragraph else {})}


def date_questions(rows: list[dict], holdout: float, seed: int = 0) -> list[dict]:
    """Questions asking for the day, one per qualifying sentence of each
    paragraph of ``rows`` (CMRC-style records) outside the held-out share."""
    rng = random.Random(seed)
    out: list[dict] = []
    for r, m in _sentences(rows, holdout):
        sent = m.group()
        dates = list(DATE.finditer(sent))
        if len(dates) != 1:
            continue
        d = dates[0]
        if sent[max(0, d.start() - 1) : d.start()] in ("（", "(") or _RANGE.match(sent[d.end():]):
            continue
        before = re.sub(r"(于|在|是|自|从)$", "", sent[: d.start()])
        after = re.sub(r"^[，,、 ]+", "", sent[d.end():])
        rest = (before.rstrip("，, ") + ("，" if before.strip("，, ") and after else "") + after).strip()
        rest = re.sub(r"[。！？；，,、\s]+$", "", _ASIDE.sub("", rest)).lstrip("，, ")
        if len(rest) < 8 or len(rest) > 60 or re.match(r"^.{0,2}[，,]", rest):
            continue
        out.append(_question(f"SYNDATE_{len(out)}", rng.choice(TEMPLATES).format(s=rest), d.group(),
                             m.start() + d.start(), r))
    return out


_MEASURE = ("名|个|家|人|项|件|位|所|座|条|次|支|辆|台|种|场|户|元|吨|公里|千米|米|岁|天|部|首|张|本|篇|册|届|枚"
            "|架|艘|只|头|匹|套|株|栋|间|块|批|队|份|公顷|平方米|平方公里")
# A number (not part of a longer one: 8,188,455), an optional 余/多 and 万/亿, its measure word.
COUNT = re.compile(r"(?<![\d.,，、至到\-~～－])(\d+(?:\.\d+)?)(余|多)?(万|亿)?(" + _MEASURE + r")(?![\d至到\-~～－])")
_CLAUSE = re.compile(r"[^，,；;：:]+")
_CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")


def count_questions(rows: list[dict], holdout: float, limit: int = 0, seed: int = 0) -> list[dict]:
    """Questions asking for one of several counts in a sentence (``limit``:
    at most that many, drawn at random; 0: all), from paragraphs outside the
    held-out share."""
    rng = random.Random(seed)
    out: list[dict] = []
    for r, m in _sentences(rows, holdout):
        sent = m.group()
        if len(COUNT.findall(sent)) < 2:
            continue
        for c in _CLAUSE.finditer(sent):
            clause = c.group()
            counts = list(COUNT.finditer(clause))
            if len(counts) != 1:
                continue
            k = counts[0]
            rest = clause[: k.start()] + clause[k.end():]
            # Too little left to ask about, or a count inside brackets ("（6人）").
            if len(_CJK_CHAR.findall(rest)) < 6 or re.search(r"[（(][^）)]*$", clause[: k.start()]):
                continue
            q = (clause[: k.start()] + "多少" + (k.group(3) or "") + k.group(4) + clause[k.end():]).strip()
            q = re.sub(r"[。！？\s]+$", "", q) + "？"
            out.append(_question("", q, k.group(), m.start() + c.start() + k.start(), r))
    if 0 < limit < len(out):
        out = rng.sample(out, limit)
    for i, q in enumerate(out):
        q["id"] = f"SYNCOUNT_{i}"
    return out


def mixed(rows: list[dict], synthetic: list[dict], sample: int, seed: int = 1) -> list[dict]:
    """``sample`` of the real questions (all when 0) and the synthetic ones,
    shuffled: fine-tuning on the synthetic ones alone would teach the reader
    that every question asks for a date."""
    rng = random.Random(seed)
    real = rng.sample(rows, sample) if 0 < sample < len(rows) else list(rows)
    out = real + synthetic
    rng.shuffle(out)
    return out
