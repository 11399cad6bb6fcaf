"""Answer extraction on hand-written passages: the short answer a reader wants,
of the kind the question asks for, quoted from a sentence that is in the article.

Real jieba; no model (the answer extractor uses none)."""

from __future__ import annotations

import pytest

from retrieval.answer.rules import Scorer, analyse, answer_question
from retrieval.index.lexical import Tokenizer
from retrieval.types import Article, Chunk, Hit


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return Tokenizer()


def ask(tok: Tokenizer, question: str, *paragraphs: str, title: str = "测试文章"):
    art = Article(id="a1", title=title, paragraphs=tuple(paragraphs), file="t.txt", date="2020-01-10")
    chunk = Chunk(id=0, article_id="a1", text=art.text, paragraph=1, start=0, end=len(art.text))
    scorer = Scorer({"__docs__": 1000})
    ans = answer_question(question, [Hit(chunk, art, 1.0)], tok, scorer, min_confidence=0.5, max_sources=3)
    for s in ans.sources:
        assert s.quote in art.text  # quotes are verbatim
    return ans


CASES = [
    # question, passage, expected answer
    ("星河公司是哪一年成立的？",
     "星河公司于1994年5月30日在深圳成立，主要生产通信卫星。公司现有员工三千人。", "1994年"),
    ("星河公司是什么时候成立的？",
     "星河公司于1994年5月30日在深圳成立，主要生产通信卫星。公司现有员工三千人。", "1994年5月30日"),
    ("云岭镇的面积是多少平方公里？",
     "云岭镇位于山区北部。全镇面积70.99平方公里，户籍人口约两万人。", "70.99平方公里"),
    ("青石站有几个出入口？",
     "青石站是地铁十号线的一座车站。青石站设有4个出入口，站台为岛式站台。", "4个"),
    ("白顶鹭又叫什么？",
     "白顶鹭是鹭科的一种鸟类，又称雪冠鹭，分布于东亚沿海。", "雪冠鹭"),
    ("林河为什么辞去了队长职务？",
     "林河因为膝伤反复发作，于2015年辞去了队长职务，转任球队助理教练。", "膝伤反复发作"),
    ("王平凭借哪部作品获得了最佳男主角？",
     "1969年，王平凭借《江上风云》一片获得了最佳男主角，这是他第一次获奖。", "《江上风云》"),
    ("《食品科技学报》的主编是谁？",
     "《食品科技学报》创刊于1998年，由食品工程专家孙大文担任主编。", "孙大文"),
]


@pytest.mark.parametrize("question,passage,expected", CASES, ids=[c[0] for c in CASES])
def test_the_answer_is_the_asked_for_part_of_the_right_sentence(tok, question, passage, expected):
    ans = ask(tok, question, passage)
    assert ans.found
    assert ans.text == expected


def test_question_words_do_not_count_against_the_passage(tok):
    # 哪一年 never appears in an answer passage; it must not lower the confidence.
    ans = ask(tok, "莱河王国哪一年独立？", "莱河王国于1966年10月4日脱离英国独立。")
    assert ans.found and ans.text == "1966年"
    assert ans.confidence > 0.9
    assert "哪一年" not in analyse("莱河王国哪一年独立？", tok).tokens


def test_a_passage_without_the_questions_words_is_declined(tok):
    ans = ask(tok, "火星探测器什么时候发射？", "星河公司于1994年5月30日在深圳成立。")
    assert not ans.found and ans.text == "" and not ans.sources


def test_a_number_question_skips_sentences_without_numbers(tok):
    ans = ask(tok, "大会共表彰了多少名先进职工？",
              "据工会负责人表示，此次表彰大会进一步激发了先进职工的工作热情。",
              "大会共表彰先进职工23名，其中技术能手3名。")
    assert ans.text == "23名"
    assert ans.sources[0].paragraph == 2
