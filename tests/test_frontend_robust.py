"""Front ends under awkward input: the session goes on, the exit code says what
happened, and no traceback reaches the user."""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import NEWSQA, ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory, built_sample):
    """A copy of the sample as `newsqa index rebuild` built it, shared by the module's questions."""
    from conftest import copy_sample_index

    base = tmp_path_factory.mktemp("frontend")
    return base, copy_sample_index(built_sample, base)


def run(args, cwd, input_bytes: bytes | None = None, extra_env: dict | None = None, timeout: int = 300):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(extra_env or {})}
    return subprocess.run(NEWSQA + args, cwd=cwd, input=input_bytes, capture_output=True, timeout=timeout, env=env)


def no_traceback(r: subprocess.CompletedProcess) -> None:
    assert b"Traceback" not in r.stderr and b"Traceback" not in r.stdout


def test_chat_reports_a_too_long_question_and_keeps_going(env):
    cwd, cfg = env
    stdin = ("问" * 600 + "\n谁获得了岗位标兵？\n").encode()
    r = run(["--config", str(cfg), "chat"], cwd, stdin)
    no_traceback(r)
    assert r.returncode == 0
    assert b"too long" in r.stderr
    assert "王院淼".encode() in r.stdout, "the question after the bad one is still answered"


def test_too_long_question_is_a_usage_error_with_exit_2(env):
    cwd, cfg = env
    r = run(["--config", str(cfg), "ask", "问" * 600], cwd)
    no_traceback(r)
    assert r.returncode == 2 and b"too long" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_question_of_punctuation_alone_is_refused_not_answered(env):
    cwd, cfg = env
    r = run(["--config", str(cfg), "ask", "？？ ！"], cwd)
    no_traceback(r)
    assert r.returncode == 2 and b"no words" in r.stderr, r.stdout.decode()
    assert len(r.stderr.strip().splitlines()) == 1
    assert "答".encode() not in r.stdout


def test_gbk_question_bytes_are_understood(env):
    cwd, cfg = env
    question = "谁获得了岗位标兵？".encode("gbk")
    r = run(["--config", str(cfg), "ask", os.fsdecode(question)], cwd)
    no_traceback(r)
    assert r.returncode == 0, r.stderr
    assert "王院淼".encode() in r.stdout


def test_one_undecodable_line_does_not_stop_a_batch(env):
    cwd, cfg = env
    stdin = b"\xff\xfe\xfa\xff\n" + "谁获得了岗位标兵？\n".encode()
    r = run(["--config", str(cfg), "ask", "-", "--json"], cwd, stdin)
    no_traceback(r)
    assert r.returncode == 2
    assert b"stdin line 1" in r.stderr and b"not UTF-8" in r.stderr
    assert "王院淼".encode() in r.stdout


def test_english_question_words_in_a_chinese_question(env):
    cwd, cfg = env
    r = run(["--config", str(cfg), "ask", "Who 获得了岗位标兵?"], cwd)
    no_traceback(r)
    assert r.returncode == 0 and "王院淼".encode() in r.stdout


def test_bot_with_unreachable_api_says_one_line(env):
    cwd, cfg = env
    r = run(["--config", str(cfg), "bot"], cwd, extra_env={
        "TELEGRAM_BOT_TOKEN": "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345678",
        "TELEGRAM_BASE_URL": "http://127.0.0.1:9/bot"})
    no_traceback(r)
    assert r.returncode == 1
    errors = [ln for ln in r.stderr.decode().splitlines() if "ERROR" in ln or "error:" in ln]
    assert errors == [ln for ln in errors if "cannot reach the Bot API" in ln] and len(errors) == 1
