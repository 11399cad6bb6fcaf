"""The headline benchmarks, one table: `make bench`.

    .venv/bin/python bench/headline.py [--quick] [--only NAME[,NAME…]]

Names (in order): speed, coldstart, cmrc, calibrate, pages, ocr, newsdev.
Each prints rows "what | figure | how measured"; a row whose data is not here
(../shared, outside the repository) says "skipped (needs …)". --quick runs
smaller samples of the same measurements (figures noisier, minutes faster).
The full run takes about 15 minutes on 2 free cores, more when the news dev
set's archive index is not built yet (bench/newsdev.py builds it once).
Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _common import EVAL, ROOT, SHARED, load_bench_config  # noqa: E402  (puts the repository on sys.path)

BENCH = Path(__file__).resolve().parent
TRAIN_CONTEXTS = SHARED / "train" / "cmrc2018_train_contexts.jsonl"


@dataclass(frozen=True)
class Row:
    what: str
    figure: str
    how: str


def _rel(p: Path) -> str:
    return "../" + p.relative_to(ROOT.parent).as_posix() if p.is_relative_to(ROOT.parent) else str(p)


def skipped(what: str, needs: Path) -> list[Row]:
    return [Row(what, f"skipped (needs {_rel(needs)})", "")]


def cpu() -> tuple[str, bool]:
    """The CPU model and whether it has AVX-512 VNNI (the int8 graphs' fast path)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine(), False
    model = re.search(r"^model name\s*:\s*(.+)$", info, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", info, re.M)
    return (model.group(1).strip() if model else platform.machine(),
            bool(flags) and "avx512_vnni" in flags.group(1).split())


def _script(name: str, *args: str) -> str:
    """Run a bench script that only has a main(); its stdout, or an exception
    carrying the last lines of its stderr."""
    out = subprocess.run([sys.executable, str(BENCH / name), *args], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(f"{name} exited {out.returncode}: " + " / ".join(out.stderr.strip().splitlines()[-2:]))
    return out.stdout


def _load(path: Path, name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def bench_speed(quick: bool) -> list[Row]:
    from speed import QUESTIONS, measure

    contexts, runs = (60, 1) if quick else (150, 3)
    s = measure(contexts, runs)
    with_cmrc = (SHARED / "eval" / "cmrc2018_dev_contexts.jsonl").is_file()
    paragraphs = (f"first {contexts} CMRC dev paragraphs + sample page" if with_cmrc
                  else "the sample page alone: ../shared/eval absent")
    corpus = f"{s.articles} articles, {s.chunks} chunks ({paragraphs})"
    return [Row("index build throughput", f"{s.build_chunks_per_s:.1f} chunks/s",
                # speed.py builds with the fp32 sentence-transformers encoder, not the int8 one `newsqa index` uses
                f"bench/speed.py: build --full, fp32 encoder, median of {runs}, {corpus}"),
            Row("ask latency, warm (p50 / p95)", f"{s.ask_p50_ms:.0f} / {s.ask_p95_ms:.0f} ms",
                f"bench/speed.py: {len(QUESTIONS)} questions × {runs}, one at a time, reader on")]


def bench_coldstart(quick: bool) -> list[Row]:
    from coldstart import measure

    runs = 1 if quick else 3
    c = measure(runs)
    return [Row("cold `newsqa ask` (whole process)", f"{c.ask_median_s:.2f} s",
                f"bench/coldstart.py: median of {runs} fresh processes, model cache and index present; "
                f"`newsqa --help` {sorted(c.help_s)[len(c.help_s) // 2]:.2f} s")]


def bench_cmrc(quick: bool) -> list[Row]:
    what = "CMRC 2018 dev end to end: F1 / EM / Recall@1"
    if not EVAL.is_file():
        return skipped(what, EVAL)
    from retrieval.answer.qa import QA
    from retrieval.app import load_encoder, load_query_encoder, load_reader, quiet_libraries
    from retrieval.evaluate import eval_index, evaluate, load_items
    from retrieval.index.lexical import Tokenizer

    quiet_libraries()
    limit = 100 if quick else 600
    cfg = load_bench_config()
    items = load_items(EVAL)
    tokenizer = Tokenizer()
    # The index over every dev paragraph is cached (~/.cache/newsqa/eval), as `newsqa eval` keeps it.
    cfg, report = eval_index(cfg, EVAL, items, load_encoder(cfg), tokenizer)
    encoder = load_query_encoder(cfg)
    qa = QA(cfg, encoder, tokenizer, reader=load_reader(cfg, encoder=encoder))
    s = evaluate(qa, items[1::2][:limit])
    return [Row(what, f"{s.f1:.1f} / {s.em:.1f} / {s.recall_at_1:.3f}",
                f"= newsqa eval {_rel(EVAL)} --split odd --limit {limit} ({s.questions} questions, "
                f"{report.articles} paragraphs indexed, {cfg.retrieval.mode} + reader; {s.total_seconds:.0f} s)")]


def bench_calibrate(quick: bool) -> list[Row]:
    what = "not found: answerable answered / unanswerable declined"
    if not EVAL.is_file():
        return skipped(what, EVAL)
    n = 100 if quick else 300
    last = _script("calibrate.py", "--questions", str(n)).strip().splitlines()[-1]
    d = json.loads(last)  # its last line is its figures as JSON
    return [Row(what, f"{d['answered']:.3f} / {d['declined']:.3f}",
                f"bench/calibrate.py --questions {n}: dev paragraphs at even positions indexed, "
                f"reader threshold {d['threshold']:.3f}"),
            Row("answers with confidence ≥ 0.8: share right", f"{d['confidence>=0.8_right']:.3f}",
                f"bench/calibrate.py --questions {n} (right = CMRC F1 ≥ 80)")]


def bench_pages(quick: bool) -> list[Row]:
    what = "page segmentation (held-out pages): title / author / body F1"
    if not TRAIN_CONTEXTS.is_file():
        return skipped(what, TRAIN_CONTEXTS)
    score = _load(BENCH / "pages" / "score.py", "bench_pages_score")
    pages = 10 if quick else 40
    s = score.run_split("held-out", pages)
    return [Row(what, f"{s.title_acc:.3f} / {s.author_acc:.3f} / {s.body_f1:.3f}",
                f"bench/pages/score.py --pages 0 --held-out {pages}: {s.articles} articles, merged "
                f"{s.merged_share:.1%}, {s.pages / max(s.seconds, 1e-9):.0f} pages/s")]


def bench_ocr(quick: bool) -> list[Row]:
    what = "scanned page OCR: char acc / article char acc"
    if not TRAIN_CONTEXTS.is_file():
        return skipped(what, TRAIN_CONTEXTS)
    args = ["--pages", "1"] + (["--no-sample"] if quick else [])
    out = _script("ocrscore.py", *args)

    def grab(pattern: str) -> str:
        m = re.search(pattern, out)
        if m is None:
            raise RuntimeError(f"ocrscore.py printed no {pattern!r}")
        return m.group(1)

    pages = "1 generated page" + ("" if quick else " + the sample page")
    return [Row(what, f"{grab(r'OCR char acc ([0-9.]+)')} / {grab(r'scan  article char acc ([0-9.]+)')}",
                f"bench/ocrscore.py {' '.join(args)}: {pages}, 150 dpi, "
                f"{grab(r's/page ([0-9.]+)')} s/page")]


def bench_newsdev(quick: bool) -> list[Row]:
    import newsdev

    if not newsdev.ARCHIVE.is_dir():
        return skipped("news dev set", newsdev.ARCHIVE)
    if newsdev.questions_file() is None:
        return skipped("news dev set", newsdev.QUESTIONS)
    limit = 100 if quick else 0
    def note(line: str) -> None:
        if not line.startswith(("note ", "skipped ")):  # a build's per-file notes: dozens of lines
            print(f"  newsdev: {line}", file=sys.stderr)

    outcomes = newsdev.run(limit=limit, note=note)
    assert outcomes is not None
    f = newsdev.figures(outcomes)
    by = {split: newsdev.figures([o for o in outcomes if o.question.split == split]) for split in ("even", "odd")}

    def three(attr: str) -> str:
        return " / ".join(newsdev.share_text(getattr(x, attr)) for x in (f, by["even"], by["odd"]))

    how = f"bench/newsdev.py{' --limit 100' if quick else ''}: all / even / odd"
    return [Row(f"news dev: right answer + right article ({f.answerable} answerable)",
                three("right_with_article"), how),
            Row("news dev: right article at rank 1", three("article_at_1"), how),
            Row(f"news dev: traps declined ({f.traps} traps)", three("traps_declined"), how),
            Row(f"news dev: confidence ≥ 0.8 right ({f.high_confidence} answers)",
                three("high_confidence_right"), how)]


BENCHES: dict[str, Callable[[bool], list[Row]]] = {
    "speed": bench_speed, "coldstart": bench_coldstart, "cmrc": bench_cmrc, "calibrate": bench_calibrate,
    "pages": bench_pages, "ocr": bench_ocr, "newsdev": bench_newsdev,
}


def print_table(rows: list[Row]) -> None:
    w1 = max(len(r.what) for r in rows)
    w2 = max(len(r.figure) for r in rows)
    print(f"{'what':{w1}s} | {'figure':{w2}s} | how measured")
    print(f"{'-' * w1}-+-{'-' * w2}-+-{'-' * 12}")
    for r in rows:
        print(f"{r.what:{w1}s} | {r.figure:{w2}s} | {r.how}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller samples: a fast, noisier run")
    ap.add_argument("--only", default="", help=f"comma-separated, of: {', '.join(BENCHES)}")
    args = ap.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        ap.error(f"--only: unknown {', '.join(unknown)}; use {', '.join(BENCHES)}")
    from retrieval.app import quiet_libraries

    quiet_libraries()
    started = time.perf_counter()
    rows: list[Row] = []
    for name in names:
        print(f"[{time.perf_counter() - started:5.0f} s] {name}…", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            rows += BENCHES[name](args.quick)
        except Exception as exc:  # one broken bench must not hide the others' figures
            traceback.print_exc(file=sys.stderr)
            rows.append(Row(name, "failed", f"{type(exc).__name__}: {exc}"[:160]))
        print(f"[{time.perf_counter() - started:5.0f} s] {name} done in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr, flush=True)
    model, vnni = cpu()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"CPU: {model}, {os.cpu_count()} cores, AVX-512 VNNI: {'yes' if vnni else 'no'}; "
          f"{'quick' if args.quick else 'full'} run, {time.perf_counter() - started:.0f} s, load average {load:.1f}")
    print_table(rows)


if __name__ == "__main__":
    main()
