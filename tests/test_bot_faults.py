"""The real bot (`newsqa bot`) while the Bot API fails: 500s, requests held past
PTB's read timeout, and 429 flood limits, for a few seconds under a steady load of
chats. Afterwards every question has exactly one reply, the one it gets when
asked alone; the bot still runs, and its log has no traceback for these expected
outages.

Short versions of `python bench/bot_load.py --faults`."""

from __future__ import annotations

import asyncio
import logging
import sys

import pytest
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.telegram_bot import NetworkErrorsOneLine

from conftest import ROOT
from telegram_harness import emulator, running_bot

sys.path.insert(0, str(ROOT / "bench"))

from bot_load import Load, Phase, Tally, fault_phase, first_line, make_world, reference_replies  # noqa: E402

CHATS = 4
# PTB gives up on a request after 5 s (its default read timeout); a held request
# must be held longer than that for the bot to see a timeout.
READ_TIMEOUT_S = 5.0


@pytest.fixture(scope="module")
def live_bot(tmp_path_factory):
    config, workdir = make_world(tmp_path_factory.mktemp("botfaults"), user_limit=0)
    with emulator() as emu, running_bot(emu, config, workdir) as bot:
        yield emu, bot, reference_replies(emu)


def run_outage(emu, questions: list[tuple[str, str]], first_chat: int, kind: str, seconds: float,  # type: ignore[no-untyped-def]
               methods: list[str] | None = None, retry_after: int | None = None) -> tuple[Load, Phase]:
    async def go() -> tuple[Load, Phase]:
        load = Load(emu, CHATS, questions, give_up_s=60, first_chat=first_chat)
        await load.start()
        phase = await fault_phase(load, kind, seconds, lead_s=1.0, tail_s=0.0, methods=methods,
                                  retry_after=retry_after, recovery_timeout_s=45)
        await load.stop(settle_s=1.0)
        return load, phase

    return asyncio.run(go())


CASES = [
    # kind, window s, methods that fail (None: all), fixed retry_after
    pytest.param("500", 4, None, None, id="500-all-methods"),
    pytest.param("500", 3, ["sendMessage"], None, id="500-sendMessage"),
    pytest.param("hang", 4, None, None, id="held-all-methods"),
    pytest.param("hang", READ_TIMEOUT_S + 2, ["sendMessage"], None, id="timeout-sendMessage"),
    pytest.param("429", 4, None, None, id="429-all-methods"),
    # retry_after=1 in a 5 s window: PTB's rate limiter gives up after 3 tries, the bot must not.
    pytest.param("429", 5, ["sendMessage"], 1, id="429-short-retry-after-sendMessage"),
]


@pytest.mark.slow
@pytest.mark.parametrize("kind,seconds,methods,retry_after", CASES)
def test_every_question_is_answered_once_after_the_outage(live_bot, request, kind, seconds, methods, retry_after):
    emu, bot, questions = live_bot
    first_chat = 30_000 + 100 * [c.id for c in CASES].index(request.node.callspec.id)
    log_start = len(bot.log)
    load, phase = run_outage(emu, questions, first_chat, kind, seconds, methods, retry_after)
    outage = emu.end_outages()[-1]
    log = bot.log[log_start:]

    assert outage.kind == kind and outage.hits > 0, "the outage cut the bot off"
    assert phase.window is not None
    since, until = phase.window
    tally = Tally.of(load.questions)
    waiting = [q for q in load.questions if q.sent_ms < until and (q.first_reply_ms or until) >= since]
    assert tally.asked > CHATS and waiting, "questions were waiting for an answer during the outage"
    if methods == ["sendMessage"]:
        failed = [c for c in emu.calls("sendMessage") if c.get("outage") == kind
                  and since <= c["time"] < until]
        assert failed, "replies were held up by the outage"
    assert (tally.lost, tally.duplicated, tally.wrong) == (0, 0, 0), tally
    assert load.stray == []
    assert all(len(q.replies) == 1 and first_line(q.replies[0]) == q.expect for q in load.questions), \
        "each question got the reply it gets when asked alone"
    assert phase.recovery_s is not None and phase.recovery_s < 10, \
        f"answered {phase.recovery_s} s after the Bot API came back"
    assert bot.proc.poll() is None, "the bot still runs"
    assert "Traceback" not in log, log[log.find("Traceback") - 300:][:3000]
    if kind == "hang" and seconds > READ_TIMEOUT_S:
        assert "TimedOut" in log, "the bot's requests timed out (and it said so in one line)"
    if retry_after:
        assert "Rate limit hit after maximum of 3 retries: RetryAfter" in log, "PTB's give-up, as one line"


@pytest.mark.parametrize("error,outage", [
    (NetworkError("Internal Server Error"), True),
    (TimedOut(), True),
    (RetryAfter(3), True),
    (BadRequest("Bad Request: can't parse entities"), False),  # a bug of ours: the traceback stays
])
def test_outages_are_logged_in_one_line_and_bad_requests_with_their_traceback(error, outage):
    try:
        raise error
    except Exception:
        record = logging.getLogger("telegram.ext.AIORateLimiter").makeRecord(
            "telegram.ext.AIORateLimiter", logging.ERROR, __file__, 1, "Rate limit hit after maximum of %d retries",
            (3,), sys.exc_info())
    assert NetworkErrorsOneLine().filter(record)
    text = logging.Formatter("%(levelname)s %(name)s: %(message)s").format(record)
    if outage:
        assert text == (f"WARNING telegram.ext.AIORateLimiter: Rate limit hit after maximum of 3 retries: "
                        f"{error.__class__.__name__}: {error}")
    else:
        assert text.startswith("ERROR ") and "Traceback (most recent call last)" in text and "raise error" in text
