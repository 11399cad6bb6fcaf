"""A learned answer-type re-scorer for the reader's span choice.

The reader's span head scores where an answer starts and ends; it has no
explicit sense of what *kind* of text the question asks for, and on CMRC it
often returns a clause where a number or a name was asked. The re-scorer looks
at the reader's top spans of a window and adds, to the reader's own span
log-probability, a learned bilinear score between the question's most
frequent character bigrams and the span's shape (length, digits, clause
punctuation, last character). Both vocabularies and the weights are learned
from question/answer data (`newsqa reader rescorer`), never listed by hand;
the objective is the expected F1 of the chosen span.

numpy only: it runs in the torch-free query path.
"""

from __future__ import annotations

import collections
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np

from retrieval.errors import ReaderError

if TYPE_CHECKING:
    from retrieval.config import ChunkingConfig
    from retrieval.evaluate import EvalItem
    from retrieval.reader.model import Reader

RESCORER_FILE = "span_rescorer.json"
RESCORER_FORMAT = "newsqa-span-rescorer"
CANDIDATES = 40  # spans of each window the re-scorer chooses among

_NUM = re.compile(r"[0-9０-９一二三四五六七八九十百千万亿两零]")
_LATIN = re.compile(r"[A-Za-z]")
_LENGTHS = (2, 4, 6, 10, 16, 30)
_CLAUSE = "，、。；"


@dataclass(frozen=True)
class SpanRescorer:
    question_bigrams: tuple[str, ...]
    last_chars: tuple[str, ...]
    weights: np.ndarray  # (1 + len(question_bigrams), span features)
    span_scale: float  # times the reader's span log-probability

    def question_vector(self, question: str) -> np.ndarray:
        """What the question asks for, as weights over span features."""
        q = np.array([1.0] + [float(b in question) for b in self.question_bigrams], dtype=np.float32)
        return q @ self.weights

    def span_features(self, text: str) -> np.ndarray:
        return span_features(text, self.last_chars)

    def score(self, qvec: np.ndarray, text: str, span_logprob: float) -> float:
        return self.span_scale * span_logprob + float(self.span_features(text) @ qvec)

    def save(self, path: Path) -> None:
        data = {"format": RESCORER_FORMAT, "question_bigrams": list(self.question_bigrams),
                "last_chars": list(self.last_chars), "span_scale": self.span_scale,
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
                    np.asarray(d["weights"], dtype=np.float32), float(d["span_scale"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ReaderError(f"{path}: not a span re-scorer ({exc}); fit it again with "
                              f"`newsqa reader rescorer`") from exc
        if r.weights.shape != (1 + len(r.question_bigrams), n_span_features(len(r.last_chars))):
            raise ReaderError(f"{path}: weights of shape {r.weights.shape} do not match its vocabularies; "
                              f"fit it again with `newsqa reader rescorer`")
        return r


def n_span_features(n_last: int) -> int:
    return 1 + len(_LENGTHS) + 6 + n_last


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
    log-probability and the F1 of each against the gold answers."""

    question: str
    texts: tuple[str, ...]
    logprobs: np.ndarray
    f1: np.ndarray


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
    probe = SpanRescorer(question_bigrams, last_chars, np.zeros((1, 1), np.float32), 1.0)
    qs = [np.array([1.0] + [float(b in s.question) for b in question_bigrams], np.float32) for s in usable]
    feats = [np.stack([probe.span_features(t) for t in s.texts]) for s in usable]
    w = np.zeros((len(question_bigrams) + 1, n_span_features(len(last_chars))), np.float32)
    a = 1.0
    m_w, v_w = np.zeros_like(w), np.zeros_like(w)
    m_a = v_a = 0.0
    for t in range(1, steps + 1):
        g_w = np.zeros_like(w)
        g_a = 0.0
        for q, feat, s in zip(qs, feats, usable):
            z = a * s.logprobs + feat @ (q @ w)
            p = np.exp(z - z.max())
            p /= p.sum()
            f1 = s.f1 / 100.0
            g = -p * (f1 - float(p @ f1))  # d(-E[F1]) / dz
            g_w += np.outer(q, g @ feat)
            g_a += float(g @ s.logprobs)
        g_w = g_w / len(usable) + l2 * w
        g_a /= len(usable)
        m_w = 0.9 * m_w + 0.1 * g_w
        v_w = 0.999 * v_w + 0.001 * g_w * g_w
        w -= lr * (m_w / (1 - 0.9 ** t)) / (np.sqrt(v_w / (1 - 0.999 ** t)) + 1e-8)
        m_a = 0.9 * m_a + 0.1 * g_a
        v_a = 0.999 * v_a + 0.001 * g_a * g_a
        a -= lr * (m_a / (1 - 0.9 ** t)) / (np.sqrt(v_a / (1 - 0.999 ** t)) + 1e-8)
        if progress:
            progress(t)
    return SpanRescorer(question_bigrams, last_chars, w, float(a))


def collect(reader: Reader, items: list[EvalItem], chunking: ChunkingConfig,
            progress: Callable[[int, str], object] | None = None) -> list[CandidateSet]:
    """Each question read against its own paragraph (chunked as the index
    would), one candidate set per window: its top spans, deduplicated by text."""
    from retrieval.evaluate import f1_score
    from retrieval.ingest.chunking import chunk_article
    from retrieval.reader.answering import reader_text
    from retrieval.reader.decode import tidy_span
    from retrieval.types import Article

    sets: list[CandidateSet] = []
    bar = progress(len(items), "questions") if progress else None
    for it in items:
        if it.question.strip() and it.answers:
            art = Article(id=it.context_id, title=it.title, paragraphs=tuple(it.context.split("\n")), file="")
            texts = [reader_text(c.text) for c in chunk_article(art, chunking)]
            question = reader_text(it.question)
            for w, _, spans in reader.window_spans(question, [(reader_text(it.title), t) for t in texts],
                                                    CANDIDATES):
                seen: dict[str, float] = {}
                for c in spans:
                    a, b = tidy_span(texts[w.passage], c.start, c.end)
                    t = texts[w.passage][a:b]
                    seen[t] = max(seen.get(t, -1e9), c.span_logprob)
                if seen:
                    keys = tuple(seen)
                    sets.append(CandidateSet(question, keys, np.array([seen[k] for k in keys], np.float32),
                                             np.array([f1_score(k, it.answers) for k in keys], np.float32)))
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    return sets


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
