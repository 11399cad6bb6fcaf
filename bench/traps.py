"""Unanswerable questions made from a held-out QA file, for measuring (and
fitting the not-found verifier on) how often the reader declines what its
paragraph does not say.

    .venv/bin/python bench/traps.py --from ../shared/eval/cmrc2018_dev.jsonl --out TRAPS.jsonl [--limit N]

Two kinds, written as one `newsqa eval` file (answers: []), each question over
a paragraph that does not answer it:

  cut   the question over its paragraph with the answer's sentence cut out
        (retrieval/reader/mix.py missing_sentence_questions): the article is
        about the same thing but does not say it, like a newspaper trap that
        asks a detail the article leaves out;
  near  the question with a number it names changed to one its paragraph does
        not hold (near_miss_questions: 嫦娥四号 → 嫦娥五号, 2016年 → 2019年).

A paragraph serves at most one question (a cut and the full paragraph, or two
cuts, side by side in one index would answer each other). Use held-out files
only (CMRC 2018 dev, the DRCD part `newsqa reader mix` holds out), never
training data. Nothing here is stored in the repository.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from _common import ROOT  # noqa: F401  (puts the repository on sys.path)

from retrieval.reader.mix import as_read, missing_sentence_questions, near_miss_questions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from", dest="src", required=True, help="a held-out QA file (newsqa eval format)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--limit", type=int, default=0, help="at most N traps (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows = [as_read(json.loads(x)) for x in Path(args.src).read_text(encoding="utf-8").splitlines() if x.strip()]
    by_ctx: dict[str, list[dict]] = {}
    for r in rows:
        by_ctx.setdefault(r["context_id"], []).append(r)
    rng = random.Random(args.seed)
    out: list[dict] = []
    for cid in sorted(by_ctx):
        qs = by_ctx[cid][:]
        rng.shuffle(qs)
        made = None
        for kind in rng.sample(["cut", "near"], 2):
            for q in qs:
                got = (missing_sentence_questions([q], 1.0, seed=args.seed) if kind == "cut"
                       else near_miss_questions([q], seed=args.seed))
                if got:
                    made = dict(got[0], kind=kind)
                    break
            if made:
                break
        if made:
            # The context id stays the paragraph's own when the paragraph is read whole (near), and is
            # the cut paragraph's otherwise; answer_starts stays empty.
            made.pop("near_miss_start", None)
            out.append(made)
    rng.shuffle(out)
    if 0 < args.limit < len(out):
        out = out[: args.limit]
    Path(args.out).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out), encoding="utf-8")
    kinds = {k: sum(1 for r in out if r["kind"] == k) for k in ("cut", "near")}
    print(f"{args.out}: {len(out)} unanswerable questions from {len(by_ctx)} paragraphs of {args.src} "
          f"({kinds['cut']} with the answer's sentence cut, {kinds['near']} with a number changed)")


if __name__ == "__main__":
    main()
