"""The real bot over HTTP against the Bot API emulator, on an e-paper archive
(tests/archive_fixture.py): /day lists a day's headlines by page, /about
tells the dates and the number of issues, and a quote cites its page."""

from __future__ import annotations

import pytest

from archive_fixture import write_archive
from conftest import write_config
from telegram_harness import emulator, running_bot, visible_text

pytestmark = pytest.mark.slow

USER = 1001


@pytest.fixture(scope="module")
def chat(tmp_path_factory):
    base = tmp_path_factory.mktemp("botarchive")
    corpus = write_archive(base / "paper")
    config = write_config(base / "config.toml", corpus, base / "index", f"""
[telegram]
allowed_users = [{USER}]
rate_limit_per_minute = 100
""")
    with emulator() as emu, running_bot(emu, config, base):
        def say(text: str, count: int = 1) -> list[str]:
            emu.send(text, USER)
            out = []
            for msg in emu.replies(USER, count):
                shown, balanced = visible_text(msg.text)
                assert balanced and msg.parse_mode == "HTML", msg.text
                out.append(shown)
            return out
        yield say, emu


def test_day_lists_the_headlines_by_page(chat):
    say, _ = chat
    (text,) = say("/day 2020-01-09")
    assert "2020年1月9日 · 2 个版面 · 3 篇文章" in text
    first, fourth = text.index("第1版"), text.index("第4版")
    assert first < text.index("《全市新建二十座社区养老驿站》") < text.index("《滨江公园冰雪节开幕》") < fourth
    assert text.index("《老旧小区加装电梯提速》") > fourth and "（同第1版）" in text[fourth:]
    (page,) = say("/day 2020年1月10日 3")
    assert "《冬季供暖投诉量同比下降》" in page and "全国粮食产量再创新高" not in page


def test_day_explains_a_bad_or_empty_day(chat):
    say, _ = chat
    (bad,) = say("/day tomorrow")
    assert "看不懂日期" in bad and "2020-01-09 至 2020-01-10" in bad
    (empty,) = say("/day 2020-01-11")
    assert "2020-01-11 没有收录的文章" in empty
    (no_page,) = say("/day 2020-01-09 7")
    assert "没有第7版" in no_page and "第1版、第4版" in no_page
    (usage,) = say("/day")
    assert "用法：/day" in usage


def test_about_shows_date_range_and_issues_and_the_menu_has_day(chat):
    say, emu = chat
    (about,) = say("/about")
    assert "2020-01-09 至 2020-01-10，2 期" in about
    assert "day" in {c["command"] for c in emu.commands() or []}


def test_a_quote_cites_date_and_pages(chat):
    say, _ = chat
    (reply,) = say("全市今年新建多少座社区养老驿站？")
    assert "《全市新建二十座社区养老驿站》 林晓雨 · 2020-01-09 · 第1、4版 · 第" in reply
