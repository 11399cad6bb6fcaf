"""E-paper article files: one article a file, as a newspaper's e-paper site
(or a crawler of it) writes them.

    20200109/20200109-04-02.txt        date 2020-01-09, page (版次) 4, second article of the page
    2020-01-09/04-02.txt               the same, the date from the folder

The text is three header lines, each possibly empty, then the body, one
paragraph a line, indented with ideographic (or plain) spaces:

    line 1  kicker (引题)
    line 2  headline
    line 3  subtitle (副题)

Bylines and datelines are printed inside the body ("本报北京1月31日电 （记者杜一菲）",
"新华社…电", a line "本报记者 xxx", "（本报…电）" after the last paragraph, a
photographer's credit); they become the article's author, dateline and
photographer. A stand-alone byline or credit line is metadata, not a paragraph.

Which files are article files is decided by shape (``looks_like_article``),
measured on a month of People's Daily (bench/archive.py): every file of that
archive with a body is one, and none of the page-layout fixtures is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from retrieval.ingest.newspaper import (BYLINE_IN_LEAD_RE, CREDIT_LINE_RE, NAME, ROLE,
                                        parse_names, _parse_credit)
from retrieval.textnorm import CJK, squeeze_spaces

# Spaces a paragraph is indented with; NBSP is what e-paper HTML turns into text.
INDENT = "\u3000 \u00a0\t"
# A headline longer than this is body text (the longest of the January 2020
# archive has 59 characters; its subtitles, a summary at times, run to 330).
MAX_TITLE_CHARS = 120
# A line of the body printed flush left that is still body: a salutation
# ("同志们，朋友们：") or a letter's addressee, which end in a colon or comma.
_FLUSH_BODY_END = ("：", ":", "，", ",")

# A dated name: 20200109-04-02, 2020-01-09_04, 20200109 …; the page and the
# article's place on it follow the date when the name says them.
_DATED_NAME = re.compile(
    r"(?<!\d)((?:19|20)\d{2})[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])(?!\d)"
    r"(?:[-_]([0-9]{1,3})(?:[-_]([0-9]{1,3}))?(?!\d))?")
# A name that is only page and order (04-02, 4_2), the date being the folder's.
_PAGE_NAME = re.compile(r"^([0-9]{1,3})(?:[-_]([0-9]{1,3}))?$")
_DATE_ONLY = re.compile(r"^((?:19|20)\d{2})[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])$")

# "本报北京1月8日电", "新华社北京1月8日电", "据新华社科伦坡1月14日电", "本报讯"; the dateline
# may name several places ("本报华盛顿、开罗1月2日电") or no date ("本报清迈电").
DATELINE_RE = re.compile(
    rf"^(?:据)?(?:本报|新华社|中新社|人民日报)(?:[{CJK}、]{{0,16}}?(?:\d{{1,2}}月\d{{1,2}}日)?电|讯)")
# the same printed in brackets after the last paragraph: "（本报约翰内斯堡1月8日电）"
# "（本报里约热内卢、华盛顿1月8日电  记者李晓骁、吴乐珺）"
TRAILING_DATELINE_RE = re.compile(
    rf"^[（(]\s*((?:据)?(?:本报|新华社|中新社)[{CJK}、]{{0,40}}?(?:\d{{1,2}}月\d{{1,2}}日)?电)"
    rf"(?:\s*((?:{ROLE})[^）)]{{2,80}}))?\s*[)）]$")
# A line that is only a byline: "本报记者 张三 李四", "本报记者 方 圆" (names cut by layout spaces).
BYLINE_LINE_RE = re.compile(rf"^(?:本报|新华社|人民日报)?(?:特约|见习|实习)?记者[\s{CJK}·]{{2,40}}$")
# Reporters named after the text: "（本报记者彭波、徐隽）", "（综合本报记者梁宇、贺勇报道）",
# "（本报记者何聪整理）" (never "（作者为…，本报记者X采访整理）": there the author is someone else).
_REPORTERS = rf"(?:综合)?(?:本报|新华社)(?:驻[{CJK}]{{1,8}})?记者\s*([{CJK}·、，\s]{{2,80}}?)\s*"
TRAILING_BYLINE_RE = re.compile(
    rf"^(?:[（(]\s*{_REPORTERS}(?:采访整理|整理|报道|参与采写)?\s*[)）]|综合{_REPORTERS}报道)$")
# A credit whose names are spaced a character at a time: "本报记者  贺  勇摄".
SPACED_CREDIT_RE = re.compile(rf"^((?:本报|新华社|中新社|人民日报)(?:特约|见习|实习)?记者[\s·{CJK}]{{2,30}}?)(摄影报道|摄)$")
# A commentary signed after its last paragraph: a name alone on the line, spaced or
# not ("何 鼎 鼎", "李斌"), or the paper's own voice ("本报评论员").
SIGNATURE_RE = re.compile(rf"^(?:[{CJK}](?:\s*[{CJK}]){{1,2}}|(?:本报|人民日报)?(?:特约)?评论员)$")
# "（郑世波）" right after a wire dateline: a byline without a role.
_BARE_BYLINE_RE = re.compile(rf"^\s*[（(]\s*({NAME}(?:[、，\s]+{NAME}){{0,5}})\s*[)）]")


@dataclass(frozen=True)
class NameInfo:
    """What a file's path says about where the article was printed."""

    date: str | None = None  # YYYY-MM-DD
    page: int | None = None  # the printed page (版次)
    order: int | None = None  # the article's place on its page


def name_info(rel: str) -> NameInfo:
    """Date, page and order from a path: the file name first, then its folders."""
    p = PurePosixPath(rel.replace("\\", "/"))
    m = _DATED_NAME.search(p.stem)
    if m:
        date = f"{m.group(1)}-{m.group(2)}-{m.group(3)}"
        page = int(m.group(4)) if m.group(4) and int(m.group(4)) > 0 else None
        order = int(m.group(5)) if m.group(5) and page is not None else None
        return NameInfo(date, page, order)
    for folder in reversed(p.parts[:-1]):
        d = _DATE_ONLY.match(folder)
        if d:
            date = f"{d.group(1)}-{d.group(2)}-{d.group(3)}"
            pm = _PAGE_NAME.match(p.stem)
            page = int(pm.group(1)) if pm and int(pm.group(1)) > 0 else None
            order = int(pm.group(2)) if pm and pm.group(2) and page is not None else None
            return NameInfo(date, page, order)
    return NameInfo()


@dataclass
class ArticleFile:
    """One article file, read; the body's paragraphs without their indent."""

    title: str
    kicker: str | None = None
    subtitle: str | None = None
    paragraphs: list[str] = field(default_factory=list)
    author: str | None = None
    photographer: str | None = None
    dateline: str | None = None


def _is_indented(line: str) -> bool:
    return line[:1] in INDENT


def _header(line: str) -> str:
    # Headlines keep one space where the paper printed a gap between two parts
    # ("以主题教育为新的起点 持续推动…"): it separates phrases.
    return re.sub(r"[\s\u3000\u00a0]+", " ", line).strip()


def looks_like_article(text: str) -> bool:
    """True for the e-paper shape: three flush-left header lines (kicker,
    headline, subtitle; only the headline is required) and then a body of
    indented paragraphs, a flush-left line there being at most a salutation.

    A page-layout text fails it: its paragraphs are not indented (layout
    lines), or other headlines follow, flush left, after the first article."""
    lines = text.split("\n")
    if len(lines) < 4:
        return False
    head, body = lines[:3], [ln for ln in lines[3:] if ln.strip()]
    if not head[1].strip() or any(_is_indented(h) and h.strip() for h in head):
        return False
    if len(head[1].strip()) > MAX_TITLE_CHARS:
        return False
    flush = [not _is_indented(ln) for ln in body]
    if not body or all(flush):
        return False
    return all(not f or ln.rstrip().endswith(_FLUSH_BODY_END) for f, ln in zip(flush, body))


def read_article(text: str) -> ArticleFile | None:
    """The article of a file ``looks_like_article`` accepts, or of any text
    the configuration says is one article (``[corpus] layout = "article"``):
    without the three header lines, its first non-empty line is the headline
    and every other line a paragraph. None when there is no text."""
    lines = text.split("\n")
    if looks_like_article(text):
        kicker, title, subtitle = (_header(h) for h in lines[:3])
        body_lines = lines[3:]
    else:
        first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
        if first is None:
            return None
        kicker, title, subtitle = "", _header(lines[first]), ""
        body_lines = lines[first + 1:]
    art = ArticleFile(title=title, kicker=kicker or None, subtitle=subtitle or None)
    # (the paragraph as stored, the line as printed: bylines are read on the latter)
    pairs = [(squeeze_spaces(s), s) for s in (ln.strip(INDENT + "\r") for ln in body_lines) if s]
    kept: list[str] = []
    for i, (para, orig) in enumerate(pairs):
        # a byline line is printed under the headline, or after the text (before a footer or two)
        at_edge = i < 3 or i >= len(pairs) - 3
        last = i == len(pairs) - 1
        if at_edge and (wc := _writer_and_credit(orig)) is not None:
            art.author = art.author or wc[0] or None
            art.photographer = art.photographer or wc[1] or None
            continue
        if at_edge and (c := SPACED_CREDIT_RE.match(orig)):
            art.photographer = art.photographer or _spaced_names(c.group(1)) or None
            if c.group(2) == "摄影报道":
                art.author = art.author or art.photographer
            continue
        if at_edge and BYLINE_LINE_RE.match(orig) and not orig.endswith("摄"):
            art.author = art.author or _spaced_names(orig) or None
            continue
        if CREDIT_LINE_RE.match(orig):  # a photo credit on a line of its own, wherever the photo was
            names, wrote = _parse_credit(orig, orig)
            art.photographer = art.photographer or names or None
            if wrote and not art.author:
                art.author = names or None
            continue
        if i >= len(pairs) - 2 and not art.author:
            t = TRAILING_BYLINE_RE.match(orig.strip())
            if t:
                art.author = parse_names((t.group(1) or t.group(2)).removesuffix("等")) or None
        if last and i > 0 and not art.author and SIGNATURE_RE.match(orig):
            art.author = re.sub(r"\s+", "", orig)
            continue
        if last:
            m = TRAILING_DATELINE_RE.match(para)
            if m and not art.dateline:
                art.dateline = m.group(1).removeprefix("据")
                if m.group(2) and not art.author:
                    art.author = parse_names(m.group(2)) or None
        kept.append(para)
    art.paragraphs = kept
    # The lead can follow a summary paragraph or two (核心阅读, a pull quote).
    for para in kept[:5]:
        if _read_lead(art, para):
            break
    return art


_WRITER_RE = re.compile(rf"^((?:本报|新华社|人民日报)?(?:特约|见习|实习)?记者[\s{CJK}·]{{2,40}}?)文(?:\s+(\S.*摄))?\s*$")


def _writer_and_credit(line: str) -> tuple[str, str] | None:
    """("崔佳 李坚", "") for "本报记者 崔 佳 李 坚文" (文: words by), ("方圆", "王松") for
    "本报记者 方 圆文 新华社记者 王 松摄". A final 文 is the words-by mark only when a
    credit follows or the names are spaced a character at a time (so "记者 李文" stays a name)."""
    m = _WRITER_RE.match(line)
    if m is None:
        return None
    # the names' tokens with the one the mark is glued to: "崔 佳 李 坚文" → 崔, 佳, 李, 坚文
    tokens = (m.group(1) + "文").split()[1:]
    spaced = len(tokens) >= 2 and all(len(t) == 1 for t in tokens[:-1]) and len(tokens[-1]) == 2
    if not (m.group(2) or spaced):
        return None
    photographer = _parse_credit(m.group(2), m.group(2))[0] if m.group(2) else ""
    return _spaced_names(m.group(1)), photographer


def _spaced_names(byline: str) -> str:
    """Names of a byline; one printed a character at a time ("崔 佳 李 坚") is read
    as two-character names, the way the paper spaces them to a column's width."""
    tokens = byline.split()[1:]
    if len(tokens) >= 2 and len(tokens) % 2 == 0 and all(len(t) == 1 for t in tokens):
        return " ".join(tokens[i] + tokens[i + 1] for i in range(0, len(tokens), 2))
    return parse_names(byline)


def _read_lead(art: ArticleFile, lead: str) -> bool:
    """Dateline and byline from a lead paragraph ("本报北京1月8日电 （记者吴姗）…");
    False when ``lead`` is not one."""
    m = DATELINE_RE.match(lead)
    if m:
        art.dateline = art.dateline or m.group(0).removeprefix("据")
        rest = lead[m.end():]
        b = BYLINE_IN_LEAD_RE.match(rest.lstrip())
        if b and not art.author:
            art.author = parse_names(b.group(1)) or None
        elif not art.author and m.group(0).lstrip("据").startswith(("新华社", "中新社")):
            bare = _BARE_BYLINE_RE.match(rest)
            if bare:
                art.author = parse_names(bare.group(1).replace("、", " ")) or None
        return True
    # ("本报记者 X" at the start of a paragraph is a byline line, read above; in
    # running text it is narration: "本报记者日前走进…")
    return False
