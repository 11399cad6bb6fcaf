"""Traditional-character articles against simplified ones, end to end.

    .venv/bin/python bench/traditional.py [--split odd] [--limit 800]

Writes a traditional copy of CMRC 2018 dev (questions, contexts, titles and
answers converted with zhconv to zh-tw, Taiwan usage: 公尺 for 米, 軟體 for
软件), runs `newsqa eval` on both copies with the same split and limit, and
prints the two side by side, plus the questions whose context holds a word
that converts back to simplified with another length (the case the reader's
character-for-character conversion is for). The reader learnt from simplified
text; the gap between the rows is what traditional input costs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from _common import EVAL, ROOT  # noqa: E402  (puts the repository on sys.path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="odd", choices=["all", "even", "odd"])
    ap.add_argument("--limit", type=int, default=800)
    args = ap.parse_args()
    import zhconv

    out = ROOT / ".newsqa" / "bench" / "traditional"
    out.mkdir(parents=True, exist_ok=True)
    trad = out / "cmrc2018_dev.zh-tw.jsonl"
    shifted: set[str] = set()
    with EVAL.open(encoding="utf-8") as src, trad.open("w", encoding="utf-8") as dst:
        for line in src:
            d = json.loads(line)
            tw = {k: zhconv.convert(d[k], "zh-tw") for k in ("question", "context", "title") if k in d}
            d.update(tw, answers=[zhconv.convert(a, "zh-tw") for a in d["answers"]])
            d.pop("answer_starts", None)  # positions move where a word changes length
            if len(zhconv.convert(d["context"], "zh-cn")) != len(d["context"]):
                shifted.add(d["id"])
            dst.write(json.dumps(d, ensure_ascii=False) + "\n")

    rows = {}
    for name, path in (("simplified", EVAL), ("traditional", trad)):
        report = out / f"{name}.report.jsonl"
        cmd = [sys.executable, "-m", "bot.cli", "eval", str(path), "--split", args.split,
               "--limit", str(args.limit), "--json", "--report", str(report)]
        print(f"{name}: {' '.join(cmd[2:])}", file=sys.stderr)
        summary = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout)
        per_q = [json.loads(x) for x in report.read_text(encoding="utf-8").splitlines()]
        hit = [q for q in per_q if q["id"] in shifted]
        rows[name] = (summary, hit)

    print("\n(last two columns: the questions whose context has a word that converts to another length)")
    print(f"{'':12s} {'questions':>9s} {'F1':>7s} {'EM':>7s} {'R@1':>7s} {'p50 ms':>7s} {'those':>6s} {'F1':>7s}")
    for name, (s, hit) in rows.items():
        f1 = sum(q["f1"] for q in hit) / len(hit) if hit else float("nan")
        print(f"{name:12s} {s['questions']:9d} {s['f1']:7.2f} {s['em']:7.2f} {s['recall@1']:7.3f} "
              f"{s['latency_p50_ms']:7.0f} {len(hit):6d} {f1:7.2f}")

if __name__ == "__main__":
    main()
