"""The optional language model ([llm]): the OpenAI-compatible protocol against a
small real HTTP server written here (streaming, a timeout, a server that is
down, bad JSON, HTTP errors, answers without citations or citing a passage
that does not exist), and the sentence check deciding what is shown. The real
llama.cpp server is in tests/test_llm_server.py."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import pytest

pytest.importorskip("openai", reason="the openai package is not installed (pip install -e '.[test]')")

from retrieval.config import LLMConfig  # noqa: E402
from retrieval.llm.check import check_answer, citations, split_sentences  # noqa: E402
from retrieval.llm.client import LLMError, OpenAIClient  # noqa: E402
from retrieval.llm.grounded import WARNING_NOTHING, grounded_answer, passage_text  # noqa: E402
from retrieval.types import Answer, Article, Chunk, Hit, Source  # noqa: E402

ARTICLE = Article("a1", "顺河区总工会检查节前消防安全",
                  ("1月8日，顺河区总工会副主席韩立东带队检查了区职工服务中心的消防安全。",
                   "韩立东现任顺河区总工会党组成员、副主席，分管职工权益保障工作。"),
                  "fixture.jsonl", date="2021-01-08", page=2)
CHUNK = Chunk(0, "a1", ARTICLE.text, 1, 0, len(ARTICLE.text))
HIT = Hit(CHUNK, ARTICLE, 1.0)
ANSWER = Answer("谁带队检查了顺河区职工服务中心的消防安全？", "韩立东", True, 0.9,
                (ARTICLE.source(ARTICLE.paragraphs[0], 1, 0.9),), (HIT,), (HIT,))
SUPPORTED = "1月8日，顺河区总工会副主席韩立东带队检查了区职工服务中心的消防安全[1]。"


class FakeServer:
    """Answers /v1/chat/completions with whatever ``reply(handler)`` writes."""

    def __init__(self, reply: Callable[[BaseHTTPRequestHandler], None]) -> None:
        outer = self
        self.requests: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("Content-Length", "0"))
                outer.requests.append(json.loads(self.rfile.read(n)))
                try:
                    reply(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def sse(pieces: list[str], delay: float = 0.0, bad: str | None = None) -> Callable[[BaseHTTPRequestHandler], None]:
    def reply(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        for p in pieces:
            chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m",
                     "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
            h.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
            h.wfile.flush()
            time.sleep(delay)
        if bad is not None:
            h.wfile.write(f"data: {bad}\n\n".encode())
        h.wfile.write(b"data: [DONE]\n\n")
        h.wfile.flush()
    return reply


def status(code: int) -> Callable[[BaseHTTPRequestHandler], None]:
    def reply(h: BaseHTTPRequestHandler) -> None:
        body = json.dumps({"error": {"message": "overloaded", "type": "server_error"}}).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    return reply


def run(reply, tokenizer, timeout_s: float = 10.0, on_text=None):  # type: ignore[no-untyped-def]
    server = FakeServer(reply)
    try:
        cfg = LLMConfig(base_url=server.url, model="m", timeout_s=timeout_s, max_tokens=64)
        g = grounded_answer(OpenAIClient(cfg, api_key="sk-test-secret"), cfg, ANSWER.question, [], ANSWER,
                            tokenizer, on_text)
        return g, server
    finally:
        server.close()


def test_a_streamed_supported_answer_is_used_and_arrives_in_pieces(tokenizer):
    pieces = ["1月8日，顺河区", "总工会副主席韩立东", "带队检查了区职工服务中心的消防安全[1]。"]
    got: list[str] = []
    g, server = run(sse(pieces, delay=0.05), tokenizer, on_text=got.append)
    assert got == pieces, "the text is handed on piece by piece as it arrives"
    assert g.used and not g.warning and g.text == SUPPORTED
    request = server.requests[0]
    assert request["stream"] is True and request["model"] == "m" and request["max_tokens"] == 64
    prompt = request["messages"][-1]["content"]
    assert "[1] 《顺河区总工会检查节前消防安全》 2021年1月8日 第2版" in prompt and ANSWER.question in prompt


def test_an_unsupported_sentence_is_dropped_and_the_rest_kept(tokenizer):
    g, _ = run(sse([SUPPORTED, "韩立东带队检查了18个单位[1]。"]), tokenizer)
    assert g.used and g.text == SUPPORTED
    (dropped,) = [s for s in g.sentences if not s.supported]
    assert "18" in dropped.reason


@pytest.mark.parametrize("text,why", [
    ("1月8日，顺河区总工会副主席韩立东带队检查了区职工服务中心的消防安全。", "cites no passage"),
    ("1月8日，顺河区总工会副主席韩立东带队检查了区职工服务中心的消防安全[3]。", "cites [3]"),
    ("The inspection was led by John Smith [1].", "not Chinese"),
])
def test_no_citation_an_out_of_range_one_or_made_up_text_leaves_the_extractive_answer(tokenizer, text, why):
    g, _ = run(sse([text]), tokenizer)
    assert not g.used and g.warning == WARNING_NOTHING
    assert why in g.sentences[0].reason


@pytest.mark.parametrize("reply,needle", [
    (sse(["韩立东"], bad="{not json"), "not a chat completion"),
    (status(500), "HTTP 500"),
    (status(401), "HTTP 401"),
])
def test_bad_json_and_http_errors_are_one_line_warnings(tokenizer, reply, needle):
    g, _ = run(reply, tokenizer)
    assert not g.used and needle in g.warning and "\n" not in g.warning
    assert "sk-test-secret" not in g.warning


def test_a_server_slower_than_the_timeout_is_given_up(tokenizer):
    started = time.monotonic()
    g, _ = run(sse(["韩立东"] * 50, delay=0.1), tokenizer, timeout_s=1.0)
    assert not g.used and "longer than 1 s" in g.warning
    assert time.monotonic() - started < 4, "gave up at the timeout, not at the end of the answer"


def test_a_server_that_is_down_is_a_warning_not_an_error(tokenizer):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = LLMConfig(base_url=f"http://127.0.0.1:{port}/v1", model="m", timeout_s=5)
    g = grounded_answer(OpenAIClient(cfg), cfg, ANSWER.question, [], ANSWER, tokenizer)
    assert not g.used and "cannot be reached" in g.warning
    with pytest.raises(LLMError):
        list(OpenAIClient(cfg).stream([{"role": "user", "content": "x"}], 16, 5))


def test_sentences_and_citations_are_read_as_written(tokenizer):
    assert split_sentences("甲[1]。乙【2】！丙") == ["甲[1]。", "乙【2】！", "丙"]
    assert citations("韩立东带队[1][2]。") == ("韩立东带队。", (1, 2))
    assert citations("韩立东带队［1，3］。") == ("韩立东带队。", (1, 3))
    passages = [passage_text(HIT)]
    assert [s.supported for s in check_answer(SUPPORTED + "韩立东是顺河区总工会副主席[1]。", passages, tokenizer)] == [True, True]



@pytest.mark.parametrize("body,needle", [
    ('[llm]\nbase_url = "http://127.0.0.1:8080/v1"\n', "[llm] model: required"),
    ('[llm]\nbase_url = "localhost:8080"\nmodel = "m"\n', "[llm] base_url: expected http://"),
    ('[llm]\ntimeout_s = 0\n', "[llm] timeout_s"),
])
def test_llm_config_errors_name_the_key(tmp_path, body, needle):
    from retrieval.config import load_config
    from retrieval.errors import ConfigError

    (tmp_path / "c.toml").write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        load_config(tmp_path / "c.toml")


def test_without_a_base_url_no_model_is_used(sample_qa):
    from retrieval.app import open_chat
    from retrieval.config import Config
    from retrieval.conversation import Conversation

    chat = open_chat(Config(), sample_qa)
    reply = chat.ask(Conversation(), "谁获得了岗位标兵？")
    assert chat.llm is None and reply.grounded is None and "llm" not in reply.to_dict()
    assert reply.answer == sample_qa.ask("谁获得了岗位标兵？"), "the same answer as without conversations"
