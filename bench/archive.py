"""How e-paper article files are read (retrieval/ingest/epaper.py), measured.

    python bench/archive.py [--archive ../shared/archive/rmrb-2020-01] [--pages 300]

On the archive (one article a file, kicker / headline / subtitle lines; see
../shared/archive/README.md) it prints how many files are recognised as
article files with ``[corpus] layout = "auto"``, how many become exactly one
article whose title is the file's line 2, and how many articles get the page
and date their file name says (the target: 0 missing), plus the authors and
datelines found. On the page-layout inputs (data/*.txt and generated pages,
bench/pages/generate.py) it prints how many are taken for article files and
how many segment differently under "auto" than under "page" (the target: 0).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from _common import ROOT, SHARED

from retrieval.ingest.corpus import _from_page_text, read_corpus
from retrieval.ingest.epaper import looks_like_article, name_info
from retrieval.textnorm import clean_text


def archive_counts(root: Path) -> None:
    files = sorted(root.rglob("*.txt"))
    t0 = time.perf_counter()
    corpus, skipped = read_corpus([root])
    took = time.perf_counter() - t0
    by_file: dict[str, list] = {}
    for f in corpus:
        for a in f.articles:
            by_file.setdefault(a.file, []).append(a)
            for other in a.also_in:
                by_file.setdefault(other, [])
    c: Counter[str] = Counter()
    wrong_titles: list[str] = []
    for path in files:
        rel = f"{root.name}/{path.relative_to(root).as_posix()}"
        text = clean_text(path.read_bytes().decode("utf-8"))
        lines = text.split("\n")
        body = [ln for ln in lines[3:] if ln.strip()]
        c["files"] += 1
        if not body:
            c["no body (e.g. 广告)"] += 1
            continue
        c["with body"] += 1
        c["recognised as article files"] += looks_like_article(text)
        arts = by_file.get(rel)
        if arts is None:
            c["no article"] += 1
            continue
        if len(arts) != 1:
            c["not exactly one article"] += len(arts) != 0
            c["indexed once elsewhere (same text)"] += len(arts) == 0
            continue
        a = arts[0]
        c["exactly one article"] += 1
        want = " ".join(lines[1].replace("\u3000", " ").replace("\u00a0", " ").split())
        if a.title == want:
            c["title = line 2"] += 1
        else:
            wrong_titles.append(f"{rel}: {a.title!r} != {want!r}")
    articles = [a for f in corpus for a in f.articles]
    named = [(a, name_info(a.file)) for a in articles]
    c["articles"] = len(articles)
    c["articles whose name says page and date"] = sum(1 for _, n in named if n.page and n.date)
    c["  missing page"] = sum(1 for a, n in named if n.page and a.page != n.page)
    c["  missing date"] = sum(1 for a, n in named if n.date and a.date != n.date)
    c["with author"] = sum(1 for a in articles if a.author)
    c["with dateline"] = sum(1 for a in articles if a.dateline)
    c["with kicker"] = sum(1 for a in articles if a.kicker)
    c["with subtitle"] = sum(1 for a in articles if a.subtitle)
    c["with photographer"] = sum(1 for a in articles if a.photographer)
    print(f"archive {root} (read in {took:.1f} s)")
    for k, v in c.items():
        print(f"  {k}: {v}")
    for w in wrong_titles[:10]:
        print("  wrong title:", w)
    print(f"  skipped/notes: {Counter(s.kind for s in skipped)}")


def page_counts(n_pages: int) -> None:
    texts: list[tuple[str, str]] = [(p.name, clean_text(p.read_text(encoding="utf-8")))
                                    for p in sorted((ROOT / "data").glob("*.txt"))]
    try:
        import sys

        sys.path.insert(0, str(ROOT / "bench" / "pages"))
        from generate import CONTEXTS, make_page

        if CONTEXTS.exists():
            for split in ("tune", "held-out"):
                texts += [(f"{split}_{i}.txt", make_page(split, i).text) for i in range(n_pages // 2)]
    except ImportError:
        pass
    taken = changed = 0
    for name, text in texts:
        taken += looks_like_article(text)
        auto = [(a.title, a.paragraphs) for a in _from_page_text(text, name, layout="auto")]
        page = [(a.title, a.paragraphs) for a in _from_page_text(text, name, layout="page")]
        changed += auto != page
    print(f"page-layout texts: {len(texts)}; taken for article files: {taken}; "
          f"segmented differently under auto: {changed}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", default=str(SHARED / "archive" / "rmrb-2020-01"))
    ap.add_argument("--pages", type=int, default=300, help="generated page-layout pages to check")
    args = ap.parse_args()
    page_counts(args.pages)
    root = Path(args.archive)
    if root.exists():
        archive_counts(root)
    else:
        print(f"{root}: not found; archive counts skipped")


if __name__ == "__main__":
    main()
