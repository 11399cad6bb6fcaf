"""A damaged, stale, busy or unwritable index never stops newsqa: damage is one
clear line and `rebuild --full` repairs it, unreadable reuse data means
re-embedding, a failed refresh answers from the current index, one process
rebuilds at a time, and a rebuild killed at any stage leaves `current` usable.

Real files, real jieba, real FAISS and real processes throughout; the hashing
encoder stands in for the model except in the tests marked slow, which run the
real `newsqa` CLI with the real model."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import retrieval.app as app
from retrieval.config import load_config
from retrieval.errors import CorpusError, IndexDamagedError, IndexWriteError
from retrieval.answer.qa import QA
from retrieval.index.store import CRASH_STAGES, IndexStore

from conftest import NEWSQA, ROOT, HashEncoder, write_config

QUESTION = "谁获得了岗位标兵？"
NEEDLE = "王院淼"
EXTRA = "海淀区图书馆昨天举办冬季读书节\n\n本报讯（记者 张三）海淀区图书馆昨天举办了冬季读书节，吸引了三百多名市民参加。活动持续一周，包括讲座、展览和读书分享会。\n"
HASH_MODEL = '[embedding]\nmodel = "test-hash"\n[reader]\nenabled = false\n'


def damaged_line(file: str) -> str:
    return f"index damaged ({file}); run `newsqa index rebuild --full`"


def make(tmp_path: Path, corpus: Path):  # type: ignore[no-untyped-def]
    cfg = load_config(write_config(tmp_path / "config.toml", corpus, tmp_path / "index", HASH_MODEL))
    return cfg, IndexStore(cfg.index_path)


def answers(cfg, tokenizer) -> bool:  # type: ignore[no-untyped-def]
    ans = QA(cfg, HashEncoder(), tokenizer).ask(QUESTION, mode="bm25")
    return ans.found and NEEDLE in ans.text


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def garble_same_size(path: Path) -> None:
    """Overwrite bytes in the middle without changing the size: only a checksum sees it."""
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    for i in range(mid, min(mid + 8, len(data))):
        data[i] = ord("x") if data[i] != ord("x") else ord("y")
    path.write_bytes(bytes(data))


# ------------------------------------------------------------------ verification on load

def test_manifest_records_size_and_checksum_of_every_file_of_the_build(tmp_path, corpus_dir, tokenizer):
    cfg, store = make(tmp_path, corpus_dir)
    store.build(cfg, HashEncoder(), tokenizer)
    d = store.current_dir()
    m = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    on_disk = {p.relative_to(d).as_posix(): p.stat().st_size for p in d.rglob("*")
               if p.is_file() and p.name != "manifest.json"}
    assert set(m["contents"]) == set(on_disk)
    assert any(rel.startswith("bm25/") for rel in on_disk)
    assert {rel: v["size"] for rel, v in m["contents"].items()} == on_disk
    assert all(len(v["blake2b"]) == 40 for v in m["contents"].values())
    assert m["counts"]["vectors"] == m["counts"]["chunks"] > 0


DAMAGE = [
    ("manifest.json", "truncated", lambda p: truncate(p), "manifest.json"),
    ("manifest.json", "not JSON", lambda p: p.write_bytes(b"\xff\xfe garbage"), "manifest.json"),
    ("manifest.json", "JSON but not a manifest", lambda p: p.write_text("[]"), "manifest.json"),
    ("manifest.json", "emptied", lambda p: p.write_bytes(b""), "manifest.json"),
    ("articles.jsonl", "truncated", lambda p: truncate(p), "articles.jsonl"),
    ("chunks.jsonl", "truncated", lambda p: truncate(p, 0.9), "chunks.jsonl"),
    ("chunks.jsonl", "emptied", lambda p: p.write_bytes(b""), "chunks.jsonl"),
    ("chunks.jsonl", "garbled, same size", garble_same_size, "chunks.jsonl"),
    ("chunks.jsonl", "deleted", lambda p: p.unlink(), "chunks.jsonl"),
    ("doc_freq.json", "truncated", lambda p: truncate(p), "doc_freq.json"),
    ("dense.faiss", "truncated", lambda p: truncate(p), "dense.faiss"),
    ("bm25/data.csc.index.npy", "truncated", lambda p: truncate(p), "bm25/data.csc.index.npy"),
    ("bm25/indptr.csc.index.npy", "garbled, same size", garble_same_size, "bm25/indptr.csc.index.npy"),
    ("bm25/vocab.index.json", "truncated", lambda p: truncate(p), "bm25/vocab.index.json"),
    ("bm25/params.index.json", "emptied", lambda p: p.write_bytes(b""), "bm25/params.index.json"),
]


@pytest.mark.parametrize("file,how,damage,named", DAMAGE, ids=[f"{d[0]}-{d[1]}" for d in DAMAGE])
def test_each_damaged_file_is_one_clear_error_and_full_rebuild_repairs_it(tmp_path, corpus_dir, tokenizer,
                                                                          file, how, damage, named):
    cfg, store = make(tmp_path, corpus_dir)
    first = store.build(cfg, HashEncoder(), tokenizer)
    damage(store.current_dir() / file)

    with pytest.raises(IndexDamagedError) as exc:
        store.load(cfg)
    assert str(exc.value) == damaged_line(named)
    with pytest.raises(IndexDamagedError, match=r"index damaged \("):
        store.is_stale(cfg)  # what `index status` reports instead of "up to date"
    with pytest.raises(IndexDamagedError):
        QA(cfg, HashEncoder(), tokenizer)

    report = store.build(cfg, HashEncoder(), tokenizer, full=True)
    assert not report.up_to_date and (report.articles, report.chunks) == (first.articles, first.chunks)
    assert store.is_stale(cfg) == (False, "up to date")
    assert answers(cfg, tokenizer)


def test_a_build_without_recorded_checksums_is_still_checked_by_its_counts(tmp_path, corpus_dir, tokenizer):
    # Builds written before checksums existed carry counts only; an emptied
    # chunks.jsonl must not silently answer "not found" to everything.
    cfg, store = make(tmp_path, corpus_dir)
    store.build(cfg, HashEncoder(), tokenizer)
    d = store.current_dir()
    m = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    del m["contents"]
    (d / "manifest.json").write_text(json.dumps(m, ensure_ascii=False), encoding="utf-8")
    assert answers(cfg, tokenizer)
    (d / "chunks.jsonl").write_bytes(b"")
    with pytest.raises(IndexDamagedError, match=r"\(chunks\.jsonl\)"):
        store.load(cfg)


def test_an_incremental_build_does_not_call_a_damaged_index_up_to_date(tmp_path, corpus_dir, tokenizer):
    cfg, store = make(tmp_path, corpus_dir)
    store.build(cfg, HashEncoder(), tokenizer)
    garble_same_size(store.current_dir() / "articles.jsonl")
    report = store.build(cfg, HashEncoder(), tokenizer)
    assert not report.up_to_date
    assert answers(cfg, tokenizer)


# ------------------------------------------------------------------ reuse data

REUSE_DAMAGE = [
    ("vectors.npy", lambda p: truncate(p)),
    ("vectors.npy", garble_same_size),
    ("tokens.json", lambda p: truncate(p)),
    ("tokens.json", garble_same_size),
    ("hashes.json", lambda p: p.write_bytes(b"")),
]


@pytest.mark.parametrize("file,damage", REUSE_DAMAGE, ids=[f"{f}-{i}" for i, (f, _) in enumerate(REUSE_DAMAGE)])
def test_damaged_reuse_data_means_embedding_again_not_a_crash(tmp_path, corpus_dir, tokenizer, file, damage):
    cfg, store = make(tmp_path, corpus_dir)
    first = store.build(cfg, HashEncoder(), tokenizer)
    damage(store.current_dir() / file)
    assert answers(cfg, tokenizer), "the reuse files are not read to answer"
    (corpus_dir / "extra.txt").write_text(EXTRA, encoding="utf-8")
    notes: list[str] = []
    enc = HashEncoder()
    report = store.build(cfg, enc, tokenizer, note=notes.append)
    assert report.reuse_failed == file
    assert enc.embedded == report.embedded == report.chunks > first.chunks
    assert any(file in n and "embedding everything again" in n for n in notes)
    assert f"previous {file} unreadable" in app.report_line(report)
    assert answers(cfg, tokenizer)
    # The new build's reuse data is good again.
    again = store.build(cfg, HashEncoder(), tokenizer, full=False)
    assert again.up_to_date


def test_reuse_vectors_of_the_wrong_shape_are_not_reused_in_an_old_build(tmp_path, corpus_dir, tokenizer):
    cfg, store = make(tmp_path, corpus_dir)
    store.build(cfg, HashEncoder(), tokenizer)
    d = store.current_dir()
    m = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    del m["contents"]  # no checksums: only the shapes can tell
    (d / "manifest.json").write_text(json.dumps(m, ensure_ascii=False), encoding="utf-8")
    np.save(d / "vectors.npy", np.zeros((3, 64), np.float32))
    (corpus_dir / "extra.txt").write_text(EXTRA, encoding="utf-8")
    report = store.build(cfg, HashEncoder(), tokenizer)
    assert report.reuse_failed == "vectors.npy" and report.reused == 0


# ------------------------------------------------------------------ ask: refresh failures fall back

@pytest.fixture()
def fake_models(monkeypatch):  # type: ignore[no-untyped-def]
    """open_qa with the hashing encoder; records which encoder loads were asked for."""
    loads: list[str] = []

    def full(cfg, note=None):  # type: ignore[no-untyped-def]
        loads.append("full")
        return HashEncoder()

    def query(cfg, note=None):  # type: ignore[no-untyped-def]
        loads.append("query")
        return HashEncoder()

    monkeypatch.setattr(app, "load_encoder", full)
    monkeypatch.setattr(app, "load_query_encoder", query)
    monkeypatch.setattr(app, "load_reader", lambda cfg, note=None, encoder=None: None)
    return loads


def _missing(corpus: Path) -> None:
    shutil.rmtree(corpus)


def _emptied(corpus: Path) -> None:
    for p in corpus.iterdir():
        p.unlink()


def _only_unreadable(corpus: Path) -> None:
    _emptied(corpus)
    (corpus / "notes.bin").write_bytes(b"\x00\x01")


@pytest.mark.parametrize("spoil", [_missing, _emptied, _only_unreadable], ids=["missing", "empty", "no-usable-file"])
def test_a_refresh_that_fails_answers_from_the_current_index_with_one_warning(tmp_path, corpus_dir, tokenizer,
                                                                              fake_models, spoil):
    cfg, store = make(tmp_path, corpus_dir)
    store.build(cfg, HashEncoder(), tokenizer)
    before = store.current_build_id()
    spoil(corpus_dir)
    notes: list[str] = []
    qa = app.open_qa(cfg, note=notes.append)
    ans = qa.ask(QUESTION, mode="bm25")
    assert ans.found and NEEDLE in ans.text
    warnings = [n for n in notes if n.startswith("warning:")]
    assert len(warnings) == 1 and "answering from the index built" in warnings[0]
    assert str(corpus_dir) in warnings[0]
    assert "full" not in fake_models, "no model is loaded for a refresh that cannot succeed"
    assert store.current_build_id() == before


def test_with_no_index_a_failing_refresh_is_still_an_error(tmp_path, corpus_dir, fake_models):
    cfg, store = make(tmp_path, corpus_dir)
    _emptied(corpus_dir)
    with pytest.raises(CorpusError, match="no articles found"):
        app.open_qa(cfg)
    shutil.rmtree(corpus_dir)
    with pytest.raises(CorpusError, match="does not exist"):
        app.open_qa(cfg)
    assert store.current_dir() is None


def test_ask_refreshes_a_stale_index_once_and_answers_from_the_new_one(tmp_path, corpus_dir, tokenizer, fake_models):
    cfg, store = make(tmp_path, corpus_dir)
    store.build(cfg, HashEncoder(), tokenizer)
    (corpus_dir / "extra.txt").write_text(EXTRA, encoding="utf-8")
    notes: list[str] = []
    qa = app.open_qa(cfg, note=notes.append)
    assert fake_models == ["full"], "the full encoder answers questions too: no second load"
    assert any(n.startswith("updating the index") for n in notes)
    assert any(a.title == "海淀区图书馆昨天举办冬季读书节" for a in qa.index.articles.values())


# ------------------------------------------------------------------ writability and permissions

def test_an_unwritable_index_folder_fails_before_the_model_loads(tmp_path, corpus_dir, fake_models, monkeypatch):
    cfg, store = make(tmp_path, corpus_dir)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p).startswith(str(tmp_path))
                        and mode & os.W_OK else real_access(p, mode, **kw))
    with pytest.raises(IndexWriteError, match=re.escape(f"cannot write the index at {cfg.index_path}: no write permission")):
        app.open_qa(cfg)
    assert fake_models == []


def test_an_unwritable_index_folder_still_answers_from_its_current_index(tmp_path, corpus_dir, tokenizer,
                                                                         fake_models, monkeypatch):
    cfg, store = make(tmp_path, corpus_dir)
    store.build(cfg, HashEncoder(), tokenizer)
    (corpus_dir / "extra.txt").write_text(EXTRA, encoding="utf-8")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p).startswith(str(cfg.index_path))
                        and mode & os.W_OK else real_access(p, mode, **kw))
    notes: list[str] = []
    qa = app.open_qa(cfg, note=notes.append)
    assert NEEDLE in qa.ask(QUESTION, mode="bm25").text
    assert [n for n in notes if n.startswith("warning:")] == [
        f"warning: the index was not updated (cannot write the index at {cfg.index_path}: no write permission on "
        f"{cfg.index_path / 'builds'}); answering from the index built {qa.index.manifest['built_at']}"]
    assert "full" not in fake_models


def test_an_index_path_under_a_regular_file_is_refused_before_embedding(tmp_path, corpus_dir, tokenizer):
    (tmp_path / "afile").write_text("not a folder")
    cfg = load_config(write_config(tmp_path / "config.toml", corpus_dir, tmp_path / "afile" / "index", HASH_MODEL))
    enc = HashEncoder()
    with pytest.raises(IndexWriteError, match="afile is not a folder"):
        IndexStore(cfg.index_path).build(cfg, enc, tokenizer)
    assert enc.embedded == 0


def test_builds_are_readable_by_other_users(tmp_path, corpus_dir, tokenizer):
    cfg, store = make(tmp_path, corpus_dir)
    store.build(cfg, HashEncoder(), tokenizer)
    d = store.current_dir()
    modes = {p.relative_to(d).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [d, *d.rglob("*")]}
    assert modes["."] == 0o755 and modes["bm25"] == 0o755
    assert {m for rel, m in modes.items() if (d / rel).is_file()} == {0o644}


# ------------------------------------------------------------------ kill -9 at each stage of a rebuild

CRASH_SCRIPT = """
import sys
from pathlib import Path
sys.path[:0] = [{root!r}, {tests!r}]
from conftest import HashEncoder
from retrieval.config import load_config
from retrieval.index.lexical import Tokenizer
from retrieval.index.store import IndexStore
cfg = load_config(Path({config!r}))
IndexStore(cfg.index_path).build(cfg, HashEncoder(), Tokenizer(), full=True)
"""


@pytest.mark.parametrize("stage", CRASH_STAGES)
def test_a_rebuild_killed_at_any_stage_leaves_current_answering(tmp_path, corpus_dir, tokenizer, stage):
    cfg, store = make(tmp_path, corpus_dir)
    store.build(cfg, HashEncoder(), tokenizer)
    before = store.current_build_id()
    (corpus_dir / "extra.txt").write_text(EXTRA, encoding="utf-8")
    script = CRASH_SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests"), config=str(tmp_path / "config.toml"))
    r = subprocess.run([sys.executable, "-c", script], env={**os.environ, "NEWSQA_TEST_CRASH_AT": stage},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 137, r.stderr
    # Before the swap the old build answers, after it the new one; either is whole.
    assert store.current_build_id() == before if stage != "swapped" else store.current_build_id() != before
    store.load(cfg)
    assert answers(cfg, tokenizer)
    # The next rebuild clears what the dead one left and keeps two builds at most.
    store.build(cfg, HashEncoder(), tokenizer, full=True)
    assert not list(store.builds.glob(".tmp-*")) and not list(store.root.glob(".current-*"))
    assert len(list(store.builds.iterdir())) <= 2
    assert answers(cfg, tokenizer)


# ------------------------------------------------------------------ one rebuild at a time (real processes)

# The real CLI (bot.cli.main) with the hashing encoder, so that five processes
# fit on a small machine. GATE makes embedding wait until a file appears, so a
# test decides when the rebuild ends instead of guessing with sleeps.
CLI_SCRIPT = """
import os, sys, time
from pathlib import Path
sys.path[:0] = [{root!r}, {tests!r}]
from conftest import HashEncoder
import retrieval.app as app

class GatedEncoder(HashEncoder):
    def encode_passages(self, texts, progress=None):
        gate = os.environ.get("GATE")
        if gate:
            Path(gate + ".waiting").touch()
            deadline = time.time() + 120
            while not Path(gate).exists() and time.time() < deadline:
                time.sleep(0.05)
        return super().encode_passages(texts, progress)

app.load_encoder = lambda cfg, note=None: GatedEncoder()
app.load_query_encoder = lambda cfg, note=None: HashEncoder()
app.load_reader = lambda cfg, note=None, encoder=None: None
from bot.cli import main
sys.exit(main(sys.argv[1:]))
"""


class Cli:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.script = tmp_path / "newsqa_fake.py"
        self.script.write_text(CLI_SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests")), encoding="utf-8")
        self.gate = tmp_path / "gate"
        self.n = 0

    def start(self, *args: str, gated: bool = False) -> tuple[subprocess.Popen, Path]:
        self.n += 1
        err = self.tmp / f"stderr-{self.n}.txt"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("GATE", None)
        if gated:
            env["GATE"] = str(self.gate)
        cmd = [sys.executable, str(self.script), "--config", str(self.tmp / "config.toml"), *args]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err.open("w"), text=True, env=env), err

    def wait_for(self, path: Path, text: str | None = None, timeout: float = 90) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if path.exists() and (text is None or text in path.read_text(encoding="utf-8")):
                return
            time.sleep(0.05)
        raise AssertionError(f"{path} never showed {text!r}")


def test_five_asks_on_a_stale_index_rebuild_once_and_the_others_answer_at_once(tmp_path, corpus_dir, tokenizer):
    cfg, store = make(tmp_path, corpus_dir)
    store.build(cfg, HashEncoder(), tokenizer)
    before = store.current_build_id()
    (corpus_dir / "extra.txt").write_text(EXTRA, encoding="utf-8")
    cli = Cli(tmp_path)
    first, first_err = cli.start("ask", QUESTION, "--retriever", "bm25", "--json", gated=True)
    cli.wait_for(Path(str(cli.gate) + ".waiting"))  # it holds the lock and is embedding
    others = [cli.start("ask", QUESTION, "--retriever", "bm25", "--json") for _ in range(4)]
    for proc, err in others:
        out, _ = proc.communicate(timeout=120)
        text = err.read_text(encoding="utf-8")
        assert proc.returncode == 0, text
        assert NEEDLE in json.loads(out)["answer"]
        assert "a rebuild is running in another process; answering from the current index" in text
        assert "updating the index" not in text
    assert first.poll() is None, "the four answered while the rebuild was still running"
    assert store.current_build_id() == before
    cli.gate.touch()
    out, _ = first.communicate(timeout=120)
    text = first_err.read_text(encoding="utf-8")
    assert first.returncode == 0, text
    assert "updating the index (corpus files changed)" in text and "indexed 2 file(s)" in text
    assert NEEDLE in json.loads(out)["answer"]
    assert store.current_build_id() != before and store.is_stale(cfg)[0] is False


def test_index_rebuild_waits_for_a_running_rebuild_and_then_has_nothing_to_do(tmp_path, corpus_dir):
    make(tmp_path, corpus_dir)
    cli = Cli(tmp_path)
    first, first_err = cli.start("index", "rebuild", gated=True)
    cli.wait_for(Path(str(cli.gate) + ".waiting"))
    second, second_err = cli.start("index", "rebuild")
    cli.wait_for(second_err, "a rebuild is already running; waiting…")
    assert second.poll() is None
    cli.gate.touch()
    out1, _ = first.communicate(timeout=120)
    out2, _ = second.communicate(timeout=120)
    assert first.returncode == 0 and out1.startswith("indexed 1 file(s)")
    assert second.returncode == 0, second_err.read_text(encoding="utf-8")
    c = IndexStore(tmp_path / "index").manifest()["counts"]
    assert c["articles"] > 0
    assert out2.strip() == f"index up to date: {c['articles']} articles, {c['chunks']} chunks"


def test_ask_with_no_index_waits_for_the_running_rebuild_instead_of_building_again(tmp_path, corpus_dir):
    make(tmp_path, corpus_dir)
    cli = Cli(tmp_path)
    first, _ = cli.start("index", "rebuild", gated=True)
    cli.wait_for(Path(str(cli.gate) + ".waiting"))
    asker, asker_err = cli.start("ask", QUESTION, "--retriever", "bm25", "--json")
    cli.wait_for(asker_err, "a rebuild is already running; waiting…")
    cli.gate.touch()
    first.communicate(timeout=120)
    out, _ = asker.communicate(timeout=120)
    text = asker_err.read_text(encoding="utf-8")
    assert asker.returncode == 0, text
    assert NEEDLE in json.loads(out)["answer"]
    assert "building the index" not in text


# ------------------------------------------------------------------ the real CLI and model

def run_cli(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(NEWSQA + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def real_index(built_sample):  # type: ignore[no-untyped-def]
    """The sample indexed once by `newsqa index rebuild` with the real model (conftest's, shared)."""
    return built_sample


@pytest.fixture()
def real_copy(real_index, tmp_path):  # type: ignore[no-untyped-def]
    shutil.copytree(real_index / "corpus", tmp_path / "corpus")
    shutil.copytree(real_index / "index", tmp_path / "index", symlinks=True)  # copy2 keeps the mtimes it lists
    cfg = write_config(tmp_path / "config.toml", tmp_path / "corpus", tmp_path / "index")
    m = json.loads((IndexStore(tmp_path / "index").current_dir() / "manifest.json").read_text(encoding="utf-8"))
    assert m["files"], "the copied index knows its corpus"
    return tmp_path, cfg


@pytest.mark.slow
def test_cli_damaged_index_is_one_line_everywhere_and_rebuild_full_repairs_it(real_copy):
    cwd, cfg = real_copy
    current = IndexStore(cwd / "index").current_dir()
    truncate(current / "chunks.jsonl")
    for args in (["ask", QUESTION], ["index", "rebuild"]):
        r = run_cli(["--config", str(cfg), *args], cwd)
        assert r.returncode == 1, (args, r.stderr)
        assert r.stderr.strip().splitlines() == [f"newsqa: error: {damaged_line('chunks.jsonl')}"], args
        assert r.stdout == ""
    # Status keeps its shape and says what is wrong in its status row.
    r = run_cli(["--config", str(cfg), "index", "status"], cwd)
    assert r.returncode == 1 and r.stderr == ""
    assert f"status:  {damaged_line('chunks.jsonl')}" in r.stdout.splitlines()
    (current / "manifest.json").write_text('{"format_version": 1, "mod', encoding="utf-8")
    r = run_cli(["--config", str(cfg), "index", "status", "--json"], cwd)
    assert r.returncode == 1 and json.loads(r.stdout)["damaged"] == damaged_line("manifest.json")
    r = run_cli(["--config", str(cfg), "index", "rebuild", "--full"], cwd)
    assert r.returncode == 0, r.stderr
    c = IndexStore(cwd / "index").manifest()["counts"]
    assert f"{c['articles']} articles, {c['chunks']} chunks ({c['chunks']} embedded, 0 reused)" in r.stdout
    r = run_cli(["--config", str(cfg), "index", "status"], cwd)
    assert r.returncode == 0 and "status:  up to date" in r.stdout
    r = run_cli(["--config", str(cfg), "ask", QUESTION, "--json"], cwd)
    assert r.returncode == 0 and NEEDLE in json.loads(r.stdout)["answer"]


@pytest.mark.slow
def test_cli_ask_answers_when_the_corpus_folder_is_gone_and_refuses_an_index_under_a_file(real_copy):
    cwd, cfg = real_copy
    shutil.rmtree(cwd / "corpus")
    r = run_cli(["--config", str(cfg), "ask", QUESTION, "--json"], cwd)
    assert r.returncode == 0, r.stderr
    assert NEEDLE in json.loads(r.stdout)["answer"]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: the index was not updated (")
    assert "corpus path does not exist" in lines[0]

    (cwd / "afile").write_text("x")
    bad = write_config(cwd / "bad.toml", cwd, cwd / "afile" / "index")
    started = time.perf_counter()
    r = run_cli(["--config", str(bad), "index", "rebuild"], cwd)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"newsqa: error: cannot write the index at {cwd / 'afile' / 'index'}: {cwd / 'afile'} is not a folder"]
    assert "embedding" not in r.stderr and time.perf_counter() - started < 60
