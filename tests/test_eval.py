"""`newsqa eval`: CMRC-style metrics on data of our own making, with the real pipeline."""

from __future__ import annotations

import json

import pytest

from retrieval.scoring import em_score, f1_score

from test_e2e import run


def test_cmrc_style_scores():
    assert em_score("王院淼", ["王院淼"]) == 100.0
    assert em_score("“王院淼”。", ["王院淼"]) == 100.0  # punctuation does not count
    assert f1_score("总工程师王院淼", ["王院淼"]) == pytest.approx(100 * 2 * (3 / 7) * 1 / (3 / 7 + 1))
    assert f1_score("完全无关", ["王院淼"]) == 0.0
    assert f1_score("2019 年", ["2019年", "去年"]) == 100.0  # best over the references


CONTEXTS = [
    ("c1", "长城", "长城是中国古代的军事防御工程，总长度超过两万公里，始建于春秋战国时期。"),
    ("c2", "黄河", "黄河是中国第二长河，全长约5464公里，发源于青海省巴颜喀拉山脉。"),
    ("c3", "故宫", "北京故宫是明清两代的皇家宫殿，由明成祖朱棣下令建造，于1420年建成。"),
]
QUESTIONS = [
    ("q1", "长城的总长度超过多少公里？", ["两万公里"], "c1"),
    ("q2", "黄河发源于哪个省？", ["青海省"], "c2"),
    ("q3", "谁下令建造了北京故宫？", ["明成祖朱棣", "朱棣"], "c3"),
    ("q4", "故宫于哪一年建成？", ["1420年"], "c3"),
    ("q5", "月球上有多少座环形山？", [], "c1"),
]


@pytest.mark.slow
def test_eval_json_summary_and_report(tmp_path):
    ctx = {c[0]: c for c in CONTEXTS}
    data = tmp_path / "mini.jsonl"
    with data.open("w", encoding="utf-8") as f:
        for qid, q, answers, cid in QUESTIONS:
            _, title, context = ctx[cid]
            f.write(json.dumps({"id": qid, "question": q, "answers": answers, "context_id": cid,
                                "context": context, "title": title}, ensure_ascii=False) + "\n")
    report = tmp_path / "report.jsonl"
    r = run(["eval", str(data), "--json", "--report", str(report)], tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    for key in ("questions", "recall@1", "recall@5", "recall@20", "mrr@10", "em", "f1", "found_rate",
                "latency_p50_ms", "latency_p95_ms"):
        assert key in s
    assert s["questions"] == 5 and s["recall@1"] == 1.0 and s["mrr@10"] == 1.0
    assert 0 <= s["em"] <= 100 and s["f1"] >= 50
    assert s["unanswerable"] == 1 and s["correct_declines"] == 1
    rows = [json.loads(x) for x in report.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2", "q3", "q4", "q5"]
    assert rows[0]["gold_rank"] == 1 and "predicted" in rows[0]


def test_eval_missing_file_is_one_line_error(tmp_path):
    r = run(["eval", str(tmp_path / "missing.jsonl")], tmp_path)
    assert r.returncode == 1 and "missing.jsonl" in r.stderr and len(r.stderr.strip().splitlines()) == 1
