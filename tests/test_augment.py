"""Synthetic "which day" training questions (retrieval/reader/augment.py):
made from real paragraphs, answers verbatim at their offsets, held-out
paragraphs never used."""

from __future__ import annotations

import json
import os
import subprocess

from retrieval.reader.augment import count_questions, date_questions, mixed
from retrieval.reader.train import is_holdout

from conftest import NEWSQA, ROOT

PARAGRAPH = ("1822年6月29日，波拿巴与表妹在罗马举行了婚礼。他的父亲（1778年9月2日－1846年7月25日）曾任荷兰国王。"
             "1848年12月10日至1849年，他参加了总统选举。1月8日上午，市总工会召开了年度表彰大会。")


def _context_id(holdout: bool) -> str:
    return next(f"CTX_{i}" for i in range(1000) if is_holdout(f"CTX_{i}", 0.05) == holdout)


def _row(cid: str, context: str) -> dict:
    return {"id": cid + "_Q0", "question": "波拿巴在哪里结婚？", "answers": ["罗马"],
            "answer_starts": [context.find("罗马")], "context_id": cid, "context": context}


def test_each_sentence_with_one_event_date_becomes_a_question_whose_answer_is_that_date():
    cid = _context_id(holdout=False)
    rows = [_row(cid, PARAGRAPH), _row(cid, PARAGRAPH)]  # two questions on one paragraph: used once
    qs = date_questions(rows, 0.05)
    assert sorted(q["answers"][0] for q in qs) == ["1822年6月29日", "1月8日上午"]
    for q in qs:
        a, s = q["answers"][0], q["answer_starts"][0]
        assert q["context"][s : s + len(a)] == a, "the answer is the date as written, at its offset"
        assert a not in q["question"] and q["question"].endswith("？")
        assert q["context_id"] == cid
    wedding = next(q for q in qs if q["answers"][0] == "1822年6月29日")
    assert "波拿巴与表妹在罗马举行了婚礼" in wedding["question"]
    # The parenthesised life dates and the range opening "至1849年" gave no question.


def test_held_out_paragraphs_are_never_used():
    assert date_questions([_row(_context_id(holdout=True), PARAGRAPH)], 0.05) == []
    assert count_questions([_row(_context_id(holdout=True), COUNTS)], 0.05) == []


COUNTS = ("大会共表彰先进集体12个，其中优胜单位8家、优胜班组4个。该镇有人口3,025人。"
          "全队共有队员30人（其中女队员12人），队员的平均年龄为24岁。本届共有选手40人，其中裁判组（含外籍裁判5人）。")


def test_a_count_among_several_becomes_a_question_and_the_others_stay_as_distractors():
    cid = _context_id(holdout=False)
    qs = count_questions([_row(cid, COUNTS)], 0.05)
    by_answer = {q["answers"][0]: q for q in qs}
    # One question per clause that holds exactly one count, in sentences with two or more; none from
    # the breakdown list (two counts in one clause), the lone 3,025 (one number in its sentence, with a
    # thousands comma) or the bracketed 5人.
    assert set(by_answer) == {"12个", "24岁", "40人"}
    total = by_answer["12个"]
    assert total["question"] == "大会共表彰先进集体多少个？"
    for q in qs:
        a, s = q["answers"][0], q["answer_starts"][0]
        assert q["context"][s : s + len(a)] == a and a not in q["question"] and "多少" in q["question"]
    assert len({q["id"] for q in qs}) == len(qs)
    assert len(count_questions([_row(cid, COUNTS)], 0.05, limit=2)) == 2


def test_the_mix_keeps_every_synthetic_question_and_a_sample_of_real_ones():
    real = [_row(f"R{i}", "没有日期的段落。" * 3) for i in range(50)]
    syn = date_questions([_row(_context_id(holdout=False), PARAGRAPH)], 0.05)
    out = mixed(real, syn, 20)
    assert len(out) == 20 + len(syn) and all(q in out for q in syn)
    assert mixed(real, syn, 20) == out, "the same seed gives the same file"


def test_augment_command_writes_the_mix_and_refuses_a_broken_file(tmp_path):
    data = tmp_path / "train.jsonl"
    cid = _context_id(holdout=False)
    data.write_text("\n".join(json.dumps(_row(f"{cid}" if i == 0 else f"P{i}", PARAGRAPH if i == 0 else "无。"),
                                         ensure_ascii=False) for i in range(10)) + "\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(NEWSQA + ["reader", "augment", "--data", str(data), "--out", str(tmp_path / "mix.jsonl"),
                                 "--sample", "5"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in (tmp_path / "mix.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 5 + 2 and sum(q["id"].startswith("SYNDATE_") for q in lines) == 2
    data.write_text('{"question": "谁？", "answers": ["某"], "context": "某人。", "context_id": "X"}\nnot json\n',
                    encoding="utf-8")
    r = subprocess.run(NEWSQA + ["reader", "augment", "--data", str(data), "--out", str(tmp_path / "m2.jsonl")],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode != 0 and "train.jsonl:2" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m2.jsonl").exists()


def test_short_crops_hold_the_answer_sentence_and_a_lone_sentence_without_it():
    """Training data for one-sentence news briefs (`reader train --short-crops`)."""
    import random

    from retrieval.reader.train import short_crops

    text = ("市总工会召开了年度表彰大会。23名职工获评“最美劳动者”，其中医生4名。\n"
            "大会由工会主席主持。会后，职工们参观了展览。")
    a = text.find("23名")
    b = a + len("23名")
    for seed in range(20):
        (p0, p1), neg = short_crops(text, a, b, "23名", random.Random(seed))
        crop = text[p0:p1]
        assert "23名职工获评“最美劳动者”，其中医生4名。" in crop and len(crop) < len(text)
        assert neg is not None
        n0, n1 = neg
        assert "23名" not in text[n0:n1] and (n1 <= p0 or n0 >= p1)
        assert text[n0:n1] in {"市总工会召开了年度表彰大会。", "大会由工会主席主持。", "会后，职工们参观了展览。"}
    # Same seed, same crops: a resumed run sees the same examples.
    assert short_crops(text, a, b, "23名", random.Random(3)) == short_crops(text, a, b, "23名", random.Random(3))
    # A text of one sentence has no negative to offer.
    one = "23名职工获评“最美劳动者”。"
    assert short_crops(one, 0, 3, "23名", random.Random(0)) == ((0, len(one)), None)


def test_augment_counts_option_adds_count_questions(tmp_path):
    data = tmp_path / "train.jsonl"
    cid = _context_id(holdout=False)
    data.write_text(json.dumps(_row(cid, COUNTS), ensure_ascii=False) + "\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "mix.jsonl"
    r = subprocess.run(NEWSQA + ["reader", "augment", "--data", str(data), "--out", str(out), "--counts", "-1"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    ids = [json.loads(x)["id"] for x in out.read_text(encoding="utf-8").splitlines()]
    assert sum(i.startswith("SYNCOUNT_") for i in ids) == 3 and "3 synthetic count questions" in r.stdout


def test_train_refuses_a_short_crop_share_outside_0_to_1(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps(_row("C1", PARAGRAPH), ensure_ascii=False) + "\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(NEWSQA + ["reader", "train", "--data", str(data), "--out", str(tmp_path / "r"),
                                 "--short-crops", "1.5"], capture_output=True, text=True, env=env, cwd=tmp_path,
                       timeout=120)
    assert r.returncode != 0 and "--short-crops" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()
