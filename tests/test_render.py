"""Fast checks of the bot's pure parts: rendering, splitting, routing, limits, secrets."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from telegram import Chat, Message, MessageEntity, User

from bot.render import (MAX_MESSAGE, Block, Run, answer_blocks, pack, pack_groups, paragraph_blocks, render_group,
                        utf16_len)
from bot.telegram_bot import (RedactingFormatter, UserRateLimiter, question_for_bot, settings_from_env)
from retrieval.config import Config, TelegramConfig
from retrieval.errors import ConfigError
from retrieval.types import Answer, Article, Chunk, Hit, Source
from telegram_harness import visible_text

TOKEN = "123456789:AAEhBP0av28fj3kdD-test_token-xYz0123"


def make_answer(quote: str, n_sources: int = 1, found: bool = True) -> Answer:
    art = Article("a1", "标题<i>", (f"前文。{quote}后文。",), "f.txt", author="记者&编辑", date="2020-01-02")
    hit = Hit(Chunk(0, "a1", art.text, 1, 0, len(art.text)), art, 1.0)
    sources = tuple(Source(quote, art.title, art.id, art.file, 1, 1.0, art.author, art.date) for _ in range(n_sources))
    return Answer("问？", "答案<b>", found, 0.9, sources if found else (), (hit,))


def test_corpus_text_is_escaped_and_reads_back_verbatim():
    ans = make_answer("他写下<b>&<script>。")
    (msg,) = pack(answer_blocks(ans))
    assert "&lt;b&gt;&amp;&lt;script&gt;" in msg and "<script>" not in msg
    text, balanced = visible_text(msg)
    assert balanced
    assert "他写下<b>&<script>。" in text and "答案<b>" in text
    assert "《标题<i>》 记者&编辑 · 2020-01-02 · 第1段" in text


@pytest.mark.parametrize("confidence,calibrated,noted", [(0.3, True, True), (0.7, True, False), (0.3, False, False)])
def test_an_answer_more_likely_wrong_than_right_says_so_in_telegram_and_the_terminal(confidence, calibrated, noted):
    import dataclasses

    from bot.cli import format_answer

    ans = dataclasses.replace(make_answer("引文。"), confidence=confidence, calibrated=calibrated)
    (msg,) = pack(answer_blocks(ans))
    text, _ = visible_text(msg)
    assert ("把握不大" in text) is noted
    # The note sits under the answer, before the sources; the terminal prints the same.
    assert not noted or text.index("答案<b>") < text.index("把握不大") < text.index("引文。")
    assert ("把握不大" in format_answer(ans)) is noted
    assert ans.to_dict()["unsure"] is noted  # `ask --json`


def test_many_sources_split_between_blocks_each_message_fits_and_is_balanced():
    ans = make_answer("这是一个相当长的引用句子，" * 20 + "。", n_sources=12)
    msgs = pack(answer_blocks(ans))
    assert len(msgs) > 1
    for m in msgs:
        assert utf16_len(m) <= MAX_MESSAGE
        assert visible_text(m)[1]
        assert m.count("<blockquote expandable>") == m.count("</blockquote>")
    assert sum(m.count("<blockquote expandable>") for m in msgs) == 12, "no source lost, none cut in two"


def test_one_block_longer_than_a_message_is_cut_at_sentences_without_losing_text():
    sentences = [f"第{i}句话讲的是某区某街道在某年某月举办的某项活动以及参加活动的居民人数。" for i in range(300)]
    body = "".join(sentences)
    msgs = pack([Block((Run(body[:50], "b"), Run(body[50:])), quote=True)])
    assert len(msgs) > 2
    seen = ""
    for m in msgs:
        assert utf16_len(m) <= MAX_MESSAGE
        text, balanced = visible_text(m)
        assert balanced and m.startswith("<blockquote expandable>") and m.endswith("</blockquote>")
        seen += text
    assert seen == body
    # cuts fall after a sentence end
    assert all(visible_text(m)[0].endswith("。") for m in msgs[:-1])


def test_limit_counts_utf16_units_not_characters():
    emoji = "😀" * 3000  # 6000 UTF-16 units in 3000 characters
    msgs = pack([Block((Run(emoji),))])
    assert len(msgs) == 2 and all(utf16_len(m) <= MAX_MESSAGE for m in msgs)


def test_plain_rendering_of_a_group_has_no_markup():
    groups = pack_groups(answer_blocks(make_answer("引用。")))
    plain = render_group(groups[0], as_html=False)
    assert "<blockquote" not in plain and "</" not in plain
    assert "答案<b>" in plain and "┃ 引用。" in plain


def test_not_found_lists_the_closest_titles():
    (msg,) = pack(answer_blocks(make_answer("x", found=False)))
    text = visible_text(msg)[0]
    assert "没有提到" in text and "《标题<i>》" in text


def test_paragraph_view_bolds_the_quote_inside_its_paragraph():
    ans = make_answer("引用的句子。")
    art = ans.hits[0].article
    msgs = pack(paragraph_blocks(ans.sources[0], art))
    assert "前文。<b>引用的句子。</b>后文。" in msgs[0]


# ---------------------------------------------------------------- routing

def _message(text: str, chat_type: str = "group", entities=(), reply_from: User | None = None) -> Message:
    chat = Chat(-100, chat_type)
    reply = Message(1, dt.datetime.now(dt.timezone.utc), chat, from_user=reply_from, text="之前的回答") if reply_from else None
    return Message(2, dt.datetime.now(dt.timezone.utc), chat, from_user=User(7, "u", False), text=text,
                   entities=list(entities), reply_to_message=reply)


BOT = User(666, "bot", True, username="NewsBot")


def test_group_messages_reach_the_bot_only_when_addressed():
    assert question_for_bot(_message("今天吃什么？"), "NewsBot", 666) is None
    mention = _message("@NewsBot 谁获奖了？", entities=[MessageEntity("mention", 0, 8)])
    assert question_for_bot(mention, "NewsBot", 666) == "谁获奖了？"
    other = _message("@OtherBot 谁获奖了？", entities=[MessageEntity("mention", 0, 9)])
    assert question_for_bot(other, "NewsBot", 666) is None
    assert question_for_bot(_message("追问？", reply_from=BOT), "NewsBot", 666) == "追问？"
    assert question_for_bot(_message("追问？", reply_from=User(8, "v", False)), "NewsBot", 666) is None
    assert question_for_bot(_message("随便问", chat_type="private"), "NewsBot", 666) == "随便问"


def test_mention_offsets_are_utf16_aware():
    text = "😀 @NewsBot 谁获奖了？"
    msg = _message(text, entities=[MessageEntity("mention", 3, 8)])  # the emoji is two UTF-16 units
    question = question_for_bot(msg, "NewsBot", 666)
    assert question is not None and "@NewsBot" not in question and question.endswith("谁获奖了？")


# ---------------------------------------------------------------- limits and secrets

def test_rate_limiter_allows_n_per_sliding_minute():
    now = [0.0]
    lim = UserRateLimiter(10, clock=lambda: now[0])
    assert all(lim.wait_time(1) == 0 for _ in range(10))
    assert lim.wait_time(1) == pytest.approx(60.0)
    assert lim.wait_time(2) == 0, "per user"
    now[0] = 30.0
    assert lim.wait_time(1) == pytest.approx(30.0)
    now[0] = 60.0
    assert lim.wait_time(1) == 0


def test_settings_errors_never_repeat_the_token():
    cfg = Config()
    with pytest.raises(ConfigError, match="not set"):
        settings_from_env(cfg, {})
    with pytest.raises(ConfigError, match="malformed") as exc:
        settings_from_env(cfg, {"TELEGRAM_BOT_TOKEN": "secret-but-wrong"})
    assert "secret-but-wrong" not in str(exc.value)
    s = settings_from_env(cfg, {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": "http://localhost:8081/bot"})
    assert s.base_url == "http://localhost:8081/bot" and len(s.webhook_secret) >= 32
    assert settings_from_env(cfg, {"TELEGRAM_BOT_TOKEN": TOKEN}).base_url == "https://api.telegram.org/bot"
    webhook = cfg.replace(telegram=TelegramConfig(mode="webhook"))
    with pytest.raises(ConfigError, match="webhook_url"):
        settings_from_env(webhook, {"TELEGRAM_BOT_TOKEN": TOKEN})


def test_log_lines_have_the_token_redacted_even_in_tracebacks():
    fmt = RedactingFormatter([TOKEN], "%(message)s")
    try:
        raise RuntimeError(f"POST https://api.telegram.org/bot{TOKEN}/getMe failed")
    except RuntimeError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "url %s", (f"/bot{TOKEN}/x",), sys.exc_info())
    out = fmt.format(record)
    assert TOKEN not in out and out.count("<redacted>") == 2
