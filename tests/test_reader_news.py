"""The shipped reader on news the way People's Daily and Taiwan papers write it
(issue 28): the real default model, the shipped reader, a real index over
tests/data/news_reader_fixture.jsonl (six short articles written for these
tests, none taken from any archive).

Expected answers were written with the articles, before the reader's output on
them was seen.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import real_qa

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).parent / "data" / "news_reader_fixture.jsonl"


@pytest.fixture(scope="module")
def news_qa(real_encoder, tokenizer, tmp_path_factory):
    qa = real_qa([FIXTURE], tmp_path_factory.mktemp("news"), real_encoder, tokenizer)
    assert qa.reader is not None
    return qa


def _article_text(qa, ans) -> str:  # type: ignore[no-untyped-def]
    return qa.index.articles[ans.sources[0].article_id].text


# A name whose first character is, far more often, a preposition or pronoun (于, 任, 自, 本).
# Why the first character went missing (docs/reader.md, "Names that begin like a preposition"): the
# reader's start head puts the start after 于/任 (one-character pieces; neither the trim head, the
# re-scorer nor the tidy step moves it). Training on names rewritten to begin with such characters
# (`newsqa reader mix --edge-names`, runs 6 and 8) brought 任建华 back whole (int8 with and without VNNI,
# and fp32), not yet 于新民.
_START_HEAD = "the start head starts after 于 (新民); edge-name training (runs 6 and 8) brought 任建华 back whole, not yet 于新民"
@pytest.mark.parametrize("question,name,title", [
    pytest.param("省农业农村厅副厅长是谁？", "于新民", "省农业农村厅召开春耕备耕新闻发布会",
                 marks=pytest.mark.xfail(strict=True, reason=_START_HEAD)),
    ("省种子管理站站长是谁？", "任建华", "省农业农村厅召开春耕备耕新闻发布会"),
    ("国际恐龙灯会在哪个城市举办？", "自贡", "多地举办灯会迎新春"),
    pytest.param("冰雪灯光节在哪个城市举办？", "本溪", "多地举办灯会迎新春",
                 marks=pytest.mark.xfail(strict=True, reason="answers the place in the city (太子河畔), "
                                                             "not the city; run 6 alone answered 本溪市")),
])
def test_a_name_starting_with_a_preposition_like_character_comes_back_whole(news_qa, question, name, title):
    ans = news_qa.ask(question)
    assert ans.found, question
    assert name in ans.text and len(ans.text) <= len(name) + 2, (question, ans.text)
    assert ans.sources[0].title == title


# The corpus names only a near miss: 天舟三号 (not 五号), 2018 (not 2021). The reader alone answered
# 2018's figure to the 2021 question; the verifier declines it (2021 is printed nowhere in the article).
@pytest.mark.parametrize("question", [
    "天舟五号货运飞船是在哪里发射的？",
    "2021年全市地区生产总值是多少？",
])
def test_a_question_about_a_near_miss_entity_is_declined(news_qa, question):
    ans = news_qa.ask(question)
    assert ans.found is False, (question, ans.text, ans.confidence)


def test_asked_for_one_guest_the_answer_is_that_guest_not_the_list(news_qa):
    ans = news_qa.ask("出席开幕式的著名作家是谁？")
    assert ans.found
    assert "刘文华" in ans.text and len(ans.text) <= 8, ans.text
    assert "李国庆" not in ans.text and "陈志刚" not in ans.text


@pytest.mark.parametrize("question,needle,longest", [
    ("萬大線第一期工程預計什麼時候完工通車？", "2025年底", 10),
    ("萬大線第一期工程沿線將串連哪些行政區？", "萬華區", 20),
    ("工程單位在哪裡公布改道資訊？", "網路", 6),
])
def test_a_traditional_article_is_answered_in_its_own_characters(news_qa, question, needle, longest):
    ans = news_qa.ask(question)
    assert ans.found, question
    # The answer is quoted from the article as written: traditional, Taiwan usage (網路, not 网络).
    assert needle in ans.text and len(ans.text) <= longest, (question, ans.text)
    assert ans.text in _article_text(news_qa, ans)
    assert ans.sources[0].title == "萬大線第一期工程進度過半"


# The same wire story printed on two days, differing only in its dateline's day, and one other story.
_REPRINTED = [
    {"id": "liangshi-0109", "title": "全国粮食总产量再创新高", "date": "2020-01-09",
     "text": "新华社北京1月8日电 国家统计局8日发布数据，2019年全国粮食总产量达到13277亿斤，比上年增加119亿斤，"
             "再创历史新高。\n国家统计局农村司司长李锁强表示，粮食播种面积稳中略降，单产提高是增产的主要原因。"},
    {"id": "liangshi-0110", "title": "全国粮食总产量再创新高", "date": "2020-01-10",
     "text": "新华社北京1月9日电 国家统计局9日发布数据，2019年全国粮食总产量达到13277亿斤，比上年增加119亿斤，"
             "再创历史新高。\n国家统计局农村司司长李锁强表示，粮食播种面积稳中略降，单产提高是增产的主要原因。"},
    {"id": "shuili", "title": "南方水利建设加快推进", "date": "2020-01-10",
     "text": "记者从水利部获悉，2019年南方各省共完成水利投资2600亿元。水利部规划计划司司长石春先介绍，"
             "一批重大水利工程已开工建设。"},
]


def test_a_story_printed_on_two_days_is_read_once_and_cited_with_both_days(real_encoder, tokenizer, tmp_path):
    import json

    src = tmp_path / "reprinted.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _REPRINTED), encoding="utf-8")
    (tmp_path / "qa").mkdir()
    qa = real_qa([src], tmp_path / "qa", real_encoder, tokenizer)
    read: list[str] = []
    real_read = qa.reader.read

    def counting_read(question, passages, *args, **kwargs):  # type: ignore[no-untyped-def]
        read.extend(text for _, text in passages)
        return real_read(question, passages, *args, **kwargs)

    qa.reader.read = counting_read  # type: ignore[method-assign]
    # Naming a day makes the reader read every chunk of its depth (no early stop after the first).
    ans = qa.ask("1月10日的报道里，国家统计局农村司司长是谁？")
    assert ans.found and ans.text == "李锁强", ans.text
    # One copy was read (a second reading of the same words costs a forward pass and says nothing new) …
    assert sum("李锁强" in t for t in read) == 1, read
    # … and both printings are cited: the unread copy prints the answer word for word.
    assert {s.date for s in ans.sources if s.title == "全国粮食总产量再创新高"} == {"2020-01-09", "2020-01-10"}
