"""The Milvus backend against a real Milvus server (milvus-lite 2.5.1's C++
engine, started by these tests on a free port over a temporary folder).

Real jieba, real Milvus BM25 and vector search throughout; the hashing
encoder stands in for the model except in the tests marked slow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

pytest.importorskip("pymilvus")

from retrieval.index.backend import open_backend  # noqa: E402
from retrieval.index.milvus import CRASH_STAGES, MilvusStore  # noqa: E402
from retrieval.index.milvus_server import MilvusServer, free_port  # noqa: E402
from retrieval.config import load_config  # noqa: E402
from retrieval.errors import ConfigError, IndexMismatchError, IndexUnavailableError  # noqa: E402
from retrieval.answer.qa import QA  # noqa: E402
from retrieval.index.store import IndexStore  # noqa: E402

from conftest import ROOT, HashEncoder, needs_milvus, write_config  # noqa: E402

QUESTION = "谁获得了岗位标兵？"
NEEDLE = "王院淼"
TITLE = "京津冀交通一体化劳动竞赛先进获表彰"
EXTRA = ("海淀区图书馆昨天举办冬季读书节\n\n本报讯（记者 张三）海淀区图书馆昨天举办了冬季读书节，吸引了三百多名市民参加。"
         "活动持续一周，包括讲座、展览和读书分享会。\n")
EXTRA_Q = "海淀区图书馆举办了什么活动？"
HASH_MODEL = '[embedding]\nmodel = "test-hash"\n[reader]\nenabled = false\n'

pytestmark = needs_milvus


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = MilvusServer(tmp_path_factory.mktemp("milvus"), free_port())
    with srv:
        yield srv


def make(tmp_path: Path, corpus: Path, uri: str, extra: str = HASH_MODEL, collection: str | None = None):  # type: ignore[no-untyped-def]
    collection = collection or f"t{uuid.uuid4().hex[:10]}"
    cfg = load_config(write_config(tmp_path / "config.toml", corpus, tmp_path / "index",
                                   f'backend = "milvus"\n[milvus]\nuri = "{uri}"\ncollection = "{collection}"\n'
                                   f'timeout_seconds = 5\n{extra}'))
    store = open_backend(cfg)
    assert isinstance(store, MilvusStore)
    return cfg, store


def hash_answer(cfg, tokenizer, mode: str = "bm25", question: str = QUESTION) -> str:  # type: ignore[no-untyped-def]
    ans = QA(cfg, HashEncoder(), tokenizer).ask(question, mode=mode)
    return ans.text if ans.found else ""


def build_collections(store: MilvusStore) -> list[str]:
    return sorted(c for c in store.conn.collections() if c.startswith(store.base + "__") and not c.endswith("_articles"))


# ------------------------------------------------------------------ configuration

def test_config_chooses_the_backend_and_refuses_unknown_ones(tmp_path, corpus_dir):
    cfg = load_config(write_config(tmp_path / "a.toml", corpus_dir, tmp_path / "index"))
    assert cfg.index.backend == "embedded" and isinstance(open_backend(cfg), IndexStore)
    with pytest.raises(ConfigError, match=r"\[index\] backend: must be one of embedded, milvus"):
        load_config(write_config(tmp_path / "b.toml", corpus_dir, tmp_path / "index", 'backend = "elastic"\n'))
    with pytest.raises(ConfigError, match=r"\[milvus\] collection"):
        load_config(write_config(tmp_path / "c.toml", corpus_dir, tmp_path / "index",
                                 '[milvus]\ncollection = "news-qa"\n'))


# ------------------------------------------------------------------ build and ask

@pytest.mark.slow
def test_build_and_ask_with_the_real_model(server, tmp_path, corpus_dir, real_encoder, tokenizer):
    from retrieval.app import load_reader

    cfg, store = make(tmp_path, corpus_dir, server.uri, extra="")
    report = store.build(cfg, real_encoder, tokenizer)
    assert (report.files_indexed, report.articles) == (1, 7) and report.chunks > 7 and not report.up_to_date
    assert store.is_stale(cfg) == (False, "up to date")
    qa = QA(cfg, real_encoder, tokenizer, reader=load_reader(cfg))
    ans = qa.ask(QUESTION)
    assert ans.found and NEEDLE in ans.text
    assert ans.sources[0].title == TITLE and ans.sources[0].quote in qa.index.articles[ans.sources[0].article_id].text
    for mode in ("bm25", "dense", "hybrid"):
        assert any(h.article.title == TITLE for h in qa.ask(QUESTION, mode=mode).hits[:3]), mode


def test_switching_backend_reuses_the_embedded_vectors(server, tmp_path, corpus_dir, tokenizer):
    cfg, store = make(tmp_path, corpus_dir, server.uri)
    embedded = IndexStore(cfg.index_path).build(cfg, HashEncoder(), tokenizer)
    enc = HashEncoder()
    report = store.build(cfg, enc, tokenizer)
    assert enc.embedded == 0 and report.reused == report.chunks == embedded.chunks
    assert NEEDLE in hash_answer(cfg, tokenizer)


def test_hnsw_on_a_server_without_it_builds_ivf_and_still_answers(server, tmp_path, corpus_dir, tokenizer, caplog):
    # milvus-lite's single-process engine builds FLAT and IVF_FLAT only; a cluster builds HNSW.
    # A user's `[index] kind = "hnsw"` must not make the rebuild fail there.
    cfg = load_config(write_config(tmp_path / "config.toml", corpus_dir, tmp_path / "index",
                                   f'kind = "hnsw"\nbackend = "milvus"\n[milvus]\nuri = "{server.uri}"\n'
                                   f'collection = "t{uuid.uuid4().hex[:10]}"\n{HASH_MODEL}'))
    with caplog.at_level("WARNING", logger="retrieval.index.milvus"):
        open_backend(cfg).build(cfg, HashEncoder(), tokenizer)
    assert "cannot build HNSW" in caplog.text
    assert NEEDLE in hash_answer(cfg, tokenizer, mode="hybrid")


def test_eval_with_the_milvus_backend_leaves_the_users_collection_alone(server, tmp_path, corpus_dir, tokenizer,
                                                                      monkeypatch):
    from retrieval.evaluate import eval_index, evaluate, load_items

    monkeypatch.setenv("NEWSQA_CACHE", str(tmp_path / "cache"))
    cfg, store = make(tmp_path, corpus_dir, server.uri)
    store.build(cfg, HashEncoder(), tokenizer)
    users = store.pointer().collection
    qa_file = tmp_path / "dev.jsonl"
    rows = [{"id": f"q{i}", "question": q, "answers": [a], "context_id": f"c{i}", "context": c, "title": t}
            for i, (q, a, c, t) in enumerate([
                (EXTRA_Q, "冬季读书节", EXTRA.split("\n\n")[1], "海淀区图书馆昨天举办冬季读书节"),
                ("上海博物馆新展览叫什么名字？", "江南文脉", "上海博物馆本周推出新展览“江南文脉”，展出书画三百余件。", "上博新展")])]
    qa_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    items = load_items(qa_file)

    eval_cfg, report = eval_index(cfg, qa_file, items, HashEncoder(), tokenizer)

    assert report.articles == 2 and eval_cfg.milvus.collection != cfg.milvus.collection
    assert store.pointer().collection == users  # the archive the bots read is the one it was
    assert NEEDLE in hash_answer(cfg, tokenizer)
    assert evaluate(QA(eval_cfg, HashEncoder(), tokenizer), items, "bm25").recall_at_1 == 1.0


# ------------------------------------------------------------------ rebuilds

def test_incremental_rebuild_upserts_new_chunks_and_deletes_removed_ones(server, tmp_path, corpus_dir, tokenizer):
    cfg, store = make(tmp_path, corpus_dir, server.uri)
    first = store.build(cfg, HashEncoder(), tokenizer)
    collection, build = store.pointer().collection, store.current_build_id()
    qa = QA(cfg, HashEncoder(), tokenizer)
    assert all("读书节" not in h.article.title for h in qa.ask(EXTRA_Q, mode="bm25").hits)

    (corpus_dir / "extra.txt").write_text(EXTRA, encoding="utf-8")
    assert store.is_stale(cfg) == (True, "corpus files changed")
    enc = HashEncoder()
    second = store.build(cfg, enc, tokenizer)
    assert second.articles == first.articles + 1 and enc.embedded == second.chunks - first.chunks == 1
    assert store.pointer().collection == collection and store.current_build_id() != build  # in place, new id
    assert store.verify()["counts"]["chunks"] == second.chunks  # the collection holds exactly these
    assert qa.reload_if_changed() is True  # a running bot follows the update
    assert any("读书节" in h.article.title for h in qa.ask(EXTRA_Q, mode="bm25").hits[:1])
    assert qa.index.doc_freq["__docs__"] == second.chunks and qa.index.doc_freq.get("读书节", 0) >= 1

    (corpus_dir / "extra.txt").unlink()
    enc = HashEncoder()
    third = store.build(cfg, enc, tokenizer)
    assert enc.embedded == 0 and third.chunks == first.chunks
    assert store.verify()["counts"]["chunks"] == first.chunks
    assert qa.reload_if_changed() is True and "读书节" not in qa.index.doc_freq
    assert all("读书节" not in h.article.title for h in qa.ask(EXTRA_Q, mode="bm25").hits)


def test_a_full_rebuild_swaps_builds_while_questions_run(server, tmp_path, corpus_dir, tokenizer):
    cfg, store = make(tmp_path, corpus_dir, server.uri)
    store.build(cfg, HashEncoder(), tokenizer)
    qa = QA(cfg, HashEncoder(), tokenizer)
    failures: list[str] = []
    asked = [0]
    stop = threading.Event()

    def ask_forever() -> None:
        while not stop.is_set():
            try:
                qa.reload_if_changed()
                ans = qa.ask(QUESTION, mode="hybrid")
                if not (ans.found and NEEDLE in ans.text):
                    failures.append(f"wrong answer: {ans.text!r}")
            except Exception as exc:  # every failure counts
                failures.append(repr(exc))
            asked[0] += 1

    threads = [threading.Thread(target=ask_forever) for _ in range(2)]
    for t in threads:
        t.start()
    builds = [store.current_build_id()]
    try:
        for _ in range(2):
            store.build(cfg, HashEncoder(), tokenizer, full=True)
            builds.append(store.current_build_id())
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == [] and asked[0] > 0
    assert len(set(builds)) == 3
    qa.reload_if_changed()
    assert qa.index.build_id == builds[-1]
    # The previous build stays for replicas still reading it; older ones are dropped.
    assert len(build_collections(store)) == 2


def test_an_old_build_that_cannot_be_dropped_does_not_fail_the_new_one(server, tmp_path, corpus_dir, tokenizer,
                                                                       monkeypatch):
    cfg, store = make(tmp_path, corpus_dir, server.uri)
    store.build(cfg, HashEncoder(), tokenizer)
    store.build(cfg, HashEncoder(), tokenizer, full=True)
    first, second = build_collections(store)
    real_call = store.conn.call

    def refuse_drops(what, method, *args, **kwargs):  # type: ignore[no-untyped-def]
        if method == "drop_collection":
            raise IndexUnavailableError(f"Milvus failed ({what}: database table is locked)")
        return real_call(what, method, *args, **kwargs)

    monkeypatch.setattr(store.conn, "call", refuse_drops)
    notes: list[str] = []
    store.build(cfg, HashEncoder(), tokenizer, full=True, note=notes.append)
    third = store.current_build_id().rsplit(".", 1)[0]
    assert third not in (first, second) and first in build_collections(store)
    assert [n for n in notes if n.startswith("warning:")] == [
        f"warning: drop old build {first} failed (Milvus failed (drop {first}: database table is locked)); "
        "the next build retries it",
        f"warning: drop old build {first}_articles failed (Milvus failed (drop {first}_articles: database table "
        "is locked)); the next build retries it"]
    assert NEEDLE in hash_answer(cfg, tokenizer)  # the new build answers
    monkeypatch.setattr(store.conn, "call", real_call)
    store.build(cfg, HashEncoder(), tokenizer, full=True)
    assert first not in build_collections(store) and len(build_collections(store)) == 2


def test_two_processes_answer_from_one_collection(server, tmp_path, corpus_dir, tokenizer):
    cfg, store = make(tmp_path, corpus_dir, server.uri)
    store.build(cfg, HashEncoder(), tokenizer)
    script = (
        "import json, sys; sys.path.insert(0, 'tests')\nfrom pathlib import Path\n"
        "from conftest import HashEncoder\n"
        "from retrieval.config import load_config\n"
        "from retrieval.index.lexical import Tokenizer\n"
        "from retrieval.answer.qa import QA\n"
        f"qa = QA(load_config(Path({str(tmp_path / 'config.toml')!r})), HashEncoder(), Tokenizer())\n"
        f"a = qa.ask({QUESTION!r}, mode='hybrid')\n"
        "print(json.dumps({'build': qa.index.build_id, 'answer': a.text, 'hits': [h.chunk.id for h in a.hits]}))\n")
    procs = [subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-500:] for o in outs]
    got = [json.loads(o[0].strip().splitlines()[-1]) for o in outs]
    assert got[0] == got[1] and got[0]["build"] == store.current_build_id() and NEEDLE in got[0]["answer"]


def _crash_build(cfg_path: Path, stage: str, full: bool) -> subprocess.CompletedProcess:
    script = (
        "import sys; sys.path.insert(0, 'tests')\nfrom pathlib import Path\n"
        "from conftest import HashEncoder\n"
        "from retrieval.index.backend import open_backend\n"
        "from retrieval.config import load_config\n"
        "from retrieval.index.lexical import Tokenizer\n"
        f"cfg = load_config(Path({str(cfg_path)!r}))\n"
        f"open_backend(cfg).build(cfg, HashEncoder(), Tokenizer(), full={full})\n")
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "NEWSQA_TEST_CRASH_AT": stage})


@pytest.mark.parametrize("stage", ["milvus-inserted", "milvus-manifest"])
def test_a_killed_full_rebuild_leaves_the_current_build_answering(server, tmp_path, corpus_dir, tokenizer, stage):
    cfg, store = make(tmp_path, corpus_dir, server.uri)
    store.build(cfg, HashEncoder(), tokenizer)
    before = store.current_build_id()
    done = _crash_build(tmp_path / "config.toml", stage, full=True)
    assert done.returncode == 137, done.stderr[-500:]
    assert store.current_build_id() == before and store.is_stale(cfg) == (False, "up to date")
    assert len(build_collections(store)) == 2  # the dead build's collection, until the next build
    assert NEEDLE in hash_answer(cfg, tokenizer, "hybrid")
    store.build(cfg, HashEncoder(), tokenizer, full=True)
    assert store.current_build_id() != before and len(build_collections(store)) == 2
    assert NEEDLE in hash_answer(cfg, tokenizer, "hybrid")


def test_a_killed_update_is_finished_by_the_next_rebuild_without_embedding_again(server, tmp_path, corpus_dir,
                                                                                 tokenizer):
    assert "milvus-upserted" in CRASH_STAGES
    cfg, store = make(tmp_path, corpus_dir, server.uri)
    store.build(cfg, HashEncoder(), tokenizer)
    (corpus_dir / "extra.txt").write_text(EXTRA, encoding="utf-8")
    done = _crash_build(tmp_path / "config.toml", "milvus-upserted", full=False)
    assert done.returncode == 137, done.stderr[-500:]
    assert store.is_stale(cfg) == (True, "an update was interrupted")
    assert NEEDLE in hash_answer(cfg, tokenizer, "hybrid")  # still answering meanwhile
    enc = HashEncoder()
    report = store.build(cfg, enc, tokenizer)
    assert enc.embedded == 0 and report.reused == report.chunks
    assert store.is_stale(cfg) == (False, "up to date")
    assert any("读书节" in h.article.title for h in QA(cfg, HashEncoder(), tokenizer).ask(EXTRA_Q, mode="bm25").hits[:1])


def test_a_model_mismatch_is_refused_with_what_to_do(server, tmp_path, corpus_dir, tokenizer):
    cfg, store = make(tmp_path, corpus_dir, server.uri)
    store.build(cfg, HashEncoder(model_name="some-other-model"), tokenizer)
    with pytest.raises(IndexMismatchError, match=r"built with model 'some-other-model' but the config uses "
                                                 r"'test-hash'; run 'newsqa index rebuild --full'"):
        QA(cfg, HashEncoder(), tokenizer)
    assert store.is_stale(cfg) == (True, "settings changed")
    store.build(cfg, HashEncoder(), tokenizer)  # the same model again: a fresh build, not an update
    assert store.is_stale(cfg) == (False, "up to date") and NEEDLE in hash_answer(cfg, tokenizer)
    with pytest.raises(IndexMismatchError, match="64-dimensional vectors, the model gives 32"):
        store.load(cfg, expected_dim=32)


# ------------------------------------------------------------------ the server going away

class OwnServer:
    """A server of one test's own, on a fixed port and folder, so the test can
    stop it and bring the same data back on the same address."""

    def __init__(self, tmp_path: Path) -> None:
        self.port, self.data = free_port(), tmp_path / "milvus"
        self.srv = MilvusServer(self.data, self.port).start()

    def stop(self, kill: bool = False) -> None:
        self.srv.stop(kill=kill)

    def start(self) -> None:
        self.srv = MilvusServer(self.data, self.port).start()


@pytest.fixture
def own_qa(tmp_path, corpus_dir, tokenizer):  # type: ignore[no-untyped-def]
    """(server, QA) with the sample page built into a server of the test's own."""
    own = OwnServer(tmp_path)
    try:
        cfg, store = make(tmp_path, corpus_dir, own.srv.uri)
        store.build(cfg, HashEncoder(), tokenizer)
        qa = QA(cfg, HashEncoder(), tokenizer)
        assert NEEDLE in qa.ask(QUESTION, mode="hybrid").text
        yield own, qa
    finally:
        own.stop()


@pytest.fixture
def secret_token(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MILVUS_TOKEN", "root:Milvus-s3cret")


def test_the_server_going_away_is_one_clear_line_and_questions_recover(secret_token, own_qa):
    own, qa = own_qa
    own.stop(kill=True)
    for call in (lambda: qa.ask(QUESTION, mode="hybrid"), qa.reload_if_changed):
        with pytest.raises(IndexUnavailableError) as err:
            call()
        msg = str(err.value)
        assert "\n" not in msg and f"127.0.0.1:{own.port}" in msg and "newsqa milvus up" in msg
        assert "s3cret" not in msg
    own.start()  # the same data, back on the same address
    assert NEEDLE in qa.ask(QUESTION, mode="hybrid").text  # the same QA object recovers
    assert qa.reload_if_changed() is False


def test_a_server_restart_between_questions_is_not_seen_by_the_asker(own_qa):
    # A channel the server dropped while idle (a restart, or "too many pings")
    # must not cost the next question: reads reconnect and go again once.
    own, qa = own_qa
    own.stop()
    own.start()
    assert NEEDLE in qa.ask(QUESTION, mode="hybrid").text  # no error in between
    assert qa.reload_if_changed() is False
    # A channel that is dead for good (what an idle client cut off by the
    # server can be left with): the next question reconnects instead of
    # failing until the process restarts.
    qa.store.conn._get()._handler.close()
    assert NEEDLE in qa.ask(QUESTION, mode="hybrid").text


@pytest.mark.slow
def test_cli_ask_and_status_with_the_milvus_backend(server, tmp_path, corpus_dir):
    cfg, _ = make(tmp_path, corpus_dir, server.uri, extra="")
    cli = [sys.executable, "-m", "bot.cli", "--config", str(tmp_path / "config.toml")]
    done = subprocess.run(cli + ["ask", "--json", QUESTION], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-800:]
    ans = json.loads(done.stdout.strip().splitlines()[-1])
    assert ans["found"] and NEEDLE in ans["answer"] and ans["sources"][0]["title"] == TITLE
    done = subprocess.run(cli + ["index", "status", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    info = json.loads(done.stdout)
    assert info["stale"] is False and info["index"].startswith(f"Milvus at {server.uri}")

