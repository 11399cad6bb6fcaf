"""The e-paper archive through the Milvus backend: articles keep page, date,
kicker and subtitle in the engine, a second printing is cited, the kicker and
subtitle are searchable by Milvus' own BM25, and a day's headlines are listed
from the articles the engine holds."""

from __future__ import annotations

import uuid

import pytest

pytest.importorskip("pymilvus")

from archive_fixture import write_archive  # noqa: E402
from conftest import HashEncoder, needs_milvus, write_config  # noqa: E402
from retrieval.answer.qa import QA  # noqa: E402
from retrieval.archive import index_catalog  # noqa: E402
from retrieval.config import load_config  # noqa: E402
from retrieval.index.backend import open_backend  # noqa: E402
from retrieval.index.milvus_server import MilvusServer, free_port  # noqa: E402

pytestmark = needs_milvus


def test_archive_metadata_survives_milvus(tmp_path, tokenizer):
    corpus = write_archive(tmp_path / "paper")
    with MilvusServer(tmp_path / "milvus", free_port()) as srv:
        cfg = load_config(write_config(
            tmp_path / "config.toml", corpus, tmp_path / "index",
            f'backend = "milvus"\n[milvus]\nuri = "{srv.uri}"\ncollection = "t{uuid.uuid4().hex[:10]}"\n'
            '[embedding]\nmodel = "test-hash"\n[reader]\nenabled = false\n'))
        report = open_backend(cfg).build(cfg, HashEncoder(), tokenizer)
        assert report.articles == 5
        qa = QA(cfg, HashEncoder(), tokenizer)
        assert qa.index.manifest["issues"] == 2
        hits = qa.retrieve("银发食堂", 3, mode="bm25")
        a = hits[0].article
        assert a.title == "全市新建二十座社区养老驿站"
        assert (a.page, a.date, a.kicker, a.subtitle, a.also_printed) == (
            1, "2020-01-09", "市政府常务会议部署——", "银发食堂同步开张", (("2020-01-09", 4),))
        day = index_catalog(qa.index).day("2020-01-09")
        assert [p.page for p in day.pages] == [1, 4]
        assert [h.title for h in day.pages[1].headlines] == ["全市新建二十座社区养老驿站", "老旧小区加装电梯提速"]
