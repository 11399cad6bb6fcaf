"""A learned answer-type re-scorer for the reader's span choice.

The reader's span head scores where an answer starts and ends; it has no
explicit sense of what *kind* of text the question asks for, and on CMRC it
often returns a clause where a number or a name was asked. The re-scorer looks
at the reader's top spans of a window and adds, to the reader's own span
log-probability, a learned bilinear score between the question's most
frequent character bigrams and the span's shape (length, digits, clause
punctuation, last character), plus how much of the question the span repeats
(an answer seldom restates what was asked: "2019年度…表彰大会" for "表彰大会是什么时候
召开的") and whether it sits inside running text or between punctuation marks
(a whole clause is seldom the answer). Both vocabularies and the weights are learned
from question/answer data (`newsqa reader rescorer`), never listed by hand;
the objective is the expected F1 of the chosen span.

In the query path it comes after decoding (it scores the candidates
retrieval/reader/decode.py made of one window) and before the choice between
windows and passages. numpy only: it runs in the torch-free query path.
"""

from __future__ import annotations

import collections
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from retrieval.errors import ReaderError
from retrieval.reader.decode import SpanCandidate, tidy_span

RESCORER_FILE = "span_rescorer.json"
RESCORER_FORMAT = "newsqa-span-rescorer"
CANDIDATES = 40  # spans of each window the re-scorer chooses among

_NUM = re.compile(r"[0-9０-９一二三四五六七八九十百千万亿两零]")
_LATIN = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"[\u4e00-\u9fff0-9A-Za-z]")
_LENGTHS = (2, 4, 6, 10, 16, 30)
_CLAUSE = "，、。；"


@dataclass(frozen=True)
class Asked:
    """What one question asks for: weights over span features, and its
    characters and bigrams (for the overlap features)."""

    weights: np.ndarray
    chars: frozenset[str]
    bigrams: frozenset[str]


@dataclass(frozen=True)
class SpanRescorer:
    question_bigrams: tuple[str, ...]
    last_chars: tuple[str, ...]
    weights: np.ndarray  # (1 + len(question_bigrams), span features)
    span_scale: float  # times the reader's span log-probability
    # Feature groups beyond the span's shape (see EXTRAS); files fitted before
    # a group existed lack it and keep scoring exactly as they were fitted.
    extras: tuple[str, ...] = ("question_overlap", "neighbours")

    def asked(self, question: str) -> Asked:
        """What the question asks for, as weights over span features."""
        return Asked(question_row(question, self.question_bigrams) @ self.weights, frozenset(question), question_bigrams(question))

    def span_features(self, text: str, asked: Asked, before: str = "", after: str = "") -> np.ndarray:
        """``before``/``after``: the passage characters next to the span ("" at its edges)."""
        parts = [span_features(text, self.last_chars)]
        if "question_overlap" in self.extras:
            parts.append(overlap_features(text, asked.chars, asked.bigrams))
        if "neighbours" in self.extras:
            parts.append(neighbour_features(before, after))
        return np.concatenate(parts)

    def score(self, asked: Asked, text: str, span_logprob: float, before: str = "", after: str = "") -> float:
        return self.span_scale * span_logprob + float(self.span_features(text, asked, before, after) @ asked.weights)

    def choose(self, asked: Asked, text: str, spans: Sequence[SpanCandidate]) -> SpanCandidate:
        """The best of one window's ``spans`` over passage ``text`` (not empty),
        each scored on its words as they would be quoted (edges tidied)."""

        def value(c: SpanCandidate) -> float:
            a, b = tidy_span(text, c.start, c.end)
            return self.score(asked, text[a:b], c.span_logprob, *neighbours(text, a, b))

        return max(spans, key=value)

    def save(self, path: Path) -> None:
        data = {"format": RESCORER_FORMAT, "question_bigrams": list(self.question_bigrams),
                "last_chars": list(self.last_chars), "span_scale": self.span_scale,
                "extras": list(self.extras),
                "weights": np.round(self.weights.astype(np.float64), 6).tolist()}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".rescorer-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> SpanRescorer:
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            if d.get("format") != RESCORER_FORMAT:
                raise ValueError(f"format {d.get('format')!r}")
            r = cls(tuple(d["question_bigrams"]), tuple(d["last_chars"]),
                    np.asarray(d["weights"], dtype=np.float32), float(d["span_scale"]),
                    _extras(d))
            unknown = set(r.extras) - set(EXTRAS)
            if unknown:
                raise ValueError(f"features {sorted(unknown)} unknown to this version of newsqa")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ReaderError(f"{path}: not a span re-scorer ({exc}); fit it again with "
                              f"`newsqa reader rescorer`") from exc
        want = (1 + len(r.question_bigrams), n_span_features(len(r.last_chars), r.extras))
        if r.weights.shape != want:
            raise ReaderError(f"{path}: weights of shape {r.weights.shape} do not match its vocabularies; "
                              f"fit it again with `newsqa reader rescorer`")
        return r


# Feature groups added after the span's shape, and how many features each has.
EXTRAS = {"question_overlap": 4, "neighbours": 2}


def _extras(d: dict) -> tuple[str, ...]:
    # Files of 2026-12-04 name their one extra group by a flag, older ones have none.
    if "extras" in d:
        return tuple(d["extras"])
    return ("question_overlap",) if d.get("question_overlap") else ()


def n_span_features(n_last: int, extras: Sequence[str] = tuple(EXTRAS)) -> int:
    return 1 + len(_LENGTHS) + 6 + n_last + sum(EXTRAS[e] for e in extras)


def question_row(question: str, vocabulary: Sequence[str]) -> np.ndarray:
    """1 (the bias) and, per vocabulary bigram, whether the question has it."""
    return np.array([1.0] + [float(b in question) for b in vocabulary], dtype=np.float32)


def question_bigrams(question: str) -> frozenset[str]:
    return frozenset(question[i:i + 2] for i in range(len(question) - 1)
                     if _WORD.match(question[i]) and _WORD.match(question[i + 1]))


def overlap_features(text: str, chars: frozenset[str], bigrams: frozenset[str]) -> np.ndarray:
    """Share of the span's word characters found in the question, whether it
    repeats any question bigram, whether it shares no character at all, and
    how many question bigrams it repeats (capped at 4, scaled to 0–1)."""
    word = [c for c in text if _WORD.match(c)]
    share = sum(c in chars for c in word) / max(1, len(word))
    n = sum(text[i:i + 2] in bigrams for i in range(len(text) - 1))
    return np.asarray([share, float(n > 0), float(share == 0), min(n, 4) / 4], dtype=np.float32)


def neighbours(text: str, a: int, b: int) -> tuple[str, str]:
    """The characters just before and after ``text[a:b]`` ("" at the edges)."""
    return text[a - 1:a] if a > 0 else "", text[b:b + 1]


def neighbour_features(before: str, after: str) -> np.ndarray:
    """Whether the span continues into running text on either side, rather
    than ending at punctuation or the passage's edge."""
    return np.asarray([float(bool(after) and bool(_WORD.match(after))),
                       float(bool(before) and bool(_WORD.match(before)))], dtype=np.float32)


def span_features(text: str, last_chars: Sequence[str]) -> np.ndarray:
    n = len(text)
    f = [1.0] + [float(n <= b) for b in _LENGTHS]
    f += [float(bool(_NUM.search(text))), float(bool(text) and bool(_NUM.match(text[0]))),
          float(bool(text) and bool(_NUM.match(text[-1]))), float(any(c in text for c in _CLAUSE)),
          float("的" in text), float(bool(_LATIN.search(text)))]
    last = text[-1:]
    f += [float(last == c) for c in last_chars]
    return np.asarray(f, dtype=np.float32)


@dataclass(frozen=True)
class CandidateSet:
    """One question's candidate spans: their text, the reader's span
    log-probability, the F1 of each against the gold answers, and the passage
    characters next to each (empty: none recorded)."""

    question: str
    texts: tuple[str, ...]
    logprobs: np.ndarray
    f1: np.ndarray
    neighbours: tuple[tuple[str, str], ...] = ()


def vocabularies(questions: Iterable[str], answers: Iterable[str], n_bigrams: int = 50,
                 n_last: int = 40) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The most frequent question bigrams and answer-final characters of the
    fitting data."""
    big: collections.Counter[str] = collections.Counter()
    for q in questions:
        big.update({q[i:i + 2] for i in range(len(q) - 1)})
    last = collections.Counter(a.strip()[-1] for a in answers if a.strip())
    return tuple(b for b, _ in big.most_common(n_bigrams)), tuple(c for c, _ in last.most_common(n_last))


def fit(sets: list[CandidateSet], question_bigrams: tuple[str, ...], last_chars: tuple[str, ...],
        l2: float = 1e-3, steps: int = 300, lr: float = 0.02,
        progress: Callable[[int], None] | None = None) -> SpanRescorer:
    """Maximise the expected F1 of the chosen span under a softmax over each
    question's candidates (full-batch Adam; L2 on the bilinear weights).
    Expected F1 rather than the likelihood of the best candidate: the latter
    raised EM but cost F1 on held-out questions (it rewards short spans)."""
    usable = [s for s in sets if len(s.texts) > 1 and s.f1.max() > 0]
    if not usable:
        raise ReaderError("no question has a candidate span that overlaps its answer; nothing to fit")
    dim = n_span_features(len(last_chars))
    probe = SpanRescorer(question_bigrams, last_chars, np.zeros((1 + len(question_bigrams), dim), np.float32), 1.0)
    # Candidates padded to one (questions, candidates, features) block; padding masked out.
    n, c = len(usable), max(len(s.texts) for s in usable)
    q = np.zeros((n, 1 + len(question_bigrams)), np.float32)
    feats = np.zeros((n, c, dim), np.float32)
    logp = np.zeros((n, c), np.float32)
    f1 = np.zeros((n, c), np.float32)
    mask = np.full((n, c), -1e9, np.float32)
    for i, s in enumerate(usable):
        k = len(s.texts)
        asked = probe.asked(s.question)
        q[i] = question_row(s.question, question_bigrams)
        sides = s.neighbours or (("", ""),) * k
        feats[i, :k] = [probe.span_features(t, asked, *nb) for t, nb in zip(s.texts, sides)]
        logp[i, :k], f1[i, :k], mask[i, :k] = s.logprobs, s.f1 / 100.0, 0.0
    w = np.zeros_like(probe.weights)
    a = 1.0
    m_w, v_w = np.zeros_like(w), np.zeros_like(w)
    m_a = v_a = 0.0
    for t in range(1, steps + 1):
        z = a * logp + np.einsum("ncd,nd->nc", feats, q @ w) + mask
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        g = -p * (f1 - (p * f1).sum(axis=1, keepdims=True))  # d(-E[F1]) / dz
        g_w = q.T @ np.einsum("nc,ncd->nd", g, feats) / n + l2 * w
        g_a = float((g * logp).sum()) / n
        m_w = 0.9 * m_w + 0.1 * g_w
        v_w = 0.999 * v_w + 0.001 * g_w * g_w
        w -= lr * (m_w / (1 - 0.9 ** t)) / (np.sqrt(v_w / (1 - 0.999 ** t)) + 1e-8)
        m_a = 0.9 * m_a + 0.1 * g_a
        v_a = 0.999 * v_a + 0.001 * g_a * g_a
        a -= lr * (m_a / (1 - 0.9 ** t)) / (np.sqrt(v_a / (1 - 0.999 ** t)) + 1e-8)
        if progress:
            progress(t)
    return SpanRescorer(question_bigrams, last_chars, w, float(a))


def attach(reader_dir: Path, rescorer: SpanRescorer) -> Path:
    """Write the re-scorer into a reader directory, then name it in the
    manifest (written last, so a half-written file is never used)."""
    import dataclasses

    from retrieval.reader.format import read_manifest, write_manifest

    manifest = read_manifest(reader_dir)
    out = reader_dir / RESCORER_FILE
    rescorer.save(out)
    write_manifest(reader_dir, dataclasses.replace(manifest, rescorer=RESCORER_FILE))
    return out
