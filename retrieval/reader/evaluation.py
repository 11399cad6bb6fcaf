"""The reader alone: each question read against its own paragraph (chunked
as the index would chunk it), so span quality is measured apart from retrieval;
the same readings give the span re-scorer its fitting data."""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import numpy as np

from retrieval.ingest.chunking import chunk_article
from retrieval.config import ChunkingConfig
from retrieval.reader.decode import tidy_span
from retrieval.reader.features import reader_text
from retrieval.reader.model import Reader
from retrieval.reader.rescore import CANDIDATES, CandidateSet, neighbours
from retrieval.scoring import em_score, f1_score
from retrieval.types import Article, EvalItem


def evaluate_reader(reader: Reader, items: list[EvalItem], chunking: ChunkingConfig,
                    progress: Callable[[int, str], Any] | None = None,
                    rescore: bool = True) -> dict[str, float | int]:
    f1s, ems, lat = [], [], []
    bar = progress(len(items), "questions") if progress else None
    for it in items:
        if not it.question.strip():
            continue
        art = Article(id=it.context_id, title=it.title, paragraphs=tuple(it.context.split("\n")), file="")
        chunks = chunk_article(art, chunking)
        t0 = time.perf_counter()
        texts = [reader_text(c.text) for c in chunks]
        readings = reader.read(reader_text(it.question), [(reader_text(it.title), t) for t in texts],
                               rescore=rescore)
        best = max(range(len(readings)), key=lambda i: reader.answer_logit(readings[i]), default=None)
        pred = ""
        if best is not None and readings[best].span is not None:
            sp = readings[best].span
            a, b = tidy_span(chunks[best].text, sp.start, sp.end)
            pred = chunks[best].text[a:b]
        lat.append((time.perf_counter() - t0) * 1000)
        f1s.append(f1_score(pred, it.answers))
        ems.append(em_score(pred, it.answers))
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    n = max(len(f1s), 1)
    return {"questions": len(f1s), "f1": round(sum(f1s) / n, 2), "em": round(sum(ems) / n, 2),
            "latency_p50_ms": round(statistics.median(lat), 1) if lat else 0.0}


def rescorer_candidates(reader: Reader, items: list[EvalItem], chunking: ChunkingConfig,
                        progress: Callable[[int, str], Any] | None = None) -> list[CandidateSet]:
    """Each question read against its own paragraph (chunked as the index
    would), one candidate set per window: its top spans, deduplicated by text,
    each with its F1 against the gold answers (what the span re-scorer is
    fitted on, `newsqa reader rescorer`)."""
    sets: list[CandidateSet] = []
    bar = progress(len(items), "questions") if progress else None
    for it in items:
        if it.question.strip() and it.answers:
            art = Article(id=it.context_id, title=it.title, paragraphs=tuple(it.context.split("\n")), file="")
            texts = [reader_text(c.text) for c in chunk_article(art, chunking)]
            question = reader_text(it.question)
            for w, _, spans in reader.window_spans(question, [(reader_text(it.title), t) for t in texts],
                                                    CANDIDATES):
                text = texts[w.passage]
                seen: dict[str, tuple[float, tuple[str, str]]] = {}
                for c in spans:
                    a, b = tidy_span(text, c.start, c.end)
                    t = text[a:b]
                    if t not in seen or c.span_logprob > seen[t][0]:
                        seen[t] = (c.span_logprob, neighbours(text, a, b))
                if seen:
                    keys = tuple(seen)
                    sets.append(CandidateSet(question, keys, np.array([seen[k][0] for k in keys], np.float32),
                                             np.array([f1_score(k, it.answers) for k in keys], np.float32),
                                             tuple(seen[k][1] for k in keys)))
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    return sets
