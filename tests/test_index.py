"""Index bookkeeping: incremental rebuilds, atomic swaps, manifest checks."""

from __future__ import annotations

import os
import json

import pytest

from retrieval.ingest.chunking import chunk_article
from retrieval.config import ChunkingConfig, load_config
from retrieval.errors import ConfigError, CorpusError, IndexMismatchError
from retrieval.ingest.corpus import read_file
from retrieval.answer.qa import QA
from retrieval.index.store import IndexStore

from conftest import SAMPLE, HashEncoder, write_config

EXTRA = "海淀区图书馆昨天举办冬季读书节\n\n本报讯（记者 张三）海淀区图书馆昨天举办了冬季读书节，吸引了三百多名市民参加。活动持续一周，包括讲座、展览和读书分享会。\n"


def make(tmp_path, corpus, extra='[embedding]\nmodel = "test-hash"\n'):
    cfg = load_config(write_config(tmp_path / "config.toml", corpus, tmp_path / "index", extra))
    return cfg, IndexStore(cfg.index_path)


def test_chunks_are_sentence_aligned_and_stay_inside_their_article():
    cfg = ChunkingConfig()
    for art in read_file(SAMPLE, SAMPLE.name):
        chunks = chunk_article(art, cfg)
        assert chunks
        for c in chunks:
            assert art.text[c.start : c.end] == c.text
            assert len(c.text) <= cfg.max_chars
            assert c.text[-1] in "。！？；…”" or c.end == len(art.text)
        for a, b in zip(chunks, chunks[1:]):
            assert b.start < a.end, "consecutive chunks share one sentence"


def test_incremental_rebuild_embeds_only_new_chunks_and_forgets_deleted_files(tmp_path, corpus_dir, tokenizer):
    cfg, store = make(tmp_path, corpus_dir)
    enc = HashEncoder()
    first = store.build(cfg, enc, tokenizer)
    assert first.embedded == first.chunks > 0

    (corpus_dir / "extra.txt").write_text(EXTRA, encoding="utf-8")
    enc2 = HashEncoder()
    second = store.build(cfg, enc2, tokenizer)
    assert second.articles == first.articles + 1
    assert enc2.embedded == second.embedded == second.chunks - first.chunks
    index = store.load(cfg)
    assert any(a.title == "海淀区图书馆昨天举办冬季读书节" for a in index.articles.values())

    unchanged = store.build(cfg, HashEncoder(), tokenizer)
    assert unchanged.up_to_date and unchanged.embedded == 0

    (corpus_dir / "extra.txt").unlink()
    enc3 = HashEncoder()
    third = store.build(cfg, enc3, tokenizer)
    assert enc3.embedded == 0 and third.chunks == first.chunks
    index = store.load(cfg)
    assert all("extra.txt" not in a.file for a in index.articles.values())
    assert all(c.article_id in index.articles for c in index.chunks)


def test_interrupted_rebuild_leaves_previous_index_answering(tmp_path, corpus_dir, tokenizer):
    cfg, store = make(tmp_path, corpus_dir)
    store.build(cfg, HashEncoder(), tokenizer)
    before = store.current_build_id()
    (corpus_dir / "extra.txt").write_text(EXTRA * 3, encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        store.build(cfg, HashEncoder(fail_after=0), tokenizer, full=True)
    assert store.current_build_id() == before
    assert not list((tmp_path / "index" / "builds").glob(".tmp-*"))
    qa = QA(cfg, HashEncoder(), tokenizer)
    ans = qa.ask("谁获得了岗位标兵？", mode="bm25")
    assert ans.found and "王院淼" in ans.text


def test_index_built_with_another_model_is_refused_with_rebuild_hint(tmp_path, corpus_dir, tokenizer):
    cfg, store = make(tmp_path, corpus_dir)
    store.build(cfg, HashEncoder(model_name="some-other-model"), tokenizer)
    with pytest.raises(IndexMismatchError, match="some-other-model.*newsqa index rebuild --full"):
        store.load(cfg)


def test_manifest_records_what_built_the_index(tmp_path, corpus_dir, tokenizer):
    cfg, store = make(tmp_path, corpus_dir)
    store.build(cfg, HashEncoder(), tokenizer)
    m = json.loads((store.current_dir() / "manifest.json").read_text(encoding="utf-8"))
    for key in ("format_version", "model", "dim", "tokenizer", "corpus_hash", "counts", "built_at"):
        assert key in m
    assert m["counts"]["articles"] == 7 and m["dim"] == 64


def test_empty_corpus_is_an_error(tmp_path, tokenizer):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.bin").write_bytes(b"\x00\x01")
    cfg, store = make(tmp_path, empty)
    with pytest.raises(CorpusError, match="no articles found"):
        store.build(cfg, HashEncoder(), tokenizer)
    assert store.current_dir() is None


def test_config_errors_name_the_key(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[retrieval]\ntop_kk = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown key \[retrieval\] top_kk"):
        load_config(p)
    p.write_text("[retrieval]\ntop_k = \"five\"\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[retrieval\] top_k: expected int"):
        load_config(p)
    p.write_text("[index]\nkind = \"annoy\"\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must be one of flat, hnsw, ivf"):
        load_config(p)


def test_ocr_threads_come_from_the_config_and_are_checked(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[corpus]\nocr_threads = 1\n", encoding="utf-8")
    assert load_config(p).corpus.ocr_threads == 1
    p.write_text("[corpus]\nocr_threads = -2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[corpus\] ocr_threads"):
        load_config(p)
    from retrieval.ingest.ocrpage import ocr_threads

    assert ocr_threads(0) == min(2, os.cpu_count() or 2)
    assert ocr_threads(512) == os.cpu_count()
