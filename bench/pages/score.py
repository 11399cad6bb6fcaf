"""Score newspaper-page segmentation on generated pages (see generate.py).

    .venv/bin/python bench/pages/score.py [--pages 60] [--held-out 40] [--scale 2,4,8] [--show N] [--why]

Pages go through the same path ingest uses for .txt files
(retrieval.ingest.corpus._from_page_text). Per split it prints:
  title   share of true articles whose matched article has the true title
          (a continuation printed without headline counts as right when its
          title says "（上接…）");
  author  share whose author is exactly right (names joined by one space,
          roles dropped; no byline must give no author);
  body F1 mean character F1 between the true body and the matched article;
  merged  true articles whose best-matching found article is another true
          article's best match too (the one with less text there counts);
  split   true articles spread over two or more found articles (≥ 20% each);
  extra   found articles that are no true article's best match (invented);
  pages/s segmentation speed.
With --scale, pages are concatenated into files of the given sizes (MB) and
the seconds to segment each are printed (near-linear is the target).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import Page, make_page  # noqa: E402

from retrieval.ingest.corpus import _from_page_text  # noqa: E402
from retrieval.types import Article  # noqa: E402


@dataclass
class Score:
    articles: int = 0
    title_ok: int = 0
    author_ok: int = 0
    f1_sum: float = 0.0
    merged: int = 0
    split: int = 0
    extra: int = 0
    pages: int = 0
    seconds: float = 0.0
    # (error, article kind, headline placement, lead style) → count, for --why
    causes: Counter = field(default_factory=Counter)

    @property
    def title_acc(self) -> float:
        return self.title_ok / max(self.articles, 1)

    @property
    def author_acc(self) -> float:
        return self.author_ok / max(self.articles, 1)

    @property
    def body_f1(self) -> float:
        return self.f1_sum / max(self.articles, 1)

    @property
    def merged_share(self) -> float:
        return self.merged / max(self.articles, 1)

    def line(self, name: str) -> str:
        return (f"{name:9s} pages {self.pages:4d}  articles {self.articles:4d}  title {self.title_acc:.3f}  "
                f"author {self.author_acc:.3f}  body F1 {self.body_f1:.3f}  merged {self.merged:3d} "
                f"({self.merged_share:.1%})  split {self.split:3d}  extra {self.extra:3d}  "
                f"{self.pages / max(self.seconds, 1e-9):.0f} pages/s")


def _norm(text: str | None) -> str:
    return re.sub(r"\s+", "", text or "")


def _grams(text: str) -> set[str]:
    return {text[i : i + 3] for i in range(len(text) - 2)}


def _f1(truth: str, found: str) -> float:
    if not truth or not found:
        return 0.0
    inter = sum((Counter(truth) & Counter(found)).values())
    if not inter:
        return 0.0
    p, r = inter / len(found), inter / len(truth)
    return 2 * p * r / (p + r)


def score_page(page: Page, found: list[Article], score: Score, show: bool = False) -> None:
    bodies = [_norm("".join(a.paragraphs)) for a in found]
    fgrams = [_grams(b) for b in bodies]
    best: list[tuple[int, int]] = []  # (overlap, found index) per true article
    for t in page.articles:
        tg = _grams(_norm(t.body))
        overlaps = [len(tg & g) for g in fgrams]
        k = max(range(len(found)), key=lambda i: overlaps[i]) if found else -1
        best.append((overlaps[k] if k >= 0 else 0, k))
        if len(tg) and sum(1 for o in overlaps if o >= 0.2 * len(tg)) >= 2:
            score.split += 1
    claimed = Counter(k for o, k in best if o > 0)
    for ti, t in enumerate(page.articles):
        score.articles += 1
        o, k = best[ti]
        why = (t.kind, t.placement, t.lead)
        if o == 0:
            score.causes[("lost",) + why] += 1
            if show:
                print(f"  LOST  {t.title}")
            continue
        if claimed[k] > 1 and any(best[tj][1] == k and best[tj][0] > o for tj in range(len(best)) if tj != ti):
            score.merged += 1
            score.causes[("merged",) + why] += 1
        a = found[k]
        title_ok = (_norm(a.title).startswith("（上接") if t.title is None else _norm(a.title) == _norm(t.title))
        author_ok = (a.author or None) == t.author
        score.title_ok += title_ok
        score.author_ok += author_ok
        f1 = _f1(_norm(t.body), bodies[k])
        score.f1_sum += f1
        if not title_ok:
            score.causes[("title",) + why] += 1
        if not author_ok:
            score.causes[("author",) + why] += 1
        if f1 < 0.9:
            score.causes[("body<0.9",) + why] += 1
        if show and not (title_ok and author_ok and f1 > 0.95):
            print(f"  truth {t.title!r} / {t.author!r}  found {a.title!r} / {a.author!r}  F1 {f1:.2f}  "
                  f"[{t.kind} {t.placement} {t.lead}]")
    score.extra += sum(1 for k in range(len(found)) if k not in claimed)


def run_split(split: str, pages: int, show: int = 0, start: int = 0) -> Score:
    score = Score()
    _from_page_text(make_page(split, start + pages).text, "warm-up.txt")  # imports are not segmentation time
    for n in range(start, start + pages):
        page = make_page(split, n)
        t0 = time.perf_counter()
        found = _from_page_text(page.text, f"{split}_{n:03d}.txt")
        score.seconds += time.perf_counter() - t0
        score.pages += 1
        if n - start < show:
            print(f"--- {split} page {n}")
            score_page(page, found, score, show=True)
        else:
            score_page(page, found, score)
    return score


def run_scale(sizes_mb: list[float]) -> None:
    texts: list[str] = []
    size = 0
    for mb in sizes_mb:
        while size < mb * 1e6:
            texts.append(make_page("tune", len(texts) % 200).text)
            size += len(texts[-1].encode()) + 1
        text = "\n".join(texts)
        t0 = time.perf_counter()
        arts = _from_page_text(text, "big.txt")
        dt = time.perf_counter() - t0
        pages = len(texts)
        print(f"scale {len(text.encode()) / 1e6:5.1f} MB  {pages:5d} pages  {len(arts):6d} articles  "
              f"{dt:6.2f} s  {pages / dt:5.0f} pages/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=60, help="tune pages")
    ap.add_argument("--start", type=int, default=0,
                    help="first tune page (fit.py fits on tune pages 0-299: --start 300 scores unseen tune pages)")
    ap.add_argument("--held-out", type=int, default=40, help="held-out pages")
    ap.add_argument("--show", type=int, default=0, help="print the errors of the first N tune pages")
    ap.add_argument("--why", action="store_true",
                    help="count the tune errors by article kind, headline placement and lead style")
    ap.add_argument("--scale", type=str, default="", help="comma-separated sizes in MB")
    args = ap.parse_args()
    if args.pages:
        tune = run_split("tune", args.pages, args.show, args.start)
        print(tune.line("tune"))
        if args.why:
            for cause, count in tune.causes.most_common(40):
                print(f"  {count:4d}  {' '.join(cause)}")
    if args.held_out:
        print(run_split("held-out", args.held_out).line("held-out"))
    if args.scale:
        run_scale([float(x) for x in args.scale.split(",")])


if __name__ == "__main__":
    main()
