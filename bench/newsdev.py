"""newsqa on our own news dev set: questions about a month of People's Daily.

    .venv/bin/python bench/newsdev.py [--split all|even|odd] [--limit N] [--report OUT.jsonl]
        [--work DIR] [--questions FILE] [--build-only] [--reader DIR]
        [--no-answer-threshold P] [--stop-at P]

Archive: ../shared/archive/rmrb-2020-01 (never copied into the repository).
Questions: ../shared/newsdev/rmrb-2020-01-questions.jsonl, one JSON a line
(id, question, answers, answerable, file, kind, names_day, trap, split),
written blind: the set is never tuned against.

The index is built once with ./config.toml's settings, the corpus replaced
by the archive, under ~/.cache/newsqa/bench/newsdev-index (or --work) and
reused while the archive and the settings are unchanged (the index's own
staleness check, as `newsqa ask` does).

Printed, by split (even / odd / all), by kind, and names_day vs not:
  right+art  answerable questions answered right with the right article:
             the answer contains one expected answer and is at most 3× its
             length, and the answer's first source is the question's file
             (or a reprint of it indexed as the same article);
  art@1      answerable questions whose top-ranked article (after reading)
             is the question's file, answered or not;
  declined   unanswerable questions (traps) answered "not found";
  conf≥0.8   answers given with confidence ≥ 0.8 and the share right
             (an answer to a trap is wrong);
a reliability table (confidence bins → answers, share right), and how many
answers have two printings of one story (same headline and opening, or the
same text) among their top 5 sources (the answer's sources, then the ranked
articles): 0 wanted, reprints being indexed once.
Skips with a message (exit 0) when the archive or the questions are absent.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import SHARED, load_bench_config  # noqa: E402  (puts the repository on sys.path)

ARCHIVE = SHARED / "archive" / "rmrb-2020-01"
# The dev set is kept outside the repository (it quotes the archive): ../shared/newsdev, or
# ../newsqa-dev beside the checkout, or $NEWSQA_DEVSET.
DEVSET_DIRS = tuple(
    Path(d)
    for d in (
        os.environ.get("NEWSQA_DEVSET", ""),
        SHARED / "newsdev",
        Path(__file__).resolve().parents[1].parent / "newsqa-dev",
        "/root/newsqa-dev",
    )
    if str(d)
)
QUESTIONS = SHARED / "newsdev" / "rmrb-2020-01-questions.jsonl"
HIGH_CONFIDENCE = 0.8


@dataclass(frozen=True)
class DevQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    answerable: bool
    file: str  # relative to the archive folder, e.g. 20200109/20200109-04-02.txt
    kind: str
    names_day: bool
    trap: str
    split: str


@dataclass(frozen=True)
class Outcome:
    question: DevQuestion
    predicted: str
    found: bool
    confidence: float
    files: tuple[str, ...]  # the answer's source files, else the ranked articles' files
    alias_files: tuple[str, ...]  # the first article's other files (reprints indexed once)
    right: bool  # the answer text is right (never for a trap)
    right_article: bool  # the first source is the question's file
    article_at_1: bool  # the top-ranked article is the question's file, answered or not
    answerable: float = 0.0  # the no-answer score "found" was decided on (for choosing the threshold)
    duplicates: int = 0  # pairs of printings of one story among the top 5 sources (0 wanted)
    support: tuple[float, ...] = ()  # the verifier's features (Answer.support)

    def to_dict(self) -> dict[str, Any]:
        q = self.question
        return {"id": q.id, "split": q.split, "kind": q.kind, "names_day": q.names_day,
                "answerable": q.answerable, "predicted": self.predicted, "found": self.found,
                "confidence": round(self.confidence, 4), "files": list(self.files), "right": self.right,
                "right_article": self.right_article, "article_at_1": self.article_at_1,
                "answerable_score": round(self.answerable, 4), "duplicates": self.duplicates,
                "support": [round(x, 4) for x in self.support]}


@dataclass(frozen=True)
class Figures:
    """One group's figures; shares are None when the group has no such question."""

    answerable: int
    right_with_article: float | None
    right: float | None
    article_at_1: float | None
    traps: int
    traps_declined: float | None
    high_confidence: int
    high_confidence_right: float | None


def questions_file() -> Path | None:
    for p in (d / QUESTIONS.name for d in DEVSET_DIRS):
        if p.is_file():
            return p
    return None


def load_questions(path: Path) -> tuple[list[DevQuestion], int]:
    """The questions, and how many lines could not be read (the file may be
    growing while another process writes it: a half-written last line)."""
    out, bad = [], 0
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                out.append(DevQuestion(str(d["id"]), d["question"], tuple(d.get("answers") or ()),
                                       bool(d["answerable"]), d.get("file") or "", d.get("kind") or "",
                                       bool(d.get("names_day")), d.get("trap") or "", d.get("split") or ""))
            except (json.JSONDecodeError, KeyError, TypeError):
                bad += 1
    return out, bad


def is_right(predicted: str, answers: Iterable[str]) -> bool:
    """Contains an expected answer and is not much longer than it."""
    return any(a and a in predicted and len(predicted) <= 3 * len(a) for a in answers)


def same_file(indexed: str, wanted: str) -> bool:
    """Indexed files are named from the corpus folder (rmrb-2020-01/2020…/…txt);
    the set names them from inside it: compare the tails."""
    return bool(wanted) and (indexed == wanted or indexed.endswith("/" + wanted))


def archive_config(work: Path | None = None, reader: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    """./config.toml's settings with the archive as the corpus and an index of its own;
    ``reader``: [reader] settings to replace (path, no_answer_threshold, stop_at)."""
    from retrieval.config import CorpusConfig, IndexConfig

    cfg = load_bench_config()
    if reader:
        cfg = cfg.replace(reader=dataclasses.replace(cfg.reader, **reader))
    where = work or cfg.cache_dir / "bench" / "newsdev-index"
    # Always the embedded backend: a configured Milvus collection is the user's archive.
    index = IndexConfig(**{**cfg.index.__dict__, "path": str(Path(where).resolve()), "backend": "embedded"})
    return cfg.replace(corpus=dataclasses.replace(cfg.corpus, paths=(str(ARCHIVE),)), index=index)


def open_archive_qa(work: Path | None = None, note: Callable[[str], None] = print,  # type: ignore[no-untyped-def]
                    reader: dict[str, Any] | None = None):
    """The question answerer over the archive, built or refreshed first when needed."""
    from retrieval.app import open_qa

    return open_qa(archive_config(work, reader), note)


def ask(qa: Any, q: DevQuestion) -> Outcome:
    ans = qa.ask(q.question)
    ranked: list[Any] = []
    for h in ans.hits:
        if all(a.id != h.article.id for a in ranked):
            ranked.append(h.article)
    files = tuple(s.file for s in ans.sources) if ans.sources else tuple(a.file for a in ranked)
    first = next((a for a in ranked if ans.sources and a.id == ans.sources[0].article_id),
                 ranked[0] if ranked else None)
    aliases = tuple(first.also_in) if first is not None else ()
    top = (ranked[0].file,) + tuple(ranked[0].also_in) if ranked else ()
    right = q.answerable and ans.found and is_right(ans.text, q.answers)
    # The top 5 sources: the answer's, then the ranked articles after them.
    top5: list[Any] = []
    for aid in [src.article_id for src in ans.sources] + [a.id for a in ranked]:
        art = next((a for a in ranked if a.id == aid), None) or next(
            (h.article for h in ans.hits if h.article.id == aid), None)
        if art is not None and all(art.id != t.id for t in top5):
            top5.append(art)
    top5 = top5[:5]
    # One story printed twice: the same headline and the same opening, or the same text.
    keys = [(a.title, "".join(a.text.split())[:60]) for a in top5]
    texts = ["".join(a.text.split()) for a in top5]
    dups = sum(1 for i in range(len(top5)) for j in range(i + 1, len(top5))
               if keys[i] == keys[j] or texts[i] == texts[j])
    on_file = bool(ans.sources) and any(same_file(f, q.file) for f in (ans.sources[0].file,) + aliases)
    return Outcome(q, ans.text if ans.found else "", ans.found, ans.confidence, files, aliases, right,
                   right and on_file, any(same_file(f, q.file) for f in top), ans.answerable, dups,
                   ans.support)


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def figures(outcomes: list[Outcome]) -> Figures:
    ans = [o for o in outcomes if o.question.answerable]
    traps = [o for o in outcomes if not o.question.answerable]
    hi = [o for o in outcomes if o.found and o.confidence >= HIGH_CONFIDENCE]
    return Figures(len(ans), _share([o.right_article for o in ans]), _share([o.right for o in ans]),
                   _share([o.article_at_1 for o in ans]), len(traps), _share([not o.found for o in traps]),
                   len(hi), _share([o.right for o in hi]))


def groups(outcomes: list[Outcome]) -> list[tuple[str, list[Outcome]]]:
    out = [("all", outcomes)]
    for split in ("even", "odd"):
        out.append((f"split {split}", [o for o in outcomes if o.question.split == split]))
    for kind in sorted({o.question.kind for o in outcomes}):
        out.append((f"kind {kind or '?'}", [o for o in outcomes if o.question.kind == kind]))
    out.append(("names the day", [o for o in outcomes if o.question.names_day]))
    out.append(("no day named", [o for o in outcomes if not o.question.names_day]))
    return [(name, rows) for name, rows in out if rows]


def share_text(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def print_report(outcomes: list[Outcome]) -> None:
    import numpy as np

    from retrieval.reader.calibration import reliability

    print(f"{'group':24s} {'answerable':>10s} {'right+art':>9s} {'right':>6s} {'art@1':>6s} "
          f"{'traps':>6s} {'declined':>8s} {'conf≥0.8':>8s} {'right':>6s}")
    for name, rows in groups(outcomes):
        f = figures(rows)
        print(f"{name:24s} {f.answerable:10d} {share_text(f.right_with_article):>9s} {share_text(f.right):>6s} "
              f"{share_text(f.article_at_1):>6s} {f.traps:6d} {share_text(f.traps_declined):>8s} "
              f"{f.high_confidence:8d} "
              f"{share_text(f.high_confidence_right):>6s}")
    dup = [o for o in outcomes if o.duplicates]
    print(f"printed-twice stories: {len(dup)} of {len(outcomes)} answers have two printings of one story among "
          f"their top 5 sources ({sum(o.duplicates for o in outcomes)} pairs)")
    print("reliability (answers given; right = the answer text is right, traps answered count wrong):")
    for split in ("all", "even", "odd"):
        found = [o for o in outcomes if o.found and split in ("all", o.question.split)]
        if not found:
            continue
        table = reliability(np.array([o.confidence for o in found]), np.array([o.right for o in found], dtype=float))
        print(f"  {split:5s} " + "   ".join(f"{r['bin']} {r['answers']:4d} {r['share_right']:.3f}" for r in table))


def select(questions: list[DevQuestion], split: str, limit: int) -> list[DevQuestion]:
    if split != "all":
        questions = [q for q in questions if q.split == split]
    return questions[:limit] if limit else questions


def run(split: str = "all", limit: int = 0, work: Path | None = None, report: Path | None = None,
        note: Callable[[str], None] = print, questions_path: Path | None = None,
        reader: dict[str, Any] | None = None) -> list[Outcome] | None:
    """Ask the set (None when the archive or the questions are absent)."""
    path = questions_path or questions_file()
    if not ARCHIVE.is_dir() or path is None:
        return None
    questions, bad = load_questions(path)
    questions = select(questions, split, limit)
    if bad:
        note(f"{bad} unreadable line(s) in {path.name} left out")
    qa = open_archive_qa(work, note, reader)
    qa.warm_up()
    outcomes = [ask(qa, q) for q in questions]
    if report is not None:
        with report.open("w", encoding="utf-8") as f:
            for o in outcomes:
                f.write(json.dumps(o.to_dict(), ensure_ascii=False) + "\n")
    return outcomes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=["all", "even", "odd"], default="all")
    ap.add_argument("--limit", type=int, default=0, help="only the first N questions (after --split)")
    ap.add_argument("--report", default="", help="write one JSON row per question here")
    ap.add_argument("--work", default="", help="index folder (default: ~/.cache/newsqa/bench/newsdev-index)")
    ap.add_argument("--questions", default="", help="another questions file in the same format")
    ap.add_argument("--build-only", action="store_true", help="build or refresh the archive index, ask nothing")
    ap.add_argument("--reader", default="", help="reader directory instead of the configured one")
    ap.add_argument("--no-answer-threshold", type=float, default=None,
                    help="[reader] no_answer_threshold for this run (1e-6: answer everything, for "
                         "bench/choose_threshold.py)")
    ap.add_argument("--stop-at", type=float, default=None, help="[reader] stop_at for this run")
    args = ap.parse_args()
    reader: dict[str, Any] = {}
    if args.reader:
        reader["path"] = str(Path(args.reader).resolve())
    if args.no_answer_threshold is not None:
        reader["no_answer_threshold"] = args.no_answer_threshold
    if args.stop_at is not None:
        reader["stop_at"] = args.stop_at
    if not ARCHIVE.is_dir():
        print(f"skipped: needs {ARCHIVE} (the People's Daily archive)")
        return
    work = Path(args.work) if args.work else None
    if args.build_only:
        open_archive_qa(work)
        print("archive index ready")
        return
    path = Path(args.questions) if args.questions else questions_file()
    if path is None or not path.is_file():
        print(f"skipped: needs {path or QUESTIONS} (the news dev set)")
        return
    outcomes = run(args.split, args.limit, work, Path(args.report) if args.report else None,
                   note=lambda s: print(s, file=sys.stderr), questions_path=path, reader=reader)
    assert outcomes is not None
    print(f"{len(outcomes)} questions ({sum(o.question.answerable for o in outcomes)} answerable)")
    print_report(outcomes)


if __name__ == "__main__":
    main()
