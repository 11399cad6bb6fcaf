"""Fit the headline-line models of retrieval/ingest/newspaper.py on generated tune pages.

    .venv/bin/python bench/pages/fit.py [--pages 300] [--write] [--errors N]

Every line that could start a headline (after a finished paragraph, a
headline, or page furniture) is one example; its label comes from the
generator (title, kicker or section line = 1; body text = 0). Pass 1 reads a
line alone; pass 2 adds pass 1's verdict on the neighbouring lines and weighs
the features again for lines after a blank line or a headline. The
weights are printed as Python arrays (--write puts them over HEADLINE_WEIGHTS_1/2
in newspaper.py); only "tune" pages are used, the held-out pages stay unseen.
--errors N prints the tune lines the current weights misread.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import make_page  # noqa: E402

from retrieval.ingest import newspaper as nw  # noqa: E402

HEADLINE_LABELS = {"title", "kicker", "section"}
BODY_LABELS = {"body", "body_first"}
# The headline models learn from some ten thousand candidate lines: a light
# penalty (1e-3 flattened their weights into more errors on unseen tune pages).
# The boundary model's two thousand examples keep fit()'s default.
HEADLINE_L2 = 1e-4


def _pages(pages: int) -> Iterator[tuple[list, list[int], list[tuple[int, bool, float]]]]:
    for lines, colws, cands, _ in _labelled(pages):
        yield lines, colws, cands


def _labelled(pages: int) -> Iterator[tuple[list, list[int], list[tuple[int, bool, float]], list[str]]]:
    for n in range(pages):
        page = make_page("tune", n)
        lines = nw._split_lines(page.text)
        nw._mark_certain(lines)
        colws = nw._column_widths(lines)
        labels = [page.line_labels[ln.raw][1] for ln in lines]
        cands = []
        for i, ln in enumerate(lines):
            if ln.kind != "body" or ln.doubled or labels[i] not in HEADLINE_LABELS | BODY_LABELS:
                continue
            prev_headline = i > 0 and labels[i - 1] in HEADLINE_LABELS and lines[i - 1].kind == "body"
            if nw.may_be_headline(lines, i, prev_headline, colws):
                cands.append((i, prev_headline, 1.0 if labels[i] in HEADLINE_LABELS else 0.0))
        yield lines, colws, cands, labels


def show_errors(pages: int, limit: int) -> None:
    """Print the tune lines the current weights get wrong, with the lines around them."""
    shown = 0
    missed_outright = 0
    for n, (lines, colws, cands, labels) in enumerate(_labelled(pages)):
        nw._classify(lines)
        for i, ln in enumerate(lines):
            want = labels[i] in HEADLINE_LABELS
            if want == (ln.kind == "headline") or not (want or labels[i] in BODY_LABELS):
                continue
            if want and ln.kind != "body" and ln.kind != "headline":
                missed_outright += 1
            if shown < limit:
                shown += 1
                print(f"--- tune page {n} line {i}: {labels[i]} read as {ln.kind} (column {colws[i]})")
                for j in range(max(0, i - 2), min(len(lines), i + 3)):
                    mark = ">" if j == i else " "
                    print(f"  {mark} {'B' if lines[j].blank_before else ' '} {lines[j].width:3d} {lines[j].spaced}")
    print(f"headline lines taken for something certain (lead, byline...): {missed_outright}")


def examples(pages: int, w1: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Pass-1 examples (w1 None: prev_headline left at 0) or pass-2 examples using w1."""
    xs, ys = [], []
    for lines, colws, cands in _pages(pages):
        if w1 is None:
            for i, _, y in cands:
                xs.append(nw.line_features(lines, i, colws[i], False))
                ys.append(y)
            continue
        nw.HEADLINE_WEIGHTS_1 = w1
        p1 = nw.first_pass(lines, colws)
        for i, prev_headline, y in cands:
            xs.append(nw.second_features(lines, i, colws[i], prev_headline, p1))
            ys.append(y)
    return np.array(xs), np.array(ys)


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 30) -> np.ndarray:
    """Newton's method on the L2-regularised log loss (the bias is not penalised)."""
    w = np.zeros(x.shape[1])
    reg = l2 * np.eye(x.shape[1])
    reg[0, 0] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w)))
        grad = x.T @ (p - y) / len(y) + reg @ w
        hess = (x * (p * (1 - p))[:, None]).T @ x / len(y) + reg
        w -= np.linalg.solve(hess, grad)
    return w


def boundary_examples(pages: int) -> tuple[np.ndarray, np.ndarray]:
    """Paragraphs after a blank line inside a found article: 1 when the
    generator laid it out for another article than the paragraph before."""
    xs, ys = [], []
    for n in range(pages):
        page = make_page("tune", n)
        log: list = []
        nw._segment_chunk(page.text, boundary_log=log)
        for raw_b, raw_prev, x in log:
            a, b = page.line_articles[raw_prev], page.line_articles[raw_b]
            xs.append(x)
            ys.append(float(a != b))
    return np.array(xs), np.array(ys)


def _report(name: str, x: np.ndarray, y: np.ndarray, w: np.ndarray, names: tuple[str, ...]) -> None:
    pred = (x @ w) > 0
    print(f"{name}: {len(y)} candidate lines, {int(y.sum())} headlines; train accuracy {np.mean(pred == y):.4f}, "
          f"missed headlines {int(np.sum(~pred & (y == 1)))}, false headlines {int(np.sum(pred & (y == 0)))}")
    for n, v in zip(names, w):
        print(f"  {n:20s} {v:+.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--write", action="store_true", help="write the weights into newspaper.py")
    ap.add_argument("--errors", type=int, default=0, help="only print the first N misread tune lines")
    args = ap.parse_args()
    if args.errors:
        show_errors(args.pages, args.errors)
        return
    x1, y1 = examples(args.pages, None)
    w1 = fit(x1, y1, l2=HEADLINE_L2)
    _report("pass 1", x1, y1, w1, nw._FEATURES)
    x2, y2 = examples(args.pages, w1)
    w2 = fit(x2, y2, l2=HEADLINE_L2)
    _report("pass 2", x2, y2, w2, nw._FEATURES_2)
    nw.HEADLINE_WEIGHTS_2 = w2
    xb, yb = boundary_examples(args.pages)
    wb = fit(xb, yb)
    _report("boundary", xb, yb, wb, nw._BOUNDARY_FEATURES)
    source = Path(nw.__file__).read_text(encoding="utf-8")
    for name, w in (("HEADLINE_WEIGHTS_1", w1), ("HEADLINE_WEIGHTS_2", w2), ("BOUNDARY_WEIGHTS", wb)):
        vals = [f"{v:.2f}" for v in w]
        rows = [", ".join(vals[k : k + 12]) for k in range(0, len(vals), 12)]
        block = f"{name} = np.array([\n" + "".join(f"    {r},\n" for r in rows) + "])"
        print(block)
        source = re.sub(rf"{name} = np\.array\(\[.*?\]\)", lambda _: block, source, count=1, flags=re.S)
    if args.write:
        Path(nw.__file__).write_text(source, encoding="utf-8")
        print(f"written to {nw.__file__}")


if __name__ == "__main__":
    main()
