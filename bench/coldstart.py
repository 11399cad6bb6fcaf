"""Cold start: wall time of `newsqa ask` in a fresh process, index and model cache already there.

    .venv/bin/python bench/coldstart.py [--runs 5]

Prints the median and the spread over the runs, `newsqa --help` for scale, and
where the time goes (the same steps timed inside one fresh process).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "谁获得了岗位标兵？"

STAGES = r"""
import time, sys
t0 = time.perf_counter()
from bot.cli import _quiet_libraries, load_query_encoder
_quiet_libraries()
t1 = time.perf_counter()
from retrieval.config import load_config
from pathlib import Path
cfg = load_config(Path(sys.argv[1]))
enc = load_query_encoder(cfg)
t2 = time.perf_counter()
from retrieval.index.lexical import Tokenizer
from retrieval.answer.qa import QA
qa = QA(cfg, enc, Tokenizer())
t3 = time.perf_counter()
a = qa.ask(sys.argv[2])
t4 = time.perf_counter()
print(f"{t1-t0:.3f} {t2-t1:.3f} {t3-t2:.3f} {t4-t3:.3f}")
"""


@dataclass(frozen=True)
class ColdStart:
    runs: int
    ask_s: list[float]  # sorted, one per fresh `newsqa ask`
    help_s: list[float]  # sorted, `newsqa --help`
    stages_s: list[float]  # medians: cli import, query encoder, index load, first question

    @property
    def ask_median_s(self) -> float:
        return statistics.median(self.ask_s)


def measure(runs: int = 5, backend: str = "auto") -> ColdStart:
    """Time fresh `newsqa ask` processes over the bundled sample page."""
    work = Path(tempfile.mkdtemp(prefix="newsqa-cold-"))
    (work / "corpus").mkdir()
    shutil.copy(ROOT / "data" / "000_1248635c6257c13a.txt", work / "corpus")
    cfg = work / "config.toml"
    cfg.write_text(f'[corpus]\npaths = ["{work / "corpus"}"]\n[index]\npath = "{work / "index"}"\n'
                   f'[embedding]\nquery_backend = "{backend}"\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    newsqa = [sys.executable, "-m", "bot.cli"]
    subprocess.run(newsqa + ["--config", str(cfg), "ask", QUESTION], env=env, check=True, capture_output=True)

    def timed(cmd: list[str]) -> float:
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        return time.perf_counter() - t0

    ask = sorted(timed(newsqa + ["--config", str(cfg), "ask", QUESTION]) for _ in range(runs))
    helps = sorted(timed(newsqa + ["--help"]) for _ in range(runs))
    stages = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", STAGES, str(cfg), QUESTION], env=env, check=True, capture_output=True, text=True)
        stages.append([float(x) for x in out.stdout.split()])
    shutil.rmtree(work, ignore_errors=True)
    return ColdStart(runs, ask, helps, [statistics.median(col) for col in zip(*stages)])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--backend", choices=["auto", "numpy", "torch"], default="auto",
                    help="[embedding] query_backend to measure (auto: numpy for the default model)")
    args = ap.parse_args()
    c = measure(args.runs, args.backend)
    ask, helps, med = c.ask_s, c.help_s, c.stages_s
    print(f"query_backend = {args.backend}; cores: {os.cpu_count()}; {args.runs} runs each, fresh processes, model cache and index present")
    print(f"newsqa ask (first answer, whole process): median {statistics.median(ask):.2f} s "
          f"(min {ask[0]:.2f}, max {ask[-1]:.2f})")
    print(f"newsqa --help: median {statistics.median(helps):.2f} s")
    names = ["cli import", "query encoder (imports + load)", "index load", "first question"]
    print("stages (median s): " + ", ".join(f"{n} {v:.2f}" for n, v in zip(names, med)))


if __name__ == "__main__":
    main()
