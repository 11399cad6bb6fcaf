"""Questions that name a day: "1月9日的报道中…", "据2020年1月4日人民日报…",
"上周三", "昨天", "春节期间", "元旦".

The time expressions are found and resolved by JioNLP's time parser
(``jionlp.ner.extract_time``, Apache-2.0), measured on the news dev set's
day-naming questions (docs/pages.md#questions-that-name-a-day). Relative
expressions (昨天, 上周三, 今年) count from the newest issue in the index, not
from the clock: an archive of 2020 asked "昨天" means the day before its last
paper. A date written without a year (1月9日) matches that day of any year.

What a named day does to the ranking (``retrieval/index/search.py``): articles
printed that day (or carrying it in their dateline, or, for a day that is
not the paper's own, mentioning it in the text) are boosted; the phrase that
only names the paper ("1月9日的报道中，", "据1月10日人民日报，") is taken out
of the text that is searched and read, since the articles do not contain it.
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
from dataclasses import dataclass
from datetime import date as Date, timedelta
from typing import Any

from retrieval.types import Article

# Longest span a question may name and still select days: a week (上周, 春节期间);
# relative years (今年, 去年) select by the year of the issue.
MAX_SPAN_DAYS = 7
# Characters without which a question names no time at all (spares the parser most questions).
_TIME_CHARS = re.compile(r"[日号天周年月节旦夕晚早今昨前去上本星礼拜]")
_ISSUE_AFTER = re.compile(r"^(?:出版)?的?(?:《?人民日报》?)?(?:的)?(?:头版|第\d+版|要闻版)?(?:的)?"
                          r"(?:报道|消息|新闻|社论|评论|文章)?(?:中|里|上|说|称|提到|指出)?[，,：:]?")
_ISSUE_WORD = re.compile(r"^(?:出版)?的?(?:《?人民日报》?|头版|第\d+版|报道|消息|新闻|社论)")
_RELATIVE = re.compile(r"[今昨前去上本明后]|这|那")
_HOLIDAY_PERIOD = re.compile(r"^(?:期间|假期|长假|前后)")
# Years counted from the newest issue; "上年" (the year before the one the sentence is about) is not one.
_RELATIVE_YEARS = ("今年", "去年", "本年", "前年", "今年以来")
_MENTION = re.compile(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})日")


@dataclass(frozen=True)
class NamedDay:
    """A span of days a question names. ``year_given`` False: match the month
    and day in any year. ``issue``: the phrase names the paper of that day
    ("1月9日的报道中"), not an event."""

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


@dataclass(frozen=True)
class DayQuery:
    """The days a question names, and its text with the phrases that only
    name the paper taken out (what is searched and read)."""

    days: tuple[NamedDay, ...]
    search_text: str


_parser: Any = None
_parser_guard = threading.Lock()


def _extract_time() -> Any:
    global _parser
    with _parser_guard:
        if _parser is None:
            # jionlp prints a banner to stdout when imported; the CLI's JSON output must stay clean.
            with contextlib.redirect_stdout(io.StringIO()):
                import jionlp

            _parser = jionlp.ner.extract_time
        return _parser


def _day(text: str) -> Date:
    return Date.fromisoformat(text[:10])


def _shift_back(d: Date, newest: Date, text: str) -> Date:
    """A day named without its year (or month) that would lie after the newest
    issue means the last such day before it."""
    if d <= newest:
        return d
    if "年" not in text and "月" not in text:
        m = d.month - 1 or 12
        y = d.year - (d.month == 1)
        try:
            return d.replace(year=y, month=m)
        except ValueError:
            return d
    if "年" not in text:
        try:
            return d.replace(year=d.year - 1)
        except ValueError:
            return d
    return d


def named_days(question: str, newest: str | None) -> DayQuery:
    """The days ``question`` names, resolved against ``newest`` (the newest
    issue, YYYY-MM-DD; None: the index has no dates and nothing is named)."""
    if newest is None or not _TIME_CHARS.search(question):
        return DayQuery((), question)
    base = _day(newest)
    import time as _time

    stamp = _time.mktime((base.year, base.month, base.day, 12, 0, 0, 0, 0, -1))
    try:
        found = _extract_time()(question, time_base=stamp, with_parsing=True)
    except Exception:  # a parser failure on odd input must not fail the question
        return DayQuery((), question)
    days: list[NamedDay] = []
    cut: list[tuple[int, int]] = []
    for item in found:
        detail = item.get("detail") or {}
        span = detail.get("time")
        if detail.get("type") not in ("time_point", "time_span") or not isinstance(span, list) or len(span) != 2:
            continue
        if not isinstance(span[0], str) or not isinstance(span[1], str) or span[0].startswith("inf"):
            continue
        text = item["text"]
        lo, hi = item["offset"]
        try:
            start, end = _day(span[0]), _day(span[1])
        except ValueError:
            continue
        relative = bool(_RELATIVE.search(text)) and not re.search(r"\d", text)
        written = _MENTION.search(text)
        if written and re.search(r"[时点晚早]", text[written.end():]):
            # "1月22日24时" is a time on the 22nd (the parser rolls it over to the 23rd)
            try:
                start = end = Date(int(written.group(1)) if written.group(1) else start.year,
                                   int(written.group(2)), int(written.group(3)))
            except ValueError:
                continue
        after = question[hi:]
        if text in ("春节", "除夕", "大年初一") or text.endswith("春节"):
            if _HOLIDAY_PERIOD.match(after):  # 春节期间: the week of the holiday, from New Year's Eve
                start, end = start - timedelta(days=1), start + timedelta(days=5)
        if not relative:
            start, end = _shift_back(start, base, text), _shift_back(end, base, text)
        n = (end - start).days + 1
        if n > MAX_SPAN_DAYS and text not in _RELATIVE_YEARS:
            continue  # a month, a year: too wide to pick articles by
        issue = bool(_ISSUE_WORD.match(after))
        days.append(NamedDay(text, start.isoformat(), end.isoformat(), "年" in text or relative, issue, relative))
        if issue:
            m = _ISSUE_AFTER.match(after)
            b = lo - 1 if lo > 0 and question[lo - 1] == "据" else lo
            cut.append((b, hi + (m.end() if m else 0)))
    text = question
    for b, e in sorted(cut, reverse=True):
        text = text[:b] + text[e:]
    text = text.strip(" ，,：:") or question
    return DayQuery(tuple(days), text)


def mentioned_days(article: Article) -> frozenset[str]:
    """The days the article's text names (1月8日, 2019年12月31日), the year
    taken from the article's date when the text leaves it out."""
    year = int(article.date[:4]) if article.date else None
    month = int(article.date[5:7]) if article.date else None
    out = set()
    for m in _MENTION.finditer(article.title + "\n" + article.text):
        y = int(m.group(1)) if m.group(1) else year
        if y is None:
            continue
        mo, d = int(m.group(2)), int(m.group(3))
        if not m.group(1) and month is not None and mo - month > 6:
            y -= 1  # "12月31日" in a January paper
        try:
            out.add(Date(y, mo, d).isoformat())
        except ValueError:
            continue
    return frozenset(out)


def dateline_day(article: Article) -> str | None:
    """The day in the dateline ("本报北京1月8日电"), with the article's year."""
    if not article.dateline or not article.date:
        return None
    m = _MENTION.search(article.dateline)
    if not m:
        return None
    y = int(m.group(1)) if m.group(1) else int(article.date[:4])
    mo, d = int(m.group(2)), int(m.group(3))
    if not m.group(1) and mo - int(article.date[5:7]) > 6:
        y -= 1
    try:
        return Date(y, mo, d).isoformat()
    except ValueError:
        return None


def printed_days(article: Article) -> frozenset[str]:
    """The days the article was printed: its date and its reprints' dates."""
    return frozenset(d for d in (article.date, *(p[0] for p in article.also_printed)) if d)


def day_match(article: Article, query: DayQuery, mentions: frozenset[str] | None = None) -> float:
    """How well ``article`` fits the days asked about: 1 printed (or datelined)
    that day, 0.5 a day that is not the paper's own mentioned in its text,
    else 0."""
    if not query.days:
        return 0.0
    printed = printed_days(article)
    line = dateline_day(article)
    best = 0.0
    for nd in query.days:
        if any(nd.covers(d) for d in printed) or (line is not None and nd.covers(line)):
            return 1.0
        if not nd.issue:
            ms = mentions if mentions is not None else mentioned_days(article)
            if any(nd.covers(d) for d in ms):
                best = 0.5
    return best
