"""The not-found verifier's features and model (retrieval/reader/verify.py):
fast, no model loaded. Its effect on answers is measured by bench/newsdev.py
and held by tests/test_reader_news.py."""

from __future__ import annotations

import pytest

from retrieval.errors import ReaderError
from retrieval.reader.verify import FEATURES, Verifier, answer_type_mismatch, fit, support_features

ARTICLE = ("天舟三号货运飞船9月20日在文昌航天发射场发射升空。2018年全市地区生产总值达到1200亿元，"
           "比上年增长6.5%。")


def _f(question: str, chunk: str = ARTICLE) -> dict[str, float]:
    return dict(zip(FEATURES, support_features(question, chunk, ARTICLE, 1.0, -0.5)))


def test_a_question_the_article_covers_misses_nothing():
    f = _f("天舟三号货运飞船是在哪里发射的？")
    assert f["missing_article"] == 0.0 and f["missing_run"] == 0.0 and f["missing_number"] == 0.0


def test_a_near_miss_name_or_year_shows_as_missing():
    entity = _f("天舟五号货运飞船是在哪里发射的？")
    assert entity["missing_article"] > 0 and entity["missing_run"] >= 0.5  # 舟五, 五号
    year = _f("2021年全市地区生产总值是多少？")
    assert year["missing_number"] == 1.0
    assert _f("2018年全市地区生产总值是多少？")["missing_number"] == 0.0


def test_missing_from_the_chunk_is_told_apart_from_missing_from_the_article():
    f = _f("2018年全市地区生产总值是多少？", chunk="天舟三号货运飞船9月20日在文昌航天发射场发射升空。")
    assert f["missing_article"] == 0.0 and f["missing_chunk"] > 0.5


def test_a_year_printed_only_far_from_the_answer_is_told_apart():
    # The article gives 2019's figure beside the answer and names 2017 only paragraphs away.
    article = ("2017年，长江航道开展了系统治理。" + "航道部门持续推进各项工作，" * 20
               + "2019年，长江干线货物通过量达29.3亿吨，同比增长8.9%。")
    at = article.index("29.3亿吨")

    def far(question: str) -> float:
        return dict(zip(FEATURES, support_features(question, article[at - 20:], article, 1.0, -0.5,
                                                   "29.3亿吨", at)))["number_far"]

    assert far("2019年长江干线货物通过量是多少？") == 0.0
    assert far("2017年长江干线货物通过量是多少？") == 1.0  # printed, but not near the answer
    assert far("1月2日的报道说，2019年长江干线货物通过量是多少？") == 0.0  # the paper's day is not asked


def test_full_width_digits_in_the_question_match_the_article():
    assert _f("２０１８年全市地区生产总值是多少？")["missing_number"] == 0.0


def test_fit_learns_that_missing_words_mean_a_wrong_answer():
    rows = [((1.0, -0.5, 0.0, 0.1, 0.0, 0.0, 0.0, 0.0), True)] * 30 + [((1.0, -0.5, 0.6, 0.7, 1.0, 1.0, 1.0, 1.0), False)] * 30
    v = fit(rows)
    assert v.prob(rows[0][0]) > 0.8 and v.prob(rows[-1][0]) < 0.2
    assert Verifier.from_dict(v.to_dict(), "m").prob(rows[0][0]) == pytest.approx(v.prob(rows[0][0]))


def test_a_verifier_fitted_on_other_features_is_refused_with_what_to_do():
    d = Verifier((1.0,) * len(FEATURES), 0.0).to_dict()
    d["features"] = ["has_logit", "something_else"]
    with pytest.raises(ReaderError, match="fit-verifier"):
        Verifier.from_dict(d, "reader/manifest.json")


@pytest.mark.parametrize("question, answer, mismatch", [
    ("远望号测量船队全年完成了多少次海上测控任务？", "550余天", 1.0),
    ("远望号测量船队全年完成了多少次海上测控任务？", "77次", 0.0),
    ("大桥是哪一天开工建设的？", "三年半", 0.0),  # 年: could be a time; the verifier weighs the rest
    ("大桥是哪一天开工建设的？", "鸡鸣三省大桥", 1.0),
    ("大桥是哪一天开工建设的？", "2016年6月", 0.0),
    ("新任大使是谁？", "102颗", 1.0),
    ("新任大使是谁？", "赵鉴华", 0.0),
    ("出席开幕式的有几位作家？", "刘文华等三人", 0.0),  # 位 is too general a measure word to judge by
])
def test_an_answer_of_the_wrong_kind_is_flagged(question, answer, mismatch):
    assert answer_type_mismatch(question, answer) == mismatch


def test_a_traditional_question_is_judged_like_a_simplified_one():
    article = "萬大線第一期工程預計於2025年底完工通車，沿線將串連萬華區與中和區。"
    f = dict(zip(FEATURES, support_features("萬大線第一期工程預計什麼時候完工通車？", article, article, 1.0, -0.5)))
    assert f["missing_article"] == 0.0  # 什麼 is a question word in either script
    assert answer_type_mismatch("萬大線第一期工程預計什麼時候完工通車？", "萬華區") == 1.0
    assert answer_type_mismatch("萬大線第一期工程預計什麼時候完工通車？", "2025年底") == 0.0
