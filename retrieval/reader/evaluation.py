"""The reader alone: each question read against its own paragraph (chunked
as the index would chunk it), so span quality is measured apart from retrieval."""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

from retrieval.ingest.chunking import chunk_article
from retrieval.config import ChunkingConfig
from retrieval.evaluate import EvalItem, em_score, f1_score
from retrieval.reader.answering import _tidy, reader_text
from retrieval.reader.model import Reader
from retrieval.types import Article


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
            a, b = _tidy(chunks[best].text, sp.start, sp.end)
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
