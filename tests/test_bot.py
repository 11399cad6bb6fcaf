"""The real bot (`newsqa bot`: python-telegram-bot Application, long polling or
webhook) against a local Bot API emulator over HTTP, driven as users would.

Corpus: the bundled newspaper page plus a few JSON Lines articles made for
what the page lacks (markup-like text, many near-identical reports for a reply
too long for one message)."""

from __future__ import annotations

import html
import itertools
import json
import re
import shutil
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import NEWSQA, SAMPLE, write_config
from telegram_harness import (BOT_USERNAME, TOKEN, BotMessage, Emulator, bot_env, emulator, running_bot,
                              visible_text)

pytestmark = pytest.mark.slow

ALLOWED = list(range(1000, 1100))
STRANGER = 4242
GROUP = -1001234567
ESCAPE_TEXT = "<b>&<script>"
DISTRICTS = ["东城区", "西城区", "朝阳区", "海淀区", "丰台区", "石景山区", "门头沟区", "房山区", "通州区", "顺义区",
             "昌平区", "大兴区", "怀柔区", "平谷区", "密云区"]
LONG_QUESTION = "社区冰雪运动会设置了哪些比赛项目？"
SAMPLE_QUESTION = ("谁获得了岗位标兵？", "王院淼", "京津冀交通一体化劳动竞赛先进获表彰")
MORE_QUESTIONS = [
    ("黑山寨社区服务站位于哪个镇？", "延寿镇", "昌平山区社区服务站职工享工会关爱"),
    ("顺义区总工会的消防安全检查由谁带队？", "李慧哲", "顺义区总工会排查隐患保安全过节"),
    ("阎村镇总工会共表彰了多少名最美劳动者？", "23", "阎村镇23名职工获评“最美劳动者”"),
    SAMPLE_QUESTION,
]


def extra_articles() -> list[dict]:
    arts = [{
        "title": "职工网络安全课堂开讲", "author": "赵明", "date": "2020-01-10",
        "text": f"讲师在网络安全课堂上演示了{ESCAPE_TEXT}这类网页注入写法，提醒职工不要在陌生网站输入账号和密码。\n"
                "课堂还讲解了识别钓鱼邮件的方法。",
    }]
    for i, d in enumerate(DISTRICTS):
        arts.append({
            "title": f"{d}社区冰雪运动会开幕", "author": "钱亮", "date": f"2020-01-{i + 5:02d}",
            "text": (f"{d}第{i + 2}届社区冰雪运动会于1月{i + 5}日开幕，本届社区冰雪运动会设置了速度滑冰、短道速滑、冰壶、"
                     f"冰球、雪地足球、冰上拔河、雪圈竞速、越野滑雪、旱地冰壶和亲子滑冰等比赛项目，来自全区{10 + i}个街道"
                     f"和乡镇的{30 + i}支代表队、{500 + 10 * i}余名社区居民报名参赛，其中年龄最大的参赛者{70 + i}岁、"
                     f"年龄最小的只有{6 + i % 3}岁，赛事将一直持续到春节前，组委会还在各个比赛场地设置了冰雪运动体验区、"
                     "安全知识宣传站和热饮补给点，方便居民就近参与冰雪运动、感受冰雪运动带来的乐趣。\n"
                     f"{d}体育局表示，今后每年都将举办社区冰雪运动会。"),
        })
    return arts


class World:
    def __init__(self, emu: Emulator, bot, workdir: Path, corpus: Path, config: Path) -> None:  # type: ignore[no-untyped-def]
        self.emu, self.bot, self.workdir, self.corpus, self.config = emu, bot, workdir, corpus, config

    def articles(self) -> dict[str, dict]:
        current = self.workdir / "index" / "current"
        rows = [json.loads(x) for x in (current / "articles.jsonl").read_text(encoding="utf-8").splitlines()]
        return {a["title"]: a for a in rows}

    def manifest(self) -> dict:
        return json.loads((self.workdir / "index" / "current" / "manifest.json").read_text(encoding="utf-8"))

    def ask(self, question: str, user: int, count: int = 1) -> list[BotMessage]:
        self.emu.send(question, user)
        return self.emu.replies(user, count)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("bot")
    corpus = base / "corpus"
    corpus.mkdir()
    shutil.copy(SAMPLE, corpus / SAMPLE.name)
    (corpus / "extra.jsonl").write_text(
        "\n".join(json.dumps(a, ensure_ascii=False) for a in extra_articles()) + "\n", encoding="utf-8")
    config = write_config(base / "config.toml", corpus, base / "index", f"""
[retrieval]
top_k = 15
[answer]
max_sources = 15
[reader]
depth = 15
[telegram]
allowed_users = {ALLOWED}
rate_limit_per_minute = 10
reload_check_seconds = 0.5
example_question = "{SAMPLE_QUESTION[0]}"
""")
    with emulator() as emu, running_bot(emu, config, base) as bot:
        yield World(emu, bot, base, corpus, config)


def html_ok(msg: BotMessage) -> str:
    """The visible text of an HTML reply, after checking it is well-formed and fits."""
    assert msg.parse_mode == "HTML"
    assert len(msg.text.encode("utf-16-le")) // 2 <= 4096
    text, balanced = visible_text(msg.text)
    assert balanced, msg.text
    return text


def quotes(msg: BotMessage) -> list[str]:
    """The quoted sentences (blockquote text minus the citation line)."""
    out = []
    for block in re.findall(r"<blockquote expandable>(.*?)</blockquote>", msg.text, re.S):
        body = html.unescape(re.sub(r"<[^>]+>", "", block))
        out.append(body.rsplit("\n", 1)[0])
    return out


# ---------------------------------------------------------------- private chat

def test_private_question_gets_one_reply_with_answer_quote_and_source(world):
    question, needle, title = SAMPLE_QUESTION
    (reply,) = world.ask(question, 1001)
    text = html_ok(reply)
    assert needle in text and title in text
    assert re.search(r"<b>[^<]*王院淼[^<]*</b>", reply.text), "the answer is in bold"
    assert f"《{title}》 马超 · 第" in text, "source line: 《标题》 作者 · 第N段"
    articles = world.articles()
    assert quotes(reply) and all(any(q in "\n".join(a["paragraphs"]) for a in articles.values()) for q in quotes(reply))
    assert [b["text"] for b in reply.buttons][:1] == ["查看原文"]
    assert reply.reply_to is None, "no quoting of the question in a private chat"
    assert world.emu.silence(1001, 1.0) == [], "exactly one reply"
    typing = [c for c in world.emu.calls("sendChatAction") if str(c["body"]["chat_id"]) == "1001"]
    assert typing and typing[0]["body"]["action"] == "typing"


def test_start_help_about_and_unknown_commands(world):
    (start,) = world.ask("/start", 1002)
    text = html_ok(start)
    assert "newsqa" in text and SAMPLE_QUESTION[0] in text and "/ask" in text
    (helpmsg,) = world.ask("/help", 1002)
    assert f"@{BOT_USERNAME}" in html_ok(helpmsg) and "/about" in html_ok(helpmsg)
    (about,) = world.ask("/about", 1002)
    counts = world.manifest()["counts"]
    text = html_ok(about)
    assert f"{counts['articles']} 篇文章" in text and f"{counts['chunks']} 个文本块" in text
    assert "2020-01-05 至 2020-01-19" in text, "date range of the dated articles"
    assert "multilingual-e5-small" in text and world.manifest()["built_at"] in text
    (unknown,) = world.ask("/weather", 1002)
    assert "不认识的命令 /weather" in html_ok(unknown) and "/ask" in html_ok(unknown)
    registered = {c["command"] for c in world.emu.commands() or []}
    assert {"start", "help", "ask", "about"} <= registered


def test_buttons_expand_the_paragraph_and_show_more_sources(world):
    (reply,) = world.ask("黑山寨社区服务站位于哪个镇？", 1003)
    buttons = {b["text"]: b["callback_data"] for b in reply.buttons}
    assert set(buttons) == {"查看原文", "更多来源"}
    world.emu.click(reply, buttons["查看原文"], 1003)
    (para,) = world.emu.replies(1003)
    text = html_ok(para)
    article = world.articles()["昌平山区社区服务站职工享工会关爱"]
    paragraph = next(p for p in article["paragraphs"] if quotes(reply)[0] in p)
    assert paragraph in text, "the whole cited paragraph"
    assert f"<b>{html.escape(quotes(reply)[0], quote=False)}</b>" in para.text, "the quote highlighted"
    assert para.reply_to == reply.message_id
    world.emu.click(reply, buttons["更多来源"], 1003)
    (more,) = world.emu.replies(1003)
    titles = re.findall(r"《(.+?)》", html_ok(more))
    assert titles and "昌平山区社区服务站职工享工会关爱" not in titles, "sources not already shown"
    world.emu.click(reply, "p:no-such-answer:0", 1003)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        answers = [c["body"].get("text", "") for c in world.emu.calls("answerCallbackQuery")]
        if any("过期" in a for a in answers):
            break
        time.sleep(0.1)
    assert any("过期" in a for a in answers), answers
    assert world.emu.silence(1003, 0.5) == []


def test_not_found_is_said_honestly_with_the_closest_titles(world):
    (reply,) = world.ask("谁获得了2019年诺贝尔文学奖？", 1004)
    text = html_ok(reply)
    assert "没有提到" in text and "最接近的文章" in text
    assert re.search(r"《.+?》", text)
    assert reply.buttons == []


# ---------------------------------------------------------------- groups

def test_group_answers_mentions_commands_and_replies_and_ignores_chatter(world):
    emu = world.emu
    chatter = emu.send("今天中午食堂吃什么？", 1010, GROUP, "supergroup")
    other_bot = emu.send("/ask@OtherBot 谁获得了岗位标兵？", 1010, GROUP, "supergroup")
    mention_text = f"@{BOT_USERNAME} 谁获得了岗位标兵？"
    mention = emu.send(mention_text, 1010, GROUP, "supergroup",
                       entities=[{"type": "mention", "offset": 0, "length": len(BOT_USERNAME) + 1}])
    ask = emu.send(f"/ask@{BOT_USERNAME} 黑山寨社区服务站位于哪个镇？", 1011, GROUP, "supergroup")
    replies = {m.reply_to: m for m in emu.replies(GROUP, 2)}
    assert set(replies) == {mention, ask}
    assert "王院淼" in html_ok(replies[mention]) and "延寿镇" in html_ok(replies[ask])
    follow_up = emu.send("顺义区总工会的消防安全检查由谁带队？", 1012, GROUP, "supergroup",
                         reply_to={**replies[mention].as_message(), "chat": {"id": GROUP, "type": "supergroup"}})
    (answer,) = emu.replies(GROUP, 1)
    assert answer.reply_to == follow_up and "李慧哲" in html_ok(answer)
    late = emu.silence(GROUP, 1.5)
    assert late == [], f"chatter ({chatter}) and /ask@OtherBot ({other_bot}) must be ignored: {late}"


# ---------------------------------------------------------------- formatting

def test_markup_in_articles_is_escaped_and_accepted(world):
    (reply,) = world.ask("讲师在网络安全课堂上演示了什么写法？", 1020)
    assert "&lt;b&gt;&amp;&lt;script&gt;" in reply.text
    text = html_ok(reply)
    assert ESCAPE_TEXT in text, "the reader sees the article's text as written"
    article = world.articles()["职工网络安全课堂开讲"]
    assert any(ESCAPE_TEXT in q and q in "\n".join(article["paragraphs"]) for q in quotes(reply))


def test_a_long_answer_is_split_into_balanced_messages(world):
    emu = world.emu
    emu.send(LONG_QUESTION, 1021)
    msgs = emu.replies(1021, 2)
    msgs += emu.silence(1021, 1.0)
    assert len(msgs) >= 2
    total = ""
    for m in msgs:
        total += html_ok(m) + "\n"
    assert sum(len(quotes(m)) for m in msgs) >= 12, "every source is there"
    assert sum(text.count("社区冰雪运动会开幕》") for text in [total]) >= 12
    assert all(not m.buttons for m in msgs[:-1]) and msgs[-1].buttons, "buttons under the last part"


def test_rejected_html_is_resent_as_plain_text(world):
    world.emu.fail_next("sendMessage", 1022, 400, "Bad Request: can't parse entities: unsupported start tag")
    (reply,) = world.ask(SAMPLE_QUESTION[0], 1022)
    assert reply.parse_mode is None
    assert "王院淼" in reply.text and "《京津冀交通一体化劳动竞赛先进获表彰》" in reply.text and "<b>" not in reply.text


def test_telegram_flood_limit_retry_after_is_honoured(world):
    world.emu.fail_next("sendMessage", 1023, 429, "Too Many Requests: retry after 1", retry_after=1)
    (reply,) = world.ask(SAMPLE_QUESTION[0], 1023)
    assert "王院淼" in html_ok(reply)
    sends = [c["time"] for c in world.emu.calls("sendMessage") if str(c["body"]["chat_id"]) == "1023"]
    assert len(sends) == 2 and sends[1] - sends[0] >= 1000, "the retry waited out retry_after"


def test_an_unexpected_failure_gets_an_apology_and_a_logged_traceback(world):
    log_start = len(world.bot.log)
    world.emu.fail_next("sendMessage", 1024, 400, "Bad Request: chat not found")
    (reply,) = world.ask(SAMPLE_QUESTION[0], 1024)
    assert "抱歉" in reply.text and "王院淼" not in reply.text
    world.bot.wait_for_log("Traceback", timeout=10, after=log_start)
    assert re.search(r"update \d+ failed\nTraceback", world.bot.log[log_start:])


# ---------------------------------------------------------------- access and limits

def test_users_outside_the_allow_list_get_one_polite_refusal(world):
    (refusal,) = world.ask(SAMPLE_QUESTION[0], STRANGER)
    assert "受邀用户" in refusal.text
    world.emu.send("/start", STRANGER)
    assert world.emu.silence(STRANGER, 1.5) == [], "refused once, then ignored"


def test_the_eleventh_question_in_a_minute_is_asked_to_slow_down(world):
    for _ in range(11):
        world.emu.send(SAMPLE_QUESTION[0], 1030)
    msgs = world.emu.replies(1030, 11)
    slow = [m for m in msgs if "太快" in m.text]
    assert len(slow) == 1 and "10" in slow[0].text
    assert sum("王院淼" in m.text for m in msgs) == 10


def test_twenty_users_at_once_all_get_correct_answers(world):
    users = list(range(1040, 1060))
    sent = {}
    for i, user in enumerate(users):
        question, needle, title = MORE_QUESTIONS[i % len(MORE_QUESTIONS)]
        sent[user] = (time.time() * 1000, needle, title)
    threads = [threading.Thread(target=world.emu.send, args=(MORE_QUESTIONS[i % len(MORE_QUESTIONS)][0], u))
               for i, u in enumerate(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies = []
    for user in users:
        (reply,) = world.emu.replies(user, 1, timeout=120)
        started, needle, title = sent[user]
        text = html_ok(reply)
        assert needle in text and title in text, (user, text)
        latencies.append(reply.time_ms - started)
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(round(0.95 * (len(latencies) - 1)))]
    print(f"\n20 simultaneous users: reply latency p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {latencies[-1]:.0f} ms")


# ---------------------------------------------------------------- hot reload

def test_a_rebuilt_index_is_picked_up_without_failing_questions_in_flight(world):
    new = {"title": "西城区春节灯会开幕", "author": "孙丽", "date": "2020-01-20",
           "text": "西城区春节灯会于1月20日晚开幕，灯会共展出花灯1260组，将一直持续到元宵节。"}
    (world.corpus / "lanterns.jsonl").write_text(json.dumps(new, ensure_ascii=False) + "\n", encoding="utf-8")
    log_start = len(world.bot.log)
    rebuild = subprocess.Popen(NEWSQA + ["--config", str(world.config), "index", "rebuild"], cwd=world.workdir,
                               env=bot_env(None), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Spread over 40 users at most 5 questions a second, under the per-user limit.
    answered, users = 0, itertools.cycle(range(1060, 1100))
    while rebuild.poll() is None or answered < 3:
        for m in world.ask(SAMPLE_QUESTION[0], next(users)):
            assert "王院淼" in m.text, f"a question during the rebuild failed: {m.text}"
        answered += 1
        time.sleep(0.2)
    assert rebuild.returncode == 0, rebuild.stderr.read()
    world.bot.wait_for_log("switched to index build", timeout=30, after=log_start)
    (reply,) = world.ask("西城区春节灯会共展出多少组花灯？", next(users))
    assert "1260" in html_ok(reply) and "《西城区春节灯会开幕》" in html_ok(reply)
    (about,) = world.ask("/about", next(users))
    assert f"{world.manifest()['counts']['articles']} 篇文章" in html_ok(about)


def test_the_log_has_a_line_per_question_but_no_token_and_no_text(world):
    log = world.bot.log
    assert TOKEN not in log and TOKEN.split(":")[1] not in log
    lines = [x for x in log.splitlines() if " question chat=" in x]
    assert len(lines) >= 40
    assert all(re.search(r"chars=\d+ found=(True|False) confidence=[\d.]+ latency_ms=\d+", x) for x in lines)
    for question, *_ in MORE_QUESTIONS + [(LONG_QUESTION,)]:
        assert question not in log, "question text must not be logged"
    # tracebacks only where a failure was reported (the injected one above)
    assert log.count("Traceback") == len(re.findall(r"update \d+ failed\nTraceback", log)) == 1


# ---------------------------------------------------------------- webhook and start-up

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_webhook_mode_answers_and_checks_the_secret_token(sample_copy):
    tmp_path, _ = sample_copy  # the sample, already indexed
    port = _free_port()
    config = write_config(tmp_path / "config.toml", tmp_path / "corpus", tmp_path / "index", f"""
[telegram]
mode = "webhook"
webhook_listen = "127.0.0.1"
webhook_port = {port}
webhook_url = "http://127.0.0.1:{port}/newsqa-hook"
""")
    with emulator() as emu, running_bot(emu, config, tmp_path) as bot:
        (hook,) = emu.calls("setWebhook")
        assert hook["body"]["url"].endswith("/newsqa-hook") and len(hook["body"]["secret_token"]) >= 32
        emu.send(SAMPLE_QUESTION[0], 1001)
        (reply,) = emu.replies(1001)
        assert "王院淼" in html_ok(reply)
        update = {"update_id": 999, "message": {"message_id": 5, "date": int(time.time()), "text": "谁获得了岗位标兵？",
                                                "chat": {"id": 77, "type": "private"},
                                                "from": {"id": 77, "is_bot": False, "first_name": "x"}}}
        url = f"http://127.0.0.1:{port}/newsqa-hook"
        assert httpx.post(url, json=update).status_code == 403, "no secret: refused"
        assert httpx.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}).status_code == 403
        assert emu.silence(77, 1.0) == []
        assert hook["body"]["secret_token"] not in bot.log and TOKEN not in bot.log


def _run_bot_cli(env: dict, config: Path, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(NEWSQA + ["--config", str(config), "bot"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize("token,needle", [("", "TELEGRAM_BOT_TOKEN is not set"),
                                          ("12345:tooshort", "TELEGRAM_BOT_TOKEN is malformed")])
def test_missing_or_malformed_token_is_one_clear_line(tmp_path, corpus_dir, token, needle):
    config = write_config(tmp_path / "config.toml", corpus_dir, tmp_path / "index")
    r = _run_bot_cli({**bot_env(None), "TELEGRAM_BOT_TOKEN": token}, config, tmp_path, timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and needle in r.stderr
    assert token.split(":")[-1] not in r.stderr or not token
    assert not (tmp_path / "index").exists(), "failed before loading anything"


def test_a_token_telegram_rejects_is_one_clear_line_without_the_token(tmp_path, corpus_dir):
    config = write_config(tmp_path / "config.toml", corpus_dir, tmp_path / "index")
    with emulator() as emu:
        emu.fail_next("getMe", None, 401, "Unauthorized", count=5)
        r = _run_bot_cli(bot_env(emu), config, tmp_path)
    assert r.returncode == 1, r.stderr
    errors = [x for x in r.stderr.splitlines() if x.startswith("newsqa: error:")]
    assert len(errors) == 1 and "rejected TELEGRAM_BOT_TOKEN" in errors[0]
    assert TOKEN not in r.stderr + r.stdout and TOKEN.split(":")[1] not in r.stderr + r.stdout
