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


def build_mix(sources: list[tuple[str, list[dict], int]], seed: int = 0,
              near_miss: float = 0.5) -> list[dict]:
    """``sources``: (name, rows, sample) — ``sample`` rows of each (0: all),
    converted to how the reader reads them, ids and context ids prefixed with
    the source's name so they never collide; plus near-miss questions for
    ``near_miss`` of the questions that allow one."""
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
    out += misses
    rng.shuffle(out)
    return out
