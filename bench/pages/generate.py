"""Lay out real articles as newspaper-page text, with the ground truth per article.

    .venv/bin/python bench/pages/generate.py --split tune --pages 3 --out /tmp/pages

Articles: the CMRC 2018 train contexts and their titles
(../shared/train/cmrc2018_train_contexts.jsonl, CC BY-SA 4.0, from Chinese
Wikipedia via the CMRC 2018 data set). Leads, bylines, credits, kickers and page
furniture are generated. A page looks the way extracted page text looks
(see data/000_*.txt): columns wrapped at a fixed width with the first line of
each paragraph two characters short (the indent is lost), blank lines at column
breaks, stray spaces after punctuation, headlines above / below / far from their
article, run together or several in a row, photo stories with credits,
continuations and page headers / footers.

The "tune" split draws its articles from the first 80% of the contexts and its
layouts from seeds 0.., the "held-out" split from the last 20% and seeds
100000..; the segmenter's weights are fitted on tune pages only.
Everything is deterministic given (split, page number).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTEXTS = ROOT.parent / "shared" / "train" / "cmrc2018_train_contexts.jsonl"

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶贺顾毛郝龚邵钱严武戴孔汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红鑫蕾冰燕欣宇浩然涵晨阳佳琪思雨梦婷雪梅海波建国志文斌路曼艺禄程慧哲"
PAPERS = ["北京日报", "劳动午报", "城市晚报", "江南时报", "滨海日报", "晨光报", "工人日报", "都市快报"]
SECTIONS = ["要闻", "社会", "健康生活", "社区新闻", "文化", "体育", "国际", "经济", "科技前沿", "城市", "综合新闻", "副刊"]
PLACES = ["北京", "上海", "广州", "成都", "武汉", "西安", "南京", "杭州"]
WEEKDAYS = "一二三四五六日"
SQUEEZABLE = "，。、；：“”‘’（）《》"
NO_LINE_START = "，。、；：？！）”』」》…"
ROLE_WORDS = ["记者", "通讯员", "实习生", "见习记者", "特约记者", "摄影"]


@dataclass
class TruthArticle:
    title: str | None  # None for a continuation printed without its headline
    author: str | None  # names separated by one space, roles dropped
    body: str  # the printed body text, no layout whitespace
    kind: str = "article"  # article | photo | continuation
    # how it was laid out, for grouping errors: headline placement, lead style
    placement: str = ""
    lead: str = ""


@dataclass
class Page:
    text: str
    articles: list[TruthArticle]
    # one label per non-blank line: header, section, kicker, title, lead, byline,
    # credit, cont, body_first, body
    line_labels: list[tuple[str, str]] = field(default_factory=list)
    # per labelled line, the index in ``articles`` of the article it was laid out for (-1: none)
    line_articles: list[int] = field(default_factory=list)


@lru_cache(maxsize=1)
def _contexts() -> list[tuple[str, str]]:
    rows = []
    with CONTEXTS.open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            title = re.sub(r"\s*[（(][^）)]*[）)]\s*$", "", r["title"]).strip()
            rows.append((title, r["context"]))
    return rows


def split_contexts(split: str) -> list[tuple[str, str]]:
    rows = _contexts()
    cut = len(rows) * 4 // 5
    return rows[:cut] if split == "tune" else rows[cut:]


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _sentences(text: str) -> list[str]:
    parts = re.findall(r"[^。！？]*[。！？]+[”」』）]?|[^。！？]+$", text)
    return [p.strip() for p in parts if p.strip()]


def _clauses(text: str) -> list[str]:
    return [c for c in re.split(r"[，。；！？、：“”（）「」《》\s]", text) if 4 <= len(c) <= 12
            and re.fullmatch(r"[\u4e00-\u9fff0-9]+", c)]


def _headline(rng: random.Random, title: str, context: str) -> str:
    clauses = _clauses(context[:300]) or ["最新消息"]
    clause = rng.choice(clauses)
    t = title if len(title) <= 16 else title[:16]
    forms = [
        lambda: t if len(t) >= 5 else f"{t}{clause}",
        lambda: f"{t}{clause}" if len(t) < 10 else t,
        lambda: f"{t}：{clause}",
        lambda: f"{clause}——{t}",
        lambda: f"{t}，{clause}",
        lambda: f"{clause}？{t}",
        lambda: f"{t}！{clause}",
        lambda: f"“{t}”{clause}",
        lambda: f"{t}、{clause}",
        lambda: f"{t}；{clause}",
        lambda: f"{t} {clause}",
        lambda: clause if len(clause) >= 6 else f"{clause}{t}",
        # ending in a question or exclamation mark, as many headlines do
        lambda: f"{t}？",
        lambda: f"{t}：{clause}！",
    ]
    weights = [26, 18, 8, 4, 5, 3, 3, 6, 3, 2, 6, 6, 3, 2]
    h = rng.choices(forms, weights)[0]()
    return h[:30]


def _byline(rng: random.Random) -> tuple[list[str], str, str]:
    """(names, lead-style byline inside brackets, standalone byline line)."""
    groups: list[tuple[str, list[str]]] = []
    n_groups = rng.choices((1, 2, 3), (70, 25, 5))[0]
    roles = ["记者"] + rng.sample(ROLE_WORDS[1:], 2)
    for g in range(n_groups):
        groups.append((roles[g], [_name(rng) for _ in range(rng.choices((1, 2, 3), (65, 28, 7))[0])]))
    names = [n for _, ns in groups for n in ns]
    inner = " ".join(f"{role} {' '.join(ns)}" for role, ns in groups)
    prefix = rng.choice(["本报", "", "本报"]) if groups[0][0] == "记者" else ""
    standalone = rng.choice([f"{prefix}{inner}", f"■{prefix}{inner}", f"文/{' '.join(names)}"]) \
        if len(groups) == 1 else f"{prefix}{inner}"
    return names, inner, standalone


def _width(ch: str, squeeze: bool = False) -> int:
    if ch.isspace():
        return 0
    # typesetters squeeze Chinese punctuation to half width on many pages
    return 1 if ch.isascii() or (squeeze and ch in SQUEEZABLE) else 2


def _wrap(para: str, cols: int, squeeze: bool = False) -> list[str]:
    """Column lines of one paragraph: 2*cols half-width units, the first line 4 short."""
    lines, cur, used = [], [], 0
    budget = 2 * cols - 4
    for ch in para:
        w = _width(ch, squeeze)
        # no line starts with closing punctuation: it hangs at the end of the line above
        if used + w > budget and cur and ch not in NO_LINE_START:
            lines.append("".join(cur))
            cur, used, budget = [], 0, 2 * cols
        cur.append(ch)
        used += w
    if cur:
        lines.append("".join(cur))
    return lines


def _stray_spaces(rng: random.Random, line: str) -> str:
    out = []
    for i, ch in enumerate(line):
        out.append(ch)
        if i == len(line) - 1:
            break
        if ch in "，。、；：）”？" and rng.random() < 0.35:
            out.append(" ")
        elif ch in "（“" and rng.random() < 0.1:
            out.insert(len(out) - 1, " ")
        elif rng.random() < 0.006:
            out.append(" ")
    s = "".join(out)
    return s + (" " if rng.random() < 0.05 else "")


def _doubled(text: str) -> str:
    return "".join(ch * 2 for ch in text)


class _Layout:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.lines: list[tuple[str, str]] = []  # (text, label); label "" = blank line
        self.owners: list[int] = []  # per line, the truth article being laid out (-1: none)
        self.article = -1
        self.since_break = 0
        self.break_every = rng.randint(6, 24)
        self.squeeze = rng.random() < 0.5

    def blank(self) -> None:
        if self.lines and self.lines[-1][1]:
            self.lines.append(("", ""))
            self.owners.append(-1)
            self.since_break = 0

    def add(self, text: str, label: str, flow: bool = False) -> None:
        if flow:
            self.since_break += 1
            if self.since_break >= self.break_every:
                self.blank()
                self.break_every = self.rng.randint(6, 24)
        self.lines.append((text, label))
        self.owners.append(self.article)

    def body(self, paras: list[str], cols: int, first_prefix: str = "") -> None:
        for p_i, para in enumerate(paras):
            if p_i and self.rng.random() < 0.3:
                self.blank()
            text = (first_prefix + para) if p_i == 0 else para
            for l_i, ln in enumerate(_wrap(text, cols, self.squeeze)):
                self.add(_stray_spaces(self.rng, ln), "body_first" if l_i == 0 else "body", flow=True)


def _paragraphs(rng: random.Random, context: str, max_chars: int) -> list[str]:
    sents = _sentences(context)
    paras, cur, total = [], "", 0
    for s in sents:
        if total + len(s) > max_chars and paras:
            break
        cur += s
        total += len(s)
        if rng.random() < 0.4:
            paras.append(cur)
            cur = ""
    if cur:
        paras.append(cur)
    return paras or [context[:max_chars]]


def make_page(split: str, number: int) -> Page:
    seed = number if split == "tune" else 100000 + number
    rng = random.Random(seed)
    pool = split_contexts(split)
    lay = _Layout(rng)
    truths: list[TruthArticle] = []
    paper, month, day = rng.choice(PAPERS), rng.randint(1, 12), rng.randint(1, 28)
    section = rng.choice(SECTIONS)
    page_no = rng.randint(2, 16)

    header = rng.random() < 0.7
    if header:
        style = rng.randrange(3)
        if style == 0:
            lay.add(f"{paper}  2020年{month}月{day}日  星期{rng.choice(WEEKDAYS)}", "header")
            lay.add(f"第{page_no}版  {section}", "header")
        elif style == 1:
            lay.add(f"{page_no:02d}  {section}  {paper}", "header")
        else:
            lay.add(f"2020年{month}月{day}日  {section}  第{page_no}版", "header")
        lay.blank()

    n_articles = rng.randint(4, 8)
    # headline placement per article
    placements = rng.choices(["above", "below", "top", "bottom", "together"], (62, 12, 7, 7, 12), k=n_articles)
    kinds = rng.choices(["article", "photo"], (88, 12), k=n_articles)
    starts_with_cont = rng.random() < 0.15
    ends_with_cont = rng.random() < 0.2
    specs = []
    # distinct contexts: two copies of one text on a page could not be told apart by anyone
    for title, context in rng.sample(pool, n_articles):
        specs.append((title, context, _headline(rng, title, context)))

    top_heads = [specs[k][2] for k in range(n_articles) if placements[k] == "top"]
    bottom_heads = [specs[k][2] for k in range(n_articles) if placements[k] == "bottom"]
    # "together": the headline is printed run into the next article's headline line
    together: dict[int, str] = {}
    for k in range(n_articles):
        if placements[k] == "together":
            target = k + rng.choice((1, 2))
            if target < n_articles and placements[target] == "above" and kinds[target] == "article" \
                    and target not in together:
                together[target] = specs[k][2]
            else:
                placements[k] = "above"

    if rng.random() < 0.3:
        lay.add(rng.choice(SECTIONS), "section")
    for h in top_heads:
        lay.add(h, "title")
    if top_heads:
        lay.blank()

    if starts_with_cont:
        used = {c for _, c, _ in specs}
        context = next(c for _, c in iter(lambda: rng.choice(pool), None) if c not in used)
        paras = _paragraphs(rng, context, rng.randint(150, 500))
        cols = rng.randint(11, 17)
        lay.article = len(truths)
        lay.add(f"（上接第{rng.randint(1, 4)}版）", "cont")
        lay.body(paras, cols)
        truths.append(TruthArticle(None, None, "".join(paras), "continuation", "none", "cont"))
        lay.blank()

    for k in range(n_articles):
        title, context, head = specs[k]
        lay.article = len(truths)
        cols = rng.randint(11, 17)
        if rng.random() < 0.08:
            lay.add(rng.choice(SECTIONS), "section")
            lay.blank()
        if kinds[k] == "photo":
            caption = "".join(_sentences(context)[: rng.randint(1, 2)])[:160]
            # a photo's headline sits over it (or with the top / bottom headlines)
            placements[k] = "above" if placements[k] in ("together", "below") else placements[k]
            if placements[k] == "above":
                if rng.random() < 0.5:
                    d = _doubled(head)
                    if len(head) > 8 and rng.random() < 0.5:
                        cut = len(head) // 2 * 2
                        lay.add(d[:cut], "title")
                        lay.add(d[cut:], "title")
                    else:
                        lay.add(d, "title")
                else:
                    lay.add(head, "title")
            lay.body([caption], cols)
            who = _name(rng)
            style = rng.randrange(4)
            if style == 0:
                lay.add(f"本报记者 {who} 摄影报道", "credit")
                author = who
            elif style == 1:
                lay.add(f"{who} 摄", "credit")
                author = None
            elif style == 2:
                lay.add(f"通讯员 {who} 摄", "credit")
                author = None
            else:
                lay.add(f"本报记者 {who} 摄", "credit")
                author = None
            truths.append(TruthArticle(head, author, caption, "photo", placements[k], f"credit{style}"))
            lay.blank()
            continue

        paras = _paragraphs(rng, context, rng.randint(200, 800))
        names, inner, standalone = _byline(rng)
        lead_style = rng.choices(["benbaoxun", "benbaoxun_bare", "dateline", "standalone", "standalone_wrap",
                                  "reporter_lead", "none"], (30, 6, 8, 14, 6, 6, 30))[0]
        if placements[k] == "above":
            if rng.random() < 0.12:
                kick = rng.choice(_clauses(context) or ["关注"])
                lay.add(kick + (" " + rng.choice(_clauses(context[100:]) or ["特别报道"]) if rng.random() < 0.5 else ""),
                        "kicker")
            if k in together:
                pair = [together[k], head] if rng.random() < 0.5 else [head, together[k]]
                lay.add("".join(pair), "title")
            else:
                lay.add(head, "title")
            if rng.random() < 0.4:
                lay.blank()
        author: str | None = " ".join(names)
        prefix = ""
        if lead_style == "benbaoxun":
            prefix = rng.choice(["本报讯（{}） ", "本报讯 （{}） ", "本报讯（{}）"]).format(inner)
        elif lead_style == "benbaoxun_bare":
            prefix, author = "本报讯 ", None
        elif lead_style == "dateline":
            prefix = f"本报{rng.choice(PLACES)}{month}月{day}日电（{inner}）"
        elif lead_style == "reporter_lead":
            names = names[:1]
            author = names[0]
            prefix = f"本报记者{names[0]}，"
        elif lead_style in ("standalone", "standalone_wrap"):
            if lead_style == "standalone_wrap" and len(standalone) > 8:
                # the line breaks anywhere after the first role and name, even inside a name
                lo = max(len(standalone) // 2, standalone.find(" ") + 3)
                cut = rng.randint(lo, len(standalone) - 2) if lo <= len(standalone) - 2 else 0
                while cut > lo and (standalone[cut - 1] == " " or standalone[cut] == " "):
                    cut -= 1
                if standalone.find(" ") > 0 and cut >= lo and standalone[cut] != " ":
                    lay.add(standalone[:cut], "byline")
                    lay.add(standalone[cut:], "byline")
                else:
                    lay.add(standalone, "byline")
            else:
                lay.add(standalone, "byline")
        else:
            author = None
        lay.body(paras, cols, prefix)
        body = prefix + "".join(paras)
        if rng.random() < 0.1:
            who = _name(rng)
            text, label = lay.lines[-1]
            lay.lines[-1] = (f"{text} {who} 摄", label)
        if ends_with_cont and k == n_articles - 1:
            lay.add(f"（下转第{rng.randint(2, 9)}版）", "cont")
        if placements[k] == "below":
            lay.blank()
            lay.add(head, "title")
        truths.append(TruthArticle(head, author, re.sub(r"\s+", "", body), "article",
                                   "pair_host" if k in together else placements[k], lead_style))
        lay.blank()

    lay.article = -1
    for h in bottom_heads:
        lay.add(h, "title")
    if rng.random() < 0.6:
        lay.blank()
        ed = _name(rng)
        lay.add(rng.choice([f"责任编辑：{ed}  版式设计：{_name(rng)}", f"本版编辑 {ed}  美编 {_name(rng)}  校对 {_name(rng)}",
                            f"责任编辑 {ed}"]), "header")

    text = "\n".join(t for t, _ in lay.lines) + "\n"
    labels = [(t, lab) for t, lab in lay.lines if lab]
    owners = [o for (_, lab), o in zip(lay.lines, lay.owners) if lab]
    return Page(text, truths, labels, owners)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("tune", "held-out"), default="tune")
    ap.add_argument("--pages", type=int, default=3)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    for n in range(args.start, args.start + args.pages):
        page = make_page(args.split, n)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{args.split}_{n:03d}.txt").write_text(page.text, encoding="utf-8")
            (args.out / f"{args.split}_{n:03d}.truth.json").write_text(json.dumps(
                [a.__dict__ for a in page.articles], ensure_ascii=False, indent=1), encoding="utf-8")
        else:
            sys.stdout.write(page.text + "\n" + "=" * 40 + "\n")


if __name__ == "__main__":
    main()
