"""A second page generator, written from real printed pages: whole People's Daily pages laid out as the
plain text a PDF text extraction gives.

    .venv/bin/python bench/pages/rmrbgen.py --split held-out --pages 3 --out /tmp/rmrbpages

Source: ../shared/archive/rmrb-2020-01/ (one file per article, ``YYYYMMDD-PP-NN.txt``: kicker, headline,
subtitle, then the body as printed, bylines inside it). A page is every article of one printed page
(``YYYYMMDD-PP``), in print order. Nothing of the archive is ever written into the repository: pages are
made at bench time (``--out`` only for looking at them, under /tmp).

This generator shares no code with generate.py and follows other conventions, taken from the paper:
- column widths of 10-14 ideographs a page, an ASCII character half a cell, closing punctuation hanging;
- a paragraph's indent either lost (its first line is two cells short) or printed as full width
  (the first line as wide as the others: only the short last line of the paragraph above shows the break);
- column breaks as blank lines at random points, or none at all; articles separated by a blank line or not;
- headline blocks as the paper prints them: kicker (引题) line, headline on one line or broken in two
  (at the gap between its two parts, or in the middle), subtitle (副题) lines wrapped wider than a column;
  placed above the body, after it, or in a block of headlines at the top of the page (then the bodies follow
  in order, none with its headline next to it);
- bylines and datelines exactly as the paper printed them (``本报北京1月8日电 （记者X）``, a line
  ``本报记者 X``, a commentary's signature at its end); many articles have none;
- page-1 articles cut after 400-900 characters with ``（下转第N版）``;
- a page header (paper, date, page) and an editors' footer on some pages.

Truth per article: the archive file's headline / kicker / subtitle, and its author and body as the
project's e-paper reader (retrieval/ingest/epaper.py, measured on this archive) reads them from the file;
a cut article's body is the printed part. Split by day: days 1-20 train, days 21-31 held-out (never tune
on held-out).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from retrieval.ingest.epaper import read_article  # noqa: E402

ARCHIVE = ROOT.parent / "shared" / "archive" / "rmrb-2020-01"
HANG = set("，。、；：？！）”』」》…")
WEEK = "一二三四五六日"
EDITORS = ["刘晓鹏", "孙振", "曹树林", "王远", "张凯", "罗炜", "赵鹏", "蒋雪"]
CN_NUM = "〇一二三四五六七八九十"


@dataclass
class RealArticle:
    title: str
    author: str | None
    body: str
    kicker: str | None = None
    subtitle: str | None = None
    kind: str = "article"
    placement: str = ""
    lead: str = ""


@dataclass
class RealPage:
    name: str
    text: str
    articles: list[RealArticle]
    line_labels: list[tuple[str, str]] = field(default_factory=list)  # (article index as str, label)
    line_articles: list[int] = field(default_factory=list)


def available() -> bool:
    return ARCHIVE.is_dir()


@lru_cache(maxsize=1)
def _pages_by_split() -> dict[str, list[tuple[str, list[Path]]]]:
    pages: dict[str, list[Path]] = {}
    for f in sorted(ARCHIVE.glob("*/*.txt")):
        pages.setdefault(f.name[:11], []).append(f)
    out: dict[str, list[tuple[str, list[Path]]]] = {"train": [], "held-out": []}
    for key, files in sorted(pages.items()):
        day = int(key[6:8])
        out["train" if day <= 20 else "held-out"].append((key, sorted(files)))
    return out


def page_count(split: str) -> int:
    return len(_pages_by_split()[split])


def _cn(n: int) -> str:
    if n <= 10:
        return CN_NUM[n]
    return ("" if n < 20 else CN_NUM[n // 10]) + "十" + (CN_NUM[n % 10] if n % 10 else "")


class _Sheet:
    """The extracted text being written, with one label and owner per non-blank line."""

    def __init__(self, rng: random.Random, cols: int) -> None:
        self.rng = rng
        self.cols = cols
        self.out: list[str] = []
        self.labels: list[tuple[str, str]] = []
        self.owners: list[int] = []
        self.lost_indent = rng.random() < 0.6
        self.col_lines = rng.choice([0, 0, rng.randint(18, 45)])  # 0: no column breaks shown
        self.since = 0
        self.space_rate = rng.choice([0.0, 0.0, 0.05, 0.15])

    def gap(self) -> None:
        if self.out and self.out[-1] != "":
            self.out.append("")

    def line(self, text: str, label: str, owner: int) -> None:
        self.out.append(text)
        self.labels.append((str(owner), label))
        self.owners.append(owner)

    def flow(self, text: str, label: str, owner: int) -> None:
        if self.col_lines:
            self.since += 1
            if self.since >= self.col_lines:
                self.gap()
                self.since = 0
        if self.space_rate:
            text = re.sub(r"([，。；：])", lambda m: m.group(1) + (" " if self.rng.random() < self.space_rate else ""),
                          text)
        self.line(text.rstrip(), label, owner)

    def paragraph(self, para: str, owner: int, cols: int, first_label: str = "body_first") -> None:
        for k, ln in enumerate(_wrap(para, cols, 2 if self.lost_indent else 0)):
            self.flow(ln, first_label if k == 0 else "body", owner)


def _cells(ch: str) -> float:
    return 0.5 if ch.isascii() else 1.0


def _wrap(text: str, cols: int, indent: int) -> list[str]:
    lines: list[str] = []
    cur = ""
    used = float(indent)
    for ch in text:
        if used + _cells(ch) > cols and cur and ch not in HANG:
            lines.append(cur)
            cur, used = "", 0.0
        cur += ch
        used += _cells(ch)
    if cur:
        lines.append(cur)
    return lines


def _headline_lines(rng: random.Random, title: str, cols: int) -> list[str]:
    """A headline as extracted: one wide line, or two lines (its two parts, or cut in the middle)."""
    if " " in title and rng.random() < 0.6:
        a, b = title.split(" ", 1)
        return [a, b]
    flat = title.replace(" ", "")
    if len(flat) > 12 and rng.random() < 0.3:
        cut = len(flat) // 2 + rng.randint(-2, 2)
        while 0 < cut < len(flat) and flat[cut] in HANG:
            cut += 1
        return [flat[:cut], flat[cut:]]
    return [title if rng.random() < 0.5 else flat]


def _subtitle_lines(sub: str, cols: int) -> list[str]:
    width = cols * 2 + 4
    return [sub[k : k + width] for k in range(0, len(sub), width)]


def _load(path: Path) -> tuple[list[str], RealArticle] | None:
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    lines = text.split("\n")
    art = read_article(text)
    if art is None or not art.title or not art.paragraphs or len(lines) < 4:
        return None
    printed = [re.sub(r"\s+", " ", ln.strip("\u3000 \u00a0\t\r")).strip() for ln in lines[3:]]
    printed = [p for p in printed if p]
    truth = RealArticle(title=art.title, author=art.author, body="".join(art.paragraphs),
                        kicker=art.kicker, subtitle=art.subtitle,
                        lead="dateline" if art.dateline else ("byline" if art.author else "none"))
    return printed, truth


def make_page(split: str, number: int) -> RealPage:
    key, files = _pages_by_split()[split][number % page_count(split)]
    rng = random.Random(zlib.crc32(f"{split}/{key}/{number}".encode()))
    cols = rng.randint(10, 14)
    sheet = _Sheet(rng, cols)
    page_no = int(key[9:11])
    loaded = [x for x in (_load(f) for f in files) if x is not None]
    truths: list[RealArticle] = []
    bodies: list[list[str]] = []
    for printed, truth in loaded:
        if page_no == 1 and len(truth.body) > 500 and rng.random() < 0.8:
            keep = rng.randint(400, 900)
            cut: list[str] = []
            total = 0
            for p in printed:
                if total + len(p) > keep:
                    stop = max(p.rfind("，", 0, keep - total), p.rfind("。", 0, keep - total))
                    if stop > 10:
                        cut.append(p[: stop + 1])
                    break
                cut.append(p)
                total += len(p)
            if cut:
                # truth: the printed paragraphs the e-paper reader keeps (bylines dropped)
                kept = read_article("\n" + truth.title + "\n\n" + "\n".join("\u3000\u3000" + p for p in cut))
                truth.body = "".join(kept.paragraphs) if kept else "".join(cut)
                printed = cut + [f"（下转第{rng.choice([2, 3, 4, 5])}版）"]
                truth.kind = "cut"
        truths.append(truth)
        bodies.append(printed)

    n = len(truths)
    placements = []
    for k in range(n):
        r = rng.random()
        placements.append("top" if (k < 4 and r < 0.2) else "after" if r < 0.35 else "above")
    for k, p in enumerate(placements):
        truths[k].placement = p

    if rng.random() < 0.5:
        sheet.line(f"人民日报 {key[:4]}年{int(key[4:6])}月{int(key[6:8])}日 星期{rng.choice(WEEK)}", "header", -1)
        sheet.line(rng.choice([f"第{page_no}版", f"{page_no:02d}", f"第{page_no}版 要闻"]), "header", -1)
        sheet.gap()

    def head_block(k: int) -> None:
        t = truths[k]
        if t.kicker:
            sheet.line(t.kicker, "kicker", k)
        for ln in _headline_lines(rng, t.title, cols):
            sheet.line(ln, "title", k)
        if t.subtitle:
            for ln in _subtitle_lines(t.subtitle, cols):
                sheet.line(ln, "subtitle", k)

    tops = [k for k in range(n) if placements[k] == "top"]
    for k in tops:
        head_block(k)
        if rng.random() < 0.5:
            sheet.gap()
    if tops:
        sheet.gap()
    for k in range(n):
        art_cols = cols if rng.random() < 0.7 else max(10, min(14, cols + rng.choice([-1, 1])))
        if placements[k] == "above":
            head_block(k)
            if rng.random() < 0.3:
                sheet.gap()
        first = True
        for p in bodies[k]:
            if p.startswith(("（下转", "（上接")):
                sheet.line(p, "cont", k)
                continue
            if re.match(r"^(本报|新华社|人民日报)?(特约|见习)?记者\s", p) and len(p) <= 30:
                sheet.line(p, "byline", k)
                continue
            label = "lead" if first and re.match(r"^(本报|新华社|据)", p) else "body_first"
            sheet.paragraph(p, k, art_cols, label)
            first = False
        if placements[k] == "after":
            if rng.random() < 0.5:
                sheet.gap()
            head_block(k)
        if rng.random() < 0.6:
            sheet.gap()
    if rng.random() < 0.5:
        sheet.gap()
        eds = rng.sample(EDITORS, 2)
        sheet.line(f"本版责编：{eds[0]}  {eds[1]}", "header", -1)
    text = "\n".join(sheet.out) + "\n"
    return RealPage(name=key, text=text, articles=truths, line_labels=sheet.labels, line_articles=sheet.owners)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="train", choices=["train", "held-out"])
    ap.add_argument("--pages", type=int, default=3)
    ap.add_argument("--out", type=Path, required=True, help="a folder under /tmp (never the repository)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for n in range(args.pages):
        page = make_page(args.split, n)
        (args.out / f"{args.split}_{page.name}.txt").write_text(page.text, encoding="utf-8")
    print(f"{args.pages} pages in {args.out} ({page_count(args.split)} in the {args.split} split)")


if __name__ == "__main__":
    main()
