"""Articles → sentence-aware chunks that never cross an article."""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.config import ChunkingConfig
from retrieval.textnorm import CLOSERS
from retrieval.types import Article, Chunk

# A sentence ends at 。！？；… (or ASCII !?;), plus any closing quotes/brackets after it.
_SENT_END = re.compile(rf"(?:[。！？!?；;]|…+|\.{{3,}})[{re.escape(CLOSERS)}]*")
_CLAUSE_END = re.compile(r"[，,、：:]")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    paragraph: int  # 1-based


def sentence_spans(article: Article, max_chars: int = 300) -> list[Span]:
    """Sentences of ``article.text`` as offsets; over-long ones are cut at clause marks."""
    spans: list[Span] = []
    for p_no, (p_start, para) in enumerate(zip(article.paragraph_offsets(), article.paragraphs), 1):
        pos = 0
        for m in _SENT_END.finditer(para):
            spans.extend(_cut(para, pos, m.end(), p_start, p_no, max_chars))
            pos = m.end()
        if pos < len(para):
            spans.extend(_cut(para, pos, len(para), p_start, p_no, max_chars))
    return [s for s in spans if s.end > s.start]


def _cut(para: str, a: int, b: int, base: int, p_no: int, max_chars: int) -> list[Span]:
    out = []
    while b - a > max_chars:
        window = para[a : a + max_chars]
        cuts = [m.end() for m in _CLAUSE_END.finditer(window)]
        cut = a + (cuts[-1] if cuts and cuts[-1] > max_chars // 3 else max_chars)
        out.append(Span(base + a, base + cut, p_no))
        a = cut
    out.append(Span(base + a, base + b, p_no))
    return out


def chunk_article(article: Article, cfg: ChunkingConfig, first_id: int = 0) -> list[Chunk]:
    """Greedy packing of whole sentences into ~min..max characters, each chunk
    starting with the last ``overlap_sentences`` of the previous one."""
    text = article.text
    sents = sentence_spans(article, cfg.max_chars)
    chunks: list[Chunk] = []
    i = 0
    while i < len(sents):
        j = i
        while j + 1 < len(sents) and (
            sents[j].end - sents[i].start < cfg.min_chars
            or sents[j + 1].end - sents[i].start <= cfg.max_chars
        ):
            j += 1
        start, end = sents[i].start, sents[j].end
        chunks.append(Chunk(first_id + len(chunks), article.id, text[start:end], sents[i].paragraph, start, end))
        if j + 1 >= len(sents):
            break
        i = max(j + 1 - cfg.overlap_sentences, i + 1)
    return chunks


def embed_text(article: Article, chunk: Chunk) -> str:
    """What the encoder and BM25 see: the headline, with its kicker and
    subtitle where the paper printed them, gives context the chunk may lack
    (and makes them searchable)."""
    head = "\n".join(x for x in (article.kicker, article.title, article.subtitle) if x)
    return f"{head}\n{chunk.text}"
