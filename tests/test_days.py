"""Questions that name a day (retrieval/days.py): the day is resolved, relative
days from the newest issue in the index, and that day's article answers over
a near-identical one from another day."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from archive_fixture import IND, write_archive
from conftest import NEWSQA, write_config
from retrieval.days import DayQuery, named_days
from retrieval.reader.model import int8_needs_unsigned_weights

# Two near-identical stories on two days (made up): the same meeting, another visitor, and nothing in
# the text that says which day.
DAYS = {
    "20200108/20200108-03-01.txt": ("", "市长会见外国城市代表团", "",
                                    [f"{IND}本报讯\u00a0（记者王晓东）市长日前在市政府会见了来访的奥克兰市市长菲尔·高夫一行，"
                                     "双方就友好城市交流、港口合作和旅游往来交换了意见。",
                                     f"{IND}市长表示，愿同对方在职业教育、冬季运动等领域深化合作。"]),
    "20200115/20200115-03-01.txt": ("", "市长会见外国城市代表团", "",
                                    [f"{IND}本报讯\u00a0（记者王晓东）市长日前在市政府会见了来访的悉尼市市长克洛弗·摩尔一行，"
                                     "双方就友好城市交流、港口合作和旅游往来交换了意见。",
                                     f"{IND}市长表示，愿同对方在职业教育、冬季运动等领域深化合作。"]),
    "20200116/20200116-05-02.txt": ("", "地铁六号线二期开通", "",
                                    [f"{IND}本报讯\u00a0（记者孙悦）地铁六号线二期工程15日开通运营，新增车站九座，"
                                     "全程运行时间约四十分钟。"]),
    # Two press conferences reported the day after them: 13日's in the paper of the 14th, 14日's in the 15th's.
    "20200114/20200114-02-01.txt": ("", "市政府举行新闻发布会", "",
                                    [f"{IND}本报讯\u00a0（记者刘芳）13日，市政府新闻办举行新闻发布会，"
                                     "市交通委副主任李建国介绍了今年春运的交通保障安排。"]),
    "20200115/20200115-02-01.txt": ("", "市政府举行新闻发布会", "",
                                    [f"{IND}本报讯\u00a0（记者刘芳）14日，市政府新闻办举行新闻发布会，"
                                     "市卫健委副主任赵敏介绍了冬季流感防控的有关情况。"]),
}


def write_days(root: Path) -> Path:
    return write_archive(root, DAYS)


# ------------------------------------------------------------ resolving the day

@pytest.mark.parametrize("question, newest, start, end", [
    ("1月9日的报道中，谁会见了王毅？", "2020-01-31", "2020-01-09", "2020-01-09"),
    ("据2020年1月4日人民日报，谁出席了会议？", "2020-01-31", "2020-01-04", "2020-01-04"),
    # relative days count from the newest issue, not from today's clock
    ("昨天的报道中，谁会见了王毅？", "2020-01-16", "2020-01-15", "2020-01-15"),
    ("上周三市长会见了谁？", "2020-01-16", "2020-01-08", "2020-01-08"),  # 16 Jan 2020 was a Thursday
    ("前天地铁几号线开通？", "2021-03-01", "2021-02-27", "2021-02-27"),
    # the Spring Festival holiday of the newest issue's year: New Year's Eve and six days
    ("春节期间高速公路流量下降了多少？", "2020-01-31", "2020-01-24", "2020-01-30"),
    ("元旦那天谁发表了新年贺词？", "2020-01-31", "2020-01-01", "2020-01-01"),
    # a day without its month: the last such day before the newest issue
    ("9日的报道中王毅会见了谁？", "2020-01-31", "2020-01-09", "2020-01-09"),
    ("12月31日的报道中谁讲了话？", "2020-01-31", "2019-12-31", "2019-12-31"),
])
def test_the_day_a_question_names_is_resolved(question, newest, start, end):
    q = named_days(question, newest)
    assert [(d.start, d.end) for d in q.days] == [(start, end)], q


def test_the_phrase_naming_the_paper_is_not_searched_and_other_questions_are_left_alone():
    assert named_days("1月9日的报道中，谁会见了王毅？", "2020-01-31").search_text == "谁会见了王毅？"
    assert named_days("据1月10日人民日报，塞西在哪里会见王毅？", "2020-01-31").search_text == "塞西在哪里会见王毅？"
    # a day that belongs to the question's content stays in it
    q = named_days("截至1月20日18时，武汉市的确诊病例有多少例？", "2020-01-31")
    assert q.search_text == "截至1月20日18时，武汉市的确诊病例有多少例？" and q.days[0].start == "2020-01-20"
    for plain in ("谁获得了岗位标兵？", "截至2019年底全国高铁运营里程是多少？", "上半年征兵的新兵何时入伍？"):
        assert named_days(plain, "2020-01-31") == DayQuery((), plain)
    assert named_days("1月9日的报道中谁讲话？", None).days == ()  # an index without dates


@pytest.mark.parametrize("question, searched", [
    ("1月5日的报纸说，谁当选了协会主席？", "谁当选了协会主席？"),  # any paper, not only 人民日报
    ("元旦那天人民日报登的贺词里提到了哪座城市？", "贺词里提到了哪座城市？"),
    ("1月8日光明日报刊登的评论，作者是谁？", "评论，作者是谁？"),
    ("1月6日的报纸上，哪个球队夺冠？", "哪个球队夺冠？"),
    # 中 after 报道 is the start of 中国 here, not "in the report"
    ("1月7日的人民日报报道中国女排在哪里集训？", "中国女排在哪里集训？"),
])
def test_the_paper_is_named_in_many_ways_and_only_that_phrase_is_cut(question, searched):
    q = named_days(question, "2020-01-31")
    assert q.search_text == searched
    assert q.days and q.days[0].issue  # the paper's own day: its articles are boosted


# ------------------------------------------------------------ through the index

@pytest.fixture(scope="module")
def days_qa(real_encoder, tokenizer, tmp_path_factory):
    from retrieval.answer.qa import QA
    from retrieval.app import load_reader
    from retrieval.config import load_config
    from retrieval.index.store import IndexStore

    base = tmp_path_factory.mktemp("days")
    cfg = load_config(write_config(base / "config.toml", write_days(base / "paper"), base / "index"))
    IndexStore(cfg.index_path).build(cfg, real_encoder, tokenizer)
    return QA(cfg, real_encoder, tokenizer, reader=load_reader(cfg))


@pytest.mark.parametrize("question, visitor, date", [
    ("1月15日的报道中，市长会见了哪位来访的外国市长？", "克洛弗·摩尔", "2020-01-15"),
    ("1月8日的报道中，市长会见了哪位来访的外国市长？", "菲尔·高夫", "2020-01-08"),
    # the newest issue is 16 January: yesterday's paper is the 15th's
    ("昨天的报道中，市长会见了哪位来访的外国市长？", "克洛弗·摩尔", "2020-01-15"),
    # 上周三 from Thursday 16 January is the 8th
    ("上周三的报道中，市长会见了哪位来访的外国市长？", "菲尔·高夫", "2020-01-08"),
])
def test_a_question_naming_a_day_is_answered_from_that_days_article(days_qa, question, visitor, date):
    ans = days_qa.ask(question)
    assert ans.found and ans.sources[0].date == date, (ans.text, [(s.title, s.date) for s in ans.sources])
    if ans.text == "奥克兰市" and int8_needs_unsigned_weights():
        # On x86 CPUs without VNNI the int8 graph's rounding (the shipped and the unsigned-weight one
        # alike) moves the span's end to the city; fp32 answers 奥克兰市市长菲尔·高夫. Kept visible.
        pytest.xfail("int8 on AVX2-only CPUs answers the city 奥克兰市, not the mayor")
    assert visitor in ans.text
    art = days_qa.index.articles[ans.sources[0].article_id]
    assert ans.text in art.text  # verbatim


def test_an_event_of_a_day_is_found_in_the_next_days_paper(days_qa):
    # The paper of the 14th printed 13日's conference; 14日's was printed on the 15th, as "14日，…".
    ans = days_qa.ask("1月14日市政府新闻发布会上，介绍情况的是哪位副主任？")
    assert ans.found and ans.sources[0].date == "2020-01-15", (ans.text, [(s.title, s.date) for s in ans.sources])
    assert "赵敏" in ans.text


def test_a_day_named_alone_in_the_text_is_the_last_such_day_before_the_paper():
    from retrieval.days import day_match, mentioned_days
    from retrieval.types import Article

    def article(date: str, text: str) -> Article:
        return Article(id=date, title="t", paragraphs=(text,), file="f", date=date)

    assert mentioned_days(article("2020-01-15", "14日，市政府举行发布会。")) == {"2020-01-14"}
    assert mentioned_days(article("2020-01-02", "31日，会议闭幕。")) == {"2019-12-31"}
    assert mentioned_days(article("2020-01-15", "第3日，每月1日，20日元。")) == frozenset()
    event = named_days("1月14日市政府新闻发布会上谁介绍了情况？", "2020-01-31")
    assert day_match(article("2020-01-15", "14日，市政府举行发布会。"), event) == 1.0  # reported the next day
    assert day_match(article("2020-01-20", "1月14日，市政府举行发布会。"), event) == 0.5  # looking back
    issue = named_days("1月14日的报道中，谁介绍了情况？", "2020-01-31")
    assert day_match(article("2020-01-15", "14日，市政府举行发布会。"), issue) == 0.0  # not that day's paper


def test_a_question_naming_no_day_is_searched_as_asked(days_qa):
    hits = days_qa.retrieve("地铁六号线二期新增车站多少座？", 3)
    assert hits[0].article.title == "地铁六号线二期开通"


def test_articles_date_reads_the_index_not_the_corpus(days_qa, tmp_path):
    cfg = days_qa.cfg
    listing = tmp_path / "config.toml"
    corpus = cfg.corpus_paths[0]
    listing.write_text(f'[corpus]\npaths = ["{corpus}"]\n[index]\npath = "{cfg.index_path}"\n', encoding="utf-8")
    # a corpus file removed after indexing: the listing is the index's until it is rebuilt
    moved = corpus / "20200116" / "20200116-05-02.txt"
    kept = moved.read_bytes()
    moved.unlink()
    try:
        r = subprocess.run(NEWSQA + ["--config", str(listing), "articles", "--date", "2020-01-16", "--json"],
                           capture_output=True, text=True, timeout=120)
    finally:
        moved.write_bytes(kept)
    assert r.returncode == 0, r.stderr
    day = json.loads(r.stdout)
    assert [h["title"] for p in day["pages"] for h in p["headlines"]] == ["地铁六号线二期开通"]
    assert "reading the corpus" not in r.stderr


@pytest.mark.parametrize("question, shown", [
    ("昨天的报道中，市长会见了哪位来访的外国市长？", "“昨天”= 2020-01-15"),  # the newest issue is the 16th
    ("上周三的报道中，市长会见了哪位来访的外国市长？", "“上周三”= 2020-01-08"),
    ("1月15日的报道中，市长会见了哪位来访的外国市长？", None),  # a date as written needs no reading
])
def test_how_a_relative_day_was_read_is_shown_with_the_answer(days_qa, question, shown):
    from bot.cli import format_answer
    from bot.render import answer_blocks, pack
    from telegram_harness import visible_text

    ans = days_qa.ask(question)
    terminal = format_answer(ans)
    telegram = "".join(visible_text(m)[0] for m in pack(answer_blocks(ans)))
    for text in (terminal, telegram):
        if shown is None:
            assert "按库中最新一期推算" not in text, text
        else:
            assert "按库中最新一期推算" in text and shown in text, text
