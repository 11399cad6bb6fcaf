"""Why titles are missed and articles merged, counted by cause, on train pages of either generator.

    .venv/bin/python bench/pages/causes.py [--gen B] [--pages 80] [--start 0] [--show] [--model DIR]

For error analysis before changing the segmenter: it reads train pages only (A: tune, B: train days
1-20), never the held-out ones. Per page, the headline lines the generator printed are compared with
what the line passes read them as, and every true article whose matched article has the wrong title,
or that is merged into a neighbour (score.py's definitions), is put under one cause:
  title: kicker / subtitle taken as the title, another article's title, the title cut short (half of a
         two-line title) or glued to other headline text, its lines read as body, other;
  merged: whether the merged article's title lines were found as headlines, and where its title went
          (the title of the article it ran into, glued into a title, a kicker, a subtitle, nowhere).
--show prints every counted error.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate  # noqa: E402
import rmrbgen  # noqa: E402
from score import Score, _grams, _norm, score_page  # noqa: E402

from retrieval.ingest import newspaper as nw  # noqa: E402
from retrieval.ingest.corpus import _from_page_text  # noqa: E402

HEADLINE_LABELS = {"title", "kicker", "subtitle", "section"}


def title_cause(truth, found, titles: set[str], lines_found: str) -> str:
    got, want = _norm(found.title), _norm(truth.title)
    if truth.kicker and got == _norm(truth.kicker):
        return "kicker taken as title"
    if getattr(truth, "subtitle", None) and got == _norm(truth.subtitle):
        return "subtitle taken as title"
    if got in titles:
        return "another article's title"
    if want and want in got:
        return "glued to other headline text"
    if got and got in want:
        return "cut short (part of a two-line title)"
    if lines_found == "none":
        return "title lines read as body"
    return "other"


def where_title_went(want: str, found: list) -> str:
    for f in found:
        if _norm(f.title) == want:
            return "title of the article it ran into"
        if want and want in _norm(f.title):
            return "glued into a title"
        if want and any(want == _norm(k) for k in (f.kicker or [])):
            return "a kicker"
        if want and want == _norm(f.subtitle):
            return "a subtitle"
    return "nowhere"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gen", choices=["A", "B"], default="B")
    ap.add_argument("--pages", type=int, default=80)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--show", action="store_true")
    ap.add_argument("--model", type=Path, help="a page-line model folder other than the shipped one")
    args = ap.parse_args()
    if args.model:
        nw.use_line_model(nw.load_line_model(args.model))
    make, split = (rmrbgen.make_page, "train") if args.gen == "B" else (generate.make_page, "tune")
    lines_c: Counter = Counter()
    titles_c: Counter = Counter()
    merged_c: Counter = Counter()
    score = Score()
    for n in range(args.start, args.start + args.pages):
        page = make(split, n)
        lines = nw._split_lines(page.text)
        nw._classify(lines)
        kind_of: dict[int, str] = {}
        for ln in lines:
            kind_of.setdefault(ln.raw, ln.kind)
        title_lines: dict[int, list[int]] = {}
        for raw, (owner, label) in enumerate(page.line_labels):
            kind = kind_of.get(raw, "?")
            if label in HEADLINE_LABELS:
                lines_c[(label, "found" if kind == "headline" else f"read as {kind}")] += 1
            elif label in ("body", "body_first") and kind == "headline":
                lines_c[("body", "read as headline")] += 1
            if label == "title":
                title_lines.setdefault(int(owner), []).append(raw)
        t0 = time.perf_counter()
        found = _from_page_text(page.text, f"{args.gen}_{n:03d}.txt")
        score.seconds += time.perf_counter() - t0
        score.pages += 1
        score_page(page, found, score)
        fgrams = [_grams(_norm("".join(a.paragraphs))) for a in found]
        best = []
        for t in page.articles:
            tg = _grams(_norm(t.body))
            overlaps = [len(tg & g) for g in fgrams]
            k = max(range(len(found)), key=lambda i: overlaps[i]) if found else -1
            best.append((overlaps[k] if k >= 0 else 0, k))
        claimed = Counter(k for o, k in best if o > 0)
        titles = {_norm(t.title) for t in page.articles}
        for ti, t in enumerate(page.articles):
            o, k = best[ti]
            if o == 0:
                continue
            tl = title_lines.get(ti, [])
            n_found = sum(kind_of.get(r) == "headline" for r in tl)
            lines_found = "all" if tl and n_found == len(tl) else ("none" if n_found == 0 else "some")
            a = found[k]
            if claimed[k] > 1 and any(best[tj][1] == k and best[tj][0] > o for tj in range(len(best)) if tj != ti):
                cause = ("title lines read as body" if lines_found == "none" else "title lines found",
                         where_title_went(_norm(t.title), found))
                merged_c[cause] += 1
                if args.show:
                    print(f"merged  page {n}: {t.title!r} [{t.placement}, lead {t.lead}] into {a.title!r}: "
                          f"{cause[0]}, went to {cause[1]}")
                continue
            if t.title is None or _norm(a.title) == _norm(t.title):
                continue
            cause = title_cause(t, a, titles - {_norm(t.title)}, lines_found)
            titles_c[cause] += 1
            if args.show:
                print(f"title   page {n}: {cause}: want {t.title!r} (kicker {t.kicker!r}, subtitle "
                      f"{getattr(t, 'subtitle', None)!r}), got {a.title!r} [{t.placement}]")
    print(score.line(f"{args.gen} {split} {args.start}-{args.start + args.pages - 1}"))
    print("headline lines (generator's label, what the line passes read):")
    for key, c in sorted(lines_c.items()):
        print(f"  {c:5d}  {key[0]}: {key[1]}")
    print(f"wrong titles of articles not merged: {sum(titles_c.values())}")
    for cause, c in titles_c.most_common():
        print(f"  {c:5d}  {cause}")
    print(f"merged articles: {sum(merged_c.values())}")
    for (lines_found, went), c in merged_c.most_common():
        print(f"  {c:5d}  {lines_found}; its title went to {went}")


if __name__ == "__main__":
    main()
