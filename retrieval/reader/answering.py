"""Ranked chunks → an answer read by the trained reader: the last steps of
answering, each calling down, none back.

``answer_with_reader``:

1. ``read_hits``: the reader reads the top ``depth`` chunks
   (``Reader.read``: tokenize → forward pass → decode spans → re-score, in
   retrieval/reader/model.py). Each gets a "holds the answer" score; the
   chunks are re-ranked by that score mixed with the retrieval score;
2. ``choose``: the answer comes from the best chunk, and ``found`` is false
   when no chunk is likely enough to hold the answer;
3. ``cite``: the answer is the best span of the best chunk, the quote is the
   sentence(s) around it, and other sources are the best spans of other
   articles.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from retrieval.ingest.chunking import sentence_spans
from retrieval.reader.decode import tidy_span as _tidy
from retrieval.reader.features import reader_text
from retrieval.reader.model import PassageReading, Reader
from retrieval.reader.verify import support_features
from retrieval.types import Answer, Article, Hit, Source


@dataclass(frozen=True)
class ReadingOptions:
    depth: int = 4  # chunks read per question
    rank_weight: float = 8.0  # times log(score / top score) of retrieval, added to the reader's log-odds
    no_answer_threshold: float = 0.0  # P(some chunk holds the answer) below which: not found; 0: the reader's own
    max_sources: int = 3
    stop_at: float = 0.0  # P(the first chunk holds the answer) from which the others are not read; 0: never
    # With a verifier, what the reader itself declines (below source_threshold) stays declined; False: the
    # verifier alone decides (a follow-up read in the previous answer's article, retrieval/conversation.py).
    reader_bar: bool = True


@dataclass(frozen=True)
class Reading:
    hit: Hit
    reading: PassageReading
    rank_score: float
    text_for_reader: str
    confidence: float = 0.0  # P(its span is right): the reader's calibrated score, taken when read


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -60 else 0.0


def read_hits(question: str, hits: list[Hit], reader: Reader, opts: ReadingOptions,
              texts: list[str] | None = None) -> list[Reading]:
    """Read the top hits; returned best first by the combined score."""
    hits = hits[: opts.depth]
    if not hits:
        return []
    texts = texts or [reader_text(h.chunk.text) for h in hits]
    titles = [reader_text(h.article.title) for h in hits]
    q = reader_text(question)
    pairs = list(zip(titles, texts))
    if opts.stop_at > 0 and len(hits) > 1:
        # Dynamic depth: the int8 graph reads one window per pass anyway, so reading the first
        # chunk on its own costs nothing; when it plainly holds the answer the rest are skipped.
        readings = reader.read(q, pairs[:1])
        if _sigmoid(readings[0].has_logit) >= opts.stop_at:
            hits, texts = hits[:1], texts[:1]
        else:
            readings = readings + reader.read(q, pairs[1:])
    else:
        readings = reader.read(q, pairs)
    top = max(h.score for h in hits)
    out = []
    for h, r, t in zip(hits, readings, texts):
        # The reader's score is in log-odds; the retrieval score enters as the log of its share of
        # the best one. Form, depth and weight were chosen on CMRC dev (even half;
        # bench/rerank_sweep.py): the reader decides between near-tied chunks without overturning
        # a clear retrieval winner.
        share = h.score / top if top > 0 else 1.0
        score = r.has_logit + opts.rank_weight * math.log(max(share, 1e-6))
        out.append(Reading(h, r, score, t, reader.confidence(r)))
    out.sort(key=lambda x: -x.rank_score)
    return out


def choose(readings: list[Reading], reader: Reader, opts: ReadingOptions) -> tuple[Reading | None, float]:
    """The reading the answer comes from and P(some chunk holds the answer)
    by the reader alone (``answer_with_reader`` then asks the verifier, when
    the reader has one)."""
    if not readings:
        return None, 0.0
    # The best-ranked chunk. Measured on CMRC dev (even half, 400 questions):
    # F1 75.1; adding the span's log-probability among the top 3 gave 75.6 but
    # swapped answers between near-tied chunks of one article (岗位标兵 → the
    # wrong sentence on the sample page); the calibrated answer score gave 71.1.
    best = readings[0]
    calib = reader.manifest.calibration
    score = calib.get("no_answer_score", "has")
    if score == "verify":  # the reader's own score, before the verifier's second opinion
        score = calib.get("reader_score", "has")
    return best, answerable(readings, best, score)


def answerable(readings: list[Reading], best: Reading, score: str) -> float:
    """The no-answer score: "has" = P(some chunk holds the answer) from the
    has-answer head alone; "span" = that of the chosen chunk together with the
    probability of the reader's best span in it (a confident reader counts; the
    re-scorer's choice of words does not decide whether to answer). Which one
    separates better is measured by `newsqa reader calibrate` and recorded in
    the manifest."""
    if score == "span":
        return _sigmoid(best.reading.has_logit + best.reading.top_logprob) if best.reading.span else 0.0
    return max(_sigmoid(r.reading.has_logit) for r in readings)


def support(question: str, best: Reading) -> tuple[float, ...]:
    """The verifier's features (retrieval/reader/verify.py) for the chosen chunk."""
    r = best.reading
    answer, at = "", -1
    if r.span is not None:
        a, b = _tidy(best.hit.chunk.text, r.span.start, r.span.end)
        answer, at = best.hit.chunk.text[a:b], best.hit.chunk.start + a
    return support_features(question, best.hit.chunk.text, best.hit.article.text, r.has_logit,
                            r.top_logprob if r.span is not None else -20.0, answer, at)


def threshold(reader: Reader, opts: ReadingOptions) -> float:
    return opts.no_answer_threshold or float(reader.manifest.calibration.get("no_answer_threshold", 0.5))


def answer_with_reader(question: str, hits: list[Hit], reader: Reader, opts: ReadingOptions) -> Answer:
    """Read → choose → cite (see the module's description)."""
    readings = read_hits(question, hits, reader, opts)
    if not readings:
        return Answer(question, "", False, 0.0, (), tuple(hits), tuple(hits))
    read = {id(r.hit) for r in readings}
    ranked_hits = tuple([r.hit for r in readings] + [h for h in hits if id(h) not in read])
    best, has_prob = choose(readings, reader, opts)
    limit = threshold(reader, opts)
    assert best is not None
    features = support(question, best)
    confidence = best.confidence
    if reader.verifier is not None:
        # The verifier estimates P(this answer is right) from the reader's scores and how much of
        # the question the article holds: it decides "found" and is the answer's confidence. It is a
        # second opinion: what the reader itself declines (below source_threshold) stays declined.
        own = float(reader.manifest.calibration.get("source_threshold", 0.0)) if opts.reader_bar else 0.0
        ok = best.reading.span is not None and has_prob >= own
        has_prob = confidence = reader.verifier.prob(features) if ok else 0.0
    if best.reading.span is None or has_prob < limit:
        return Answer(question, "", False, confidence, (), ranked_hits, tuple(hits), has_prob, features)
    # Other articles' spans are cited when the reader alone finds them likely enough (in verify
    # mode its own threshold is kept as source_threshold).
    source_limit = limit if reader.verifier is None else float(
        reader.manifest.calibration.get("source_threshold", limit))
    # Chunks that dynamic depth left unread can still be cited, where they print the answer word for word.
    unread = [h for h in hits[: opts.depth] if id(h) not in read]
    text, sources = cite(best, readings, source_limit, opts.max_sources, unread)
    sources = (dataclasses.replace(sources[0], score=confidence),) + sources[1:]
    return Answer(question, text, True, confidence, sources, ranked_hits, tuple(hits), has_prob, features)


def cite(best: Reading, readings: list[Reading], limit: float, max_sources: int,
         unread: list[Hit] | None = None) -> tuple[str, tuple[Source, ...]]:
    """The answer's words (the best span, its edges tidied) and its sources:
    the sentence(s) around it, then the best spans of other articles whose
    chunk is likely enough (``limit``) to hold the answer, then ``unread``
    chunks (skipped by dynamic depth) of other articles that print the answer
    word for word, in retrieval order."""
    assert best.reading.span is not None
    span = best.reading.span
    chunk = best.hit.chunk
    a, b = _tidy(chunk.text, span.start, span.end)
    text = chunk.text[a:b]
    sources = [_source(best.hit, chunk.start + a, chunk.start + b, best.confidence)]
    used = {best.hit.article.id}
    for r in readings:
        if len(sources) >= max_sources:
            break
        if r.hit.article.id in used or r.reading.span is None or _sigmoid(r.reading.has_logit) < limit:
            continue
        used.add(r.hit.article.id)
        ra, rb = _tidy(r.hit.chunk.text, r.reading.span.start, r.reading.span.end)
        sources.append(_source(r.hit, r.hit.chunk.start + ra, r.hit.chunk.start + rb, r.confidence))
    for h in unread or ():
        if len(sources) >= max_sources or len(text) < 2:
            break
        at = h.chunk.text.find(text)
        if h.article.id in used or at < 0:
            continue
        used.add(h.article.id)
        sources.append(_source(h, h.chunk.start + at, h.chunk.start + at + len(text), best.confidence))
    return text, tuple(sources)


def _source(hit: Hit, start: int, end: int, score: float) -> Source:
    """The sentence(s) of the article that contain [start, end)."""
    art: Article = hit.article
    spans = sentence_spans(art)
    inside = [s for s in spans if s.start < end and start < s.end]
    if not inside:
        q0, q1, para = start, end, hit.chunk.paragraph
    else:
        q0, q1, para = inside[0].start, inside[-1].end, inside[0].paragraph
    quote = art.text[q0:q1].strip()
    return art.source(quote, para, score)

