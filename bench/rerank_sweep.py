"""Reading depth × rank weight on all of CMRC 2018 dev, from one reading pass.

    .venv/bin/python bench/rerank_sweep.py [--reader DIR] [--record FILE]
        [--depths 3,4,5,6,8] [--weights 4,6,8,10,12,15,20,30] [--forms lin,log]

Each question is searched once (the configured retriever, the throwaway index
`newsqa eval` builds) and its top 10 chunks are read once by the reader; the
readings are kept in ``--record`` (default .newsqa/bench/rerank-<reader>.jsonl;
an interrupted run resumes). Every depth and weight is then simulated from
them, the way `retrieval/reader/answering.py` ranks and answers:

    lin: has_logit + w * score / top         (newsqa before 2026-12-03)
    log: has_logit + w * log(score / top)    (what newsqa does)

It prints Recall@1 after reading, F1 and EM for the even half (where the
setting is chosen), the odd half (held out) and the whole set. Reading ten
chunks per question with the 12-layer reader takes about 45 minutes on 2
cores; bench/reader_depth.py then gives the latency of a chosen depth.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from _common import EVAL, ROOT, load_bench_config  # noqa: E402  (puts the repository on sys.path)

K = 10


def record(cfg, reader, out: Path) -> None:  # type: ignore[no-untyped-def]
    from retrieval.app import load_encoder, load_query_encoder
    from retrieval.answer.qa import QA, normalize_question
    from retrieval.evaluate import eval_index, load_items
    from retrieval.index.lexical import Tokenizer
    from retrieval.reader.decode import tidy_span as _tidy
    from retrieval.reader.features import reader_text
    from retrieval.textnorm import clean_text

    items = load_items(EVAL)
    tok = Tokenizer()
    cfg, _ = eval_index(cfg, EVAL, items, load_encoder(cfg), tok)
    qa = QA(cfg, load_query_encoder(cfg), tok, reader=reader)
    done = {json.loads(line)["id"] for line in out.open(encoding="utf-8")} if out.exists() else set()
    todo = [(n, it) for n, it in enumerate(items) if it.id not in done and it.question.strip() and it.answers]
    print(f"reading the top {K} chunks of {len(todo)} questions ({len(done)} recorded) with {reader.path.name}")
    t0 = time.perf_counter()
    with out.open("a", encoding="utf-8") as f:
        for m, (n, it) in enumerate(todo):
            q = normalize_question(clean_text(it.question).strip())
            hits = qa.retrieve(q, K)
            readings = reader.read(reader_text(q), [(reader_text(h.article.title), reader_text(h.chunk.text))
                                                   for h in hits])
            rows = []
            for h, r in zip(hits, readings):
                span, slp = "", -99.0
                if r.span is not None:
                    a, b = _tidy(h.chunk.text, r.span.start, r.span.end)
                    span, slp = h.chunk.text[a:b], r.span.span_logprob
                rows.append({"article": h.article.id, "score": h.score, "has": r.has_logit, "span": span,
                             "span_logprob": slp, "top_logprob": r.top_logprob})
            f.write(json.dumps({"id": it.id, "n": n, "context": it.context_id, "answers": list(it.answers),
                                "hits": rows}, ensure_ascii=False) + "\n")
            f.flush()
            if m % 250 == 0:
                print(f"  {m}/{len(todo)} {time.perf_counter() - t0:.0f} s", flush=True)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -60 else 0.0


def answerable(hs: list[dict], best: dict, score: str) -> float:
    """P(answerable) as `retrieval/reader/answering.py` `answerable` computes it
    from the same readings ("span": the chosen chunk with the probability of
    the reader's best span in it; "has": the best has-answer probability among
    those read). Rows cached before ``top_logprob`` was recorded fall back to
    the chosen span's."""
    if score == "span":
        return _sigmoid(best["has"] + best.get("top_logprob", best["span_logprob"])) if best["span"] else 0.0
    return max(_sigmoid(h["has"]) for h in hs)


def simulate(rows: list[dict], depth: int, w: float, form: str, limit: float,
             score: str = "has") -> tuple[float, float, float]:
    r1 = f1 = em = 0.0
    for r in rows:
        hs = r["hits"][:depth]
        top = max(h["score"] for h in hs)

        def rank(h: dict) -> float:
            share = h["score"] / top if top > 0 else 1.0
            if form == "log":
                return h["has"] + w * math.log(max(share, 1e-6))
            return h["has"] + w * share

        best = max(hs, key=rank)  # max keeps the first of equals, as the stable sort does
        r1 += best["article"] == r["context"]
        if best["span"] and answerable(hs, best, score) >= limit:
            f1 += best["f1"]
            em += best["em"]
    n = max(len(rows), 1)
    return r1 / n, f1 / n, em / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reader", help="reader directory (default: the configured one)")
    ap.add_argument("--record", help="readings file (default under .newsqa/bench/)")
    ap.add_argument("--depths", default="3,4,5,6,8")
    ap.add_argument("--weights", default="2,4,6,8,10,12,15,20,30")
    ap.add_argument("--forms", default="log,lin")
    args = ap.parse_args()
    from retrieval.app import load_reader, quiet_libraries

    quiet_libraries()
    from retrieval.scoring import em_score, f1_score
    from retrieval.reader.answering import ReadingOptions, threshold

    cfg = load_bench_config(args.reader)
    reader = load_reader(cfg)
    assert reader is not None, "no reader configured"
    out = Path(args.record) if args.record else ROOT / ".newsqa" / "bench" / f"rerank-{reader.path.name}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    record(cfg, reader, out)
    rows = [json.loads(line) for line in out.open(encoding="utf-8")]
    for r in rows:
        for h in r["hits"]:
            h["f1"] = f1_score(h["span"], r["answers"]) if h["span"] else 0.0
            h["em"] = em_score(h["span"], r["answers"]) if h["span"] else 0.0
    limit = threshold(reader, ReadingOptions(no_answer_threshold=cfg.reader.no_answer_threshold))
    # Which not-found score the reader was calibrated with; simulating "has" for a "span" reader
    # declined fewer questions than `newsqa eval` and put F1 about 0.5 above it.
    score = reader.manifest.calibration.get("no_answer_score", "has")
    halves = {"even": [r for r in rows if r["n"] % 2 == 0], "odd": [r for r in rows if r["n"] % 2 == 1],
              "all": rows}
    print(f"{len(rows)} questions; retrieval Recall@1 "
          f"{sum(r['hits'][0]['article'] == r['context'] for r in rows) / len(rows):.4f}; "
          f"not-found threshold {limit:.3f} on {score!r}; configured: depth {cfg.reader.depth}, weight {cfg.reader.rank_weight}")
    print(f"{'form':5s}{'depth':>6s}{'weight':>7s} | {'even R@1':>9s} {'F1':>6s} {'EM':>6s} | "
          f"{'odd R@1':>8s} {'F1':>6s} {'EM':>6s} | {'all R@1':>8s} {'F1':>6s} {'EM':>6s}")
    for form in args.forms.split(","):
        for depth in [int(x) for x in args.depths.split(",")]:
            for w in [float(x) for x in args.weights.split(",")]:
                cells = [simulate(halves[h], depth, w, form, limit, score) for h in ("even", "odd", "all")]
                print(f"{form:5s}{depth:6d}{w:7.1f} | " + " | ".join(f"{a:9.4f} {b:6.2f} {c:6.2f}" for a, b, c in cells))


if __name__ == "__main__":
    main()
