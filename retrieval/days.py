"""Questions that name a day: "1月9日的报道中…", "据2020年1月4日人民日报…",
"上周三", "昨天", "春节期间", "元旦".

The time expressions are found and resolved here (``_expressions``): dates
(2020年1月9日, 1月9日, 9日, 1月初), relative days and weeks (昨天, 前天, 上周三,
本周), holidays (元旦, 春节, 除夕, 元宵, 国庆) and 今年/去年. JioNLP's time parser
was measured first and resolves the dev set's day-naming questions exactly as
this does, but it needs jiojio (GPL-3.0, 150 MB) at import. Relative
expressions (昨天, 上周三, 今年) count from the newest issue in the index, not
from the clock: an archive of 2020 asked "昨天" means the day before its last
paper. A date written without a year (1月9日) matches that day of any year.

What a named day does to the ranking (``retrieval/index/search.py``): articles
printed that day (or carrying it in their dateline, or, for a day that is
not the paper's own, mentioning it in the text — fully when printed in the
two days after it, as the report of that day's event) are boosted; the phrase that
only names the paper ("1月9日的报道中，", "据1月10日人民日报，") is taken out
of the text that is searched and read, since the articles do not contain it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date as Date, timedelta

from retrieval.types import Article, NamedDay

# Longest span a question may name and still select days: a week (上周, 春节期间);
# relative years (今年, 去年) select by the year of the issue.
MAX_SPAN_DAYS = 7
# Characters without which a question names no time at all (spares the parser most questions).
_TIME_CHARS = re.compile(r"[日号天周年月节旦夕晚早今昨前去上本星礼拜]")
# A paper's name: 《…》 or a name ending like one (人民日报, 北京晚报); "报纸", "报上" name any paper.
_PAPER = r"(?:《[^》]{1,12}》|[\u4e00-\u9fff]{0,4}(?:日报|晚报|早报|时报|周报)|报纸|报上|报端)"
# Verbs of printing: "1月4日人民日报刊登的…", "1月19日的报纸公布了…".
_PRINTED = r"(?:报道|刊登|刊出|刊发|登载|登|公布|发表|说|称|提到|指出)"
# The day as the paper's: "1月3日的报纸说，", "元旦那天人民日报登的…", "1月12日的报道中，";
# 中/里/上 only before a pause ("报道中国…" keeps its 中).
_ISSUE_AFTER = re.compile(r"^(?:当天|那天|这天)?(?:出版)?的?(?:" + _PAPER + r")?(?:的)?(?:头版|第\d+版|要闻版)?(?:上)?(?:的)?"
                          r"(?:报道|消息|新闻|社论|评论|文章)?(?:(?:中|里|上)(?=[，,：:])|" + _PRINTED + r")?"
                          r"(?:了|的)?[，,：:]?")
_ISSUE_WORD = re.compile(r"^(?:当天|那天|这天)?(?:出版)?的?(?:" + _PAPER +
                         r"|头版|第\d+版|报道|消息|新闻|社论|刊登|刊出|刊发|登载|见报)")
_RELATIVE = re.compile(r"[今昨前去上本明后]|这|那")
_HOLIDAY_PERIOD = re.compile(r"^(?:期间|假期|长假|前后)")
# Years counted from the newest issue; "上年" (the year before the one the sentence is about) is not one.
_RELATIVE_YEARS = ("今年", "去年", "本年", "前年", "今年以来")
_MENTION = re.compile(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})日")
# A day of the month alone, as a paper writes the days just past ("26日，国务院新闻办举行发布会"): the
# last such day on or before the article's date. Not "第3日", "1月26日" (above), "20日元", "每月1日".
_MENTION_DAY = re.compile(r"(?<![\d月第每])(\d{1,2})日(?![\d元])")
# An event of one day is reported in the papers of the days after it: an article printed within this many
# days after a day it names (a day that is not the paper's) counts as printed that day.
REPORTED_WITHIN = 2


@dataclass(frozen=True)
class DayQuery:
    """The days a question names, and its text with the phrases that only
    name the paper taken out (what is searched and read)."""

    days: tuple[NamedDay, ...]
    search_text: str


# 春节 (the first day of the lunar year), 2000-2035.
SPRING_FESTIVAL = dict(zip(range(2000, 2036), (
    "02-05", "01-24", "02-12", "02-01", "01-22", "02-09", "01-29", "02-18", "02-07", "01-26", "02-14", "02-03",
    "01-23", "02-10", "01-31", "02-19", "02-08", "01-28", "02-16", "02-05", "01-25", "02-12", "02-01", "01-22",
    "02-10", "01-29", "02-17", "02-06", "01-26", "02-13", "02-03", "01-23", "02-11", "01-31", "02-19", "02-08")))
_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_EXPR = re.compile(
    r"(?P<ymd>(?:(?P<y>\d{4})年)?(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号](?:\d{1,2}[时点]|凌晨|上午|中午|下午|晚上?|早上?)?)"
    r"|(?P<mpart>(?:(?P<y2>\d{4})年)?(?P<m2>\d{1,2})月(?P<part>初|底|末))"
    r"|(?P<dom>(?<![\d月第])(?P<d3>\d{1,2})[日号](?![\d元]))"
    r"|(?P<rel>大前天|前天|昨天|昨日|今天|今日)"
    r"|(?P<week>(?P<which>上上|上|本|这|今)(?:个)?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天])?)"
    r"|(?P<holiday>(?:(?P<y4>\d{4})年)?(?:春节|除夕|(?:大年|正月)初[一二三四五六七八九十]|元旦|元宵节?|国庆节?))"
    r"|(?P<year>今年以来|今年|去年|前年|本年)"
)


def _expressions(question: str, base: Date) -> list[tuple[str, int, int, Date, Date]]:
    """(text, start offset, end offset, first day, last day) of each time
    expression; days without a year take ``base``'s (``named_days`` moves
    them back when they would lie after it)."""
    out = []
    for m in _EXPR.finditer(question):
        text, lo, hi = m.group(0), m.start(), m.end()
        try:
            if m.group("ymd"):
                d = Date(int(m.group("y") or base.year), int(m.group("m")), int(m.group("d")))
                out.append((text, lo, hi, d, d))
            elif m.group("mpart"):
                y, mo = int(m.group("y2") or base.year), int(m.group("m2"))
                last = (Date(y + (mo == 12), mo % 12 + 1, 1) - timedelta(days=1)).day
                a, b = (1, 5) if m.group("part") == "初" else (last - 6, last)
                out.append((text, lo, hi, Date(y, mo, a), Date(y, mo, b)))
            elif m.group("dom"):
                d = Date(base.year, base.month, int(m.group("d3")))
                out.append((text, lo, hi, d, d))
            elif m.group("rel"):
                back = {"大前天": 3, "前天": 2, "昨天": 1, "昨日": 1}.get(text, 0)
                d = base - timedelta(days=back)
                out.append((text, lo, hi, d, d))
            elif m.group("week"):
                monday = base - timedelta(days=base.weekday()) - timedelta(
                    days={"上上": 14, "上": 7}.get(m.group("which"), 0))
                if m.group("wd"):
                    d = monday + timedelta(days=_WEEKDAY[m.group("wd")])
                    out.append((text, lo, hi, d, d))
                else:
                    out.append((text, lo, hi, monday, monday + timedelta(days=6)))
            elif m.group("holiday"):
                y = int(m.group("y4") or base.year)
                name = text[5:] if m.group("y4") else text
                if not m.group("y4") and name.startswith("国庆") and Date(y, 10, 1) > base:
                    y -= 1  # the last one before the newest issue
                if name.startswith("元旦"):
                    d = Date(y, 1, 1)
                elif name.startswith("国庆"):
                    d = Date(y, 10, 1)
                else:
                    if y not in SPRING_FESTIVAL:
                        continue
                    sf = Date.fromisoformat(f"{y}-{SPRING_FESTIVAL[y]}")
                    d = sf - timedelta(days=1) if name == "除夕" else sf + timedelta(days=14) if name.startswith("元宵") else sf
                    if name[-2:-1] == "初":  # 大年初二: the second day of the lunar year
                        d = sf + timedelta(days="一二三四五六七八九十".index(name[-1]))
                out.append((text, lo, hi, d, d))
            elif m.group("year"):
                y = base.year - {"去年": 1, "前年": 2}.get(text, 0)
                out.append((text, lo, hi, Date(y, 1, 1), Date(y, 12, 31)))
        except ValueError:  # 2月30日
            continue
    return out


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
    days: list[NamedDay] = []
    cut: list[tuple[int, int]] = []
    for text, lo, hi, start, end in _expressions(question, base):
        relative = bool(_RELATIVE.search(text)) and not re.search(r"\d", text)
        after = question[hi:]
        if text in ("春节", "除夕") or text.endswith("春节"):
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
    """The days the article's text names (1月8日, 2019年12月31日, and 26日 —
    the last 26th up to the article's date), the year (and for 26日 the
    month) taken from the article's date when the text leaves it out."""
    year = int(article.date[:4]) if article.date else None
    month = int(article.date[5:7]) if article.date else None
    text = article.title + "\n" + article.text
    out = set()
    for m in _MENTION.finditer(text):
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
    if article.date:
        printed = _day(article.date)
        for m in _MENTION_DAY.finditer(text):
            d = int(m.group(1))
            if not 1 <= d <= 31:
                continue
            y, mo = printed.year, printed.month
            if d > printed.day:
                y, mo = (y - 1, 12) if mo == 1 else (y, mo - 1)
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
    that day, or — for a day that is not the paper's own — printed within
    ``REPORTED_WITHIN`` days after it and naming it (the report of that
    day's event); 0.5 naming such a day otherwise; else 0."""
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
            named = [d for d in ms if nd.covers(d)]
            if named:
                if any(0 < (_day(p) - _day(d)).days <= REPORTED_WITHIN for d in named for p in printed):
                    return 1.0
                best = 0.5
    return best
