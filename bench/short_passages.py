"""Does the reader's has-answer head believe a short passage? One-sentence news
briefs are common; CMRC paragraphs are long.

    .venv/bin/python bench/short_passages.py [--reader DIR ...] [--questions 120] [--backends onnx,numpy]

For every 10th question of CMRC 2018 dev (first ``--questions``) whose answer
sits in one sentence, the reader reads that sentence alone and the first 400
characters of its paragraph. It prints the mean has-answer logit of each, the
reader's not-found threshold (as a logit) and the share of each kind above it
— the share of lone answer sentences that would not be declined.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from _common import EVAL  # noqa: E402  (puts the repository on sys.path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reader", nargs="*", default=[], help="reader directories (default: the shipped one)")
    ap.add_argument("--questions", type=int, default=120)
    ap.add_argument("--backends", default="onnx,numpy")
    args = ap.parse_args()
    import numpy as np

    from retrieval.app import BUNDLED_READER, base_model_dir, quiet_libraries
    from retrieval.config import Config
    from retrieval.evaluate import load_items
    from retrieval.reader.augment import SENTENCE
    from retrieval.reader.model import Reader

    quiet_libraries()
    base_dir = base_model_dir(Config())
    items = load_items(EVAL)[1::10][: args.questions]
    pairs = []
    for it in items:
        ctx, answer = it.context, it.answers[0]
        at = ctx.find(answer)
        sent = next((m.group() for m in SENTENCE.finditer(ctx) if m.start() <= at < m.end()), "")
        if at >= 0 and answer in sent:
            pairs.append((it.question, it.title, sent, ctx[:400]))
    print(f"{len(pairs)} questions whose answer sits in one sentence")
    print(f"{'reader':24s} {'backend':8s} {'sentence':>9s} {'paragraph':>10s} {'threshold':>10s} "
          f"{'sentence>thr':>13s} {'paragraph>thr':>14s}")
    for d in args.reader or [str(BUNDLED_READER)]:
        for backend in args.backends.split(","):
            reader = Reader.load(Path(d), Config().embedding.model, base_dir, backend=backend)
            t = float(reader.manifest.calibration.get("no_answer_threshold", 0.5))
            thr = math.log(t / (1 - t))
            short = np.array([reader.read(q, [(ti, s)])[0].has_logit for q, ti, s, _ in pairs])
            long_ = np.array([reader.read(q, [(ti, p)])[0].has_logit for q, ti, _, p in pairs])
            print(f"{Path(d).name:24s} {backend:8s} {short.mean():9.2f} {long_.mean():10.2f} {thr:10.2f} "
                  f"{(short > thr).mean():13.3f} {(long_ > thr).mean():14.3f}")


if __name__ == "__main__":
    main()
