"""Follow-up questions: newsqa's conversation memory on the follow-up dev set.

    .venv/bin/python bench/followups.py [--split odd|even|all] [--work DIR] [--fit] [--standalone]
        [--overhead] [--check-sentences] [--misses]

Needs ../shared/archive/rmrb-2020-01 and the dev set (rmrb-2020-01-followups.jsonl,
rmrb-2020-01-questions.jsonl; see bench/newsdev.py for where it is looked for);
skips with a message otherwise. Prints:

  --fit          the "leans on the previous turn" model fitted on the even half
                 (with --split even: the even half alone, and a 5-fold check within it)
                 (leaning follow-ups against standalone ones, the first turns and
                 the single-question set's even half, each with the article of the
                 question before it, answered alone, as its context) and how it and
                 simpler rules classify the odd half; paste the weights into
                 retrieval/conversation.py (WEIGHTS);
  (default)      two-turn conversations of --split (default odd, the held-out
                 half): first turns right, leaning follow-ups answered right with
                 the right article (the dev set's rule: contains an expected answer,
                 at most 3× its length, first source = the conversation's file),
                 the same follow-ups asked alone (no memory), standalone second
                 questions answered from their own article (file2) and not from the
                 first turn's; the memory's overhead per question (median ms of
                 deciding, rewriting and remembering, over the whole run);
                 with --misses, each leaning follow-up missed: its id, kind,
                 cause, the question as searched and read, the answer and the
                 expected one (error analysis; on the tuning half);
  --standalone   the single-question dev set (--split) asked alone and asked as
                 one long conversation (each question after the previous one):
                 right+art both ways, traps (unanswerable questions) declined
                 both ways, and how many were taken for follow-ups;
  --overhead     the memory's cost per follow-up of --split in CPU time (deciding,
                 rewriting, framing, picking key words; five times over);
  --check-sentences  the sentence check of LLM answers (retrieval/llm/check.py):
                 supported statements (quoted or paraphrased from the answer's
                 sentence) kept and unsupported ones (a changed name, number or
                 date) caught, on statements made from the dev questions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _common import SHARED  # noqa: F401  (puts the repository on sys.path)
from newsdev import ARCHIVE, DEVSET_DIRS, is_right, load_questions, open_archive_qa, questions_file, same_file

FOLLOWUPS = "rmrb-2020-01-followups.jsonl"


@dataclass(frozen=True)
class FollowUp:
    id: str
    first: str
    first_answers: tuple[str, ...]
    followup: str
    followup_answers: tuple[str, ...]
    file: str
    file2: str
    kind: str
    split: str

    @property
    def leans(self) -> bool:
        return self.kind != "standalone"


def followups_file() -> Path | None:
    return next((d / FOLLOWUPS for d in DEVSET_DIRS if (d / FOLLOWUPS).is_file()), None)


def load_followups(path: Path) -> list[FollowUp]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            out.append(FollowUp(d["id"], d["first"], tuple(d["first_answers"]), d["followup"],
                                tuple(d["followup_answers"]), d["file"], d.get("file2", ""), d["kind"], d["split"]))
    return out


def answer_file(ans) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    """The first source's file and the files its article was also printed in."""
    if not ans.found or not ans.sources:
        return ()
    s = ans.sources[0]
    art = next((h.article for h in ans.hits if h.article.id == s.article_id), None)
    return (s.file,) + (tuple(art.also_in) if art is not None else ())


def right_with(ans, answers: tuple[str, ...], file: str) -> bool:  # type: ignore[no-untyped-def]
    return ans.found and is_right(ans.text, answers) and any(same_file(f, file) for f in answer_file(ans))


def share(flags: list[bool]) -> str:
    return f"{sum(flags)}/{len(flags)} = {sum(flags) / len(flags):.3f}" if flags else "–"


# ---------------------------------------------------------------- the lean decision

def fit(qa, fus: list[FollowUp], splits: tuple[str, ...] = ("even", "odd")) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from retrieval.config import ConversationConfig
    from retrieval.conversation import (FEATURES, THRESHOLD, WEIGHTS, Chat, Conversation, lean_probability,
                                        previous_context, question_features)

    qpath = questions_file()
    singles = [q for q in (load_questions(qpath)[0] if qpath else []) if q.split in splits]
    fus = [f for f in fus if f.split in splits]
    # Each question's context is the article of the question before it, answered on its own: a
    # follow-up's first turn; for a first turn, the previous conversation's first turn (as if asked
    # without starting over); for a single question, the one before it in the set.
    alone = Chat(qa, ConversationConfig(enabled=False))

    def context_after(question: str) -> str:
        conv = Conversation()
        alone.ask(conv, question)
        assert conv.previous is not None
        return previous_context(conv.previous)

    rows: list[tuple[str, str, str, bool, str]] = []  # (split, group, question, leans, context)
    firsts = {f.id: context_after(f.first) for f in fus}
    for split in splits:  # each half on its own: the even half's fit is the same with or without the odd
        context = ""
        for f in (f for f in fus if f.split == split):
            rows.append((f.split, "follow-up" if f.leans else "standalone", f.followup, f.leans, firsts[f.id]))
            rows.append((f.split, "first", f.first, False, context))
            context = firsts[f.id]
        context = ""
        for q in (q for q in singles if q.split == split):
            rows.append((q.split, "single", q.question, False, context))
            context = context_after(q.question)
    feats = [question_features(q, qa.tokenizer, qa.index.doc_freq, c) for _, _, q, _, c in rows]
    train = [(f, r[3]) for f, r in zip(feats, rows) if r[0] == "even"]
    x = np.array([f for f, _ in train])
    y = np.array([float(v) for _, v in train])

    def logistic(x, y):  # type: ignore[no-untyped-def]
        w_pos = 0.5 / max(y.mean(), 1e-9)
        w_neg = 0.5 / max(1 - y.mean(), 1e-9)
        sw = np.where(y > 0, w_pos, w_neg)
        w = np.zeros(x.shape[1])
        for _ in range(4000):  # class-weighted logistic regression, light L2
            p = 1 / (1 + np.exp(-x @ w))
            w -= 0.5 * ((x.T @ (sw * (p - y))) / len(y) + 0.01 * np.r_[0, w[1:]])
        return w

    w = logistic(x, y)
    w_own = logistic(x[:, :-1], y)  # the question alone, as before the previous article counted
    print("fitted on the even half:", ", ".join(f"{n} {v:+.2f}" for n, v in zip(FEATURES, w)))
    # Five-fold cross-validation within the even half: choosing features without the odd half.
    folds = np.arange(len(y)) % 5
    cv = np.zeros(len(y), dtype=bool)
    for k in range(5):
        wk = logistic(x[folds != k], y[folds != k])
        cv[folds == k] = (1 / (1 + np.exp(-x[folds == k] @ wk)) >= THRESHOLD) == (y[folds == k] > 0)
    print(f"even half, 5-fold: leaning caught {share(list(cv[y > 0]))}, others kept {share(list(cv[y == 0]))}")
    print("in use (retrieval/conversation.py):", ", ".join(f"{n} {v:+.2f}" for n, v in zip(FEATURES, WEIGHTS)))

    def rule(name: str):  # type: ignore[no-untyped-def]
        return {
            "pronoun|ellipsis|why": lambda f: f[1] or f[2] or f[3],
            "…|no entity": lambda f: f[1] or f[2] or f[3] or f[4],
            "…|no entity|few words": lambda f: f[1] or f[2] or f[3] or f[4] or f[5],
            "fitted now": lambda f: lean_probability(f, tuple(w)) >= THRESHOLD,
            "fitted without in_previous": lambda f: lean_probability(f[:-1], tuple(w_own)) >= THRESHOLD,
            "in use": lambda f: lean_probability(f) >= THRESHOLD,
        }[name]

    print(f"{'decision':26s} {'split':5s} {'leaning caught':>18s} {'standalone f-u kept':>20s} "
          f"{'first turns kept':>18s} {'single qs kept':>18s}")
    for name in ("pronoun|ellipsis|why", "…|no entity", "…|no entity|few words", "fitted without in_previous",
                 "fitted now", "in use"):
        decide = rule(name)
        for split in splits:
            got = [(bool(decide(f)), r[1]) for f, r in zip(feats, rows) if r[0] == split]
            lean = [d for d, g in got if g == "follow-up"]
            stand = [not d for d, g in got if g == "standalone"]
            first = [not d for d, g in got if g == "first"]
            single = [not d for d, g in got if g == "single"]
            print(f"{name:26s} {split:5s} {share(lean):>18s} {share(stand):>20s} {share(first):>18s} {share(single):>18s}")


# ---------------------------------------------------------------- conversations

MISS_CAUSES = (
    "not taken for a follow-up",
    "first turn's article is not the conversation's (or none)",
    "read in the right article: not found there",
    "read in the right article: span too long (3x rule)",
    "read in the right article: another span",
    "answered from another article",
)


def miss_cause(f: FollowUp, leaned: bool, topic, ans) -> str:  # type: ignore[no-untyped-def]
    """Why a leaning follow-up was not answered right with the right article,
    the first cause that applies (in MISS_CAUSES' order)."""
    if not leaned:
        return MISS_CAUSES[0]
    if topic is None or not any(same_file(x, f.file) for x in (topic.file,) + tuple(topic.also_in)):
        return MISS_CAUSES[1]
    if not ans.found:
        return MISS_CAUSES[2]
    if not any(same_file(x, f.file) for x in answer_file(ans)):
        return MISS_CAUSES[5]
    if any(a and a in ans.text for a in f.followup_answers):
        return MISS_CAUSES[3]
    return MISS_CAUSES[4]


def conversations(qa, fus: list[FollowUp], misses: bool = False) -> None:  # type: ignore[no-untyped-def]
    from retrieval.config import ConversationConfig
    from retrieval.conversation import Chat, Conversation

    chat = Chat(qa, ConversationConfig())
    first_ok, lean_ok, lean_alone, stand_ok, stand_pulled, taken = [], [], [], [], [], []
    lean_given_first: list[bool] = []
    overhead: list[float] = []
    by_kind: dict[str, list[bool]] = {}
    causes: dict[str, int] = {}
    for f in fus:
        conv = Conversation()
        a1 = chat.ask(conv, f.first).answer
        first_ok.append(right_with(a1, f.first_answers, f.file))
        topic = conv.previous.article if conv.previous else None
        t0 = time.perf_counter()
        search, leaning = chat.rewrite(conv, f.followup)
        t_rewrite = time.perf_counter() - t0
        c = chat.ask(conv, f.followup)
        # What the memory costs: deciding and rewriting, and remembering the turn (no reading).
        t0 = time.perf_counter()
        chat.remember(Conversation(), f.followup, c.search_question, c.answer, None)
        overhead.append((t_rewrite + time.perf_counter() - t0) * 1000)
        a2 = c.answer
        taken.append(c.follow_up == f.leans)
        if f.leans:
            ok = right_with(a2, f.followup_answers, f.file)
            lean_ok.append(ok)
            if first_ok[-1]:
                lean_given_first.append(ok)
            by_kind.setdefault(f.kind, []).append(ok)
            if not ok:
                cause = miss_cause(f, c.follow_up, topic, a2)
                causes[cause] = causes.get(cause, 0) + 1
                if misses:
                    print(f"  miss {f.id} [{f.kind}] {cause}: {f.followup} -> "
                          f"{a2.text if a2.found else '(not found)'} (expected {' / '.join(f.followup_answers)}); "
                          f"searched {c.search_question!r}" + (f", read {c.read_question!r}" if c.read_question else ""))
            lean_alone.append(right_with(qa.ask(f.followup), f.followup_answers, f.file))
        else:
            stand_ok.append(right_with(a2, f.followup_answers, f.file2))
            stand_pulled.append(any(same_file(x, f.file) for x in answer_file(a2)))
    print(f"conversations: {len(fus)} ({sum(f.leans for f in fus)} leaning follow-ups, "
          f"{sum(not f.leans for f in fus)} standalone)")
    print(f"  first turns right with the right article:      {share(first_ok)}")
    print(f"  leaning follow-ups right with the right article: {share(lean_ok)}")
    print(f"    …of those whose first turn was right:        {share(lean_given_first)}")
    for kind, flags in sorted(by_kind.items()):
        print(f"    {kind:10s} {share(flags)}")
    print("  leaning follow-ups missed, by cause:")
    for cause in MISS_CAUSES:
        print(f"    {cause:58s} {causes.get(cause, 0)}")
    print(f"  the same follow-ups asked alone (no memory):   {share(lean_alone)}")
    print(f"  standalone second questions right (own article): {share(stand_ok)}")
    print(f"  standalone second questions answered from the first turn's article: {share(stand_pulled)}")
    print(f"  follow-up decision right:                      {share(taken)}")
    overhead.sort()
    p90 = overhead[int(0.9 * (len(overhead) - 1))]
    print(f"  memory overhead per question: median {statistics.median(overhead):.2f} ms, "
          f"p90 {p90:.2f} ms, max {overhead[-1]:.2f} ms ({len(overhead)} questions)")


def overhead(qa, fus: list[FollowUp], rounds: int = 5) -> None:  # type: ignore[no-untyped-def]
    """The memory's cost per follow-up in CPU time (not wall clock, which a busy machine's scheduling
    dominates): deciding whether it leans (with the previous article), rewriting it for search, putting
    an elliptic one in its frame and picking its key words, ``rounds`` times over every follow-up."""
    from retrieval.config import ConversationConfig
    from retrieval.conversation import Chat, Conversation, frame_question, key_terms

    chat = Chat(qa, ConversationConfig())
    convs = []
    for f in fus:
        conv = Conversation()
        chat.ask(conv, f.first)
        convs.append((conv, f.followup))
    times = []
    for _ in range(rounds):
        for conv, q in convs:
            t0 = time.process_time()
            _, leaning = chat.rewrite(conv, q)
            if leaning and conv.previous is not None:
                frame_question(q, conv.previous.read or conv.previous.question, qa.tokenizer)
            key_terms(q, qa.tokenizer, qa.index.doc_freq, chat.cfg.key_terms)
            times.append((time.process_time() - t0) * 1000)
    times.sort()
    at = lambda share: times[int(share * (len(times) - 1))]  # noqa: E731
    print(f"memory overhead per follow-up, CPU time ({len(fus)} follow-ups x {rounds}): median "
          f"{statistics.median(times):.2f} ms, p90 {at(0.9):.2f} ms, p99 {at(0.99):.2f} ms, max {times[-1]:.2f} ms")


def standalone(qa, split: str) -> None:  # type: ignore[no-untyped-def]
    from retrieval.config import ConversationConfig
    from retrieval.conversation import Chat, Conversation

    qpath = questions_file()
    assert qpath is not None
    qs = [q for q in load_questions(qpath)[0] if split in ("all", q.split)]
    chat = Chat(qa, ConversationConfig())
    conv = Conversation()
    alone, inconv, taken, changed = [], [], 0, 0
    traps_alone, traps_inconv = [], []
    for q in qs:
        a = qa.ask(q.question)
        c = chat.ask(conv, q.question)
        taken += c.follow_up
        changed += (a.text, a.found) != (c.answer.text, c.answer.found)
        if q.answerable:
            alone.append(right_with(a, q.answers, q.file))
            inconv.append(right_with(c.answer, q.answers, q.file))
        else:  # a trap: its answer is not in the archive, "not found" is right
            traps_alone.append(not a.found)
            traps_inconv.append(not c.answer.found)
    print(f"single-question dev set ({split}): {len(qs)} questions, {len(alone)} answerable")
    print(f"  right+art asked alone:                   {share(alone)}")
    print(f"  right+art asked as one long conversation: {share(inconv)}")
    print(f"  traps declined asked alone:              {share(traps_alone)}")
    print(f"  traps declined in one long conversation: {share(traps_inconv)}")
    print(f"  taken for follow-ups: {taken}; answers that changed: {changed}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=["all", "even", "odd"], default="odd")
    ap.add_argument("--work", default="", help="archive index folder (default: bench/newsdev.py's)")
    ap.add_argument("--fit", action="store_true")
    ap.add_argument("--standalone", action="store_true")
    ap.add_argument("--check-sentences", action="store_true")
    ap.add_argument("--overhead", action="store_true")
    ap.add_argument("--misses", action="store_true", help="print each leaning follow-up missed")
    args = ap.parse_args()
    path = followups_file()
    if not ARCHIVE.is_dir() or path is None:
        print(f"skipped: needs {ARCHIVE} and {FOLLOWUPS} (the news dev set)")
        return
    fus = load_followups(path)
    if args.check_sentences:
        from sentence_set import run_sentence_check

        from retrieval.index.lexical import Tokenizer

        run_sentence_check(Tokenizer())
        return
    qa = open_archive_qa(Path(args.work) if args.work else None, note=lambda s: print(s, file=sys.stderr))
    qa.warm_up()
    if args.fit:
        fit(qa, fus, ("even",) if args.split == "even" else ("even", "odd"))
    elif args.standalone:
        standalone(qa, args.split)
    elif args.overhead:
        overhead(qa, [f for f in fus if args.split in ("all", f.split)])
    else:
        conversations(qa, [f for f in fus if args.split in ("all", f.split)], args.misses)


if __name__ == "__main__":
    main()
