"""Browsing an archive by day: the headlines of one day's paper, page by page.

Built from the articles (of the corpus, or of a loaded index) that carry a
date; a story printed on two pages of the day is listed on both, the second
time marked as a repeat. Front ends (``newsqa articles --date``, the bot's
``/day``) only format what this returns.
"""

from __future__ import annotations

import re
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date as Date
from typing import Any, Iterable, Mapping

from retrieval.errors import NewsQAError
from retrieval.ingest.epaper import name_info
from retrieval.types import Article


class DayError(NewsQAError):
    """A day that cannot be read, or on which nothing was printed; ``reason``:
    "invalid" (not a date) or "empty" (no article of that day, or page)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


_DAY_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
    re.compile(r"^(\d{4})[./](\d{1,2})[./](\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
)


def parse_day(text: str) -> str:
    """"2020-01-09", "20200109", "2020/1/9", "2020年1月9日" → "2020-01-09"."""
    s = text.strip()
    for pat in _DAY_PATTERNS:
        m = pat.match(s)
        if m:
            try:
                return Date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
            except ValueError:
                break
    raise DayError(f"'{text}' is not a date; write it as 2020-01-09", "invalid")


@dataclass(frozen=True)
class Headline:
    title: str
    article_id: str
    page: int | None
    order: int  # place on the page (from the file name), else reading order
    kicker: str | None = None
    subtitle: str | None = None
    author: str | None = None
    repeat_of: int | None = None  # the page this story was first printed on, the same day
    section: str | None = None  # the page's name (要闻), where the corpus says it

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "kicker": self.kicker, "subtitle": self.subtitle, "author": self.author,
                "article_id": self.article_id, "repeat_of": self.repeat_of}


@dataclass(frozen=True)
class DayPage:
    page: int | None  # None: the page is not known
    headlines: tuple[Headline, ...]

    @property
    def section(self) -> str | None:
        """The page's name, as most of its articles give it."""
        names = Counter(h.section for h in self.headlines if h.section)
        return names.most_common(1)[0][0] if names else None


@dataclass(frozen=True)
class Day:
    date: str
    pages: tuple[DayPage, ...]

    @property
    def articles(self) -> int:
        """Articles listed, a story printed on two of the pages counted once."""
        return len({h.article_id for p in self.pages for h in p.headlines})

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.date, "articles": self.articles,
                "pages": [{"page": p.page, "section": p.section, "headlines": [h.to_dict() for h in p.headlines]}
                          for p in self.pages]}


class Catalog:
    """Every dated article's place: date → headlines."""

    def __init__(self, articles: Iterable[Article]) -> None:
        by_day: dict[str, list[Headline]] = defaultdict(list)
        for n, a in enumerate(articles):
            if not a.date:
                continue
            order = name_info(a.file).order
            by_day[a.date].append(Headline(a.title, a.id, a.page, order if order is not None else 10_000 + n,
                                           a.kicker, a.subtitle, a.author, section=a.section))
            for other in a.also_in:
                where = name_info(other)
                if where.date == a.date and where.page is not None and where.page != a.page:
                    by_day[a.date].append(Headline(a.title, a.id, where.page, where.order or 10_000 + n,
                                                   a.kicker, a.subtitle, a.author, repeat_of=a.page))
        self._days = dict(by_day)
        self.dates: list[str] = sorted(self._days)

    @property
    def issues(self) -> int:
        """Days with at least one article: one issue a day for a daily paper."""
        return len(self.dates)

    @property
    def date_range(self) -> tuple[str, str] | None:
        return (self.dates[0], self.dates[-1]) if self.dates else None

    def day(self, date: str, page: int | None = None) -> Day:
        """The headlines of ``date`` (YYYY-MM-DD) by page; ``page``: that page only."""
        heads = self._days.get(date)
        if not heads:
            span = f"the archive holds {self.dates[0]} to {self.dates[-1]}" if self.dates else "no article has a date"
            raise DayError(f"no article dated {date} ({span})", "empty")
        pages: dict[int | None, list[Headline]] = defaultdict(list)
        for h in heads:
            if page is None or h.page == page:
                pages[h.page].append(h)
        if not pages:
            known = sorted({h.page for h in heads if h.page is not None})
            raise DayError(f"no article on page {page} of {date} (pages: {', '.join(map(str, known)) or 'unknown'})",
                           "empty")
        ordered = sorted(pages, key=lambda p: (p is None, p or 0))
        return Day(date, tuple(DayPage(p, tuple(sorted(pages[p], key=lambda h: h.order))) for p in ordered))


def stored_catalog(cfg: Any) -> Catalog:
    """The catalog of the configured index as it stands (its stored article
    metadata; no corpus file is read, nothing is embedded). The embedded
    backend reads only its articles file; Milvus is asked for its articles."""
    from retrieval.index.backend import open_backend

    store = open_backend(cfg)
    load_articles = getattr(store, "load_articles", None)
    if load_articles is not None:
        return Catalog(load_articles(cfg))
    return index_catalog(store.load(cfg))


# The catalog of the index last asked about: (id of the index object, its build, the catalog).
_last: tuple[int, str, Catalog] | None = None
_guard = threading.Lock()


def index_catalog(index: Any) -> Catalog:
    """The catalog of a loaded index (``SearchIndex``), built once per build.
    An index whose articles are fetched on demand (Milvus) is read in batches."""
    global _last
    with _guard:
        last = _last
    if last is not None and last[0] == id(index) and last[1] == index.build_id:
        return last[2]
    arts: Mapping[str, Article] = index.articles
    get_many = getattr(arts, "get_many", None)
    if get_many is not None:
        ids = list(arts)
        got: dict[str, Article] = {}
        for i in range(0, len(ids), 1000):
            got.update(get_many(ids[i : i + 1000]))
        values: Iterable[Article] = [got[i] for i in ids if i in got]
    else:
        values = list(arts.values())
    catalog = Catalog(values)
    with _guard:
        _last = (id(index), index.build_id, catalog)
    return catalog
