"""Page segmentation speed through `newsqa index rebuild`'s reading (read_corpus), serial against parallel.

    nice -n 5 .venv/bin/python bench/pages/speed.py [--pages 60] [--rounds 3] [--workers 0] [--warm]

Writes the first --pages held-out pages of generator A (and of B, with ../shared/archive) to a temporary
folder, one file a page (deleted afterwards: B's pages hold the archive's text), and reads each folder
with read_corpus in a fresh process each time (imports, model, jieba and the workers' start included, as
in `newsqa index rebuild`), serially (workers=1) and with --workers (0: auto), alternating, --rounds
times. Prints pages per wall second (median, then each round), the serial process's pages per CPU
second, the load average while it ran, and whether the parallel articles and messages were identical
to the serial ones (compared in this process). --warm: read in this process instead, after a warm-up
(model, jieba and the workers' server loaded), i.e. without start-up costs.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate  # noqa: E402
import rmrbgen  # noqa: E402

from retrieval.ingest.corpus import read_corpus  # noqa: E402


ROOT = Path(__file__).resolve().parents[2]


def _read(folder: Path, workers: int) -> object:
    files, skipped = read_corpus([folder], workers=workers)
    return [(f.rel, f.articles) for f in files], [s.message for s in skipped]


def _warm(folder: Path, workers: int) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    read_corpus([folder], workers=workers)
    return time.perf_counter() - t0, time.process_time() - c0


def _fresh(folder: Path, workers: int) -> tuple[float, float]:
    """Wall and CPU seconds (of the process itself, not its workers) of reading
    ``folder`` in a new Python process."""
    code = ("import sys; from pathlib import Path; from retrieval.ingest.corpus import read_corpus\n"
            "if __name__ == '__main__':\n"
            f"    read_corpus([Path({str(folder)!r})], workers={workers})\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=0, help="the parallel run's workers (0: auto)")
    ap.add_argument("--warm", action="store_true", help="read in this process, start-up costs left out")
    args = ap.parse_args()
    makers = [("A held-out", lambda n: generate.make_page("held-out", n), args.pages)]
    if rmrbgen.available():
        makers.append(("B held-out", lambda n: rmrbgen.make_page("held-out", n),
                       min(args.pages, rmrbgen.page_count("held-out"))))
    else:
        print(f"generator B skipped: {rmrbgen.ARCHIVE} not found")
    with tempfile.TemporaryDirectory() as tmp:
        for name, make, count in makers:
            folder = Path(tmp) / name.split()[0]
            folder.mkdir()
            for n in range(count):
                (folder / f"{n:03d}.txt").write_text(make(n).text, encoding="utf-8")
            same = _read(folder, 1) == _read(folder, args.workers)  # also the warm-up
            measure = _warm if args.warm else _fresh
            serial: list[float] = []
            serial_cpu: list[float] = []
            parallel: list[float] = []
            load0 = os.getloadavg()[0]
            for _ in range(args.rounds):
                wall, cpu = measure(folder, 1)
                serial.append(count / wall)
                serial_cpu.append(count / cpu)
                wall, _ = measure(folder, args.workers)
                parallel.append(count / wall)
            load1 = os.getloadavg()[0]
            print(f"{name} {count} pages: serial {statistics.median(serial):.1f} pages/s wall "
                  f"({' / '.join(f'{x:.1f}' for x in serial)}; {statistics.median(serial_cpu):.1f} per CPU second), "
                  f"parallel {statistics.median(parallel):.1f} ({' / '.join(f'{x:.1f}' for x in parallel)}); "
                  f"identical: {same}; load average {load0:.1f} → {load1:.1f}", flush=True)


if __name__ == "__main__":
    main()
