"""Answer quality by the CMRC 2018 measures: text is split into Chinese
characters and Latin words, punctuation is dropped, F1 comes from the longest
common substring, and each question takes the best score over its references.

Its own module, below everything that scores answers: the evaluator
(retrieval/evaluate.py), the reader's training, re-scorer fitting and
calibration all measure with it, and none of them needs the others for that.
"""

from __future__ import annotations

import re
import string
from typing import Iterable

_PUNCT = set(string.punctuation) | set("，。、；：？！…—·“”‘’「」『』《》〈〉（）【】〔〕％～﹏　 ")


def _segment(text: str) -> list[str]:
    out: list[str] = []
    word = ""
    for ch in text.lower().strip():
        if ch in _PUNCT:
            if word:
                out.append(word)
                word = ""
            continue
        if re.match(r"[a-z0-9]", ch):
            word += ch
        else:
            if word:
                out.append(word)
                word = ""
            out.append(ch)
    if word:
        out.append(word)
    return out


def _lcs(a: list[str], b: list[str]) -> int:
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def f1_score(pred: str, golds: Iterable[str]) -> float:
    p = _segment(pred)
    best = 0.0
    for g in golds:
        gs = _segment(g)
        common = _lcs(p, gs)
        if common:
            prec, rec = common / len(p), common / len(gs)
            best = max(best, 2 * prec * rec / (prec + rec))
    return 100.0 * best


def em_score(pred: str, golds: Iterable[str]) -> float:
    p = "".join(_segment(pred))
    return 100.0 * any(p == "".join(_segment(g)) for g in golds)
