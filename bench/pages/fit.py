"""Fit the headline-line models of retrieval/ingest/newspaper.py on generated tune pages.

    .venv/bin/python bench/pages/fit.py [--pages 300] [--write] [--errors N]

Every line that could start a headline (after a finished paragraph, a
headline, or page furniture) is one example; its label comes from the
generator (title, kicker or section line = 1; body text = 0). Pass 1 reads a
line alone; pass 2 adds pass 1's verdict on the neighbouring lines and weighs
the features again for lines after a blank line or a headline. The
weights are printed as Python arrays (--write saves them as the
page-line model, retrieval/ingest/pagemodel/); only "tune" pages are used, the held-out pages stay unseen.
--errors N prints the tune lines the current weights misread.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import rmrbgen  # noqa: E402
from generate import make_page  # noqa: E402

from retrieval.ingest import newspaper as nw  # noqa: E402

HEADLINE_LABELS = {"title", "kicker", "section", "subtitle"}
BODY_LABELS = {"body", "body_first"}
# The headline models learn from some ten thousand candidate lines: a light
# penalty (1e-3 flattened their weights into more errors on unseen tune pages).
# The boundary model's two thousand examples keep fit()'s default.
HEADLINE_L2 = 1e-4
# boosted trees for pass 2 (--trees)
TREES = 150
# boosted trees for the headline split (--trees): fewer and smaller (some 500 positive places of 40,000;
# chosen by average precision cross-validated over pages, 0.52 -> 0.60 on B's places against the logistic)
SPLIT_TREES = 100
SPLIT_TREE_LEAVES = 8
# a leaf holds 10 places or more (20 for pass 2): a paragraph after a sign-off is an article start even
# when the texts either side are short (5 of 17 such places on the train pages, against 11 of 7,243 short
# places in all), which leaves of 20 could not learn
SPLIT_TREE_MIN_LEAF = 10
# the split trees may only raise the chance of an article start with these features (+1) or only lower it
# (-1): a sign-off, a blank line or a paragraph opening with a day before the place, or the headline's
# words after it, never say "no"; text that hangs together across the place never says "yes". Without them
# the trees learned that two short texts either side are no article start (tests/data/pages/signoff.txt).
SPLIT_TREES_MONOTONE = {"sign_off_before": 1, "blank_before": 1, "opens_with_time": 1, "near_after": 1,
                        "far_after": 1, "best_gain": 1, "cohesion": -1, "back": -1, "min_cohesion": -1}
# The headline-text table (naive Bayes log-odds of characters and pairs in headline vs body lines):
# smoothing, and grams seen fewer times than this are left out (they read as 0).
TEXT_ALPHA = 2.0
TEXT_MIN_COUNT = 5
TEXT_MIN_HEADLINE = 2
TEXT_KEEP_BELOW = -2.5
# The line models learn how far to trust the table from scores it gives to pages it was not fitted on:
# pages are split in two folds, each scored by the table fitted on the other (cross-fitting); the
# shipped table is fitted on all of them.
TEXT_FOLDS = 2
# the role-text table keeps grams seen in this many headline lines of runs or more
ROLE_MIN_COUNT = 2
_fold_tables: list[dict] = []
_last_counts: list = []


def _pages(pages: int) -> Iterator[tuple[list, list[int], list[tuple[int, bool, float]]]]:
    for lines, colws, cands, _ in _labelled(pages):
        yield lines, colws, cands


def train_pages(pages: int) -> Iterator:
    """Generator A's tune pages 0..pages-1, then generator B's train pages (days 1-20; all of them
    when ``pages`` reaches their number), when the archive is there. Never a held-out page.
    While fold tables are set, each page is read with the headline-text table of the other fold."""
    made = [(make_page, "tune", n) for n in range(pages)]
    if rmrbgen.available():
        made += [(rmrbgen.make_page, "train", n) for n in range(min(pages, rmrbgen.page_count("train")))]
    for k, (make, split, n) in enumerate(made):
        if _fold_tables:
            nw.line_model()["headline_text"] = _fold_tables[k % TEXT_FOLDS]
        yield make(split, n)


def text_table(parts: list[tuple[Counter, Counter]]) -> dict:
    """Log-odds of a headline line against a body line given one gram, less the odds before seeing it:
    the counts are smoothed towards the classes' ratio (TEXT_ALPHA body grams' worth), so a gram seen
    a few times only in body text weighs a little against a headline, never for it. Kept: grams seen in
    TEXT_MIN_HEADLINE headline lines or more, and strongly body-only ones (under TEXT_KEEP_BELOW); any
    other gram reads as ``default``, the mean weight of those left out (count-weighted), which keeps the
    table small without making an ordinary body word look like a headline's."""
    head, body = Counter(), Counter()
    for h, b in parts:
        head.update(h)
        body.update(b)
    ratio = sum(head.values()) / max(sum(body.values()), 1)
    grams: dict[str, float] = {}
    dropped = dropped_n = 0.0
    for g in sorted(set(head) | set(body)):
        n = head[g] + body[g]
        if n < TEXT_MIN_COUNT:
            continue
        w = math.log((head[g] + TEXT_ALPHA * ratio) / (body[g] + TEXT_ALPHA)) - math.log(ratio)
        if head[g] >= TEXT_MIN_HEADLINE or w < TEXT_KEEP_BELOW:
            grams[g] = round(w, 2)
        else:
            dropped += n * w
            dropped_n += n
    return {"default": round(dropped / max(dropped_n, 1), 2), "grams": grams}


def text_tables(pages: int) -> tuple[dict, list[dict]]:
    """The headline-text table fitted on all train pages, and per fold the one fitted on the others."""
    counts = [(Counter(), Counter()) for _ in range(TEXT_FOLDS)]
    for k, page in enumerate(train_pages(pages)):
        lines = nw._split_lines(page.text)
        nw._mark_certain(lines)
        head, body = counts[k % TEXT_FOLDS]
        for ln in lines:
            label = page.line_labels[ln.raw][1]
            if ln.kind != "body" or ln.doubled:
                continue
            grams = [g for part in nw.text_grams(ln.key) for g in part]
            if label in HEADLINE_LABELS:
                head.update(grams)
            elif label in BODY_LABELS:
                body.update(grams)

    global _last_counts
    _last_counts = counts
    whole = text_table(counts)
    folds = [text_table([c for f, c in enumerate(counts) if f != k]) for k in range(TEXT_FOLDS)]
    print(f"headline text: {len(whole['grams'])} grams, default {whole['default']}; headline / body grams counted "
          f"{sum(sum(h.values()) for h, _ in counts)} / {sum(sum(b.values()) for _, b in counts)}")
    return whole, folds


def _labelled(pages: int) -> Iterator[tuple[list, list[int], list[tuple[int, bool, float]], list[str]]]:
    for page in train_pages(pages):
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
    if w1 is not None:
        _use({"headline_1": w1, "headline_2": np.zeros(len(nw._FEATURES_2)),
              "boundary": np.zeros(len(nw._BOUNDARY_FEATURES))})
    for lines, colws, cands in _pages(pages):
        if w1 is None:
            for i, _, y in cands:
                xs.append(nw.line_features(lines, i, colws[i], False))
                ys.append(y)
            continue
        p1 = nw.first_pass(lines, colws)
        for i, prev_headline, y in cands:
            xs.append(nw.second_features(lines, i, colws[i], prev_headline, p1))
            ys.append(y)
    return np.array(xs), np.array(ys)


def _use(parts: dict) -> None:
    """Segment with these weights, keeping the headline-text and role-text tables in use."""
    current = nw._LINE_MODEL or {}
    nw.use_line_model(parts | {k: parts.get(k, current.get(k, nw._EMPTY_TABLE))
                               for k in ("headline_text", "role_text")})


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


def fit_trees(x: np.ndarray, y: np.ndarray, name: str = "pass 2", trees: int = TREES, leaves: int = 12,
              monotone: list[int] | None = None, min_leaf: int = 20) -> dict:
    """Gradient-boosted trees (pass 2's, or the headline split's), flattened into lists that
    newspaper._forest walks."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    clf = HistGradientBoostingClassifier(max_iter=trees, max_leaf_nodes=leaves, learning_rate=0.1,
                                         l2_regularization=1.0, min_samples_leaf=min_leaf, early_stopping=False,
                                         random_state=0, monotonic_cst=monotone)
    clf.fit(x, y)
    out: dict = {"feature": [], "threshold": [], "left": [], "right": [], "value": [], "roots": [],
                 "base": float(np.ravel(clf._baseline_prediction)[0])}
    for (predictor,) in clf._predictors:
        nodes = predictor.nodes
        off = len(out["feature"])
        out["roots"].append(off)
        for nd in nodes:
            leaf = bool(nd["is_leaf"])
            out["feature"].append(0 if leaf else int(nd["feature_idx"]))
            out["threshold"].append(0.0 if leaf else float(nd["num_threshold"]))
            out["left"].append(-1 if leaf else off + int(nd["left"]))
            out["right"].append(-1 if leaf else off + int(nd["right"]))
            out["value"].append(float(nd["value"]) if leaf else 0.0)
    probe = np.array([nw._forest(row, out) for row in x[:2000]])
    assert np.allclose(probe, clf.decision_function(x[:2000]), atol=1e-3), "tree export disagrees"
    pred = clf.decision_function(x) > 0
    print(f"{name} trees: {trees} trees; train accuracy {np.mean(pred == y):.4f}, missed headlines "
          f"{int(np.sum(~pred & (y == 1)))}, false headlines {int(np.sum(pred & (y == 0)))}")
    return out


def boundary_examples(pages: int) -> tuple[np.ndarray, np.ndarray]:
    """Paragraphs after a blank line inside a found article: 1 when the
    generator laid it out for another article than the paragraph before."""
    xs, ys = [], []
    for page in train_pages(pages):
        log: list = []
        nw._segment_chunk(page.text, boundary_log=log)
        for raw_b, raw_prev, x in log:
            a, b = page.line_articles[raw_prev], page.line_articles[raw_b]
            xs.append(x)
            ys.append(float(a != b))
    return np.array(xs), np.array(ys)


@dataclass
class RoleExample:
    """A headline printed in a run of two or more, as the title-role model reads it."""
    page: int  # which train page (the role-text table is cross-fitted over pages)
    shape: np.ndarray  # its place and shape in the run (_ROLE_SHAPE_FEATURES)
    text: str
    run: list[str]  # the headlines of its run, in print order
    at: int  # its place among them
    title: bool  # the generator printed it as (the start of) its article's title


def role_examples(pages: int) -> list[RoleExample]:
    """Headlines printed in a run of two or more (kicker, title, subtitle, section line, two-part
    title): title when the generator printed the line as (the start of) the title."""
    out: list[RoleExample] = []
    for k, page in enumerate(train_pages(pages)):
        nw._ROLE_LOG = []
        nw.segment_page(page.text)
        for raw, x, text, run, at in nw._ROLE_LOG:
            label = page.line_labels[raw][1]
            if label in HEADLINE_LABELS:
                out.append(RoleExample(k, x, text, run, at, label == "title"))
    nw._ROLE_LOG = None
    return out


def role_table(examples: list[RoleExample]) -> dict:
    """The role-text table: per gram (text_grams) seen in ROLE_MIN_COUNT headline lines or more, the
    log-odds of a line that has it being a title rather than a kicker, subtitle or section line
    (each class's share of lines having it, Laplace-smoothed); any other gram weighs 0."""
    pos, neg = Counter(), Counter()
    for e in examples:
        (pos if e.title else neg).update({g for part in nw.text_grams(e.text) for g in part})
    n_pos = sum(1 for e in examples if e.title)
    n_neg = len(examples) - n_pos
    grams = {}
    for g in sorted(set(pos) | set(neg)):
        if pos[g] + neg[g] >= ROLE_MIN_COUNT:
            grams[g] = round(math.log((pos[g] + 1) / (n_pos + 2)) - math.log((neg[g] + 1) / (n_neg + 2)), 2)
    return {"default": 0.0, "grams": grams}


def role_features(examples: list[RoleExample], tables: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """The title-role model's features, each example's words read by the table of its page's fold."""
    xs = [np.concatenate([e.shape, nw.role_text_features(tables[e.page % len(tables)], e.run, e.at)])
          for e in examples]
    return np.array(xs), np.array([float(e.title) for e in examples])


def join_examples(pages: int) -> tuple[np.ndarray, np.ndarray]:
    """Two consecutive headline lines of a run: 1 when the generator printed them as one headline
    (both lines of one article's title)."""
    xs, ys = [], []
    for page in train_pages(pages):
        nw._JOIN_LOG = []
        nw.segment_page(page.text)
        labels, owners = page.line_labels, page.line_articles
        for raw, x in nw._JOIN_LOG:
            if raw + 1 < len(labels) and labels[raw][1] in HEADLINE_LABELS and labels[raw + 1][1] in HEADLINE_LABELS:
                xs.append(x)
                ys.append(float(labels[raw][1] == labels[raw + 1][1] == "title" and owners[raw] == owners[raw + 1]))
    nw._JOIN_LOG = None
    return np.array(xs), np.array(ys)


def pair_examples(pages: int) -> tuple[np.ndarray, np.ndarray]:
    """A line pass 2 turned down by a little, weighed with the line under it (newspaper._headline_pair): 1
    when the generator printed both as headline lines (a title over two lines, a kicker and its title)."""
    xs, ys = [], []
    for page in train_pages(pages):
        nw._PAIR_LOG = []
        nw._classify(nw._split_lines(page.text))
        labels = page.line_labels
        for raw, x in nw._PAIR_LOG:
            xs.append(x)
            ys.append(float(labels[raw][1] in HEADLINE_LABELS and raw + 1 < len(labels)
                            and labels[raw + 1][1] in HEADLINE_LABELS))
    nw._PAIR_LOG = None
    return np.array(xs), np.array(ys)


def subhead_examples(pages: int) -> tuple[np.ndarray, np.ndarray]:
    """A headline run with body under it, after an article (newspaper._subheading): 1 when the generator
    printed the run as body of the article above, which goes on under it (an in-article subheading)."""
    xs, ys = [], []
    for page in train_pages(pages):
        nw._SUBHEAD_LOG = []
        nw.segment_page(page.text)
        labels, owners = page.line_labels, page.line_articles
        for raw, below, above, x in nw._SUBHEAD_LOG:
            xs.append(x)
            ys.append(float(labels[raw][1] in BODY_LABELS and owners[raw] == owners[below] == owners[above]
                            and owners[raw] >= 0))
    nw._SUBHEAD_LOG = None
    return np.array(xs), np.array(ys)


def fit_subhead(pages: int, parts: dict) -> tuple[np.ndarray, int]:
    """The subheading model, fitted on the runs the segmenter (``parts``, no subheading model) offers."""
    _use({k: v for k, v in parts.items() if k != "subheading"})
    xs, ys = subhead_examples(pages)
    w = fit(xs, ys)
    _report("subheading", xs, ys, w, nw._SUBHEAD_FEATURES)
    # half the runs (every other one) fitted, the other half scored: how the margin trades found subheadings
    # for article starts lost
    half = np.arange(len(ys)) % 2 == 0
    wh = fit(xs[half], ys[half])
    z = xs[~half] @ wh
    for margin in (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0):
        took = z > margin
        print(f"  margin {margin:+.1f} on unfitted runs: subheadings taken {int(np.sum(took & (ys[~half] == 1)))}"
              f"/{int(ys[~half].sum())}, article starts lost {int(np.sum(took & (ys[~half] == 0)))}")
    return w, len(ys)


def _pair_never() -> np.ndarray:
    """Headline-pair weights that take no pair (while its examples are gathered, or before it is fitted)."""
    w = np.zeros(len(nw._PAIR_FEATURES))
    w[0] = -100.0
    return w


def _fit_logistic(pages: int, parts: dict, examples: Callable[[int], tuple[np.ndarray, np.ndarray]],
                  label: str, features: tuple[str, ...]) -> tuple[np.ndarray, int]:
    """One logistic part fitted on the examples the segmenter, run with ``parts``, offers."""
    _use(parts)
    xs, ys = examples(pages)
    w = fit(xs, ys)
    _report(label, xs, ys, w, features)
    return w, len(ys)


def fit_pair(pages: int, parts: dict) -> tuple[np.ndarray, int]:
    """The headline-pair model, fitted on the pairs pass 2 (``parts``) offers."""
    return _fit_logistic(pages, parts | {"headline_pair": _pair_never()}, pair_examples, "headline pair",
                         nw._PAIR_FEATURES)


def split_examples(pages: int) -> tuple[np.ndarray, np.ndarray]:
    """(leftover headline, paragraph) pairs the headline-split model judges: 1 when the generator laid the
    paragraph out for another article than the text before it."""
    xs, ys = [], []
    for page in train_pages(pages):
        nw._SPLIT_LOG = []
        nw.segment_page(page.text)
        owners = page.line_articles
        for raw_b, raw_prev, x, _ in nw._SPLIT_LOG:
            if raw_prev >= 0:
                xs.append(x)
                ys.append(float(owners[raw_prev] != owners[raw_b]))
    nw._SPLIT_LOG = None
    return np.array(xs), np.array(ys)


def fit_split(pages: int, parts: dict, trees: bool = False) -> tuple[np.ndarray, int, dict | None]:
    """The headline-split model, fitted on the candidates the segmenter (``parts``, no split) offers; with
    ``trees``, boosted trees over the same features too (else none)."""
    _use({k: v for k, v in parts.items() if k != "headline_split_trees"}
         | {"headline_split": np.zeros(len(nw._SPLIT_FEATURES))})
    xs, ys = split_examples(pages)
    ws = fit(xs, ys)
    _report("headline split", xs, ys, ws, nw._SPLIT_FEATURES)
    monotone = [SPLIT_TREES_MONOTONE.get(f, 0) for f in nw._SPLIT_FEATURES]
    got = fit_trees(xs, ys, "headline split", SPLIT_TREES, SPLIT_TREE_LEAVES, monotone,
                    SPLIT_TREE_MIN_LEAF) if trees else None
    return ws, len(ys), got


def _run_split_before() -> np.ndarray:
    """The run-split weights in use before they are fitted: the rule the model replaced (cut where the
    halves match two articles 0.15 better on average than the whole line matches one)."""
    w = np.zeros(len(nw._RUN_SPLIT_FEATURES))
    w[0], w[1] = -0.15, 1.0
    return w


def run_split_examples(pages: int) -> tuple[np.ndarray, np.ndarray]:
    """Headline lines _split_run_together weighs cutting in two: 1 when both halves are headlines the
    generator printed (a title, kicker or subtitle of the page's articles)."""
    xs, ys = [], []
    for page in train_pages(pages):
        nw._RUN_SPLIT_LOG = []
        nw.segment_page(page.text)
        heads = {re.sub(r"\s+", "", getattr(t, f, None) or "") for t in page.articles
                 for f in ("title", "kicker", "subtitle")} - {""}
        seen: set[tuple[str, str]] = set()
        for halves, x in nw._RUN_SPLIT_LOG:
            if halves in seen:
                continue  # the dry and the real title assignment weigh the same line
            seen.add(halves)
            xs.append(x)
            ys.append(float(all(re.sub(r"\s+", "", h) in heads for h in halves)))
    nw._RUN_SPLIT_LOG = None
    return np.array(xs), np.array(ys)


def fit_run_split(pages: int, parts: dict) -> tuple[np.ndarray, int]:
    """The run-split model, fitted on the lines the segmenter (``parts``, the old rule) weighs cutting."""
    return _fit_logistic(pages, parts | {"headline_run_split": _run_split_before()}, run_split_examples,
                         "run split", nw._RUN_SPLIT_FEATURES)


def _runs_before() -> dict[str, np.ndarray]:
    """The headline-join and title-role weights in use before they are fitted: join only where the break
    falls inside a word (the rule the join model replaced), no role."""
    join = np.zeros(len(nw._JOIN_FEATURES))
    join[0], join[1] = -1.0, 2.0 + nw.HEADLINE_JOIN_MARGIN
    return {"headline_join": join, "title_role": np.zeros(len(nw._ROLE_FEATURES)),
            "headline_run_split": _run_split_before(),
            "headline_split": np.zeros(len(nw._SPLIT_FEATURES))}


def fit_runs(pages: int, parts: dict) -> tuple[np.ndarray, int, np.ndarray, int, dict]:
    """Fit the headline-join model, then the role-text table and the title-role model on the runs it
    groups (the rest of the page-line model as in ``parts``). Returns the weights and the number of
    examples of each, and the role-text table. The role model is fitted on text scores cross-fitted over
    two folds of pages (each page read by the table of the other fold), as the headline passes are: on
    the table's own pages it would trust the words too much."""
    _use(parts | _runs_before())
    xj, yj = join_examples(pages)
    wj = fit(xj, yj)
    _report("headline join", xj, yj, wj, nw._JOIN_FEATURES)
    _use(parts | _runs_before() | {"headline_join": wj})
    examples = role_examples(pages)
    folds = [role_table([e for e in examples if e.page % TEXT_FOLDS != k]) for k in range(TEXT_FOLDS)]
    xr, yr = role_features(examples, folds)
    wr = fit(xr, yr)
    table = role_table(examples)
    print(f"role text: {len(table['grams'])} grams")
    _report("title role", xr, yr, wr, nw._ROLE_FEATURES)
    return wj, len(yj), wr, len(yr), table


def _report(name: str, x: np.ndarray, y: np.ndarray, w: np.ndarray, names: tuple[str, ...]) -> None:
    pred = (x @ w) > 0
    print(f"{name}: {len(y)} candidate lines, {int(y.sum())} headlines; train accuracy {np.mean(pred == y):.4f}, "
          f"missed headlines {int(np.sum(~pred & (y == 1)))}, false headlines {int(np.sum(pred & (y == 0)))}")
    for n, v in zip(names, w):
        print(f"  {n:20s} {v:+.2f}")


def _shipped(names: tuple[str, ...]) -> tuple[dict, dict, dict[str, np.ndarray]]:
    """The shipped page model's weights file, its manifest, and the parts ``names`` as arrays (the parts a
    partial refit keeps as they are)."""
    shipped = json.loads((nw.LINE_MODEL_DIR / "weights.json").read_text(encoding="utf-8"))
    manifest = json.loads((nw.LINE_MODEL_DIR / "manifest.json").read_text(encoding="utf-8"))
    parts = {k: np.array(shipped[k]) for k in names}
    # the headline-pair model is kept as shipped by every partial refit (none before it was fitted)
    parts["headline_pair"] = np.array(shipped["headline_pair"]) if "headline_pair" in shipped else _pair_never()
    # and so is the subheading model, when the model has one
    if "subheading" in shipped:
        parts["subheading"] = np.array(shipped["subheading"])
    return shipped, manifest, parts


def _trees(stored: dict) -> dict:
    """The pass-2 trees of a weights file as the segmenter reads them (load_line_model's form; read from
    the file itself, so that a partial refit works while other parts' features have changed)."""
    return {k: stored[k] for k in ("feature", "threshold", "left", "right", "value", "roots")} | {
        "base": float(stored["base"])}


def _write(out: Path, pages: int, flag: str, examples: dict[str, int], manifest: dict, shipped: dict,
           parts: dict, trees: dict | None, split_trees: dict | None) -> None:
    """Write a partial refit: ``parts`` with the shipped text tables, the manifest's training record
    extended by this command and its example counts."""
    training = manifest["training"]
    training["command"] += f"; then bench/pages/fit.py --pages {pages} --write {flag}"
    training["examples"].update(examples)
    save_line_model(out, parts, shipped["headline_text"], shipped["role_text"], trees, training, split_trees)
    print(f"written to {out}")


def _fit_single(args: argparse.Namespace, flag: str, name: str, fit_part, names: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    """Fit one part (``fit_part(pages, parts)`` → weights, scores) with the shipped parts ``names`` and
    tables as they are; with --write, ship it beside them."""
    shipped, manifest, parts = _shipped(names)
    tables = {"headline_text": shipped["headline_text"], "role_text": shipped["role_text"]}
    for part in ("headline_2_trees", "headline_split_trees"):
        if shipped.get(part):
            tables[part] = _trees(shipped[part])
    weights, scores = fit_part(args.pages, parts | tables)
    if args.write:
        _write(args.out, args.pages, flag, {name: scores}, manifest, shipped, parts | {name: weights},
               shipped.get("headline_2_trees"), shipped.get("headline_split_trees"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--write", action="store_true", help="write the weights into newspaper.py")
    ap.add_argument("--errors", type=int, default=0, help="only print the first N misread tune lines")
    ap.add_argument("--trees", action="store_true",
                    help="pass 2 by gradient-boosted trees (scikit-learn at fit time only) blended with the weights "
                         "(newspaper.HEADLINE_TREES_SHARE)")
    ap.add_argument("--boundary-only", action="store_true",
                    help="keep the shipped headline models, refit the boundary model")
    ap.add_argument("--role-only", action="store_true",
                    help="keep the shipped headline and boundary models, refit the title-role model")
    ap.add_argument("--split-only", action="store_true",
                    help="keep the other shipped models, refit the headline-split model")
    ap.add_argument("--run-split-only", action="store_true",
                    help="keep the other shipped models and tables, refit the run-split model (two headlines "
                         "run together on one line)")
    ap.add_argument("--pair-only", action="store_true",
                    help="keep the other shipped models and tables, fit the headline-pair model (two lines that are "
                         "headline lines together)")
    ap.add_argument("--subhead-only", action="store_true",
                    help="keep the other shipped models and tables, fit the subheading model (a headline run inside "
                         "an article)")
    ap.add_argument("--join-only", action="store_true",
                    help="keep the other shipped models and tables, refit the headline-join model")
    ap.add_argument("--out", type=Path, default=nw.LINE_MODEL_DIR,
                    help="with --join-only, --split-only, --pair-only or --run-split-only --write: the model folder to write (another to compare "
                         "on unseen pages)")
    args = ap.parse_args()
    if args.errors:
        show_errors(args.pages, args.errors)
        return
    base = ("headline_1", "headline_2", "boundary", "title_role", "headline_join", "headline_split")
    # One fitted part on top of the shipped others: (flag, its name, how it is fitted, the parts it reads).
    single = [(args.pair_only, "--pair-only", "headline_pair", fit_pair, base + ("headline_run_split",)),
              (args.subhead_only, "--subhead-only", "subheading", fit_subhead, base + ("headline_run_split",)),
              (args.run_split_only, "--run-split-only", "headline_run_split", fit_run_split, base)]
    for chosen, flag, name, fit_part, names in single:
        if chosen:
            _fit_single(args, flag, name, fit_part, names)
            return
    if args.join_only:
        shipped, manifest, parts = _shipped(("headline_1", "headline_2", "boundary", "title_role", "headline_split"))
        parts["headline_run_split"] = np.array(shipped.get("headline_run_split", _run_split_before()))
        trees = shipped.get("headline_2_trees")
        # the runs the join model judges are found with everything else as shipped (its own weights do
        # not change which lines are headlines, only how they group)
        old = np.zeros(len(nw._JOIN_FEATURES))
        old[: len(shipped["headline_join"])] = shipped["headline_join"]  # new features weigh 0 until fitted
        with tempfile.TemporaryDirectory() as tmp:
            save_line_model(Path(tmp), parts | {"headline_join": old}, shipped["headline_text"],
                            shipped["role_text"], trees, manifest["training"], shipped.get("headline_split_trees"))
            nw.use_line_model(nw.load_line_model(Path(tmp)))
        xj, yj = join_examples(args.pages)
        wj = fit(xj, yj)
        _report("headline join", xj, yj, wj, nw._JOIN_FEATURES)
        if args.write:
            _write(args.out, args.pages, "--join-only", {"headline_join": len(yj)}, manifest, shipped,
                   parts | {"headline_join": wj}, trees, shipped.get("headline_split_trees"))
        return
    if args.split_only:
        shipped, manifest, parts = _shipped(("headline_1", "headline_2", "boundary", "title_role", "headline_join"))
        parts["headline_run_split"] = np.array(shipped.get("headline_run_split", _run_split_before()))
        # the candidates are those the shipped segmenter offers: pass 2 with its boosted trees, when the
        # model has them (they were left out here before, so the split model was fitted on other candidates)
        tables = {"headline_text": shipped["headline_text"], "role_text": shipped["role_text"]}
        if shipped.get("headline_2_trees"):
            tables["headline_2_trees"] = _trees(shipped["headline_2_trees"])
        ws, ys, split_trees = fit_split(args.pages, parts | tables, trees=args.trees)
        if args.write:
            # the boosted trees of pass 2 are kept as shipped (they were dropped here before); the split's
            # own trees are fitted with --trees, else left out
            _write(args.out, args.pages, "--split-only" + (" --trees" if args.trees else ""),
                   {"headline_split": ys}, manifest, shipped, parts | {"headline_split": ws},
                   shipped.get("headline_2_trees"), split_trees)
        return
    if args.role_only:
        shipped, manifest, parts = _shipped(("headline_1", "headline_2", "boundary", "headline_split"))
        parts["headline_run_split"] = np.array(shipped.get("headline_run_split", _run_split_before()))
        # the runs are found as the shipped segmenter finds them: pass 2 with its trees (both the trees and
        # the split's trees were dropped here before, and the runs found without them)
        tables = {"headline_text": shipped["headline_text"]}
        for part in ("headline_2_trees", "headline_split_trees"):
            if shipped.get(part):
                tables[part] = _trees(shipped[part])
        wj, yj, wr, yr, role_text = fit_runs(args.pages, parts | tables)
        parts |= {"headline_join": wj}
        if args.write:
            training = manifest["training"]
            training["command"] += f"; then bench/pages/fit.py --pages {args.pages} --write --role-only"
            training["examples"]["title_role"] = yr
            training["examples"]["headline_join"] = yj
            training["role_text"] = {"grams": len(role_text["grams"]), "min_count": ROLE_MIN_COUNT,
                                     "folds": TEXT_FOLDS}
            save_line_model(nw.LINE_MODEL_DIR, parts | {"title_role": wr}, shipped["headline_text"], role_text,
                            shipped.get("headline_2_trees"), training, shipped.get("headline_split_trees"))
            print(f"written to {nw.LINE_MODEL_DIR}")
        return
    if args.boundary_only:
        shipped = json.loads((nw.LINE_MODEL_DIR / "weights.json").read_text(encoding="utf-8"))
        w1, w2 = np.array(shipped["headline_1"]), np.array(shipped["headline_2"])
        whole_text = shipped["headline_text"]
        y1 = y2 = np.zeros(json.loads((nw.LINE_MODEL_DIR / "manifest.json").read_text(
            encoding="utf-8"))["training"]["examples"]["headline_1"])
    else:
        whole_text, folds = text_tables(args.pages)
        _use({"headline_1": np.zeros(len(nw._FEATURES)), "headline_2": np.zeros(len(nw._FEATURES_2)),
              "boundary": np.zeros(len(nw._BOUNDARY_FEATURES)),
              "headline_text": {"default": 0.0, "grams": {}}} | _runs_before())
        _fold_tables[:] = folds
        x1, y1 = examples(args.pages, None)
        w1 = fit(x1, y1, l2=HEADLINE_L2)
        _report("pass 1", x1, y1, w1, nw._FEATURES)
        x2, y2 = examples(args.pages, w1)
        w2 = fit(x2, y2, l2=HEADLINE_L2)
        _report("pass 2", x2, y2, w2, nw._FEATURES_2)
    trees = None
    if args.trees:
        if args.boundary_only:
            x2, y2 = examples(args.pages, w1)
        trees = fit_trees(x2, y2)
    model = {"headline_1": w1, "headline_2": w2, "boundary": np.zeros(len(nw._BOUNDARY_FEATURES)),
             "headline_text": whole_text} | _runs_before()
    if trees is not None:
        model["headline_2_trees"] = trees
    # the headline-pair model reads pass 2's verdicts, on pages scored by the other fold's text table
    _use(model | {"headline_pair": _pair_never()})
    wp, yp = fit_pair(args.pages, model)
    model["headline_pair"] = wp
    _use(model)
    xb, yb = boundary_examples(args.pages)
    wb = fit(xb, yb)
    _fold_tables.clear()
    _report("boundary", xb, yb, wb, nw._BOUNDARY_FEATURES)
    wj, yj, wr, yr, role_text = fit_runs(args.pages, model | {"boundary": wb})
    ws, ys, split_trees = fit_split(args.pages, model | {"boundary": wb, "headline_join": wj, "title_role": wr,
                                                        "role_text": role_text}, trees=args.trees)
    after_split = {"headline_split": ws} | ({"headline_split_trees": split_trees} if split_trees else {})
    wq, yq = fit_run_split(args.pages, model | {"boundary": wb, "headline_join": wj, "title_role": wr,
                                               "role_text": role_text} | after_split)
    # last, the subheading model: it weighs the runs every other part leaves under an article
    wh, yh = fit_subhead(args.pages, model | {"boundary": wb, "headline_join": wj, "title_role": wr,
                                             "role_text": role_text, "headline_run_split": wq} | after_split)
    n_b = min(args.pages, rmrbgen.page_count("train")) if rmrbgen.available() else 0
    if args.write:
        save_line_model(nw.LINE_MODEL_DIR, {"headline_1": w1, "headline_2": w2, "boundary": wb, "title_role": wr,
                                                 "headline_join": wj, "headline_split": ws,
                                                 "headline_run_split": wq, "headline_pair": wp,
                                                 "subheading": wh},
                        whole_text, role_text, trees, split_trees=split_trees, training={
            "command": f"bench/pages/fit.py --pages {args.pages} --write"
                       + (" --boundary-only" if args.boundary_only else "") + (" --trees" if args.trees else ""),
            "pages": f"generator A tune pages 0-{args.pages - 1}; generator B (rmrbgen) train pages "
                     f"(days 1-20), {n_b} pages",
            "examples": {"headline_1": len(y1), "headline_2": len(y2), "boundary": len(yb),
                         "title_role": yr, "headline_join": yj, "headline_split": ys,
                         "headline_run_split": yq, "headline_pair": yp, "subheading": yh},
            "l2": {"headline": HEADLINE_L2, "boundary": 1e-3},
            "headline_text": {"grams": len(whole_text["grams"]), "alpha": TEXT_ALPHA, "min_count": TEXT_MIN_COUNT,
                              "min_headline": TEXT_MIN_HEADLINE, "keep_below": TEXT_KEEP_BELOW,
                              "folds": TEXT_FOLDS},
            "role_text": {"grams": len(role_text["grams"]), "min_count": ROLE_MIN_COUNT, "folds": TEXT_FOLDS},
        })
        print(f"written to {nw.LINE_MODEL_DIR}")


def save_line_model(path: Path, weights: dict[str, np.ndarray], text: dict, role_text: dict,
                    trees: dict | None, training: dict, split_trees: dict | None = None) -> None:
    """weights.json, then manifest.json last: a half-written model is refused on load."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "manifest.json").unlink(missing_ok=True)
    data: dict = {k: [round(float(v), 4) for v in w] for k, w in weights.items()}
    data["headline_text"] = text
    data["role_text"] = role_text
    features: dict = {k: list(v) for k, v in nw.LINE_MODEL_PARTS.items()}
    features["headline_text"] = nw.HEADLINE_TEXT_GRAMS
    features["role_text"] = nw.ROLE_TEXT_GRAMS
    if trees is not None:
        data["headline_2_trees"] = trees
        features["headline_2_trees"] = list(nw._FEATURES_2)
    if "subheading" in weights:
        features["subheading"] = list(nw._SUBHEAD_FEATURES)
    if split_trees is not None:
        data["headline_split_trees"] = split_trees
        features["headline_split_trees"] = list(nw._SPLIT_FEATURES)
    (path / "weights.json").write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    manifest = {"format": nw.LINE_MODEL_FORMAT, "format_version": nw.LINE_MODEL_VERSION,
                "features": features, "training": training}
    (path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")

if __name__ == "__main__":
    main()
