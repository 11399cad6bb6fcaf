"""Checking a model's sentences against the passages they cite.

A sentence is supported when it cites passages that exist and the cited text
holds what it says, measured three ways (``check_sentence``):

- every number in it (digits, after NFKC) is a number of the cited text: a
  changed figure or date fails;
- every name in it (jieba's person, place, organisation and other proper-noun
  tags, two characters or more) occurs in the cited text: a changed name fails;
- enough of its character pairs occur in the cited text (``MIN_OVERLAP``):
  text from nowhere, or in another language, fails.

What separates supported from unsupported sentences, and the threshold, were
measured on statements made from the news dev set (``bench/followups.py
--check-sentences``; docs/conversation.md).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrieval.index.lexical import Tokenizer

# Chosen on the even half of the statement set (bench/followups.py --check-sentences).
MIN_OVERLAP = 0.6
WHOLE_NAMES = True
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])")
_CITE = re.compile(r"[\[【［]\s*([0-9０-９][0-9０-９\s,，、]*)\s*[\]】］]")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_NAME_TAGS = ("nr", "ns", "nt", "nz", "eng")


@dataclass(frozen=True)
class CheckedSentence:
    text: str  # as the model wrote it, citations included
    claim: str  # without the citation marks
    cites: tuple[int, ...]  # 1-based passage numbers
    supported: bool
    reason: str  # why not ("" when supported)
    overlap: float = 0.0


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def citations(sentence: str) -> tuple[str, tuple[int, ...]]:
    """The sentence without its [n] marks, and the numbers they cite."""
    cites: list[int] = []
    for m in _CITE.finditer(sentence):
        for part in re.split(r"[\s,，、]+", unicodedata.normalize("NFKC", m.group(1))):
            if part.isdigit():
                cites.append(int(part))
    return _CITE.sub("", sentence).strip(), tuple(dict.fromkeys(cites))


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _bigrams(text: str) -> set[str]:
    chars = [c for c in text if c.isalnum()]
    return {a + b for a, b in zip(chars, chars[1:])}


def support(claim: str, evidence: str, tokenizer: Tokenizer) -> tuple[bool, str, float]:
    """(supported, why not, character-pair overlap) of ``claim`` against ``evidence``."""
    c, e = _norm(claim), _norm(evidence)
    grams = _bigrams(c)
    overlap = len(grams & _bigrams(e)) / len(grams) if grams else 0.0
    if not _CJK.search(c):
        return False, "not Chinese text from the passages", overlap
    numbers = set(_NUMBER.findall(e))
    missing = [n for n in _NUMBER.findall(c) if n not in numbers]
    if missing:
        return False, f"the number {missing[0]} is not in the cited passage", overlap
    names: set[str] | None = None
    for word, flag in tokenizer.posseg(c):
        if not flag.startswith(_NAME_TAGS) or len(word) < 2:
            continue
        if word not in e:
            return False, f"「{word}」 is not in the cited passage", overlap
        if WHOLE_NAMES:
            # A name cut short (韩立 for 韩立东) is in the text, but is not a name the text gives.
            if names is None:
                names = {w for w, f in tokenizer.posseg(e) if f.startswith(_NAME_TAGS)}
            if word not in names and any(n.startswith(word) and len(n) > len(word) for n in names):
                return False, f"「{word}」 is cut short of a name in the cited passage", overlap
    if overlap < MIN_OVERLAP:
        return False, f"too little of it is in the cited passage ({overlap:.0%})", overlap
    return True, "", overlap


def check_sentence(sentence: str, passages: list[str], tokenizer: Tokenizer) -> CheckedSentence:
    claim, cites = citations(sentence)
    if not cites:
        return CheckedSentence(sentence, claim, cites, False, "cites no passage")
    bad = [n for n in cites if not 1 <= n <= len(passages)]
    if bad:
        return CheckedSentence(sentence, claim, cites, False, f"cites [{bad[0]}], there are {len(passages)} passages")
    if not claim.strip("。！？!?；;，, "):
        return CheckedSentence(sentence, claim, cites, False, "says nothing")
    ok, why, overlap = support(claim, "\n".join(passages[n - 1] for n in cites), tokenizer)
    return CheckedSentence(sentence, claim, cites, ok, why, overlap)


def check_answer(text: str, passages: list[str], tokenizer: Tokenizer) -> list[CheckedSentence]:
    return [check_sentence(s, passages, tokenizer) for s in split_sentences(text)]
