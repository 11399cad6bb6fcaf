"""Follow-up questions in `newsqa chat` (real model, jieba, FAISS and reader, the
real CLI as a process) over hand-written articles (tests/data/conversation):
a pronoun follow-up is answered from the previous answer's article, starting
over forgets it, a standalone question is not pulled toward it; and the
conversation memory's bookkeeping (expiry, no text on disk)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import NEWSQA, ROOT, TEST_DATA, write_config

CORPUS = TEST_DATA / "conversation" / "articles.jsonl"
FIRST = "谁带队检查了顺河区职工服务中心的消防安全？"
FOLLOW_UP = "他分管什么工作？"
STANDALONE = "白塔河湿地公园的面积有多大？"
HAN_ARTICLE = "顺河区总工会检查节前消防安全"
PARK_ARTICLE = "白塔河湿地公园开园"


@pytest.fixture(scope="module")
def conv_world(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("conv")
    (base / "corpus").mkdir()
    shutil.copy(CORPUS, base / "corpus" / CORPUS.name)
    cfg = write_config(base / "config.toml", base / "corpus", base / "index")
    r = subprocess.run(NEWSQA + ["--config", str(cfg), "index", "rebuild"], cwd=base, capture_output=True,
                       text=True, timeout=600, env=_env(base))
    assert r.returncode == 0, r.stderr
    return base, cfg


def _env(base: Path) -> dict[str, str]:
    # chat keeps its readline history under the cache; the model cache stays the user's.
    return {**os.environ, "PYTHONPATH": str(ROOT), "HOME": os.environ.get("HOME", str(base))}


def run_cli(world: tuple[Path, Path], args: list[str], stdin: str) -> subprocess.CompletedProcess:
    base, cfg = world
    return subprocess.run(NEWSQA + ["--config", str(cfg)] + args, cwd=base, input=stdin, capture_output=True,
                          text=True, timeout=300, env=_env(base))


def answers(stdout: str) -> list[str]:
    """The printed answers of `newsqa chat`, one string per question (intro line left out)."""
    body = stdout.split("\n", 1)[1]
    return [a.strip() for a in body.split("问> ") if a.strip()]


def first_title(answer: str) -> str:
    line = next(x for x in answer.splitlines() if x.strip().startswith("[1]"))
    return line.split("《", 1)[1].split("》", 1)[0]


@pytest.mark.slow
def test_chat_answers_a_pronoun_follow_up_from_the_previous_article_and_starts_over(conv_world):
    # Asked alone, "他分管什么工作？" is about whoever an article says 分管 most about: not 韩立东.
    alone = run_cli(conv_world, ["ask", "--json", FOLLOW_UP], "")
    assert alone.returncode == 0, alone.stderr
    alone_ans = json.loads(alone.stdout)
    assert not alone_ans["found"] or alone_ans["sources"][0]["title"] != HAN_ARTICLE, "the fixture's premise"

    r = run_cli(conv_world, ["chat"], "\n".join([FIRST, FOLLOW_UP, STANDALONE, "", FOLLOW_UP, ":new", FOLLOW_UP]) + "\n")
    assert r.returncode == 0, r.stderr
    out = answers(r.stdout)
    first, follow, standalone, new1, after_reset, new2, after_new = out
    assert "韩立东" in first and first_title(first) == HAN_ARTICLE
    assert "职工权益保障" in follow and first_title(follow) == HAN_ARTICLE, follow
    assert "接着上文追问" in follow, "the terminal says the question was taken as a follow-up"
    assert "120公顷" in standalone and first_title(standalone) == PARK_ARTICLE, "a standalone question starts fresh"
    assert new1 == "（新对话）" and new2 == "（新对话）"
    for text in (after_reset, after_new):  # the conversation was forgotten: 他 no longer means 韩立东
        assert "接着上文追问" not in text
        assert "职工权益保障" not in text.splitlines()[0] and first_title(text) != HAN_ARTICLE


@pytest.mark.slow
def test_chat_json_reads_a_piped_conversation(conv_world):
    r = run_cli(conv_world, ["chat", "--json"], "\n".join([FIRST, FOLLOW_UP, STANDALONE, FOLLOW_UP]) + "\n")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(rows) == 4
    keys = {"question", "answer", "found", "confidence", "sources", "search_question", "follow_up"}
    assert all(keys <= set(row) for row in rows)
    first, follow, standalone, again = rows
    assert follow["question"] == FOLLOW_UP and follow["follow_up"] is True
    assert "韩立东" in follow["search_question"] and follow["search_question"].endswith(FOLLOW_UP)
    assert "职工权益保障" in follow["answer"] and follow["sources"][0]["title"] == HAN_ARTICLE
    article = next(json.loads(x) for x in CORPUS.read_text(encoding="utf-8").splitlines()
                   if json.loads(x)["title"] == HAN_ARTICLE)
    assert follow["sources"][0]["quote"] in article["text"], "the quote is verbatim"
    assert standalone["follow_up"] is False and standalone["search_question"] == STANDALONE
    assert standalone["sources"][0]["title"] == PARK_ARTICLE
    # After the park, "他" has nothing to lean on in the park's article: it is not answered from 韩立东's.
    assert not again["found"] or again["sources"][0]["title"] != HAN_ARTICLE


def test_chat_json_reports_a_bad_line_and_goes_on(conv_world):
    r = run_cli(conv_world, ["chat", "--json"], "？？？\n" + STANDALONE + "\n")
    assert r.returncode == 2
    assert "stdin line 1" in r.stderr and r.stderr.count("\n") == 1
    (row,) = [json.loads(x) for x in r.stdout.splitlines()]
    assert "120公顷" in row["answer"]


# ---------------------------------------------------------------- bookkeeping (no model)

def test_conversations_expire_and_are_bounded():
    from retrieval.config import ConversationConfig
    from retrieval.conversation import ConversationStore, Turn

    now = [1000.0]
    store = ConversationStore(ConversationConfig(expire_minutes=1, max_conversations=2), clock=lambda: now[0])
    turn = Turn("q", "q", ("词",), "a", None)
    store.get("a").add(turn, now[0])
    now[0] += 30
    assert store.get("a").previous == turn, "within the expiry the turn is remembered"
    now[0] += 61
    assert store.get("a").previous is None, "after a minute of silence it is forgotten"
    store.get("a").add(turn, now[0])
    store.get("b").add(turn, now[0])
    store.get("c").add(turn, now[0])
    assert len(store) == 2 and store.get("a").previous is None, "the oldest conversation went first"


def test_the_lean_decision_on_hand_written_questions(tokenizer):
    from retrieval.conversation import leans_on_context

    for q in ("他分管什么工作？", "它由哪两个部门建设？", "还有呢？", "为什么？", "对方说了什么？"):
        assert leans_on_context(q, tokenizer), q
    for q in ("白塔河湿地公园的面积有多大？", "顺河区第五届职工冬季长跑比赛有多少名职工参赛？"):
        assert not leans_on_context(q, tokenizer), q


def test_question_words_and_pointing_numbers_are_not_an_entity_of_its_own(tokenizer):
    # jieba tags 多少/几/两 as numerals; counted as the question's own subject they made
    # almost every "how many" follow-up look standalone. A year or a figure is one.
    from retrieval.conversation import FEATURES, leans_on_context, question_features

    no_entity = FEATURES.index("no_entity")
    for q in ("一共投资了多少钱？", "是几车道的？", "两家公司为什么要合并？"):
        assert question_features(q, tokenizer)[no_entity] == 1.0, q
    for q in ("2019年一共投资了多少钱？", "白塔河湿地公园有多大？"):
        assert question_features(q, tokenizer)[no_entity] == 0.0, q
    assert question_features("两家公司为什么要合并？", tokenizer)[FEATURES.index("why")] == 1.0
    for q in ("一共投资了多少钱？", "受伤的有多少人？"):
        assert leans_on_context(q, tokenizer), q


def test_whether_a_question_leans_depends_on_what_the_previous_article_says(tokenizer):
    # A question with no name of its own is not a follow-up when the article talked about says
    # nothing of what it asks: the same question leans after an article about e-bike batteries,
    # not after one about a park.
    from retrieval.conversation import FEATURES, leans_on_context, question_features

    park = "白塔河湿地公园于1月10日正式开园。公园面积约120公顷，种植了芦苇、菖蒲、荷花等40多种水生植物。"
    bikes = "市消费者协会提醒，电动自行车的锂电池一般能用三到五年，充电时应远离易燃物。"
    doc_freq = {"__docs__": 1000}  # every word rare, as in an archive of a thousand articles
    q = "电动自行车的电池能用几年？"
    assert leans_on_context(q, tokenizer, doc_freq, bikes)
    assert not leans_on_context(q, tokenizer, doc_freq, park)
    # jieba tags 应邀出席 a person's name; that the previous article prints it is what ties the
    # question to it. Traditional characters in the article count too.
    in_previous = FEATURES.index("in_previous")
    asked = "有多少人应邀出席？"
    assert question_features(asked, tokenizer, doc_freq, "顺河区举行迎春茶话会，各界代表300余人应邀出席。")[in_previous] == 1.0
    assert question_features(asked, tokenizer, doc_freq, "各界代表300余人應邀出席。")[in_previous] == 1.0
    assert question_features(asked, tokenizer, doc_freq, park)[in_previous] == 0.0


def test_a_first_turn_not_found_keeps_its_top_article_as_the_topic(tokenizer):
    # "谁是那个扣篮的小伙？" found nothing sure enough, but it was about something: "他" in the
    # next question means whoever the article it retrieved first is about.
    from types import SimpleNamespace

    from retrieval.config import ConversationConfig
    from retrieval.conversation import Chat, Conversation
    from retrieval.types import Answer, Article, Chunk, Hit

    dunk = Article("a1", "彝族小伙扣篮夺冠", ("身高1米78的彝族小伙夺得扣篮大赛冠军。",), "dunk.txt")
    other = Article("a2", "冬季长跑", ("顺河区举行职工冬季长跑比赛。",), "run.txt")
    hits = tuple(Hit(Chunk(i, a.id, a.text, 1, 0, len(a.text)), a, s) for i, (a, s) in enumerate(((dunk, 1.0), (other, 0.5))))
    qa = SimpleNamespace(tokenizer=tokenizer, index=SimpleNamespace(doc_freq={"__docs__": 2}))
    chat = Chat(qa, ConversationConfig())  # type: ignore[arg-type]
    conv = Conversation()
    chat.remember(conv, "谁是那个扣篮的小伙？", "谁是那个扣篮的小伙？", Answer("q", "", False, 0.1, (), hits), None)
    assert conv.previous is not None and conv.previous.article == dunk and conv.previous.answer == ""
    chat.remember(conv, "下一个问题", "下一个问题", Answer("q", "", False, 0.1, (), ()), None)
    assert conv.previous.article is None, "nothing retrieved: nothing to lean on"
