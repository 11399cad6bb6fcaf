"""From the reader's per-token scores to character spans (the step after the
forward pass, before re-scoring). numpy only: shared by training-time
evaluation and the torch-free runtime."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.reader.features import Window

NEG = -1e4

# Characters an answer never starts or ends with (the reader rarely picks
# them; trimming them is the one rule that measurably helps).
_EDGE = " \t\n，。、；：！？,.;:!?“”\"'（）()《》〈〉「」『』【】…—·"
_PAIRS = {"《": "》", "（": "）", "(": ")", "“": "”", "「": "」", "『": "』", "【": "】", "〈": "〉"}


@dataclass(frozen=True)
class WindowLogits:
    """The network's scores for one window, its padding cut off: what decoding reads."""

    window: Window
    start: np.ndarray  # (tokens,)
    end: np.ndarray  # (tokens,)
    has: float  # "this window holds the answer" logit
    trim_start: np.ndarray  # (tokens, trim classes)
    trim_end: np.ndarray


@dataclass(frozen=True)
class SpanCandidate:
    passage: int
    start: int  # character offsets in the passage text
    end: int
    span_logit: float  # start + end logit
    span_logprob: float  # log p(start) + log p(end) within the window
    has_logit: float  # window-level "this passage holds the answer"


def _log_softmax(x: np.ndarray) -> np.ndarray:
    m = x.max()
    return x - m - np.log(np.exp(x - m).sum())


_SENTENCE_END = frozenset("。！？!?\n")


def sentence_ids(window: Window, text: str) -> np.ndarray:
    """Per token, the number of sentence ends (。！？ or a line break) in the
    passage before it, so a span can be kept inside one sentence."""
    ends = np.zeros(len(text) + 1, dtype=np.int32)
    for i, ch in enumerate(text):
        ends[i + 1] = ends[i] + (ch in _SENTENCE_END)
    starts = np.clip(window.offsets[:, 0], 0, len(text))
    return ends[starts]


def best_spans(window: Window, start_logits: np.ndarray, end_logits: np.ndarray, has_logit: float,
               trim_start: np.ndarray, trim_end: np.ndarray, max_tokens: int, top_n: int = 1,
               sentences: np.ndarray | None = None) -> list[SpanCandidate]:
    """The top ``top_n`` spans of one window (end ≥ start, at most ``max_tokens``
    tokens, both ends on tokens that cover passage characters). Edges are then
    moved inside the first and last token by the trim head's choice, so an
    answer can start or end in the middle of a multi-character piece."""
    valid = window.offsets[:, 0] >= 0
    s = np.where(valid, start_logits, NEG)
    e = np.where(valid, end_logits, NEG)
    ls, le = _log_softmax(s), _log_softmax(e)
    n = len(s)
    # score[i, j] = s[i] + e[j] for i ≤ j < i + max_tokens
    score = s[:, None] + e[None, :]
    i_idx = np.arange(n)[:, None]
    j_idx = np.arange(n)[None, :]
    band = (j_idx >= i_idx) & (j_idx < i_idx + max_tokens) & valid[:, None] & valid[None, :]
    if sentences is not None:
        # An answer never runs across a sentence end or a paragraph break.
        band &= sentences[:, None] == sentences[None, :]
    score = np.where(band, score, -np.inf)
    if top_n == 1:
        flat = np.asarray([int(np.argmax(score))])
    else:
        flat = np.argsort(score, axis=None)[::-1][:top_n]
    out = []
    for f in flat:
        i, j = divmod(int(f), n)
        if not np.isfinite(score[i, j]):
            break
        a = int(window.offsets[i, 0])
        b = int(window.offsets[j, 1])
        ta = int(np.argmax(trim_start[i]))
        tb = int(np.argmax(trim_end[j]))
        a2, b2 = a + ta, b - tb
        if b2 <= a2:  # trimming would empty the span: keep the token edges
            a2, b2 = a, b
        out.append(SpanCandidate(window.passage, a2, b2, float(score[i, j]), float(ls[i] + le[j]), has_logit))
    return out


def decode_window(logits: WindowLogits, text: str, max_tokens: int, top_n: int = 1) -> list[SpanCandidate]:
    """The top ``top_n`` spans of one window over passage ``text``, each
    inside one sentence."""
    w = logits.window
    return best_spans(w, logits.start, logits.end, logits.has, logits.trim_start, logits.trim_end, max_tokens,
                      top_n=top_n, sentences=sentence_ids(w, text))


def tidy_span(text: str, a: int, b: int) -> tuple[int, int]:
    """Strip punctuation from the edges, then close a title or bracket the
    span opened (or open one it closed) when the text has it right there."""
    a0, b0 = a, b
    while a < b and text[a] in _EDGE and text[a] not in _PAIRS:
        a += 1
    while b > a and text[b - 1] in _EDGE and text[b - 1] not in _PAIRS.values():
        b -= 1
    if b <= a:
        return a0, b0
    for o, c in _PAIRS.items():
        opened = text.count(o, a, b) - text.count(c, a, b)
        if opened > 0:
            k = text.find(c, b)
            if 0 <= k < b + 20:
                b = k + 1
            elif text[a] == o:
                a += 1
        elif opened < 0:
            k = text.rfind(o, max(0, a - 20), a)
            if k >= 0:
                a = k
            elif text[b - 1] == c:
                b -= 1
    return a, b
