"""Statements made from the news dev set, for measuring the sentence check of
LLM answers (retrieval/llm/check.py); run through bench/followups.py
--check-sentences. Nothing is written: the statements quote the archive.

For each answerable dev question, the passage is the 300 characters of its
article around the expected answer, after the headline and day (as the model is
shown passages), and the statements are:
  supported   the sentence holding the answer, as printed (a quote), and the
              question turned into a statement by putting the answer in place
              of its question word (a paraphrase: 谁带队检查了… → 李慧哲带队检查了…);
  unsupported each of those with a figure changed (a number or date: one digit
              moved up by one) when it has one, else with its answer swapped for
              the answer of another question of the same kind (another name,
              place, organisation…) that the passage does not contain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from newsdev import ARCHIVE, load_questions, questions_file

_END = re.compile(r"(?<=[。！？；])")


@dataclass(frozen=True)
class Statement:
    text: str
    passage: str
    supported: bool
    how: str  # quote | paraphrase | number | swap
    split: str


def _article(file: str) -> str:
    text = (ARCHIVE / file).read_text(encoding="utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\u3000", "")


def _bump_number(s: str, passage: str) -> str | None:
    for m in reversed(list(re.finditer(r"\d+", s))):
        digits = m.group()
        new = digits[:-1] + str((int(digits[-1]) + 1) % 10)
        if new not in re.findall(r"\d+", passage):
            return s[: m.start()] + new + s[m.end():]
    return None


def statements() -> list[Statement]:
    from retrieval.answer.rules import WH_PHRASE

    path = questions_file()
    assert path is not None
    qs = [q for q in load_questions(path)[0] if q.answerable]
    by_kind: dict[str, list[str]] = {}
    for q in qs:
        by_kind.setdefault(q.kind, []).append(q.answers[0])
    out: list[Statement] = []
    for q in qs:
        text = _article(q.file)
        ans = next((a for a in q.answers if a in text), None)
        if ans is None:
            continue
        at = text.index(ans)
        # As the model sees a passage: its headline and day first (retrieval/llm/grounded.py).
        day = re.search(r"(\d{4})(\d{2})(\d{2})", q.file)
        head = f"《{next((x.strip() for x in text.splitlines() if x.strip()), '')}》"
        if day:
            head += f" {int(day.group(1))}年{int(day.group(2))}月{int(day.group(3))}日"
        passage = head + "\n" + text[max(0, at - 150): at + len(ans) + 150]
        sent = next((s.strip() for s in _END.split(text) if ans in s), "")
        para = WH_PHRASE.sub(ans, q.question, count=1).rstrip("？?") + "。" if WH_PHRASE.search(q.question) else ""
        for how, st in (("quote", sent if sent and sent in passage else ""), ("paraphrase", para)):
            if not st:
                continue
            out.append(Statement(st, passage, True, how, q.split))
            bad = _bump_number(st, passage)
            kind = "number"
            if bad is None:
                other = next((a for a in by_kind[q.kind] if a != ans and a not in passage and a not in ans), None)
                bad = st.replace(ans, other, 1) if other and ans in st else None
                kind = "swap"
            if bad is not None and bad != st:
                out.append(Statement(bad, passage, False, kind, q.split))
    return out


def run_sentence_check(tokenizer) -> None:  # type: ignore[no-untyped-def]
    from retrieval.llm import check

    rows = statements()
    # Each statement cites its passage as [1], as the model is asked to.
    results = []
    for st in rows:
        claim = st.text
        ok, why, overlap = check.support(claim, st.passage, tokenizer)
        # The other two tests alone (numbers, names), for the threshold sweep.
        saved = check.MIN_OVERLAP
        check.MIN_OVERLAP = 0.0
        base_ok = check.support(claim, st.passage, tokenizer)[0]
        check.MIN_OVERLAP = saved
        results.append((st, ok, base_ok, overlap))
    print(f"statements: {len(rows)} ({sum(s.supported for s in rows)} supported, "
          f"{sum(not s.supported for s in rows)} unsupported)")
    print(f"{'min overlap':>11s} {'split':5s} {'supported kept':>16s} {'unsupported caught':>20s}")
    for t in (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        for sp in ("even", "odd"):
            rs = [r for r in results if r[0].split == sp]
            keep = [b and o >= t for s, _, b, o in rs if s.supported]
            catch = [not (b and o >= t) for s, _, b, o in rs if not s.supported]
            print(f"{t:11.1f} {sp:5s} {sum(keep) / len(keep):16.3f} {sum(catch) / len(catch):20.3f}")
    print(f"in use (MIN_OVERLAP = {check.MIN_OVERLAP}), by kind of statement:")
    for sp in ("even", "odd", "all"):
        rs = [r for r in results if sp in ("all", r[0].split)]
        parts = []
        for how in ("quote", "paraphrase", "number", "swap"):
            sel = [ok == s.supported for s, ok, _, _ in rs if s.how == how]
            if sel:
                parts.append(f"{how} {sum(sel)}/{len(sel)}")
        keep = [ok for s, ok, _, _ in rs if s.supported]
        catch = [not ok for s, ok, _, _ in rs if not s.supported]
        print(f"  {sp:5s} supported kept {sum(keep) / len(keep):.3f}, unsupported caught "
              f"{sum(catch) / len(catch):.3f}  ({', '.join(parts)} judged right)")
