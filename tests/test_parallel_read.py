"""Page-text files segmented in worker processes (``[corpus] workers``) give
what reading them in one process gives: the same articles, in the same order,
and the same skipped-file, warning and note lines."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retrieval.config import load_config
from retrieval.errors import ConfigError
from retrieval.ingest import corpus, newspaper
from retrieval.ingest.corpus import FileProblem, read_corpus

from conftest import SAMPLE

PAGES = Path(__file__).parent / "data" / "pages"


@pytest.fixture
def pool_uses(monkeypatch) -> list[bool]:
    """One entry per page-text file taken from the pool: whether its chunks
    were segmented by the workers (not in this process)."""
    used: list[bool] = []
    real = corpus._PagePool.result

    def result(self, ahead, rel, progress):
        used.append(bool(ahead.futures))
        return real(self, ahead, rel, progress)

    monkeypatch.setattr(corpus._PagePool, "result", result)
    return used


def _mixed_folder(root: Path) -> Path:
    folder = root / "corpus"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "a_sample.txt")
    shutil.copy(SAMPLE, folder / "b_copy.txt")  # every article already read: one note
    (folder / "c_bom.txt").write_bytes(b"\xef\xbb\xbf" + b"\xff\xfe\xfd" * 200)  # skipped
    (folder / "d_empty.txt").write_text("\n\n", encoding="utf-8")  # skipped: no text
    damaged = (PAGES / "kicker.txt").read_bytes()
    cut = damaged.index("。".encode()) + 3
    (folder / "e_damaged.txt").write_bytes(damaged[:cut] + b"\xff" + damaged[cut:])  # a warning
    (folder / "f_records.jsonl").write_text('{"title": "记录", "text": "一条记录的正文。"}\n', encoding="utf-8")
    for p in sorted(PAGES.glob("*.txt")):
        shutil.copy(p, folder / f"g_{p.name}")
    return folder


def _read(folder: Path, workers: int, **kw):
    files, skipped = read_corpus([folder], workers=workers, **kw)
    return [(f.rel, f.size, f.articles) for f in files], [s.message for s in skipped]


def test_parallel_reading_gives_the_same_articles_and_messages(tmp_path, pool_uses):
    folder = _mixed_folder(tmp_path)
    serial = _read(folder, 1)
    assert pool_uses == []
    parallel = _read(folder, 2)
    assert any(pool_uses), "no page was segmented by a worker"
    assert parallel == serial
    files, messages = parallel
    assert [rel for rel, _, _ in files][:1] == ["corpus/a_sample.txt"]
    assert len(files[0][2]) == 7
    assert "corpus/f_records.jsonl" in [rel for rel, _, _ in files]
    assert any(m.startswith("skipped corpus/c_bom.txt: starts with a UTF-8 mark") for m in messages)
    assert "skipped corpus/d_empty.txt: no text found" in messages
    assert any(m.startswith("warning corpus/e_damaged.txt:") and "not valid UTF-8 left out" in m for m in messages)
    assert any(m.startswith("note corpus/b_copy.txt: 7 articles are the same as in corpus/a_sample.txt")
               for m in messages)


def test_a_big_file_is_segmented_in_chunks_with_its_progress_bar(tmp_path, monkeypatch, pool_uses):
    # Small chunks and bar threshold stand for a file of many megabytes.
    monkeypatch.setattr(newspaper, "CHUNK_CHARS", 1000)
    monkeypatch.setattr(corpus, "PAGE_PROGRESS_CHARS", 100)
    texts = [SAMPLE.read_text(encoding="utf-8")] + [p.read_text(encoding="utf-8") for p in sorted(PAGES.glob("*.txt"))]
    text = "\n\n".join(texts)
    (tmp_path / "many_pages.txt").write_text(text, encoding="utf-8")
    bars: list[dict] = []

    class Bar:
        def __init__(self, total: int, desc: str) -> None:
            self.state = {"total": total, "done": 0, "updates": 0, "closed": False}
            bars.append(self.state)

        def update(self, n: int) -> None:
            self.state["done"] += n
            self.state["updates"] += 1

        def close(self) -> None:
            self.state["closed"] = True

    serial = _read(tmp_path, 1, progress=Bar)
    parallel = _read(tmp_path, 2, progress=Bar)
    assert pool_uses == [True]
    assert parallel == serial
    assert len(serial[0][0][2]) >= 7 + len(texts) - 1
    assert len(bars) == 2 and bars[0] == bars[1]
    assert bars[1]["updates"] >= 3 and bars[1]["done"] == bars[1]["total"] == len(text) and bars[1]["closed"]


def test_strict_reading_stops_at_the_same_file_with_the_same_error(tmp_path):
    folder = _mixed_folder(tmp_path)
    errors = []
    for workers in (1, 2):
        with pytest.raises(FileProblem) as exc:
            read_corpus([folder], strict=True, workers=workers)
        errors.append(str(exc.value))
    assert errors[0] == errors[1]
    assert errors[0].startswith("corpus/c_bom.txt: starts with a UTF-8 mark")


def test_workers_are_automatic_only_for_enough_page_text(tmp_path, monkeypatch):
    small = [(SAMPLE, SAMPLE.name)]
    monkeypatch.setattr(corpus.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert corpus.corpus_workers(0, small) == 1  # 10 KB: not worth two processes
    monkeypatch.setattr(corpus, "PARALLEL_MIN_BYTES", 1000)
    assert corpus.corpus_workers(0, small) == 2
    assert corpus.corpus_workers(1, small) == 1
    assert corpus.corpus_workers(3, small) == 3
    monkeypatch.setattr(corpus.os, "sched_getaffinity", lambda _pid: {0}, raising=False)
    assert corpus.corpus_workers(0, small) == 1


def test_workers_come_from_the_config_and_are_checked(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[corpus]\nworkers = 1\n", encoding="utf-8")
    assert load_config(p).corpus.workers == 1
    p.write_text("[corpus]\nworkers = -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[corpus\] workers"):
        load_config(p)
