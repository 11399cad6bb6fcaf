"""A training mix from more than CMRC 2018: real traditional text (DRCD),
translated news-like text (XQuAD zh), and questions that cannot be answered.

Each extra source is split by article (its title) into a part to train on and
a held-out part that is never trained on, so a paragraph is never on both sides
and the held-out part measures the reader on text like it but unseen.

Traditional text is stored as the reader reads it (``reader_text``: converted
to simplified, every character in place), so answer offsets stay valid and
training sees what answering sees.

Near-miss questions: a question naming a number that its paragraph also holds
("2011年…", "嫦娥五号…") is asked again with another number the paragraph does
not hold; the paragraph then does not answer it. These are written with
``answers: []`` and ``near_miss_start`` (where the original answer is, so
training reads the part of the paragraph that looks like an answer). A reader
trained only on answerable questions answered a question about 嫦娥五号 with
嫦娥四号's launch date, and a 2011 question with a 2019 figure.

Missing-sentence questions: the question kept, its paragraph without the
sentence that holds the answer (SQuAD 2.0's kind of unanswerable question: the
paragraph is about the same thing but does not say it). A newspaper trap is
often this — the article names the king's visit but not the king, gives the
award but not the runner-up — and a reader that only learnt from answerable
paragraphs picks the nearest span of the asked-for kind.
"""

from __future__ import annotations

import random
import re
import zlib

from retrieval.reader.features import reader_text

_CN_DIGITS = "一二三四五六七八九十"
# A number in a question: Arabic digits, or a Chinese numeral before a counter that names a thing
# (嫦娥五号, 第三届, 十四五).
_NUMBER = re.compile(r"\d+|(?<=第)[一二三四五六七八九十]+|(?<![哪几每这那同单])[一二三四五六七八九十](?=号|届|期|代|次|世|艘|级)")


def article_held_out(title: str, salt: str, share: float) -> bool:
    """Whether an article (by title) is in the held-out part; stable across runs."""
    return (zlib.crc32((salt + title).encode()) % 10_000) < share * 10_000


def split_by_article(rows: list[dict], salt: str, share: float) -> tuple[list[dict], list[dict]]:
    train, held = [], []
    for r in rows:
        (held if article_held_out(r.get("title") or r["context_id"], salt, share) else train).append(r)
    return train, held


def as_read(r: dict) -> dict:
    """A record with its text as the reader reads it (traditional → simplified
    in place); answers re-read from the converted context at their offsets."""
    ctx = reader_text(r["context"])
    answers, starts = [], []
    for a, s in zip(r["answers"], r.get("answer_starts") or [-1] * len(r["answers"])):
        if s is not None and s >= 0 and r["context"][s : s + len(a)] == a:
            answers.append(ctx[s : s + len(a)])
            starts.append(s)
        else:
            conv = reader_text(a)
            answers.append(conv)
            starts.append(ctx.find(conv))
    return {**r, "question": reader_text(r["question"]), "context": ctx,
            "title": reader_text(r.get("title") or ""), "answers": answers, "answer_starts": starts}


def _other_number(num: str, rng: random.Random) -> str:
    if num.isdigit():
        for _ in range(20):
            if len(num) == 4 and num[:2] in ("19", "20"):  # a year: a nearby other year
                new = str(int(num) + rng.choice([-3, -2, -1, 1, 2, 3, 5, 10]))
            else:
                k = rng.randrange(len(num))
                new = num[:k] + rng.choice([d for d in "0123456789" if d != num[k]]) + num[k + 1:]
                if new[0] == "0" and len(new) > 1:
                    continue
            if new != num:
                return new
        return ""
    k = rng.randrange(len(num))
    return num[:k] + rng.choice([d for d in _CN_DIGITS[:9] if d != num[k]]) + num[k + 1:]


def near_miss_questions(rows: list[dict], seed: int = 0, limit: int = 0) -> list[dict]:
    """For questions holding a number that their paragraph holds too (outside
    the answer), the same question with another number that the paragraph does
    not hold: unanswerable from that paragraph."""
    rng = random.Random(seed)
    out: list[dict] = []
    for r in rows:
        ctx, q = r["context"], r["question"]
        answers = [a for a in r["answers"] if a]
        start = next((s for s in r.get("answer_starts") or [] if s is not None and s >= 0), -1)
        if start < 0 or not answers:
            continue
        cands = [m for m in _NUMBER.finditer(q)
                 if m.group() in ctx and not any(m.group() in a for a in answers)]
        if not cands:
            continue
        m = rng.choice(cands)
        new = _other_number(m.group(), rng)
        if not new or new in ctx:
            continue
        out.append({"id": f"NEARMISS_{r['id']}", "question": q[: m.start()] + new + q[m.end():],
                    "answers": [], "answer_starts": [], "near_miss_start": start,
                    "context_id": r["context_id"], "context": ctx, "title": r.get("title", "")})
    if 0 < limit < len(out):
        out = rng.sample(out, limit)
    return out


_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])")


def missing_sentence_questions(rows: list[dict], share: float, seed: int = 0) -> list[dict]:
    """For ``share`` of the answerable questions, the same question over its
    paragraph with the answer's sentence cut out (``answers: []``,
    ``near_miss_start`` where the sentence was, so training reads the text
    around the gap). Kept only when no answer text is left in the paragraph
    and enough of it remains to be read as an article about the same thing."""
    rng = random.Random(seed)
    out: list[dict] = []
    for r in rows:
        answers = [a for a in r["answers"] if a]
        start = next((s for s in r.get("answer_starts") or [] if s is not None and s >= 0), -1)
        if start < 0 or not answers or rng.random() >= share:
            continue
        ctx = r["context"]
        pos = 0
        for sent in _SENTENCE_END.split(ctx):
            end = pos + len(sent)
            if pos <= start < end:
                break
            pos = end
        else:
            continue
        rest = ctx[:pos] + ctx[end:]
        if len(rest) < 60 or any(a in rest for a in answers):
            continue
        out.append({"id": f"CUT_{r['id']}", "question": r["question"], "answers": [], "answer_starts": [],
                    "near_miss_start": min(pos, len(rest) - 1), "context_id": f"CUT_{r['context_id']}_{len(out)}",
                    "context": rest, "title": r.get("title", "")})
    return out


# Characters that begin names but are far more often function words: 于 (于发科 / 于1998年), 任
# (任永禄 / 任副局长), 本 (本溪 / 本次), 自 (自贡 / 自1月起), 向, 和, 安, 从, 万, 成. A reader
# trained on Wikipedia learnt to start after them: asked who, it answered 发科 for 于发科 and
# 永禄 for 任永禄 (the start head's choice; the tokens are single characters, and neither the
# trim head, the re-scorer nor the tidy step moved the edge).
EDGE_CHARS = "于任本自向和安从万成"
_ASKS_ENTITY = re.compile(r"谁|哪位|哪个人|什么人|哪座|哪个城市|哪个地方|哪个县|哪个区|哪个镇|哪个省|哪里|什么地方")
_CJK_NAME = re.compile(r"^[\u4e00-\u9fff]{2,5}$")


def edge_name_questions(rows: list[dict], limit: int, seed: int = 0) -> list[dict]:
    """Questions asking for a person or place whose answer is a short name,
    with the name's first character replaced, throughout the paragraph, by one
    of ``EDGE_CHARS``: the same question, now about a name that begins with a
    character the reader otherwise reads as a preposition."""
    rng = random.Random(seed)
    cands = [r for r in rows if r["answers"] and _ASKS_ENTITY.search(r["question"])
             and _CJK_NAME.match(r["answers"][0]) and r["answers"][0] in r["context"]
             and r["answers"][0][0] not in EDGE_CHARS]
    rng.shuffle(cands)
    out: list[dict] = []
    for r in cands:
        if len(out) >= limit:
            break
        old = r["answers"][0]
        new = rng.choice(EDGE_CHARS) + old[1:]
        if new in r["context"] or old in r["question"]:
            continue
        ctx = r["context"].replace(old, new)
        out.append({**r, "id": f"EDGENAME_{r['id']}", "context": ctx, "answers": [new],
                    "answer_starts": [ctx.find(new)], "context_id": f"EDGENAME_{r['context_id']}_{len(out)}"})
    return out


def build_mix(sources: list[tuple[str, list[dict], int]], seed: int = 0,
              near_miss: float = 0.5, edge_names: int = 0, missing_sentence: float = 0.0) -> list[dict]:
    """``sources``: (name, rows, sample) — ``sample`` rows of each (0: all),
    converted to how the reader reads them, ids and context ids prefixed with
    the source's name so they never collide; plus near-miss questions for
    ``near_miss`` of the questions that allow one, and ``edge_names``
    questions about names that begin with a preposition-like character, and
    missing-sentence questions for ``missing_sentence`` of the answerable ones."""
    rng = random.Random(seed)
    out: list[dict] = []
    for name, rows, sample in sources:
        part = rng.sample(rows, sample) if 0 < sample < len(rows) else list(rows)
        for r in part:
            c = as_read(r)
            c["id"] = f"{name}:{r['id']}"
            c["context_id"] = f"{name}:{r['context_id']}"
            out.append(c)
    misses = near_miss_questions(out, seed=seed + 1)
    misses = rng.sample(misses, int(len(misses) * near_miss)) if near_miss < 1 else misses
    answerable = [r for r in out if r["answers"]]
    out += (misses + edge_name_questions(answerable, edge_names, seed=seed + 2)
            + missing_sentence_questions(answerable, missing_sentence, seed=seed + 3))
    rng.shuffle(out)
    return out
