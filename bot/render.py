"""Answers → Telegram messages.

Text is built as blocks of styled runs, never as HTML strings, so that
splitting a long reply can only happen between runs or inside a run's text:
every message is rendered from whole blocks and is balanced by construction.
All corpus and user text is escaped exactly once, in ``_render_run``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

from retrieval.types import Answer, Article, Hit, Source

if TYPE_CHECKING:
    from retrieval.archive import Day, DayPage, Headline
    from retrieval.conversation import ChatAnswer

# Telegram's limit is 4096 UTF-16 code units of message text. The HTML source is
# never shorter than the text Telegram shows, so keeping the source under the
# limit is always safe.
MAX_MESSAGE = 4096

_SENTENCE_CUT = re.compile(r"(?<=[。！？!?；;\n])")
_CLAUSE_CUT = re.compile(r"(?<=[，,、：:])")


@dataclass(frozen=True)
class Run:
    text: str
    style: str = ""  # "" | "b" | "i"


@dataclass(frozen=True)
class Block:
    runs: tuple[Run, ...]
    quote: bool = False  # an expandable blockquote


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _render_run(run: Run, as_html: bool) -> str:
    if not as_html:
        return run.text
    text = html.escape(run.text, quote=False)
    return f"<{run.style}>{text}</{run.style}>" if run.style else text


def render_block(block: Block, as_html: bool = True) -> str:
    body = "".join(_render_run(r, as_html) for r in block.runs)
    if block.quote:
        return f"<blockquote expandable>{body}</blockquote>" if as_html else _indent(body)
    return body


def _indent(text: str) -> str:
    return "\n".join("┃ " + line for line in text.split("\n"))


def _pieces(text: str) -> list[str]:
    """``text`` cut after sentence ends, long sentences after clause marks."""
    out: list[str] = []
    for sent in _SENTENCE_CUT.split(text):
        if len(sent) > 200:
            out.extend(p for p in _CLAUSE_CUT.split(sent) if p)
        elif sent:
            out.append(sent)
    return out


def _split_block(block: Block, limit: int, as_html: bool) -> list[Block]:
    """A block too long for one message → several blocks of the same kind."""
    atoms: list[Run] = []
    for run in block.runs:
        for piece in _pieces(run.text):
            # A single clause longer than a message is cut where it must be.
            step = max(1, limit // 4)
            atoms.extend(Run(piece[i : i + step], run.style) for i in range(0, len(piece), step))
    parts: list[list[Run]] = [[]]
    for atom in atoms:
        trial = Block(tuple(parts[-1] + [atom]), block.quote)
        if parts[-1] and utf16_len(render_block(trial, as_html)) > limit:
            parts.append([atom])
        else:
            parts[-1].append(atom)
    return [Block(tuple(_merge(p)), block.quote) for p in parts if p]


def _merge(runs: list[Run]) -> list[Run]:
    merged: list[Run] = []
    for r in runs:
        if merged and merged[-1].style == r.style:
            merged[-1] = Run(merged[-1].text + r.text, r.style)
        else:
            merged.append(r)
    return merged


SEPARATOR = "\n\n"


def pack_groups(blocks: Sequence[Block], as_html: bool = True, limit: int = MAX_MESSAGE) -> list[list[Block]]:
    """Group ``blocks`` into as few messages as fit, each at most ``limit``
    UTF-16 units once rendered, breaking between blocks first and inside a
    block (at sentences, then clauses) only when it is too long on its own."""
    groups: list[list[Block]] = []
    size = 0
    for block in blocks:
        parts = [block] if utf16_len(render_block(block, as_html)) <= limit else _split_block(block, limit, as_html)
        for part in parts:
            n = utf16_len(render_block(part, as_html))
            if groups and size + len(SEPARATOR) + n <= limit:
                groups[-1].append(part)
                size += len(SEPARATOR) + n
            else:
                groups.append([part])
                size = n
    return groups


def render_group(group: Sequence[Block], as_html: bool = True) -> str:
    return SEPARATOR.join(render_block(b, as_html) for b in group)


def pack(blocks: Sequence[Block], as_html: bool = True, limit: int = MAX_MESSAGE) -> list[str]:
    return [render_group(g, as_html) for g in pack_groups(blocks, as_html, limit)]


# ------------------------------------------------------------------ content

def printed_at(date: str | None, page: int | None,
               also: Iterable[tuple[str | None, int | None]] = ()) -> str | None:
    """Where a newspaper printed it: "第1版", "第1、4版" (the same text on two
    pages), "第1版，又见2020-01-10第4版" (on another day); None when the page is unknown."""
    if page is None:
        return None
    same = [p for d, p in also if p is not None and (d == date or d is None) and p != page]
    other = [f"{d}第{p}版" for d, p in also if p is not None and d is not None and d != date]
    text = f"第{'、'.join(str(p) for p in [page, *dict.fromkeys(same)])}版"
    return text + (f"，又见{'、'.join(other)}" if other else "")


def citation(source: Source | None = None, *, title: str = "", author: str | None = None,
             date: str | None = None, paragraph: int | None = None, page: int | None = None,
             also_printed: Iterable[tuple[str | None, int | None]] = ()) -> str:
    """《标题》 作者 · 日期 · 第N版 · 第N段 — the parts that are known."""
    if source is not None:
        title, author, date, paragraph = source.title, source.author, source.date, source.paragraph
        page, also_printed = source.page, source.also_printed
    meta = " · ".join(x for x in (author, date, printed_at(date, page, also_printed),
                                  f"第{paragraph}段" if paragraph else None) if x)
    return f"《{title}》 {meta}".rstrip()


# Beside an answer more likely wrong than right (Answer.unsure): the reader should check the quote.
UNSURE_NOTE = "（把握不大：请对照下面的原文核实）"


def day_note(answer: Answer) -> str:
    """How the question's relative days were read ("昨天", "上周三" count from the newest issue in the
    index, not from today): "" when it named none."""
    parts = []
    for d in answer.days:
        if d.relative:
            span = d.start if d.start == d.end else f"{d.start} 至 {d.end}"
            parts.append(f"“{d.text}”= {span}")
    return "（按库中最新一期推算：" + "；".join(parts) + "）" if parts else ""


def closest_titles(answer: Answer, n: int = 3) -> list[str]:
    titles: list[str] = []
    for h in answer.hits:
        if h.article.title not in titles:
            titles.append(h.article.title)
    return titles[:n]


def answer_blocks(answer: Answer) -> list[Block]:
    note = day_note(answer)
    if not answer.found:
        blocks = [Block((Run("抱歉，已收录的文章里没有提到这个问题，我不想编一个答案给你。"),))]
        if note:
            blocks.append(Block((Run(note, "i"),)))
        titles = closest_titles(answer)
        if titles:
            blocks.append(Block((Run("最接近的文章："),) + tuple(Run(f"\n• 《{t}》") for t in titles)))
        return blocks
    blocks = [Block((Run("答："), Run(answer.text, "b")))]
    if answer.unsure:
        blocks.append(Block((Run(UNSURE_NOTE, "i"),)))
    if note:
        blocks.append(Block((Run(note, "i"),)))
    for s in answer.sources:
        blocks.append(Block((Run(s.quote + "\n"), Run(citation(s), "i")), quote=True))
    return blocks


def paragraph_blocks(source: Source, article: Article) -> list[Block]:
    """The whole paragraph a quote came from, the quote itself in bold."""
    para = article.paragraphs[source.paragraph - 1] if 0 < source.paragraph <= len(article.paragraphs) else ""
    head = Block((Run(citation(source), "b"),))
    at = para.find(source.quote) if para else -1
    if at < 0:
        # A quote can run past its paragraph's end; show the article text around it instead.
        text = article.text
        at = text.find(source.quote)
        lo = text.rfind("\n", 0, max(at, 0)) + 1 if at >= 0 else 0
        hi = text.find("\n", at + len(source.quote)) if at >= 0 else -1
        para = text[lo : hi if hi >= 0 else len(text)]
        at = para.find(source.quote)
    if at < 0:
        return [head, Block((Run(para),))]
    runs = (Run(para[:at]), Run(source.quote, "b"), Run(para[at + len(source.quote):]))
    return [head, Block(tuple(r for r in runs if r.text))]


def more_blocks(hits: Iterable[Hit]) -> list[Block]:
    blocks = [Block((Run("更多相关段落："),))]
    for h in hits:
        cite = citation(title=h.article.title, author=h.article.author, date=h.article.date,
                        paragraph=h.chunk.paragraph, page=h.article.page, also_printed=h.article.also_printed)
        blocks.append(Block((Run(h.chunk.text + "\n"), Run(cite, "i")), quote=True))
    return blocks


def extra_hits(answer: Answer, n: int = 5) -> list[Hit]:
    """Retrieved passages the answer does not already quote (one per article)."""
    cited = {s.article_id for s in answer.sources}
    out: list[Hit] = []
    for h in answer.hits:
        if h.article.id in cited:
            continue
        cited.add(h.article.id)
        out.append(h)
        if len(out) >= n:
            break
    return out


# ------------------------------------------------------------------ a day's paper

def day_heading(day: Day) -> str:
    y, m, d = day.date.split("-")
    return f"{y}年{int(m)}月{int(d)}日 · {len(day.pages)} 个版面 · {day.articles} 篇文章"


def page_name(page: DayPage) -> str:
    name = f"第{page.page}版" if page.page is not None else "版次不详"
    return f"{name} · {page.section}" if page.section else name


# A subtitle can be a whole summary; a day's list shows its start.
SUBTITLE_SHOWN = 40


def headline_text(h: Headline) -> str:
    """《标题》——副题 with the kicker before it, as the paper printed them."""
    sub = (h.subtitle or "").lstrip("—-― ")
    if len(sub) > SUBTITLE_SHOWN:
        sub = sub[:SUBTITLE_SHOWN] + "…"
    text = (f"{h.kicker} " if h.kicker else "") + f"《{h.title}》" + (f"——{sub}" if sub else "")
    return text + (f"（同第{h.repeat_of}版）" if h.repeat_of is not None else "")


def day_lines(day: Day) -> list[str]:
    """The day for a terminal: a heading, then each page's headlines."""
    lines = [day_heading(day)]
    for page in day.pages:
        lines.append(page_name(page))
        lines.extend(f"  {i}. {headline_text(h)}" for i, h in enumerate(page.headlines, 1))
    return lines


def day_blocks(day: Day) -> list[Block]:
    """The day for Telegram: one block a page, so a long day splits between pages."""
    blocks = [Block((Run(day_heading(day), "b"),))]
    for page in day.pages:
        runs = [Run(page_name(page), "b")]
        runs.extend(Run(f"\n{i}. {headline_text(h)}") for i, h in enumerate(page.headlines, 1))
        blocks.append(Block(tuple(runs)))
    return blocks


def chat_answer_blocks(reply: ChatAnswer) -> list[Block]:
    """An answer in a conversation: the language model's checked sentences when
    any passed the check (the extractive answer's quotes below, as always);
    else the extractive answer, after the one-line warning when the model was
    asked and failed."""
    g = reply.grounded
    base = answer_blocks(reply.answer)
    if g is None:
        return base
    if not g.used:
        return [Block((Run("⚠️ " + g.warning, "i"),))] + base
    head = [Run("答："), Run(g.text, "b")]
    dropped = len(g.sentences) - len(g.supported)
    if dropped:
        head.append(Run(f"\n（删去了 {dropped} 句原文中核实不了的话）", "i"))
    head.append(Run(f"\n摘出的答案：{reply.answer.text}"))
    return [Block(tuple(head))] + base[1:]
