"""End to end with the real default model, jieba, FAISS and the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from retrieval.config import load_config
from retrieval.answer.qa import QA
from retrieval.index.store import IndexStore

from conftest import NEWSQA, ROOT, SAMPLE, HashEncoder, write_config

pytestmark = pytest.mark.slow


def run(args, cwd, input_text=None, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(NEWSQA + args, cwd=cwd, input=input_text, capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture()
def cli_env(sample_copy):
    """A copy of the sample as `newsqa index rebuild` built it (a first `ask` that builds the index is
    test_first_run_on_an_empty_cache_…)."""
    return sample_copy


def test_ask_json_on_the_sample_quotes_the_right_article(cli_env):
    cwd, cfg = cli_env
    r = run(["--config", str(cfg), "ask", "谁获得了岗位标兵？", "--json"], cwd)
    assert r.returncode == 0, r.stderr
    ans = json.loads(r.stdout)
    assert ans["found"] is True and "王院淼" in ans["answer"]
    assert len(ans["answer"]) < 40, "the answer is a phrase, not the paragraph"
    top = ans["sources"][0]
    assert top["title"] == "京津冀交通一体化劳动竞赛先进获表彰"
    assert top["author"] == "马超" and top["paragraph"] >= 1
    arts = json.loads(run(["--config", str(cfg), "articles", "--json"], cwd).stdout)
    texts = {a["id"]: "\n".join(a["paragraphs"]) for a in arts}
    for s in ans["sources"]:
        assert s["quote"] in texts[s["article_id"]], "every quote is verbatim article text"
    assert "王院淼" in top["quote"]


def test_ask_reads_questions_from_stdin_one_json_line_each(cli_env):
    cwd, cfg = cli_env
    r = run(["--config", str(cfg), "ask", "-", "--json"], cwd, input_text="谁获得了岗位标兵？\n\n谁获得了2019年诺贝尔文学奖？\n")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["found"] for x in lines] == [True, False]


SAMPLE_QUESTIONS = [
    # The 12-layer reader answered with the breakdown clause after the 23, or with the whole sentence,
    # depending on near-tied chunk scores (test_reader.py). Since 2026-12-07 (run 6, a quarter) it answers
    # 23 here, and 京 below, on the AVX2-only EPYC; both stay non-strict because the int8 graphs of CPUs
    # with and without VNNI round differently and these are near-ties.
    pytest.param("阎村镇总工会共表彰了多少名最美劳动者？", "阎村镇23名职工获评“最美劳动者”", "23",
                 marks=pytest.mark.xfail(strict=False, reason="reader answers with the breakdown after the total, not the 23")),
    ("顺义区总工会的消防安全检查由谁带队？", "顺义区总工会排查隐患保安全过节", "李慧哲"),
    # Since the reader also learnt from DRCD and news-like near misses (2026-12-07), it answered 32个: the
    # 32 sectors that form their own groups, printed just before 共37组 (reader CARD, "Run 6: a quarter").
    # Since run 8 (2026-12-08) fp32 and the unsigned-weight int8 graph answer 37组; VNNI's graph still 32个.
    pytest.param("政协全会共分为多少个组？", "（上接第1版）", "37",
                 marks=pytest.mark.xfail(strict=False, reason="the int8 graph run on CPUs with VNNI answers 32个, the "
                                                             "32 before the total 共37组; fp32 and the unsigned-weight "
                                                             "graph (AVX2-only CPUs) answer 37组")),
    # The epoch-2.5 reader answered the platform's name here instead of 京 (在京举行). The shipped mean
    # of epochs 2.5 and 3.5 answered 京, but by a near-tie (span log-probability 0.06 above the next,
    # which also holds 京; 0.28 above the first that does not); the short-passage mean that replaced
    # it (2026-12-04) answers “四级联动” (the event's name) again; run 6 (a quarter) answered 京 on the AVX2-only
    # EPYC, and since run 8 (2026-12-08) it is 京 with the int8 graphs of CPUs with and without VNNI and fp32.
    ("全国产业工人学习社区线上平台的示范点签约仪式在哪里举行？", "全国产业工人学习社区线上平台正式启用", "京"),
    ("丰台区卢沟桥地区总工会对多少户困难群体进行了节前慰问？", "“娘家人”节前送年货", "47"),
    ("黑山寨社区服务站位于哪个镇？", "昌平山区社区服务站职工享工会关爱", "延寿镇"),
]


@pytest.mark.parametrize("question,title,needle", SAMPLE_QUESTIONS)
def test_questions_about_the_sample_are_answered_from_the_right_article(sample_qa, question, title, needle):
    ans = sample_qa.ask(question)
    assert ans.found, question
    assert ans.sources[0].title.startswith(title)
    assert needle in ans.sources[0].quote
    assert needle in ans.text
    art = sample_qa.index.articles[ans.sources[0].article_id]
    assert ans.sources[0].quote in art.text


@pytest.mark.parametrize("question", ["谁获得了2019年诺贝尔文学奖？", "美国的首都是哪里？", "今天上海的天气怎么样？"])
def test_questions_the_corpus_cannot_answer_are_declined(sample_qa, question):
    ans = sample_qa.ask(question)
    assert ans.found is False and ans.text == "" and not ans.sources


def test_index_from_another_model_makes_ask_fail_with_rebuild_message(tmp_path, corpus_dir, tokenizer):
    cfg_path = write_config(tmp_path / "config.toml", corpus_dir, tmp_path / "index")
    cfg = load_config(cfg_path).replace(embedding=load_config(cfg_path).embedding.__class__(model="old-model"))
    IndexStore(cfg.index_path).build(cfg, HashEncoder(model_name="old-model"), tokenizer)
    r = run(["--config", str(cfg_path), "ask", "谁获得了岗位标兵？"], tmp_path)
    assert r.returncode == 1
    assert "old-model" in r.stderr and "newsqa index rebuild --full" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_user_errors_are_one_line_and_non_zero(tmp_path):
    r = run(["--corpus", str(tmp_path / "nope"), "ask", "问题？"], tmp_path)
    assert r.returncode == 1 and "nope" in r.stderr and "does not exist" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = run(["ask", "  "], tmp_path)
    assert r.returncode == 2 and "ask needs a question" in r.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[answer]\nmax_source = 2\n", encoding="utf-8")
    r = run(["--config", str(bad), "index", "status"], tmp_path)
    assert r.returncode == 1 and "max_source" in r.stderr


def test_help_does_not_import_heavy_libraries():
    code = ("import sys, bot.cli; bot.cli.build_parser().format_help(); "
            "print(sorted(m for m in ('torch','sentence_transformers','faiss','jieba','telegram') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.strip() == "[]"


def test_first_run_on_an_empty_cache_says_each_step_once_and_no_library_log_lines(tmp_path, corpus_dir):
    # A new user's very first `newsqa ask`: the model is converted, the int8 graph written and
    # the index built, and the terminal shows our own progress notes, each once — not the
    # quantiser's or bm25s's log records.
    cfg = write_config(tmp_path / "config.toml", corpus_dir, tmp_path / "index")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NEWSQA_CACHE": str(tmp_path / "cache")}
    r = subprocess.run(NEWSQA + ["--config", str(cfg), "ask", "谁获得了岗位标兵？"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "王院淼" in r.stdout
    out = (r.stdout + r.stderr).replace("\r", "\n")
    assert out.count("preparing the embedding model") == 1, r.stderr
    assert out.count("building the index") == 1, r.stderr
    log_lines = [ln for ln in out.splitlines() if ln.strip().split(":")[0] in ("DEBUG", "INFO", "WARNING")]
    assert not log_lines, log_lines


def test_rebuild_killed_midway_leaves_the_previous_index_answering(sample_copy, real_encoder, tokenizer):
    tmp_path, cfg_path = sample_copy
    corpus_dir = tmp_path / "corpus"
    assert run(["--config", str(cfg_path), "index", "rebuild"], tmp_path).returncode == 0
    store = IndexStore(load_config(cfg_path).index_path)
    before = store.current_build_id()
    # A corpus big enough that embedding takes a while, then kill -9 during it.
    paras = [p for p in SAMPLE.read_text(encoding="utf-8").split("\n\n") if len(p) > 40]
    with (corpus_dir / "big.jsonl").open("w", encoding="utf-8") as f:
        for i in range(400):
            f.write(json.dumps({"title": f"第{i}篇", "text": f"编号{i}。" + paras[i % len(paras)]}, ensure_ascii=False) + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(NEWSQA + ["--config", str(cfg_path), "index", "rebuild", "--full"], cwd=tmp_path,
                            stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    seen = ""
    assert proc.stderr is not None
    while time.time() < deadline and "embedding" not in seen:
        seen += proc.stderr.read(1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert "embedding" in seen
    assert store.current_build_id() == before
    ans = QA(load_config(cfg_path), real_encoder, tokenizer).ask("谁获得了岗位标兵？")
    assert ans.found and "王院淼" in ans.text
