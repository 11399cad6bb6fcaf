"""A year of daily papers: build time, throughput, index size, memory and ask
latency with the embedded backend and with Milvus.

    .venv/bin/python bench/year.py --work DIR [--copies 12] [--backends embedded,milvus]
        [--questions 60] [--phases build,ask] [--seed-index DIR] [--keep-corpus]

Corpus: the real month (../shared/archive/rmrb-2020-01, 31 issues) and, to
reach a year, ``copies - 1`` synthetic months made from it by shifting every
date: copy k's issue of 1月D日 is dated 31·k days later (12 copies: 372 daily
issues, 2020-01-01 to 2021-01-06), its file named by the new date and the
dates its text gives as 1月D日 (dateline, body) shifted alike. An article
whose text names no date would be identical to its original and indexed once
(as a reprint), so it gets one line naming its copy, before its last paragraph. Written under
DIR (never into the repository: it is archive text).

Vectors: the index is built in DIR; ``--seed-index`` (the news dev set's
month index, bench/newsdev.py --work) is copied there first, so the chunks
the copies share with the real month reuse its vectors by content hash, as
any rebuild does, and only the chunks whose text changed (shifted dates, the
closing line) are embedded. The report says how many chunks were embedded
and the embedding rate; the true from-scratch embedding throughput is the
month's (printed by the build of the seed, or bench/build.py).

Asks: the news dev questions (../newsqa-dev), the first ``--questions`` of
them, warm, one at a time, each in a fresh process per backend; p50/p95 of
the whole ask (search + reader), peak and loaded memory, and how many
answers are right (the answer text; the right article may be a copy, its dates shifted).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date as Date, timedelta
from pathlib import Path

from _common import SHARED  # noqa: E402  (puts the repository on sys.path)

from bench.milvus_local import drop_collections, milvus, rss_mb  # noqa: E402

ARCHIVE = SHARED / "archive" / "rmrb-2020-01"
_JAN = re.compile(r"(?<![\d年])(2020年)?1月(\d{1,2})日")
_NAME = re.compile(r"^2020(01)(\d{2})-(\d{2})-(\d{2})\.txt$")


def shift_dates(text: str, k: int) -> str:
    """``text`` as copy ``k`` prints it: every 1月D日 moved 31·k days on."""
    def shift(mm: re.Match) -> str:
        try:
            d = Date(2020, 1, int(mm.group(2))) + timedelta(days=31 * k)
        except ValueError:
            return mm.group(0)
        return (f"{d.year}年" if mm.group(1) else "") + f"{d.month}月{d.day}日"

    return _JAN.sub(shift, text)


def copy_of(file: str) -> int:
    """Which copy a generated file belongs to (0: the real month), from the date in its name."""
    m = re.search(r"(\d{8})-\d{2}-\d{2}\.txt$", file)
    if not m:
        return 0
    day = Date(int(m.group(1)[:4]), int(m.group(1)[4:6]), int(m.group(1)[6:]))
    return (day - Date(2020, 1, 1)).days // 31


def generate(out: Path, copies: int) -> dict:
    """Write the year under ``out``; returns counts."""
    if out.exists():
        shutil.rmtree(out)
    files = sorted(ARCHIVE.rglob("*.txt"))
    n_files = marked = 0
    for k in range(copies):
        for src in files:
            m = _NAME.match(src.name)
            if not m:
                continue
            day = Date(2020, 1, int(m.group(2))) + timedelta(days=31 * k)
            stamp = day.strftime("%Y%m%d")
            text = src.read_text(encoding="utf-8")
            if k:
                new = shift_dates(text, k)
                lines = new.split("\n")
                body = [i for i, ln in enumerate(lines) if i >= 3 and ln.strip()]
                if new == text and body:
                    # before the last paragraph, which may be a signature or a closing dateline
                    lines.insert(body[-1], f"\u3000\u3000（合成副本{k}，原载2020年1月{int(m.group(2))}日）")
                    new = "\n".join(lines)
                    marked += 1
                text = new
            dest = out / stamp / f"{stamp}-{m.group(3)}-{m.group(4)}.txt"
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text, encoding="utf-8")
            n_files += 1
    return {"files": n_files, "copies": copies, "closing_lines_added": marked}


_CLOSING = re.compile(r"\n?\u3000*（合成副本\d+，原载2020年1月\d+日）")
_ANY_DAY = re.compile(r"(\d{4}年)?(\d{1,2})月(\d{1,2})日")


class ShiftedEncoder:
    """The real encoder, except for chunks that are a real month's chunk with
    its dates shifted (or the copy's closing line added): those take the real
    chunk's vector from the seed index, as if the model had read the original.
    Everything else is embedded by the model (counted in ``real``)."""

    def __init__(self, real, seed: Path | None, copies: int) -> None:  # type: ignore[no-untyped-def]
        import numpy as np

        self.real = real
        self.model_name, self.passage_prompt, self.dim = real.model_name, real.passage_prompt, real.dim
        self.precision = getattr(real, "precision", "fp32")
        self.real_count = 0
        self.vectors: dict[str, object] = {}
        if seed is not None and (seed / "current" / "hashes.json").is_file():
            d = (seed / "current").resolve()
            hashes = json.loads((d / "hashes.json").read_text())
            vecs = np.load(d / "vectors.npy")
            self.vectors = {h: vecs[i] for i, h in enumerate(hashes)}
        # copy k's "M月D日" back to the real month's "1月D日"
        self.back: list[dict[tuple[int, int], int]] = []
        for k in range(copies):
            self.back.append({((Date(2020, 1, d) + timedelta(days=31 * k)).month,
                               (Date(2020, 1, d) + timedelta(days=31 * k)).day): d for d in range(1, 32)})

    def encode_query(self, text: str):  # type: ignore[no-untyped-def]
        return self.real.encode_query(text)

    def _key(self, text: str) -> str:
        from retrieval.types import sha1

        tag = self.model_name + "\x00" + ("" if self.precision == "fp32" else self.precision + "\x00")
        return sha1(tag + self.passage_prompt + text)

    def _original(self, text: str) -> object | None:
        base = _CLOSING.sub("", text)
        for back in self.back[1:]:
            def undo(m: re.Match) -> str:
                d = back.get((int(m.group(2)), int(m.group(3))))
                return m.group(0) if d is None else ("2020年" if m.group(1) else "") + f"1月{d}日"

            v = self.vectors.get(self._key(_ANY_DAY.sub(undo, base)))
            if v is not None:
                return v
        return self.vectors.get(self._key(base))

    def encode_passages(self, texts, progress=None):  # type: ignore[no-untyped-def]
        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo = []
        for i, t in enumerate(texts):
            v = self._original(t)
            if v is None:
                todo.append(i)
            else:
                out[i] = v
        if todo:
            out[todo] = self.real.encode_passages([texts[i] for i in todo])
            self.real_count += len(todo)
        if progress:
            progress(len(texts))
        return out


def _config(work: Path, backend: str, uri: str) -> Path:
    text = (f'[corpus]\npaths = ["{work / "corpus" / "rmrb-2020-synth"}"]\n'
            f'[index]\npath = "{work / "index"}"\nbackend = "{backend}"\n')
    if backend == "milvus":
        text += f'[milvus]\nuri = "{uri}"\ncollection = "newsqa_year"\ntimeout_seconds = 1800\n'
    path = work / f"config-{backend}.toml"
    path.write_text(text)
    return path


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_build(work: Path, backend: str, uri: str, seed: str, copies: int) -> dict:
    from retrieval.app import load_encoder, quiet_libraries
    from retrieval.config import load_config
    from retrieval.index.backend import open_backend
    from retrieval.index.lexical import Tokenizer

    quiet_libraries()
    cfg = load_config(_config(work, backend, uri))
    encoder = ShiftedEncoder(load_encoder(cfg), Path(seed) if seed else None, copies)
    t0 = time.perf_counter()
    report = open_backend(cfg).build(cfg, encoder, Tokenizer())
    took = time.perf_counter() - t0
    size_mb: float | str = "–"
    if backend == "embedded":
        size_mb = round(sum(f.stat().st_size for f in (cfg.index_path / "current").resolve().rglob("*")
                            if f.is_file()) / 2**20, 1)
    return {"backend": backend, "build_s": round(took, 1), "files": report.files_indexed,
            "articles": report.articles, "chunks": report.chunks, "embedded": report.embedded,
            "reused": report.reused, "model_embedded": encoder.real_count, "articles_per_s": round(report.articles / took, 1),
            "peak_rss_mb": round(peak_mb()), "index_mb_on_disk": size_mb}


def child_ask(work: Path, backend: str, uri: str, n_questions: int, server_pid: int) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from newsdev import is_right, load_questions, questions_file

    from retrieval.app import load_query_encoder, load_reader, quiet_libraries
    from retrieval.answer.qa import QA
    from retrieval.config import load_config
    from retrieval.index.lexical import Tokenizer

    quiet_libraries()
    cfg = load_config(_config(work, backend, uri))
    qpath = questions_file()
    assert qpath is not None
    questions = load_questions(qpath)[0][:n_questions]
    encoder = load_query_encoder(cfg)
    tokenizer = Tokenizer()
    rss_model = rss_mb()
    qa = QA(cfg, encoder, tokenizer, reader=load_reader(cfg, encoder=encoder))
    rss_loaded = rss_mb()
    qa.warm_up()
    times, right, answerable = [], 0, 0
    for q in questions:
        t0 = time.perf_counter()
        ans = qa.ask(q.question)
        times.append((time.perf_counter() - t0) * 1000)
        if q.answerable:
            answerable += 1
            # A copy's answer is right when it is the real answer with the copy's dates ("2020年1月1日"
            # printed as "2020年12月7日" in the copy it came from).
            k = copy_of(ans.sources[0].file) if ans.found and ans.sources else 0
            right += ans.found and is_right(ans.text, [shift_dates(a, k) if k else a for a in q.answers])
    times.sort()
    server = round(rss_mb(server_pid)) if server_pid else "–"
    if backend == "milvus":
        drop_collections(cfg.milvus.uri, cfg.milvus.collection)
    return {"backend": backend, "questions": len(questions), "p50_ms": round(statistics.median(times)),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))]), "right": f"{right}/{answerable}",
            "rss_mb_model": round(rss_model), "rss_mb_loaded": round(rss_loaded), "rss_mb_end": round(rss_mb()),
            "peak_rss_mb": round(peak_mb()), "server_rss_mb": server}


def run_child(args: argparse.Namespace, phase: str, backend: str, uri: str, pid: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", phase, "--work", args.work, "--backend", backend,
                          "--uri", uri, "--server-pid", str(pid), "--questions", str(args.questions),
                          "--seed-index", args.seed_index, "--copies", str(args.copies)],
                         capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"{backend} {phase}: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", required=True, help="folder for the generated year, its index and Milvus data")
    ap.add_argument("--copies", type=int, default=12, help="months: the real one and copies - 1 shifted ones")
    ap.add_argument("--backends", default="embedded,milvus")
    ap.add_argument("--questions", type=int, default=60)
    ap.add_argument("--phases", default="build,ask")
    ap.add_argument("--seed-index", default="", help="an index of the real month whose vectors the build reuses")
    ap.add_argument("--keep-corpus", action="store_true", help="use the year already generated under --work")
    ap.add_argument("--child", default="", help=argparse.SUPPRESS)
    ap.add_argument("--backend", default="embedded", help=argparse.SUPPRESS)
    ap.add_argument("--uri", default="", help=argparse.SUPPRESS)
    ap.add_argument("--server-pid", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = Path(args.work).resolve()
    args.work = str(work)
    if args.child == "build":
        print(json.dumps(child_build(work, args.backend, args.uri, args.seed_index, args.copies)))
        return
    if args.child == "ask":
        print(json.dumps(child_ask(work, args.backend, args.uri, args.questions, args.server_pid)))
        return
    if not ARCHIVE.is_dir():
        print(f"skipped: needs {ARCHIVE} (the People's Daily archive)")
        return
    phases = {p.strip() for p in args.phases.split(",")}
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    if "build" in phases:
        corpus = work / "corpus" / "rmrb-2020-synth"
        if not (args.keep_corpus and corpus.is_dir()):
            t0 = time.perf_counter()
            counts = generate(corpus, args.copies)
            print(f"generated {counts} in {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
        if args.seed_index and not (work / "index").exists():
            shutil.copytree(args.seed_index, work / "index", symlinks=True)
    with contextlib.ExitStack() as stack:
        target = stack.enter_context(milvus(None, work / "milvus-data")) if "milvus" in backends else None
        uri, pid = (target.uri, target.server_pid or 0) if target else ("", 0)
        built = {}
        if "build" in phases:
            for b in ["embedded"] + [b for b in backends if b == "milvus"]:
                built[b] = run_child(args, "build", b, uri, pid)
                print(json.dumps(built[b]), file=sys.stderr, flush=True)
            (work / "built.json").write_text(json.dumps(built))
        else:
            built = json.loads((work / "built.json").read_text())
        if "ask" in phases:
            for b in backends:
                rows.append({**built.get(b, {}), **run_child(args, "ask", b, uri, pid)})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(f"cpu: {_cpu()}; cores: {os.cpu_count()}")
    for b, r in built.items():
        print(f"build {b}: {r['files']} files, {r['articles']} articles, {r['chunks']} chunks in {r['build_s']}s "
              f"({r['articles_per_s']} articles/s; {r['reused']} chunks reused from the previous build, "
              f"{r['embedded']} new, of which {r['model_embedded']} run through the model and the rest given "
              f"their real-month original's vector); "
              f"peak {r['peak_rss_mb']} MB; index on disk {r['index_mb_on_disk']} MB")
    for r in rows:
        print(f"ask {r['backend']}: p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms over {r['questions']} questions "
              f"(warm, one at a time); right {r['right']}; memory: model {r['rss_mb_model']} MB, loaded "
              f"{r['rss_mb_loaded']} MB, end {r['rss_mb_end']} MB, peak {r['peak_rss_mb']} MB; "
              f"Milvus server {r['server_rss_mb']} MB")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
