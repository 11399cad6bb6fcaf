"""Follow-up questions in Telegram: the real bot over HTTP against the Bot API
emulator, over the hand-written articles of tests/data/conversation. A private
chat is one conversation, /new starts over; in a group each thread of replies to
the bot's answers is one."""

from __future__ import annotations

import re
import shutil

import pytest

from conftest import write_config
from telegram_harness import BOT_USERNAME, BotMessage, emulator, running_bot, visible_text
from test_conversation import CORPUS, FIRST, FOLLOW_UP, HAN_ARTICLE, PARK_ARTICLE, STANDALONE

pytestmark = pytest.mark.slow
GROUP = -100777


def first_title(msg: BotMessage) -> str:
    text, balanced = visible_text(msg.text)
    assert balanced
    m = re.search(r"《(.+?)》", text)
    return m.group(1) if m else ""


def bold(msg: BotMessage) -> str:
    m = re.search(r"<b>(.*?)</b>", msg.text)
    return m.group(1) if m else ""


@pytest.fixture(scope="module")
def bot_world(tmp_path_factory):
    base = tmp_path_factory.mktemp("botconv")
    (base / "corpus").mkdir()
    shutil.copy(CORPUS, base / "corpus" / CORPUS.name)
    config = write_config(base / "config.toml", base / "corpus", base / "index",
                          "[telegram]\nrate_limit_per_minute = 0\n")
    with emulator() as emu, running_bot(emu, config, base):
        yield emu


def test_private_chat_follow_up_new_and_standalone(bot_world):
    emu, user = bot_world, 2001
    emu.send(FIRST, user)
    (first,) = emu.replies(user)
    assert "韩立东" in bold(first) and first_title(first) == HAN_ARTICLE
    emu.send(FOLLOW_UP, user)
    (follow,) = emu.replies(user)
    assert "职工权益保障" in bold(follow) and first_title(follow) == HAN_ARTICLE, follow.text
    emu.send(STANDALONE, user)
    (park,) = emu.replies(user)
    assert "120公顷" in bold(park) and first_title(park) == PARK_ARTICLE, "a standalone question starts fresh"
    emu.send(FIRST, user)
    emu.replies(user)
    emu.send("/new", user)
    (new,) = emu.replies(user)
    assert "新的对话" in new.text
    emu.send(FOLLOW_UP, user)
    (after,) = emu.replies(user)
    assert first_title(after) != HAN_ARTICLE and "职工权益保障" not in bold(after), "/new forgot 韩立东"


def test_group_reply_thread_is_a_conversation(bot_world):
    emu = bot_world
    mention = f"@{BOT_USERNAME} {FIRST}"
    emu.send(mention, 2101, GROUP, "supergroup",
             entities=[{"type": "mention", "offset": 0, "length": len(BOT_USERNAME) + 1}])
    (answer,) = emu.replies(GROUP)
    assert "韩立东" in bold(answer)
    # Someone replies to the bot's answer: the same thread, so "他" is 韩立东.
    emu.send(FOLLOW_UP, 2102, GROUP, "supergroup",
             reply_to={**answer.as_message(), "chat": {"id": GROUP, "type": "supergroup"}})
    (follow,) = emu.replies(GROUP)
    assert "职工权益保障" in bold(follow) and first_title(follow) == HAN_ARTICLE, follow.text
    # A new mention is a new thread: nothing to lean on.
    q = f"@{BOT_USERNAME} {FOLLOW_UP}"
    emu.send(q, 2103, GROUP, "supergroup", entities=[{"type": "mention", "offset": 0, "length": len(BOT_USERNAME) + 1}])
    (fresh,) = emu.replies(GROUP)
    assert first_title(fresh) != HAN_ARTICLE
