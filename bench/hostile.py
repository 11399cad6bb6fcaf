"""Peak memory of `newsqa index rebuild` over a folder of hostile files, against
the same rebuild over the good files alone (issue 33: no single file may make a
rebuild take more than 1 GB over its baseline).

    .venv/bin/python bench/hostile.py            # each hostile file on its own, then all together
    .venv/bin/python bench/hostile.py --only giant-page.pdf

Every rebuild runs in a fresh process with the real model, over a fresh index;
peak RSS is the process's ru_maxrss. The baseline is the rebuild of the good
articles alone; each hostile file is then added to them on its own, then all
together. Prints the baseline, each peak, the difference and whether it is
≤ 1 GB, and each file's line(s) from the rebuild.

The corpus is read before the model loads, so a rebuild's peak can hide up to
the model's size of memory taken and given back while reading. Each file is
therefore also read alone (``read_corpus`` over a folder holding only it,
what a rebuild reads it with) in a fresh process: "read" is its peak RSS over the RSS before reading.

The builders (``write_good``, ``HOSTILE``) are also what tests/test_reliability.py
puts in its whole-folder test, at a smaller size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Callable

from _common import ROOT

LIMIT_MB = 1024
GBK_NAME = "新闻".encode("gbk") + b".txt"  # what an archive made on Windows unpacks to
LEAD = "本报讯（记者 张三）"
PUDONG = ("浦东新区开通新公交线路\n\n" + LEAD + "浦东新区今天开通了三条新公交线路，方便居民出行。"
          "新线路全长四十公里，沿途设站二十个。\n")
SHUNYI = ("顺义区排查隐患\n\n本报讯（记者 李四）顺义区总工会检查了十二家企业的消防设施，"
          "发现隐患三处，已全部整改。\n")
LIBRARY = {"id": "lib1", "title": "海淀区图书馆举办读书节",
           "text": "海淀区图书馆昨天举办了冬季读书节，吸引了三百多名市民参加。活动持续一周，包括讲座和展览。"}


def write_good(folder: Path) -> None:
    """Articles a user asks about afterwards; the GBK-named one is hostile by its name only."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pudong.txt").write_text(PUDONG, encoding="utf-8")
    (folder / "library.json").write_text(json.dumps([LIBRARY], ensure_ascii=False), encoding="utf-8")
    with open(os.path.join(os.fsencode(folder), GBK_NAME), "wb") as f:
        f.write(SHUNYI.encode("utf-8"))


# ------------------------------------------------------------------ hostile files

def pdf_bytes(width: float = 612, height: float = 792, content: bytes = b"", compress: bool = False) -> bytes:
    """A one-page PDF without a text layer: ``content`` as its content stream."""
    stream = zlib.compress(content, 9) if compress else content
    extra = b" /Filter /FlateDecode" if compress else b""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Contents 4 0 R >>"
               % (str(width).encode(), str(height).encode()),
               b"<< /Length %d%s >>\nstream\n" % (len(stream), extra) + stream + b"\nendstream"]
    return pdf_from_objects(objects)


def pdf_from_objects(objects: list[bytes]) -> bytes:
    """A PDF file of ``objects`` (numbered from 1; the first is the catalog),
    with its cross-reference table and trailer."""
    out = b"%PDF-1.4\n"
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` × ``height`` pixels in a few dozen bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def png_blank(width: int, height: int) -> bytes:
    """A white greyscale PNG, really ``width`` × ``height`` pixels (it compresses to little)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = (b"\0" + b"\xff" * width) * height
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b"")


def long_title(title_chars: int, sentences: int) -> bytes:
    body = "".join(f"第{i}次会议讨论了城市交通问题，代表们提出了许多建议。" for i in range(sentences))
    return json.dumps([{"title": "长" * title_chars, "text": body}], ensure_ascii=False).encode("utf-8")


def _link(target: str) -> Callable[[Path], None]:
    return lambda p: os.symlink(target, p)


def _bytes(data: Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda p: p.write_bytes(data())


def _sparse(size: int) -> Callable[[Path], None]:
    def make(p: Path) -> None:
        with p.open("wb") as f:
            f.truncate(size)  # no disk used: the bytes read as zeros
    return make


def hostile(scale: float = 1.0) -> dict[str, tuple[Callable[[Path], None], str]]:
    """name → (writer, what its one line says). ``scale`` < 1 makes the
    amplifying files (bad lines, empty records, bombs) smaller, for tests;
    at 1 each would have cost the old code over 1 GB."""
    n = max(1000, int(3_000_000 * scale))
    out: dict[str, tuple[Callable[[Path], None], str]] = {
        "giant-page.pdf": (_bytes(lambda: pdf_bytes(14400, 14400, b"0 0 m 100 100 l S")), "page too large"),
        "flate-bomb.pdf": (_bytes(lambda: pdf_bytes(content=b" " * int(100_000_000 * max(scale, 0.4)),
                                                    compress=True)), "inflates to over"),
        "broken.pdf": (_bytes(lambda: pdf_bytes(content=b"BT ET")[:200]), "unreadable PDF"),
        "pixel-bomb.png": (_bytes(lambda: png_header(100_000, 100_000)), "too large for a page"),
        "dangling.txt": (_link("nowhere.txt"), "broken link"),
        "loop-a.txt": (_link("loop-b.txt"), "link loop"),
        "loop-b.txt": (_link("loop-a.txt"), "link loop"),
        "up.txt": (_link(".."), "link to a folder"),
        "pipe.txt": (lambda p: os.mkfifo(p), "not a regular file"),
        "huge.txt": (_sparse(65 * 2**20), "too large"),
        "empty-records.json": (_bytes(lambda: b"[" + b",".join([b"{}"] * n) + b"]"), "no usable record"),
        "bad-lines.jsonl": (_bytes(lambda: b"x\n" * n), "no usable record"),
        "deep.json": (_bytes(lambda: b"[" * 200_000), "invalid JSON"),
        "random.txt": (_bytes(lambda: random.Random(7).randbytes(int(2_000_000 * scale) or 1000)), ""),
        "long-title.json": (_bytes(lambda: long_title(max(1000, int(200_000 * scale)), max(20, int(2000 * scale)))),
                            "cut to"),
    }
    if scale >= 1:  # just under the pixel limit: read (no text found), at the most memory a page may take
        out["page-at-limit.pdf"] = (_bytes(lambda: pdf_bytes(2870, 2870, b"0 0 m 100 100 l S")), "no text found")
        out["image-at-limit.png"] = (_bytes(lambda: png_blank(5990, 5990)), "no text found")
    return out


def write_hostile(folder: Path, scale: float = 1.0, only: str | None = None) -> dict[str, str]:
    """The hostile files in ``folder``; returns name → what its line says."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, (write, says) in hostile(scale).items():
        if only is None or name == only:
            write(folder / name)
            out[name] = says
    return out


# ------------------------------------------------------------------ measuring

PEAK = """
import resource, sys
sys.argv = ["newsqa"]
from bot.cli import main
rc = main({args!r})
print("PEAK_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "RC", rc, file=sys.stderr)
"""


READ = """
import resource, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from retrieval.ingest.corpus import read_corpus
import retrieval.ingest.pdfpage, retrieval.ingest.ocrpage, charset_normalizer, PIL.Image, pdfplumber, pypdfium2
def status(key):
    return int(open("/proc/self/status").read().split(key + ":")[1].split()[0]) // 1024
read_corpus([Path({warm!r})])  # what any PDF, image or text file loads, loaded
open("/proc/self/clear_refs", "w").write("5")  # the peak (VmHWM) starts again from here
before = status("VmRSS")
read_corpus([Path({path!r})])
print("READ_MB", before, status("VmHWM"))
"""


def read_peak(path: Path, warm: Path) -> tuple[int, int]:
    """(RSS before, peak RSS) in MB of reading ``path`` alone in a fresh process."""
    code = READ.format(root=str(ROOT), warm=str(warm), path=str(path))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1800,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"})
    got = next((ln for ln in r.stdout.splitlines() if ln.startswith("READ_MB")), None)
    if got is None:
        raise SystemExit(f"reading {path} failed:\n{r.stderr[-3000:]}")
    _, before, peak = got.split()
    return int(before), int(peak)


def rebuild_peak(corpus: Path, work: Path) -> tuple[int, int, list[str]]:
    """(peak RSS in MB, exit status, the warning/skipped/note lines) of one rebuild in a fresh process."""
    index = work / "index"
    shutil.rmtree(index, ignore_errors=True)
    cfg = work / "config.toml"
    cfg.write_text(f'[corpus]\npaths = ["{corpus}"]\n[index]\npath = "{index}"\n', encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    code = PEAK.format(args=["--config", str(cfg), "index", "rebuild", "--full"])
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=work, timeout=1800)
    peak = next((ln for ln in r.stderr.splitlines() if ln.startswith("PEAK_KB")), None)
    if peak is None:
        raise SystemExit(f"rebuild over {corpus} failed:\n{r.stderr[-3000:]}")
    _, kb, _, rc = peak.split()
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith(("warning ", "skipped ", "note "))]
    return int(kb) // 1024, int(rc), lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="one hostile file (name as listed by the bench)")
    ap.add_argument("--scale", type=float, default=1.0, help="size of the amplifying files (1: each a >1 GB bomb before)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hostile-"))
    try:
        good = work / "good" / "corpus"
        write_good(good)
        base, rc, _ = rebuild_peak(good, work / "good")
        print(f"baseline (good articles only): peak RSS {base} MB (exit {rc})", flush=True)
        names = [args.only] if args.only else list(hostile(args.scale))
        warm = work / "warm"
        write_good(warm)
        (warm / "page.pdf").write_bytes(pdf_bytes(200, 200, b"0 0 m 100 100 l S"))  # OCR loaded too
        (warm / "page.png").write_bytes(png_blank(200, 200))
        worst = 0
        for name in [*names, *([] if args.only else ["ALL"])]:
            d = work / name.replace(".", "_")
            corpus = d / "corpus"
            write_good(corpus)
            write_hostile(corpus, args.scale, None if name == "ALL" else name)
            peak, rc, lines = rebuild_peak(corpus, d)
            diff = peak - base
            read = ""
            if name != "ALL":
                alone = d / "alone"  # the file by itself in a folder (a link is only reported inside one)
                write_hostile(alone, args.scale, name)
                before, read_max = read_peak(alone, warm)
                read = f"  read alone: {before} → {read_max} MB ({read_max - before:+d} MB)"
                diff = max(diff, read_max - before)
            worst = max(worst, diff)
            print(f"{name:20s} rebuild peak RSS {peak:5d} MB  baseline {base} MB  difference {peak - base:+5d} MB"
                  f"{read}  {'≤' if diff <= LIMIT_MB else '>'} 1 GB  exit {rc}", flush=True)
            for ln in lines:
                print(f"    {ln[:150]}", flush=True)
            shutil.rmtree(d, ignore_errors=True)
        ok = worst <= LIMIT_MB
        print(f"largest difference over the baseline: {worst} MB: {'≤' if ok else '>'} 1 GB ({LIMIT_MB} MB)")
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
