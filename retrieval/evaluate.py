"""Retrieval and answer quality on CMRC-2018-style JSON Lines.

Answers are scored by the CMRC 2018 measures (retrieval/scoring.py).
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from retrieval.errors import CorpusError
from retrieval.answer.qa import QA
from retrieval.scoring import em_score, f1_score
from retrieval.types import EvalItem, Hit, Progress, no_progress

if TYPE_CHECKING:
    from retrieval.config import Config


@dataclass
class EvalRow:
    id: str
    question: str
    gold: list[str]
    predicted: str
    found: bool
    retrieved: list[str]
    gold_rank: int | None
    retrieval_rank: int | None  # before the reader re-ranked (same as gold_rank without a reader)
    em: float
    f1: float
    latency_ms: float
    confidence: float = 0.0
    answerable: float = 0.0  # the no-answer score "found" was decided on (Answer.answerable)
    support: list[float] = field(default_factory=list)  # the verifier's features (Answer.support)


@dataclass
class EvalSummary:
    questions: int
    recall_at_1: float
    recall_at_5: float
    recall_at_20: float
    mrr_at_10: float
    em: float
    f1: float
    found_rate: float
    latency_p50_ms: float
    latency_p95_ms: float
    total_seconds: float
    unanswerable: int = 0
    correct_declines: int = 0
    retrieval_recall_at_1: float = 0.0  # before reading
    retrieval_recall_at_5: float = 0.0
    retrieval_mrr_at_10: float = 0.0
    skipped_empty: int = 0  # questions with no text, counted and left out
    rows: list[EvalRow] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, float | int]:
        return {
            "questions": self.questions, "recall@1": round(self.recall_at_1, 4),
            "recall@5": round(self.recall_at_5, 4), "recall@20": round(self.recall_at_20, 4),
            "mrr@10": round(self.mrr_at_10, 4), "em": round(self.em, 2), "f1": round(self.f1, 2),
            "found_rate": round(self.found_rate, 4), "latency_p50_ms": round(self.latency_p50_ms, 1),
            "latency_p95_ms": round(self.latency_p95_ms, 1), "total_seconds": round(self.total_seconds, 1),
            "unanswerable": self.unanswerable, "correct_declines": self.correct_declines,
            "retrieval_recall@1": round(self.retrieval_recall_at_1, 4),
            "retrieval_recall@5": round(self.retrieval_recall_at_5, 4),
            "retrieval_mrr@10": round(self.retrieval_mrr_at_10, 4),
            "skipped_empty": self.skipped_empty,
        }


def load_items(path: Path) -> list[EvalItem]:
    if not path.is_file():
        raise CorpusError(f"{path}: evaluation file not found")
    items = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{path}:{n}: invalid JSON ({exc.msg})") from exc
            for key in ("id", "question", "answers", "context_id", "context"):
                if key not in d:
                    raise CorpusError(f"{path}:{n}: missing field '{key}'")
            items.append(EvalItem(str(d["id"]), d["question"], tuple(d["answers"]), str(d["context_id"]),
                                  d["context"], d.get("title") or str(d["context_id"])))
    if not items:
        raise CorpusError(f"{path}: no questions")
    return items


def write_contexts(items: Iterable[EvalItem], path: Path) -> int:
    """The unique contexts as a JSONL corpus (one article each, id = context id)."""
    seen: dict[str, EvalItem] = {}
    for it in items:
        seen.setdefault(it.context_id, it)
    with path.open("w", encoding="utf-8") as f:
        for it in seen.values():
            f.write(json.dumps({"id": it.context_id, "title": it.title, "text": it.context}, ensure_ascii=False) + "\n")
    return len(seen)


def eval_index(cfg: Config, path: Path, items: list[EvalItem], encoder: Any, tokenizer: Any,
               progress: Any = None) -> tuple[Config, Any]:
    """A throwaway index over the file's contexts, kept in the cache so that
    comparing retrievers (or re-running) does not embed everything again.
    Returns the config pointing at it and the build report."""
    import hashlib

    from retrieval.app import rebuild
    from retrieval.config import CorpusConfig, IndexConfig

    # One cached index per model and passage precision (fp32 keeps its old key).
    tag = cfg.embedding.model + ("" if cfg.embedding.passage_precision == "fp32" else "\x00" + cfg.embedding.passage_precision)
    key = hashlib.sha1(path.read_bytes() + tag.encode()).hexdigest()[:12]
    work = cfg.cache_dir / "eval" / key
    work.mkdir(parents=True, exist_ok=True)
    write_contexts(items, work / "contexts.jsonl")
    # With the Milvus backend, never the user's own collection: evaluating would
    # replace their archive with the file's contexts.
    milvus = dataclasses.replace(cfg.milvus, collection=f"{cfg.milvus.collection}_eval_{key[:8]}")
    cfg = cfg.replace(corpus=CorpusConfig((str(work / "contexts.jsonl"),)),
                      index=IndexConfig(**{**cfg.index.__dict__, "path": str(work / "index")}), milvus=milvus)
    return cfg, rebuild(cfg, encoder, tokenizer, full=False, progress=progress)


def evaluate(qa: QA, items: list[EvalItem], mode: str | None = None,
             progress: Callable[[int, str], Progress] = no_progress) -> EvalSummary:
    started = time.perf_counter()
    rows: list[EvalRow] = []
    skipped = 0
    bar = progress(len(items), "questions")
    try:
        for it in items:
            if not it.question.strip():
                # Public sets have a few of these; one must not end the run.
                skipped += 1
                bar.update(1)
                continue
            t0 = time.perf_counter()
            ans = qa.ask(it.question, mode, retrieve_k=20)
            latency = (time.perf_counter() - t0) * 1000
            ranked = _articles(ans.hits)
            rank = ranked.index(it.context_id) + 1 if it.context_id in ranked else None
            before = _articles(ans.retrieved or ans.hits)
            rank_before = before.index(it.context_id) + 1 if it.context_id in before else None
            pred = ans.text if ans.found else ""
            rows.append(EvalRow(it.id, it.question, list(it.answers), pred, ans.found, ranked[:20], rank, rank_before,
                                em_score(pred, it.answers) if it.answers else 0.0,
                                f1_score(pred, it.answers) if it.answers else 0.0, latency,
                                round(ans.confidence, 4), round(ans.answerable, 4),
                                [round(x, 4) for x in ans.support]))
            bar.update(1)
    finally:
        bar.close()
    answerable = [r for r in rows if r.gold]
    n = max(len(answerable), 1)
    lat = sorted(r.latency_ms for r in rows)
    return EvalSummary(
        questions=len(rows),
        recall_at_1=sum(1 for r in answerable if r.gold_rank == 1) / n,
        recall_at_5=sum(1 for r in answerable if r.gold_rank and r.gold_rank <= 5) / n,
        recall_at_20=sum(1 for r in answerable if r.gold_rank and r.gold_rank <= 20) / n,
        mrr_at_10=sum(1 / r.gold_rank for r in answerable if r.gold_rank and r.gold_rank <= 10) / n,
        em=sum(r.em for r in answerable) / n, f1=sum(r.f1 for r in answerable) / n,
        found_rate=sum(1 for r in rows if r.found) / max(len(rows), 1),
        latency_p50_ms=statistics.median(lat) if lat else 0.0,
        latency_p95_ms=lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))] if lat else 0.0,
        total_seconds=time.perf_counter() - started,
        unanswerable=len(rows) - len(answerable),
        correct_declines=sum(1 for r in rows if not r.gold and not r.found),
        retrieval_recall_at_1=sum(1 for r in answerable if r.retrieval_rank == 1) / n,
        retrieval_recall_at_5=sum(1 for r in answerable if r.retrieval_rank and r.retrieval_rank <= 5) / n,
        retrieval_mrr_at_10=sum(1 / r.retrieval_rank for r in answerable
                                if r.retrieval_rank and r.retrieval_rank <= 10) / n,
        skipped_empty=skipped,
        rows=rows,
    )


def _articles(hits: Iterable[Hit]) -> list[str]:
    ranked: list[str] = []
    for h in hits:
        if h.article.id not in ranked:
            ranked.append(h.article.id)
    return ranked


def write_report(summary: EvalSummary, path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in summary.rows:
            f.write(json.dumps(asdict(r), ensure_ascii=False) + "\n")
