"""The objects that flow through newsqa: Article → Chunk → Hit → Answer.

Each carries the source metadata it needs so that nothing downstream has to
look anything up again to cite where a quote came from.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Protocol


class Progress(Protocol):
    """A progress bar as long work reports to it (tqdm's ``update``/``close``)."""

    def update(self, n: int = 1) -> object: ...
    def close(self) -> object: ...


# (total, description) → a bar; front ends pass one, the core defaults to none.
ProgressFactory = Callable[[int, str], Progress]


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def no_progress(total: int, desc: str) -> Progress:
    return _NoProgress()


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Article:
    """One article, its text cleaned of layout artefacts but otherwise verbatim.

    ``paragraphs`` joined by newlines is ``text``; quotes are substrings of it.
    """

    id: str
    title: str
    paragraphs: tuple[str, ...]
    file: str
    author: str | None = None
    date: str | None = None
    url: str | None = None
    photographer: str | None = None
    kicker: str | None = None
    continued_from: str | None = None
    also_in: tuple[str, ...] = ()  # other files with the same title and text, indexed once
    page: int | None = None  # the printed page (版次)
    section: str | None = None  # the page's name (要闻, 国际), where known
    subtitle: str | None = None  # 副题
    dateline: str | None = None  # "本报北京1月8日电", "新华社北京1月8日电"
    # (date, page) of each other place the same text was printed (a page-1
    # story printed again whole on its continuation page), as in ``also_in``
    also_printed: tuple[tuple[str | None, int | None], ...] = ()

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)

    @property
    def content_hash(self) -> str:
        return sha1(self.title + "\x00" + self.text)

    def paragraph_offsets(self) -> list[int]:
        """Start offset in ``text`` of each paragraph."""
        offsets, pos = [], 0
        for para in self.paragraphs:
            offsets.append(pos)
            pos += len(para) + 1
        return offsets

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["paragraphs"] = list(self.paragraphs)
        d["also_in"] = list(self.also_in)
        d["also_printed"] = [list(p) for p in self.also_printed]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Article:
        return cls(**{**d, "paragraphs": tuple(d["paragraphs"]), "also_in": tuple(d.get("also_in", ())),
                      "also_printed": tuple((p[0], p[1]) for p in d.get("also_printed", ()))})

    def source(self, quote: str, paragraph: int, score: float) -> Source:
        """A quote of this article with everything a citation shows."""
        return Source(quote=quote, title=self.title, article_id=self.id, file=self.file, paragraph=paragraph,
                      score=score, author=self.author, date=self.date, page=self.page,
                      also_printed=self.also_printed)


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences from one article; ``start``/``end`` index ``Article.text``."""

    id: int
    article_id: str
    text: str
    paragraph: int  # 1-based paragraph of the chunk's first sentence
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Chunk:
        return cls(**d)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with the scores that ranked it."""

    chunk: Chunk
    article: Article
    score: float
    lexical: float = 0.0
    dense: float = 0.0


@dataclass(frozen=True)
class Source:
    """A verbatim quote and where it came from."""

    quote: str
    title: str
    article_id: str
    file: str
    paragraph: int
    score: float
    author: str | None = None
    date: str | None = None
    page: int | None = None  # the printed page (版次)
    also_printed: tuple[tuple[str | None, int | None], ...] = ()  # (date, page) of its other printings

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title, "quote": self.quote, "author": self.author, "date": self.date,
            "page": self.page, "also_printed": [{"date": d, "page": p} for d, p in self.also_printed],
            "paragraph": self.paragraph, "file": self.file, "article_id": self.article_id,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class EvalItem:
    """One evaluation question with its gold answers and the paragraph it was asked about."""

    id: str
    question: str
    answers: tuple[str, ...]
    context_id: str
    context: str
    title: str


@dataclass(frozen=True)
class NamedDay:
    """A span of days a question names (resolved in retrieval/days.py).
    ``year_given`` False: match the month and day in any year. ``issue``: the
    phrase names the paper of that day ("1月9日的报道中"), not an event.
    ``relative``: counted from the newest issue in the index (昨天, 上周三)."""

    text: str
    start: str  # YYYY-MM-DD
    end: str  # inclusive
    year_given: bool
    issue: bool
    relative: bool

    def covers(self, day: str) -> bool:
        if self.year_given or self.relative:
            return self.start <= day <= self.end
        return self.start[5:] <= day[5:] <= self.end[5:] if self.start[:4] == self.end[:4] else self.start <= day <= self.end


UNSURE_BELOW = 0.5  # a calibrated confidence below which an answer is shown as unsure


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    found: bool
    confidence: float
    sources: tuple[Source, ...] = ()
    hits: tuple[Hit, ...] = field(default=(), repr=False)  # best first, after reading when a reader ran
    retrieved: tuple[Hit, ...] = field(default=(), repr=False)  # the retrieval order, before reading
    # The score "found" was decided on (the reader's no-answer score, compared with its threshold);
    # reports keep it so a threshold can be chosen on measured questions. 0.0 without a reader.
    answerable: float = field(default=0.0, repr=False)
    # The not-found verifier's features for the chosen chunk (retrieval/reader/verify.py FEATURES),
    # kept in reports so the verifier can be fitted on measured questions. () without a reader.
    support: tuple[float, ...] = field(default=(), repr=False)
    # The confidence is a calibrated P(the answer is right) (the trained reader's); False: a lexical score.
    calibrated: bool = field(default=False, repr=False)
    # The days the question named, as resolved against the index ("昨天": the day before the newest issue).
    days: tuple[NamedDay, ...] = field(default=(), repr=False)

    @property
    def unsure(self) -> bool:
        """An answer more likely wrong than right, by its own calibrated confidence: the front ends say
        so beside it. On the news dev set, answers below 0.5 were right 41% of the time (76 answers, traps
        answered counted wrong), those from 0.5 up 78% (177) (docs/evaluation.md)."""
        return self.found and self.calibrated and self.confidence < UNSURE_BELOW

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question, "answer": self.text, "found": self.found,
            "confidence": round(self.confidence, 4), "unsure": self.unsure,
            "sources": [s.to_dict() for s in self.sources],
        }
