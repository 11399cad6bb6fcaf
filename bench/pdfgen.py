"""Render newspaper-style multi-column PDF pages, with the ground truth per article.

    .venv/bin/python bench/pdfgen.py --pages 3 --out /tmp/pdfpages

Articles: the CMRC 2018 train contexts and their titles
(../shared/train/cmrc2018_train_contexts.jsonl, CC BY-SA 4.0, from Chinese
Wikipedia via the CMRC 2018 data set). Headlines, leads, bylines, credits and
page furniture are generated.

A page has 3 or 4 columns on A4 or A3, a header row (paper, date, page, section)
over a rule and an editors' footer. Articles sit in bands across the page; a
band splits the columns into slots (4 = 2+2, 3+1, 1+2+1, ...), a slot holds one
article or two stacked. An article's headline spans all of its slot's
columns (wrapping when it is too long), its body flows down one column and
on into the next (balanced), paragraphs indented two characters and
justified. Variants: kicker above the headline, standalone byline line,
"本报讯（记者 X）" and dateline leads, photo stories (a grey box, a caption as
wide as the slot, a "X 摄" credit), "（上接第N版）" continuations printed without
a headline and "（下转第N版）" at an article's end.

The font is reportlab's built-in CID font STSong-Light (no bold face exists,
so headlines differ by size only); its text layer round-trips through
pdfplumber. Everything is deterministic given the seed.

For scanned-page tests (bench/ocrscore.py, tests/test_ocr.py) a page is drawn
with an embedded TrueType face instead (``font_file``, ``cjk_font_file()``:
STSong-Light is not embedded, and a renderer without a Chinese system font
draws no ideographs) and rendered to PNG (``render_png``);
``make_articles_page`` lays out given articles (e.g. the sample page's) the
same way.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTEXTS = ROOT.parent / "shared" / "train" / "cmrc2018_train_contexts.jsonl"
FONT = "STSong-Light"

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红鑫蕾冰燕欣宇浩然涵晨阳佳琪思雨梦婷雪梅海波建国志文斌路曼艺禄程慧哲"
PAPERS = ["北京日报", "劳动午报", "城市晚报", "江南时报", "滨海日报", "工人日报", "都市快报"]
SECTIONS = ["要闻", "社会", "健康生活", "社区新闻", "文化", "体育", "国际", "经济", "科技前沿", "综合新闻"]
PLACES = ["北京", "上海", "广州", "成都", "武汉", "西安", "南京", "杭州"]
NO_LINE_START = "，。、；：？！）”』」》…"
# Slot patterns of a band, in columns.
BANDS = {3: [(3,), (2, 1), (1, 2), (1, 1, 1)], 4: [(4,), (2, 2), (3, 1), (1, 3), (1, 2, 1), (2, 1, 1), (1, 1, 2)]}
PAGE_SIZES = {"A4": (595.0, 842.0), "A3": (842.0, 1191.0)}


@dataclass
class TruthArticle:
    title: str | None  # None for a continuation printed without its headline
    author: str | None  # names joined by one space, roles dropped
    body: str  # the printed body text (lead included, byline line not), no whitespace
    kind: str = "article"  # article | photo | continuation
    columns: int = 1  # columns the article spans: its headline over all, its body flowing through them


@dataclass
class PdfPage:
    articles: list[TruthArticle]
    # the page's articles as plain text (headline, byline, paragraphs, blank
    # lines between): what the PDF was made from
    source_text: str
    columns: int
    size: str


@dataclass
class _Piece:
    """One article (or photo story) laid out at the origin of its slot."""

    draws: list[tuple[float, float, str, float, float]] = field(default_factory=list)  # (x, y-down, text, size, charspace)
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)  # photo placeholders
    height: float = 0.0


@lru_cache(maxsize=1)
def _contexts() -> list[tuple[str, str]]:
    rows = []
    with CONTEXTS.open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            title = re.sub(r"\s*[（(][^）)]*[）)]\s*$", "", r["title"]).strip()
            context = re.sub(r"\s+", "", r["context"])
            if title and len(context) >= 120 and _printable(title + context):
                rows.append((title, context))
    return rows


# Characters that STSong-Light draws but whose text does not come back out of
# the PDF (checked by rendering every character of the contexts).
_NO_ROUND_TRIP = set("〜・！＂％｢｣")


def _printable(text: str) -> bool:
    """Only text whose every character round-trips through the PDF text layer,
    so that the truth is what a reader of the text layer can get."""
    for ch in text:
        o = ord(ch)
        if ch in _NO_ROUND_TRIP or not (32 <= o < 127 or 0x4E00 <= o <= 0x9FFF or 0x2010 <= o <= 0x303F
                                         or 0xFF00 <= o <= 0xFFEF):
            return False
    return True


@lru_cache(maxsize=1)
def _register() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont(FONT))


@lru_cache(maxsize=4)
def _register_face(font_file: str) -> str:
    """An embedded TrueType face (.ttf, or the first face of a .ttc) to draw with.
    STSong-Light is not embedded: a renderer without a Chinese system font
    (pdfium on a bare Linux) draws no ideographs, so pages meant to be rendered
    into images need a face that travels inside the PDF."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    name = f"Face{len(pdfmetrics.getRegisteredFontNames())}"
    pdfmetrics.registerFont(TTFont(name, font_file, subfontIndex=0))
    return name


def cjk_font_file() -> Path:
    """A Chinese TrueType font shipped by a test dependency (WenQuanYi Micro Hei)."""
    import paperang_p2_fonts_cjk

    return Path(paperang_p2_fonts_cjk.__file__).parent / "fonts" / "wqy-microhei.ttc"


def render_png(pdf: bytes, out: Path, dpi: int = 150, page: int = 0) -> None:
    """One page of a PDF as a greyscale PNG, as a scanner would give it."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        doc[page].render(scale=dpi / 72, grayscale=True).to_pil().save(out)
    finally:
        doc.close()


# The face whose widths lines are set by: the face they are drawn in.
_metrics = [FONT]


@contextmanager
def _set_in(face: str) -> Iterator[None]:
    _metrics.append(face)
    try:
        yield
    finally:
        _metrics.pop()


def _unit_width(ch: str) -> float:
    return _face_width(ch, _metrics[-1])


@lru_cache(maxsize=16384)
def _face_width(ch: str, face: str) -> float:
    from reportlab.pdfbase import pdfmetrics

    return pdfmetrics.stringWidth(ch, face, 1.0)


def _width(text: str, size: float) -> float:
    return sum(_unit_width(ch) for ch in text) * size


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _sentences(text: str) -> list[str]:
    parts = re.findall(r"[^。！？]*[。！？]+[”」』）]?|[^。！？]+$", text)
    return [p for p in parts if p]


def _clauses(text: str) -> list[str]:
    return [c for c in re.split(r"[，。；！？、：“”（）「」《》\s]", text) if 4 <= len(c) <= 10
            and re.fullmatch(r"[\u4e00-\u9fff0-9]+", c)]


def _headline(rng: random.Random, title: str, context: str) -> str:
    clause = rng.choice(_clauses(context[:300]) or ["最新消息"])
    t = title[:14]
    forms = [t if len(t) >= 4 else f"{t}{clause}", f"{t}：{clause}", f"{t}，{clause}", f"“{t}”{clause}",
             f"{clause}——{t}", f"{t}？{clause}", f"{t} {clause}", f"{clause}{t}"]
    return rng.choices(forms, (40, 12, 8, 8, 6, 4, 8, 14))[0][:26]


def _byline(rng: random.Random) -> tuple[list[str], str]:
    """(names, "记者 X Y 通讯员 Z")."""
    groups = [("记者", [_name(rng) for _ in range(rng.choices((1, 2, 3), (65, 28, 7))[0])])]
    if rng.random() < 0.25:
        groups.append((rng.choice(["通讯员", "实习生"]), [_name(rng)]))
    names = [n for _, ns in groups for n in ns]
    return names, " ".join(f"{role} {' '.join(ns)}" for role, ns in groups)


def _paragraphs(rng: random.Random, context: str, max_chars: int) -> list[str]:
    paras, cur, total = [], "", 0
    for s in _sentences(context):
        if total + len(s) > max_chars and (paras or cur):
            break
        cur += s
        total += len(s)
        if rng.random() < 0.35:
            paras.append(cur)
            cur = ""
    if cur:
        paras.append(cur)
    return paras or [context[:max_chars]]


def _wrap(text: str, width: float, size: float, indent: float) -> list[tuple[str, bool]]:
    """(line, full) pairs; full lines are justified. No line starts with closing punctuation."""
    lines: list[tuple[str, bool]] = []
    cur: list[str] = []
    used, budget = 0.0, width - indent
    for ch in text:
        w = _unit_width(ch) * size
        if used + w > budget + 0.01 and cur:
            # closing punctuation may not start a line: the character before it moves down too
            carry = [cur.pop()] if ch in NO_LINE_START and len(cur) > 1 else []
            lines.append(("".join(cur), True))
            cur, budget = carry, width
            used = sum(_unit_width(x) for x in cur) * size
        cur.append(ch)
        used += w
    if cur:
        lines.append(("".join(cur), False))
    return lines


class _Style:
    def __init__(self, rng: random.Random, page_w: float, columns: int):
        self.body = rng.choice((8.5, 9.0, 9.5, 10.0))
        self.lead = self.body * rng.choice((1.45, 1.55, 1.65))
        self.gutter = self.body * rng.choice((1.2, 1.5, 2.0))
        self.margin = 36.0
        self.colw = (page_w - 2 * self.margin - (columns - 1) * self.gutter) / columns
        self.head = round(self.body * rng.uniform(1.8, 2.6), 1)
        self.kicker = round(self.body * 1.3, 1)

    def span_width(self, span: int) -> float:
        return span * self.colw + (span - 1) * self.gutter


def _body_lines(style: _Style, paras: list[str]) -> list[tuple[str, float, float]]:
    """(text, x offset, char space) of the column lines of the paragraphs."""
    out = []
    for para in paras:
        indent = 2 * style.body
        for i, (ln, full) in enumerate(_wrap(para, style.colw, style.body, indent)):
            x = indent if i == 0 else 0.0
            cs = 0.0
            if full and len(ln) > 1:
                cs = max(0.0, (style.colw - x - _width(ln, style.body)) / (len(ln) - 1))
            out.append((ln, x, cs))
    return out


def _flow(piece: _Piece, style: _Style, lines: list[tuple[str, float, float]], span: int, y: float) -> None:
    """Body lines down the first column and on into the next, balanced."""
    per_col = max(1, -(-len(lines) // span))
    for k, (text, dx, cs) in enumerate(lines):
        col, row = divmod(k, per_col)
        x = col * (style.colw + style.gutter) + dx
        piece.draws.append((x, y + (row + 1) * style.lead - (style.lead - style.body), text, style.body, cs))
    piece.height = max(piece.height, y + per_col * style.lead)


def _headline_lines(piece: _Piece, style: _Style, text: str, size: float, width: float, y: float,
                    center: bool) -> float:
    for ln, _ in _wrap(text, width, size, 0.0):
        w = _width(ln, size)
        x = (width - w) / 2 if center else 0.0
        y += size * 1.25
        piece.draws.append((x, y - size * 0.2, ln, size, 0.0))
    return y


def _article(rng: random.Random, style: _Style, span: int, budget: float, month: int, day: int,
             continuation: bool, ends_with_cont: bool) -> tuple[_Piece, TruthArticle, str] | None:
    title, context = rng.choice(_contexts())
    width = style.span_width(span)
    # chars that fill about budget height in span columns
    chars_per_line = max(4, int(style.colw / style.body))
    fit = int(budget / style.lead) * span * chars_per_line
    want = min(fit, rng.randint(150, 260 * span))
    for _ in range(12):
        piece = _Piece()
        paras = _paragraphs(random.Random(rng.random()), context, max(60, want))
        y = 0.0
        source: list[str] = []
        if continuation:
            head = None
            author = None
            paras = [f"（上接第{rng.randint(1, 4)}版）" + paras[0], *paras[1:]]
            body = "".join(paras)[len(re.match(r"（上接第\d+版）", paras[0]).group()):]
            source.extend(paras)
        else:
            head = _headline(rng, title, context)
            if rng.random() < 0.12:
                kicker = rng.choice(_clauses(context) or ["特别关注"])
                y = _headline_lines(piece, style, kicker, style.kicker, width, y, center=False)
                source.append(kicker)
            y = _headline_lines(piece, style, head, style.head, width, y, center=rng.random() < 0.5)
            source.append(head)
            y += style.body * 0.8
            names, inner = _byline(rng)
            author: str | None = " ".join(names)
            lead = rng.choices(["benbaoxun", "dateline", "standalone", "reporter", "none"], (35, 10, 20, 5, 30))[0]
            if lead == "benbaoxun":
                paras[0] = f"本报讯（{inner}）" + paras[0]
            elif lead == "dateline":
                paras[0] = f"本报{rng.choice(PLACES)}{month}月{day}日电（{inner}）" + paras[0]
            elif lead == "reporter":
                author = names[0]
                paras[0] = f"本报记者{names[0]}，" + paras[0]
            elif lead == "standalone":
                line = rng.choice([f"本报{inner}", f"■{inner}", inner])
                piece.draws.append((0.0, y + style.body, line, style.body, 0.0))
                y += style.lead
                source.append(line)
            else:
                author = None
            body = "".join(paras)
            source.extend(paras)
        lines = _body_lines(style, paras)
        if ends_with_cont:
            cont = f"（下转第{rng.randint(2, 9)}版）"
            lines.append((cont, style.colw - _width(cont, style.body), 0.0))
            source.append(cont)
        _flow(piece, style, lines, span, y)
        if piece.height <= budget:
            truth = TruthArticle(head, author, re.sub(r"\s+", "", body), "continuation" if continuation else "article",
                                 span)
            return piece, truth, "\n\n".join(source)
        want = int(want * 0.75)
        if want < 50:
            return None
    return None


def _photo(rng: random.Random, style: _Style, span: int, budget: float) -> tuple[_Piece, TruthArticle, str] | None:
    title, context = rng.choice(_contexts())
    width = style.span_width(span)
    piece = _Piece()
    head = _headline(rng, title, context)
    y = _headline_lines(piece, style, head, round(style.head * 0.8, 1), width, 0.0, center=True)
    photo_h = width * rng.uniform(0.45, 0.65)
    piece.boxes.append((0.0, y + 4, width, photo_h))
    y += photo_h + 8
    caption = "".join(_sentences(context)[: rng.randint(1, 2)])[:150]
    who = _name(rng)
    credit, author = rng.choice([(f"本报记者 {who} 摄影报道", who), (f"{who} 摄", None), (f"通讯员 {who} 摄", None)])
    for ln, full in _wrap(caption, width, style.body, 0.0):
        y += style.lead
        cs = max(0.0, (width - _width(ln, style.body)) / (len(ln) - 1)) if full and len(ln) > 1 else 0.0
        piece.draws.append((0.0, y - (style.lead - style.body), ln, style.body, cs))
    y += style.lead
    piece.draws.append((width - _width(credit, style.body), y - (style.lead - style.body), credit, style.body, 0.0))
    piece.height = y
    if piece.height > budget:
        return None
    return piece, TruthArticle(head, author, caption, "photo", span), f"{head}\n\n{caption}\n{credit}"


def make_page(seed: int, columns: int | None = None, size: str | None = None,
              out: Path | None = None, font_file: Path | None = None) -> tuple[PdfPage, bytes]:
    """One page: its truth and the PDF bytes (also written to ``out`` when given).
    ``font_file``: draw with this embedded TrueType face instead (for pages to
    be rendered to images), lines set by its widths."""
    _register()
    face = _register_face(str(font_file)) if font_file else FONT
    with _set_in(face):
        return _make_page(seed, columns, size, out, face)


def _make_page(seed: int, columns: int | None, size: str | None, out: Path | None,
               face: str) -> tuple[PdfPage, bytes]:
    from io import BytesIO

    from reportlab.pdfgen import canvas

    rng = random.Random(seed)
    columns = columns or rng.choice((3, 4, 4))
    size = size or rng.choice(("A4", "A3"))
    page_w, page_h = PAGE_SIZES[size]
    style = _Style(rng, page_w, columns)
    buf = BytesIO()
    c = canvas.Canvas(buf, pagesize=(page_w, page_h), pageCompression=1)
    c.setTitle(f"pdfgen {seed}")
    paper, month, day, page_no = rng.choice(PAPERS), rng.randint(1, 12), rng.randint(1, 28), rng.randint(2, 16)
    section = rng.choice(SECTIONS)
    m = style.margin

    def text_at(x: float, y_down: float, text: str, size_: float, cs: float = 0.0) -> None:
        c.setFont(face, size_)
        c.drawString(x, page_h - y_down, text, charSpace=cs)

    # header row and rule; footer rule and editors
    header = [(paper, 16.0), (f"2020年{month}月{day}日 星期{rng.choice('一二三四五六日')}", 9.0),
              (f"第{page_no}版", 9.0), (section, 12.0)]
    x = m
    for text, sz in header:
        text_at(x, m + 14, text, sz)
        x += _width(text, sz) + 24
    c.setLineWidth(1.2)
    c.line(m, page_h - (m + 22), page_w - m, page_h - (m + 22))
    editors = rng.choice([f"责任编辑：{_name(rng)}  版式设计：{_name(rng)}", f"本版编辑 {_name(rng)}  校对 {_name(rng)}"])
    text_at(m, page_h - m + 4, editors, 8.0)
    c.setLineWidth(0.6)
    c.line(m, m + 8, page_w - m, m + 8)

    truths: list[TruthArticle] = []
    sources: list[str] = []
    y = m + 34
    bottom = page_h - m - 16
    first = True
    cont_at_end = rng.random() < 0.25
    while bottom - y > 8 * style.lead:
        pattern = rng.choice(BANDS[columns])
        band_h = 0.0
        col = 0
        placed_any = False
        for s_i, span in enumerate(pattern):
            x0 = m + col * (style.colw + style.gutter)
            col += span
            stack = 2 if rng.random() < 0.25 else 1
            sy = y
            for k in range(stack):
                budget = min(bottom - sy, (bottom - y) * (0.6 if stack == 2 and k == 0 else 1.0))
                budget = min(budget, 26 * style.lead * (1 if span > 1 else 1.6))
                if budget < 6 * style.lead:
                    break
                if not first and rng.random() < 0.1:
                    made = _photo(rng, style, span, budget)
                else:
                    made = _article(rng, style, span, budget, month, day, continuation=first and rng.random() < 0.3,
                                    ends_with_cont=cont_at_end and bottom - y < 20 * style.lead and s_i == len(pattern) - 1)
                first = False
                if made is None:
                    continue
                piece, truth, source = made
                for dx, dy, text, sz, cs in piece.draws:
                    text_at(x0 + dx, sy + dy, text, sz, cs)
                c.setFillGray(0.8)
                for bx, by, bw, bh in piece.boxes:
                    c.rect(x0 + bx, page_h - (sy + by + bh), bw, bh, stroke=0, fill=1)
                c.setFillGray(0.0)
                truths.append(truth)
                sources.append(source)
                placed_any = True
                sy += piece.height + style.lead
                if k == 0 and stack == 2:
                    c.setLineWidth(0.4)
                    c.line(x0, page_h - (sy - style.lead / 2), x0 + style.span_width(span), page_h - (sy - style.lead / 2))
            band_h = max(band_h, sy - y)
        if not placed_any:
            break
        y += band_h + style.lead * 0.5
        c.setLineWidth(0.4)
        c.line(m, page_h - (y - style.lead * 0.5), page_w - m, page_h - (y - style.lead * 0.5))
        y += style.lead * 0.5
    c.showPage()
    c.save()
    data = buf.getvalue()
    page = PdfPage(truths, "\n\n".join([f"{paper}  2020年{month}月{day}日  第{page_no}版  {section}", *sources,
                                        editors]) + "\n", columns, size)
    if out is not None:
        out.write_bytes(data)
    return page, data


def make_articles_page(articles: list, seed: int = 0, columns: int = 4, size: str = "A3",
                       out: Path | None = None, font_file: Path | None = None) -> tuple[PdfPage, bytes]:
    """Given articles on one page (see ``_articles_page``), in the first style
    (type size, leading, gutter) from ``seed`` on that they fit in."""
    _register()
    face = _register_face(str(font_file)) if font_file else FONT
    for k in range(seed, seed + 50):
        try:
            with _set_in(face):
                return _articles_page(articles, k, columns, size, out, face)
        except ValueError:
            continue
    raise ValueError(f"{len(articles)} articles do not fit on one {size} page of {columns} columns")


def _articles_page(articles: list, seed: int, columns: int, size: str,
                   out: Path | None, face: str) -> tuple[PdfPage, bytes]:
    """Given articles (``PageArticle``s, e.g. what the plain-text segmenter
    read from a text page) laid out on one newspaper page in the generator's
    style: header and footer, each article's kicker and headline over its
    columns, its body flowing down them; an article continued from another
    page printed without headline, a photographer's credit under the body.
    Articles go, in order, where they end highest up, over one column or
    (longer than 600 characters) two. Raises ValueError when they do not fit."""
    from io import BytesIO

    from reportlab.pdfgen import canvas

    rng = random.Random(seed)
    page_w, page_h = PAGE_SIZES[size]
    style = _Style(rng, page_w, columns)
    buf = BytesIO()
    c = canvas.Canvas(buf, pagesize=(page_w, page_h), pageCompression=1)
    m = style.margin

    def text_at(x: float, y_down: float, text: str, size_: float, cs: float = 0.0) -> None:
        c.setFont(face, size_)
        c.drawString(x, page_h - y_down, text, charSpace=cs)

    paper = rng.choice(PAPERS)
    header = f"{paper}    2020年{rng.randint(1, 12)}月{rng.randint(1, 28)}日    第{rng.randint(2, 16)}版"
    text_at(m, m + 14, header, 11.0)
    c.setLineWidth(1.2)
    c.line(m, page_h - (m + 22), page_w - m, page_h - (m + 22))
    editors = f"责任编辑：{_name(rng)}"
    text_at(m, page_h - m + 4, editors, 8.0)
    c.setLineWidth(0.6)
    c.line(m, m + 8, page_w - m, m + 8)

    tops = [m + 34] * columns
    bottom = page_h - m - 16
    truths: list[TruthArticle] = []
    sources: list[str] = []
    for a in articles:
        paras = list(a.paragraphs)
        source: list[str] = []
        title = None if a.continued_from else a.title
        if title:
            source += [*a.kicker, title]
        elif a.continued_from:
            paras[0] = f"（{a.continued_from}）" + paras[0]

        def build(span: int) -> _Piece:
            piece = _Piece()
            width = style.span_width(span)
            y = 0.0
            if title:
                for kicker in a.kicker:
                    y = _headline_lines(piece, style, kicker, style.kicker, width, y, center=False)
                y = _headline_lines(piece, style, title, style.head, width, y, center=False)
                y += style.body * 0.8
            lines = _body_lines(style, paras)
            if a.photographer:
                credit = f"{a.photographer} 摄"
                lines.append((credit, style.colw - _width(credit, style.body), 0.0))
            _flow(piece, style, lines, span, y)
            return piece

        # the placement that ends highest up: one column, or two for a long article
        spans = (1, 2) if columns > 1 and sum(len(p) for p in paras) > 600 else (1,)
        options = []
        for span in spans:
            piece = build(span)
            for k in range(columns - span + 1):
                options.append((max(tops[k:k + span]) + piece.height, k, span, piece))
        _, col, span, piece = min(options, key=lambda o: (o[0], o[1]))
        x0 = m + col * (style.colw + style.gutter)
        y0 = max(tops[col:col + span])
        if y0 + piece.height > bottom:
            raise ValueError(f"article {a.title!r} does not fit on the page")
        for dx, dy, text, sz, cs in piece.draws:
            text_at(x0 + dx, y0 + dy, text, sz, cs)
        for k in range(col, col + span):
            tops[k] = y0 + piece.height + 1.5 * style.lead
        truths.append(TruthArticle(title, a.author, re.sub(r"\s+", "", "".join(a.paragraphs)),
                                   "continuation" if a.continued_from else "article", span))
        sources.append("\n\n".join([*source, *paras]))
    c.showPage()
    c.save()
    data = buf.getvalue()
    page = PdfPage(truths, "\n\n".join([header, *sources, editors]) + "\n", columns, size)
    if out is not None:
        out.write_bytes(data)
    return page, data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=3)
    ap.add_argument("--start", type=int, default=0, help="first seed")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for seed in range(args.start, args.start + args.pages):
        page, _ = make_page(seed, out=args.out / f"page_{seed:04d}.pdf")
        (args.out / f"page_{seed:04d}.truth.json").write_text(
            json.dumps([asdict(a) for a in page.articles], ensure_ascii=False, indent=1), encoding="utf-8")
        (args.out / f"page_{seed:04d}.txt").write_text(page.source_text, encoding="utf-8")
        print(f"page {seed}: {page.columns} columns {page.size}, {len(page.articles)} articles")


if __name__ == "__main__":
    main()
