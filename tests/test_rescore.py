"""The span re-scorer on its own (no model): it learns from data which kind of
span a kind of question wants, changes nothing where it learned nothing, and
refuses a damaged file with a message naming it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from retrieval.errors import ReaderError
from retrieval.reader.rescore import CandidateSet, SpanRescorer, fit, vocabularies

# The reader's favourite for a count question is the clause that follows the
# number; for a name question it is right. Gold F1 per candidate.
COUNT = [("共表彰了多少名职工？", ("其中优秀员工9名、技术能手3名", "23名", "职工"), (-0.5, -2.0, -3.0), (0.0, 100.0, 0.0)),
         ("一共有多少家单位参加？", ("其中北京5家、天津4家、河北3家", "12家", "单位"), (-0.4, -1.8, -3.5), (0.0, 100.0, 0.0)),
         ("多少人获得了奖励？", ("包括一线工人20人和干部8人", "28人", "奖励"), (-0.6, -2.2, -3.1), (0.0, 100.0, 0.0))]
NAMES = [("谁获得了岗位标兵？", ("王院淼", "岗位标兵", "45人"), (-0.3, -2.5, -2.9), (100.0, 0.0, 0.0)),
         ("站长是谁？", ("王丽英", "社区服务站", "4名"), (-0.2, -2.0, -3.0), (100.0, 0.0, 0.0))]


def _sets(rows):
    return [CandidateSet(q, t, np.array(lp, np.float32), np.array(f1, np.float32), *nb) for q, t, lp, f1, *nb in rows]


def _choice(r: SpanRescorer, question: str, texts, logprobs) -> str:
    asked = r.asked(question)
    return max(zip(texts, logprobs), key=lambda x: r.score(asked, x[0], x[1]))[0]


@pytest.fixture(scope="module")
def fitted() -> SpanRescorer:
    rows = COUNT * 4 + NAMES * 4
    bigrams, last = vocabularies([q for q, *_ in rows], [t[int(np.argmax(f1))] for _, t, _, f1 in rows])
    return fit(_sets(rows), bigrams, last, steps=200)


def test_a_fitted_rescorer_prefers_the_number_a_count_question_asks_for(fitted):
    # A new count question, phrased like the fitting ones; the reader again prefers the clause.
    texts, lps = ("其中男职工10名、女职工6名", "16名", "表彰大会"), (-0.5, -2.1, -3.0)
    assert _choice(fitted, "大会表彰了多少名劳动者？", texts, lps) == "16名"


def test_it_keeps_the_readers_choice_where_the_reader_was_right(fitted):
    texts, lps = ("李晓钟", "数字资源授权证书", "3家"), (-0.3, -2.4, -3.0)
    assert _choice(fitted, "谁颁发了证书？", texts, lps) == "李晓钟"


def test_an_unfitted_rescorer_is_the_reader_itself():
    bigrams, last = ("多少", "是谁"), ("名", "人")
    r = SpanRescorer(bigrams, last, np.zeros((3, 1 + 6 + 6 + 2 + 4 + 2), np.float32), 1.0)
    texts, lps = ("其中优秀员工9名", "23名"), (-0.5, -2.0)
    assert _choice(r, "多少名？", texts, lps) == "其中优秀员工9名"


# The reader's favourite repeats what the question names instead of answering it;
# the right span, of the same length and kind, shares nothing with the question.
REPEATS = [("表彰大会在哪里举行？", ("表彰大会举行", "职工服务中心", "下午"), (-1.0, -2.5, -3.5), (0.0, 100.0, 0.0)),
           ("谁主持了座谈会？", ("主持座谈会", "区工会主席", "会议"), (-0.4, -2.0, -3.2), (0.0, 100.0, 0.0)),
           ("签约仪式在哪里举行？", ("签约仪式上", "市科学会堂", "下午"), (-0.6, -2.1, -3.3), (0.0, 100.0, 0.0))]


def test_a_fitted_rescorer_learns_that_an_answer_seldom_repeats_the_question():
    rows = REPEATS * 4 + NAMES * 4
    bigrams, last = vocabularies([q for q, *_ in rows], [t[int(np.argmax(f1))] for _, t, _, f1 in rows])
    r = fit(_sets(rows), bigrams, last, steps=200)
    # New question and passage: the reader again prefers the span that restates the question.
    texts, lps = ("召开座谈会", "工人文化宫", "上午"), (-0.8, -2.6, -3.0)
    assert _choice(r, "座谈会在哪里召开？", texts, lps) == "工人文化宫"
    # ...and still takes the reader's choice when it does not repeat the question.
    assert _choice(r, "谁颁发了证书？", ("李晓钟", "数字资源授权证书", "3家"), (-0.3, -2.4, -3.0)) == "李晓钟"


# Two names of one shape: the reader prefers the one standing alone between
# punctuation marks; the answer is the one inside the running text.
ALONE = "，", "。"
INSIDE = "长", "说"
NEIGHBOURS = [("站长是谁？", ("刘建国", "王丽英"), (-0.5, -1.5), (0.0, 100.0), (ALONE, INSIDE)),
              ("谁颁发了证书？", ("张明远", "李晓钟"), (-0.4, -1.6), (0.0, 100.0), (ALONE, ("由", "向"))),
              ("会议在哪里举行？", ("工人文化宫", "职工服务站"), (-0.6, -1.4), (0.0, 100.0), (("：", ""), ("在", "举")))]


def test_a_fitted_rescorer_learns_where_answers_sit_in_the_passage():
    rows = NEIGHBOURS * 4
    bigrams, last = vocabularies([q for q, *_ in rows], [t[int(np.argmax(f1))] for _, t, _, f1, _ in rows])
    r = fit(_sets(rows), bigrams, last, steps=200)
    asked = r.asked("谁主持了会议？")
    alone, inside = r.score(asked, "赵大海", -0.5, "，", "。"), r.score(asked, "孙志强", -1.8, "由", "主")
    assert inside > alone


def test_a_file_fitted_before_the_overlap_features_still_loads_and_scores_as_fitted(fitted, tmp_path):
    d = {"format": "newsqa-span-rescorer", "question_bigrams": ["多少"], "last_chars": ["名"], "span_scale": 1.0,
         "weights": np.zeros((2, 1 + 6 + 6 + 1)).tolist()}
    d["weights"][1][-1] = 3.0  # count questions: spans ending in 名
    path = tmp_path / "span_rescorer.json"
    path.write_text(json.dumps(d), encoding="utf-8")
    old = SpanRescorer.load(path)
    assert old.extras == ()
    d = {**d, "question_overlap": True, "weights": np.zeros((2, 1 + 6 + 6 + 1 + 4)).tolist()}
    path.write_text(json.dumps(d), encoding="utf-8")
    assert SpanRescorer.load(path).extras == ("question_overlap",)
    assert _choice(old, "共表彰了多少名职工？", ("其中优秀员工9名、技术能手3名等", "23名"), (-0.5, -2.0)) == "23名"


def test_save_load_round_trip_and_a_damaged_file_is_refused(fitted, tmp_path):
    path = tmp_path / "span_rescorer.json"
    fitted.save(path)
    back = SpanRescorer.load(path)
    assert back.question_bigrams == fitted.question_bigrams and back.last_chars == fitted.last_chars
    np.testing.assert_allclose(back.weights, fitted.weights, atol=1e-5)
    d = json.loads(path.read_text(encoding="utf-8"))
    d["weights"] = d["weights"][:-1]
    path.write_text(json.dumps(d), encoding="utf-8")
    with pytest.raises(ReaderError, match="span_rescorer.json.*shape"):
        SpanRescorer.load(path)
    d = json.loads(json.dumps({**d, "weights": back.weights.tolist(), "extras": ["telepathy"]}))
    path.write_text(json.dumps(d), encoding="utf-8")
    with pytest.raises(ReaderError, match="span_rescorer.json: .*telepathy.*unknown"):
        SpanRescorer.load(path)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(ReaderError, match="span_rescorer.json: not a span re-scorer"):
        SpanRescorer.load(path)
