"""Fit what the reader's scores mean on held-out training data, never on the
evaluation set: the confidence (Platt scaling of the has-answer and span
scores to P(answer right)) and the not-found threshold (answer ≥ 98.5% of
answerable questions, decline as many unanswerable ones as that allows).

Answerable and unanswerable questions come from one held-out slice: half of
its paragraphs are indexed, so questions about the other half have no answer
in the index, while their paragraphs' neighbours compete as distractors.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

from retrieval.config import Config, CorpusConfig, IndexConfig
from retrieval.reader.answering import ReadingOptions, answerable, choose, read_hits
from retrieval.reader.decode import tidy_span
from retrieval.reader.format import read_manifest, write_manifest
from retrieval.reader.model import Reader
from retrieval.reader.train import is_holdout, load_rows
from retrieval.scoring import f1_score

RIGHT_F1 = 80.0  # an answer counts as right at CMRC F1 ≥ 80 (exact, or off by a particle)
ANSWERED_SHARE = 0.985


def fit_platt(x: np.ndarray, y: np.ndarray, iters: int = 200, l2: float = 1e-3) -> np.ndarray:
    """Logistic regression weights (…, bias) by Newton's method."""
    X = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(X.shape[1])
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(X @ w)))
        g = X.T @ (p - y) + l2 * w
        H = (X * (p * (1 - p))[:, None]).T @ X + l2 * np.eye(len(w))
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def reliability(conf: np.ndarray, right: np.ndarray, edges: tuple[float, ...] = (0, .2, .4, .6, .8, .9, 1.0001)
                ) -> list[dict[str, float]]:
    rows = []
    for lo, hi in zip(edges, edges[1:]):
        m = (conf >= lo) & (conf < hi)
        if m.any():
            rows.append({"bin": f"{lo:.1f}-{min(hi, 1):.1f}", "answers": int(m.sum()),
                         "mean_confidence": round(float(conf[m].mean()), 3),
                         "share_right": round(float(right[m].mean()), 3)})
    return rows


def calibrate(cfg: Config, reader: Reader, path: Path, data: Path, limit: int = 0,
              note: Callable[[str], None] = lambda _: None, progress: Any = None) -> dict[str, Any]:
    from retrieval.app import load_encoder, rebuild
    from retrieval.index.lexical import Tokenizer
    from retrieval.answer.qa import QA

    share = float(reader.manifest.training.get("holdout", 0.05))
    # Near-miss questions (reader mix) have no answer to find: they are not what "answerable" means here.
    rows = [r for r in load_rows(data) if is_holdout(r["context_id"], share) and r["answers"]]
    if limit:
        rows = rows[:limit]
    contexts = sorted({r["context_id"] for r in rows})
    indexed = set(contexts[::2])
    key = hashlib.sha1(("\n".join(contexts) + cfg.embedding.model).encode()).hexdigest()[:12]
    work = cfg.cache_dir / "calibrate" / key
    work.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    with (work / "contexts.jsonl").open("w", encoding="utf-8") as f:
        for r in rows:
            if r["context_id"] in indexed and r["context_id"] not in seen:
                seen.add(r["context_id"])
                f.write(json.dumps({"id": r["context_id"], "title": r.get("title", ""), "text": r["context"]},
                                   ensure_ascii=False) + "\n")
    cfg = cfg.replace(corpus=CorpusConfig((str(work / "contexts.jsonl"),)),
                      index=IndexConfig(**{**cfg.index.__dict__, "path": str(work / "index")}))
    encoder = load_encoder(cfg, note)
    tokenizer = Tokenizer()
    note(f"indexing {len(indexed)} of {len(contexts)} held-out paragraphs…")
    rebuild(cfg, encoder, tokenizer, full=False, progress=progress)
    qa = QA(cfg, encoder, tokenizer)
    rc = cfg.reader
    opts = ReadingOptions(rc.depth, rc.rank_weight, rc.no_answer_threshold, cfg.answer.max_sources, rc.stop_at)
    feats, right = [], []
    scores_ans: dict[str, list[float]] = {"has": [], "span": []}
    scores_unans: dict[str, list[float]] = {"has": [], "span": []}
    bar = progress(len(rows), "questions") if progress else None
    for r in rows:
        readings = read_hits(r["question"], qa.retrieve(r["question"], max(rc.depth, cfg.retrieval.top_k)),
                             reader, opts)
        best, _ = choose(readings, reader, opts)
        if best is None:
            continue
        into = scores_ans if r["context_id"] in indexed else scores_unans
        for kind in into:
            into[kind].append(answerable(readings, best, kind))
        if r["context_id"] in indexed:
            if best is not None and best.reading.span is not None:
                sp = best.reading.span
                a, b = tidy_span(best.hit.chunk.text, sp.start, sp.end)
                pred = best.hit.chunk.text[a:b]
                feats.append((best.reading.has_logit, sp.span_logprob))
                right.append(1.0 if f1_score(pred, r["answers"]) >= RIGHT_F1 else 0.0)
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    x, y = np.asarray(feats, dtype=np.float64), np.asarray(right)
    w = fit_platt(x, y)
    conf = 1 / (1 + np.exp(-(np.hstack([x, np.ones((len(x), 1))]) @ w)))
    # Each no-answer score's threshold answers ANSWERED_SHARE of the answerable
    # questions; keep the score that then declines more unanswerable ones.
    options = {}
    for kind in scores_ans:
        a, u = np.asarray(scores_ans[kind]), np.asarray(scores_unans[kind])
        thr = min(max(float(np.quantile(a, 1 - ANSWERED_SHARE)), 1e-4), 0.99) if len(a) else 0.5
        options[kind] = (float(np.mean(u < thr)) if len(u) else 0.0, thr)
    kind = max(options, key=lambda k: options[k][0])
    t = options[kind][1]
    has_ans, has_unans = scores_ans[kind], scores_unans[kind]
    result = {
        "held_out_questions": len(rows), "answerable": len(has_ans), "unanswerable": len(has_unans),
        "platt": {"a_has": round(float(w[0]), 5), "a_span": round(float(w[1]), 5), "b": round(float(w[2]), 5)},
        "no_answer_score": kind,
        "no_answer_threshold": round(t, 5),
        "declined_by_score": {k: round(v[0], 4) for k, v in options.items()},
        "answered": round(float(np.mean(np.asarray(has_ans) >= t)), 4) if has_ans else 0.0,
        "declined": round(float(np.mean(np.asarray(has_unans) < t)), 4) if has_unans else 0.0,
        "share_right": round(float(y.mean()), 4) if len(y) else 0.0,
        "reliability": reliability(conf, y),
        "right_means": f"CMRC F1 >= {RIGHT_F1:.0f}",
    }
    m = read_manifest(path)
    calib = {"a_has": float(w[0]), "a_span": float(w[1]), "b": float(w[2]), "no_answer_threshold": t,
             "no_answer_score": kind}
    figures = {**m.figures, "calibration": result}
    write_manifest(path, dataclasses.replace(m, calibration=calib, figures=figures))
    return result
