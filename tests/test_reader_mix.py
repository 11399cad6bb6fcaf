"""`newsqa reader mix`: the training mix beyond CMRC (retrieval/reader/mix.py) and the
mined negatives of `newsqa reader train --mined-negatives` (retrieval/reader/train.py).
Small hand-written records; no model."""

from __future__ import annotations

import json
import re

from retrieval.reader.mix import (EDGE_CHARS, as_read, build_mix, edge_name_questions, missing_sentence_questions,
                                  near_miss_questions, split_by_article)
from retrieval.reader.train import load_rows, mined_negative


def _row(qid: str, title: str, question: str, answer: str, context: str) -> dict:
    return {"id": qid, "question": question, "answers": [answer], "answer_starts": [context.find(answer)],
            "context_id": f"{title}-{qid}", "context": context, "title": title}


ROWS = [
    _row("1", "嫦娥四号", "嫦娥四号是哪一年发射的？", "2018年", "嫦娥四号于2018年12月8日发射，2019年1月3日着陆月球背面。"),
    _row("2", "天宫二号", "2016年发射的空间实验室叫什么？", "天宫二号", "天宫二号是中国第一个真正意义上的空间实验室，于2016年发射。"),
    _row("3", "臺北捷運", "臺北捷運於哪一年通車？", "1996年", "臺北捷運的第一條路線於1996年通車，現有多條路線。"),
    _row("4", "某县", "县长是谁？", "王建国", "该县县长王建国在会上介绍了全县的发展情况。王建国说，今年将继续加大投入。"),
]


def test_split_by_article_keeps_every_article_on_one_side():
    rows = ROWS + [dict(ROWS[0], id="1b", question="嫦娥四号在哪天着陆？")]
    train, held = split_by_article(rows, "drcd", 0.5)
    assert {r["title"] for r in train}.isdisjoint({r["title"] for r in held})
    assert len(train) + len(held) == len(rows)
    assert split_by_article(rows, "drcd", 0.5) == (train, held)  # stable


def test_traditional_text_is_stored_as_read_with_offsets_kept():
    r = as_read(ROWS[2])
    assert r["context"].startswith("台北捷运") and len(r["context"]) == len(ROWS[2]["context"])
    s = r["answer_starts"][0]
    assert r["context"][s : s + len(r["answers"][0])] == r["answers"][0] == "1996年"
    assert r["question"] == "台北捷运于哪一年通车？"


def test_near_miss_changes_a_number_the_paragraph_holds_to_one_it_does_not():
    misses = near_miss_questions(ROWS, seed=3)
    by_src = {m["id"].removeprefix("NEARMISS_"): m for m in misses}
    # Row 2 names 2016, which its paragraph holds outside the answer; row 1's 四 (嫦娥四号) likewise.
    assert "2" in by_src and "1" in by_src
    for src, m in by_src.items():
        orig = next(r for r in ROWS if r["id"] == src)
        assert m["answers"] == [] and m["question"] != orig["question"]
        new = set(re.findall(r"\d+|[一二三四五六七八九十]", m["question"])) - \
            set(re.findall(r"\d+|[一二三四五六七八九十]", orig["question"]))
        assert new and not any(n in orig["context"] for n in new), (m["question"], orig["question"])
        assert m["context"] == orig["context"] and m["near_miss_start"] == orig["answer_starts"][0]
    # A question whose only number is in the answer gets none (row 3 asks for the year itself).
    assert "3" not in by_src


def test_edge_names_begin_with_a_preposition_like_character_everywhere_in_the_paragraph():
    out = edge_name_questions(ROWS, limit=5, seed=1)
    assert len(out) == 1  # only row 4 asks who, with a short name for an answer
    r = out[0]
    name = r["answers"][0]
    assert name[0] in EDGE_CHARS and name[1:] == "建国"
    assert "王建国" not in r["context"] and r["context"].count(name) == 2
    assert r["context"][r["answer_starts"][0] :].startswith(name)


def test_missing_sentence_cuts_the_answers_sentence_and_keeps_the_rest():
    ctx = ("市政府昨天召开新闻发布会，介绍今年的重点工程。会上，副市长李明宣布新机场将于明年通航。"
           "新机场位于城市东部，总投资约300亿元。发布会还介绍了地铁三号线的进展，该线路预计年底全线贯通。")
    row = _row("9", "新机场", "哪位副市长宣布了新机场的通航时间？", "李明", ctx)
    out = missing_sentence_questions([row], share=1.0)
    assert len(out) == 1
    r = out[0]
    assert r["answers"] == [] and r["question"] == row["question"]
    assert "李明" not in r["context"] and "通航" not in r["context"]
    # Everything but the answer's sentence is still there, in order.
    assert r["context"] == ("市政府昨天召开新闻发布会，介绍今年的重点工程。新机场位于城市东部，总投资约300亿元。"
                            "发布会还介绍了地铁三号线的进展，该线路预计年底全线贯通。")
    assert r["context"][r["near_miss_start"]:].startswith("新机场位于") and r["context_id"] != row["context_id"]
    # An answer printed twice (王建国 in row 4) would survive the cut: no question is made from it,
    # nor from a paragraph left too short to read as an article.
    assert missing_sentence_questions(ROWS, share=1.0) == []


def test_mix_file_round_trips_through_the_training_loader(tmp_path):
    out = build_mix([("cmrc", ROWS[:2] + ROWS[3:], 0), ("drcd", ROWS[2:3], 0)], seed=0, near_miss=1.0,
                    edge_names=5, missing_sentence=1.0)
    path = tmp_path / "mix.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out), encoding="utf-8")
    rows = load_rows(path)
    assert len(rows) == len(out)  # near misses (no answer) are kept, not dropped as broken records
    assert any(r["id"] == "drcd:3" and r["context"].startswith("台北") for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)


def test_mined_negative_prefers_a_near_miss_and_never_one_holding_the_answer():
    answers = ["2018年"]
    cands = [("a", "嫦娥四号于2018年发射。"),  # holds the answer: never a negative
             ("b", "嫦娥三号在月球正面着陆。"),  # no year at all
             ("c", "嫦娥五号于2020年发射。")]  # another year: the near miss
    assert mined_negative(cands, answers) == 2
    assert mined_negative(cands[:2], answers) == 1
    assert mined_negative(cands[:1], answers) == -1
