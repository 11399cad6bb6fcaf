"""Question + passage → model windows with character offsets, shared by
training and inference so both see exactly the same inputs. The first step
of reading (tokenize → forward pass → decode spans → re-score → choose → cite).

A window is ``<s> question </s></s> passage-piece </s>`` (XLM-R pair layout).
Offsets map every passage token back to characters of the passage, so a span
the model picks is always an exact substring of the text it read.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.textnorm import simplified_in_place

CLS_ID, PAD_ID, SEP_ID = 0, 1, 2
MAX_QUESTION_TOKENS = 64


@lru_cache(maxsize=200_000)
def reader_text(text: str) -> str:
    """What the reader reads: traditional characters converted to simplified
    (what it learnt from), every character in place so spans map back to the
    original one to one (dev converted to zh-tw: F1 79.3 against 81.4 on the
    chunks where a word of another length, 公尺 → 米, used to leave the whole
    chunk unconverted). Nothing else changes: the reader is case- and
    width-aware. Cached: each chunk is converted once per process, not once
    per question."""
    return simplified_in_place(text)


@dataclass(frozen=True)
class Window:
    """One model input. ``offsets[i]`` is the (start, end) character range in
    the passage of token i, or (-1, -1) for question and special tokens."""

    passage: int  # index of the passage this window reads
    ids: np.ndarray  # int64 (n,)
    offsets: np.ndarray  # int32 (n, 2)
    ctx_start: int  # first passage token position in ids
    ctx_end: int  # one past the last passage token position


class ReaderTokenizer:
    """The base model's fast tokenizer, used without its own special tokens so
    windows are assembled (and offsets kept) here."""

    def __init__(self, tokenizer_json: Path, shared: Any = None) -> None:
        """``shared``: an already loaded ``tokenizers.Tokenizer`` of the same
        base model with no truncation or padding (the question encoder's)."""
        if shared is not None:
            self._tok = shared
        else:
            from tokenizers import Tokenizer

            self._tok = Tokenizer.from_file(str(tokenizer_json))
            self._tok.no_padding()
            self._tok.no_truncation()

        # A bare "▁" word-start piece reports the offsets of the character after
        # it; it stays in the input but must not start or end an answer.
        self._space_id = self._tok.token_to_id("\u2581")

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        return self._arrays(self._tok.encode(text, add_special_tokens=False), text)

    def encode_batch_plain(self, texts: list[str]) -> list[np.ndarray]:
        """Token ids only (questions)."""
        return [np.asarray(e.ids, dtype=np.int64) for e in self._tok.encode_batch(texts, add_special_tokens=False)]

    def _arrays(self, enc, text: str) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
        ids = np.asarray(enc.ids, dtype=np.int64)
        offs = np.asarray(enc.offsets, dtype=np.int32).reshape(-1, 2)
        offs[ids == self._space_id] = -1
        # A word-start piece merged with what follows ("▁2006" after a line break) reports
        # the whitespace as its first character: it then counted as the sentence before the
        # break, so "2006年" at a paragraph's start could not be an answer (only "年").
        for i in np.flatnonzero((offs[:, 0] >= 0) & (offs[:, 1] - offs[:, 0] > 1)):
            a, b = int(offs[i, 0]), int(offs[i, 1])
            while a < b - 1 and text[a].isspace():
                a += 1
            offs[i, 0] = a
        offs[offs[:, 1] <= offs[:, 0]] = -1
        return ids, offs

    def windows(self, question: str, passages: list[tuple[str, str]], max_len: int, stride: int) -> list[Window]:
        """The question over each (title, text) passage, as model windows."""
        q_ids = self.encode_batch_plain([question])[0]
        return make_windows(q_ids, self.encode_passages(passages), max_len, stride)

    def encode_passages(self, items: list[tuple[str, str]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(title, text) pairs → tokens of ``title + "\n" + text``. The title is
        read for context (it often names who "他" is) but only tokens inside
        ``text`` carry offsets, relative to ``text``, so answers come from it."""
        joined = [f"{t}\n{x}" if t else x for t, x in items]
        encs = self._tok.encode_batch(joined, add_special_tokens=False)
        out = []
        for (title, _), enc, text in zip(items, encs, joined):
            ids, offs = self._arrays(enc, text)
            if title:
                shift = len(title) + 1
                inside = offs[:, 0] >= shift
                offs = np.where(inside[:, None], offs - shift, -1).astype(np.int32)
            out.append((ids, offs))
        return out


def make_windows(q_ids: np.ndarray, passages: list[tuple[np.ndarray, np.ndarray]], max_len: int,
                 stride: int) -> list[Window]:
    """Windows over each passage; a passage longer than one window is read in
    overlapping pieces ``stride`` tokens apart."""
    q = q_ids[:MAX_QUESTION_TOKENS]
    head = np.concatenate([[CLS_ID], q, [SEP_ID, SEP_ID]]).astype(np.int64)
    room = max_len - len(head) - 1
    out: list[Window] = []
    for p, (ids, offs) in enumerate(passages):
        n = len(ids)
        start = 0
        while True:
            end = min(n, start + room)
            w_ids = np.concatenate([head, ids[start:end], [SEP_ID]]).astype(np.int64)
            w_off = np.full((len(w_ids), 2), -1, dtype=np.int32)
            w_off[len(head) : len(head) + end - start] = offs[start:end]
            out.append(Window(p, w_ids, w_off, len(head), len(head) + end - start))
            if end >= n:
                break
            start += stride
    return out


def pad_batch(windows: list[Window]) -> tuple[np.ndarray, np.ndarray]:
    """ids (b, n) padded with the pad id, and the attention mask."""
    n = max(len(w.ids) for w in windows)
    ids = np.full((len(windows), n), PAD_ID, dtype=np.int64)
    mask = np.zeros((len(windows), n), dtype=np.int64)
    for i, w in enumerate(windows):
        ids[i, : len(w.ids)] = w.ids
        mask[i, : len(w.ids)] = 1
    return ids, mask
