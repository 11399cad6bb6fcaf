"""`newsqa` command line. Heavy libraries are imported inside commands so that
`newsqa --help` answers at once; the core's exceptions become one-line errors."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from retrieval.config import Config
    from retrieval.answer.qa import QA
    from retrieval.index.store import BuildReport
    from retrieval.conversation import ChatAnswer
    from retrieval.types import Answer

# Before numpy loads OpenBLAS (the imports below are inside the commands): its worker threads spin
# while waiting, and on a busy machine — two bot workers on two cores are enough — they spin on the
# cores the other work needs. Embedding a question is a handful of small matrix products, faster
# on one thread: on a loaded 2-core AVX2 EPYC 6.6 s a question with OpenBLAS's threads, 0.15 s with
# one (docs/performance.md). The reader and the passage encoder run on ONNX Runtime's own threads.
# A user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

PROG = "newsqa"
EXAMPLE = "谁获得了岗位标兵？"


class UsageError(Exception):
    pass


def _err(msg: str) -> None:
    print(f"{PROG}: error: {msg}", file=sys.stderr)


def _note(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _quiet_libraries() -> None:
    from retrieval.app import quiet_libraries

    quiet_libraries()


# ------------------------------------------------------------------ loading

def load_cfg(args: argparse.Namespace) -> Config:
    from retrieval.config import load_config

    cfg = load_config(Path(args.config) if args.config else None)
    if args.corpus:
        cfg = cfg.with_corpus(args.corpus)
    return cfg


def tqdm_progress(total: int, desc: str):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    if desc.startswith("reading"):  # segmenting a big page file, in characters
        return tqdm(total=total, desc=desc, unit="char", unit_scale=True, file=sys.stderr, leave=False,
                    dynamic_ncols=True)
    unit = "q" if "question" in desc else "step" if desc == "steps" else "chunk"
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)


def load_encoder(cfg: Config):  # type: ignore[no-untyped-def]
    from retrieval.app import load_encoder as load

    return load(cfg, _note)


def load_query_encoder(cfg: Config):  # type: ignore[no-untyped-def]
    from retrieval.app import load_query_encoder as load

    return load(cfg, _note)


def rebuild(cfg: Config, encoder, tokenizer, full: bool) -> BuildReport:  # type: ignore[no-untyped-def]
    from retrieval.app import rebuild as run

    return run(cfg, encoder, tokenizer, full, progress=tqdm_progress)


def open_qa(cfg: Config) -> QA:
    from retrieval.app import open_qa as open_

    return open_(cfg, note=_note, progress=tqdm_progress)


def _report_line(r: BuildReport) -> str:
    from retrieval.app import report_line

    return report_line(r)


# ------------------------------------------------------------------ output

def format_answer(ans: Answer) -> str:
    from bot.render import UNSURE_NOTE, closest_titles, day_note, printed_at

    note = [n for n in (day_note(ans),) if n]
    if not ans.found:
        lines = ["没有找到答案：已收录的文章中没有提到这个问题。"] + note
        titles = closest_titles(ans)
        if titles:
            lines.append("最接近的文章：" + "；".join(f"《{t}》" for t in titles[:3]))
        return "\n".join(lines)
    lines = [f"答：{ans.text}"] + ([UNSURE_NOTE] if ans.unsure else []) + note + ["", "出处："]
    for i, s in enumerate(ans.sources, 1):
        meta = " · ".join(x for x in (s.author, s.date, printed_at(s.date, s.page, s.also_printed),
                                      f"第{s.paragraph}段", s.file) if x)
        lines.append(f" [{i}] 《{s.title}》 {meta}")
        lines.append(f"     “{s.quote}”")
    lines.append(f"(置信度 {ans.confidence:.2f})")
    return "\n".join(lines)


def format_chat_answer(reply: ChatAnswer) -> str:
    """An answer in a conversation: the language model's checked sentences
    when there are any (the quotes as always), else the extractive answer,
    after a one-line warning when the model was asked and failed."""
    g = reply.grounded
    if g is None:
        return format_answer(reply.answer)
    if not g.used:
        return f"注意：{g.warning}\n" + format_answer(reply.answer)
    dropped = len(g.sentences) - len(g.supported)
    lines = [f"答：{g.text}"]
    if dropped:
        lines.append(f"（删去了 {dropped} 句原文中核实不了的话）")
    passages = "；".join(f"[{i}]《{h.article.title}》第{h.chunk.paragraph}段" for i, h in enumerate(g.passages, 1))
    lines.append(f"段落：{passages}")
    extractive = format_answer(reply.answer).split("\n")
    return "\n".join(lines + ["摘出的答案：" + extractive[0].removeprefix("答：")] + extractive[1:])


def _emit(ans: Answer, as_json: bool) -> None:
    if as_json:
        print(json.dumps(ans.to_dict(), ensure_ascii=False), flush=True)
    else:
        print(format_answer(ans), flush=True)


# ------------------------------------------------------------------ commands

def decode_question(raw: bytes, where: str) -> str:
    """Questions arrive as bytes from a terminal or a pipe that may not be
    UTF-8 (a GBK terminal, say): take UTF-8, else GB18030 when it decodes
    cleanly, else refuse with a message instead of a traceback."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        raise UsageError(f"{where}: the question is not UTF-8 text (nor GBK/GB18030)") from None


def cmd_ask(args: argparse.Namespace) -> int:
    from retrieval.errors import QuestionError

    # argv was decoded with surrogateescape: get the user's bytes back.
    question = decode_question(os.fsencode(" ".join(args.question)), "question").strip()
    if not question:
        raise UsageError(f'ask needs a question, e.g. {PROG} ask "{EXAMPLE}" (or "-" to read questions from stdin)')
    cfg = load_cfg(args)
    qa = open_qa(cfg)
    if question != "-":
        _emit(qa.ask(question, args.retriever), args.json)
        return 0
    status = 0
    for n, raw in enumerate(sys.stdin.buffer, 1):
        try:
            line = decode_question(raw, f"stdin line {n}")
            if not line.strip():
                continue
            _emit(qa.ask(line, args.retriever), args.json)
        except (QuestionError, UsageError) as exc:
            # One bad line must not stop the batch; report it and go on.
            _err(f"stdin line {n}: {exc}" if isinstance(exc, QuestionError) else str(exc))
            status = 2
    return status


def _read_lines(prompt: str, history: Path) -> Iterator[str]:
    try:
        import readline
    except ImportError:  # pragma: no cover - not on every platform
        readline = None  # type: ignore[assignment]
    if readline is not None:
        try:
            readline.read_history_file(history)
        except OSError:
            pass
    try:
        while True:
            try:
                yield input(prompt)
            except EOFError:
                print()
                return
            except KeyboardInterrupt:
                print()
                continue
    finally:
        if readline is not None:
            try:
                history.parent.mkdir(parents=True, exist_ok=True)
                readline.set_history_length(1000)
                readline.write_history_file(history)
            except OSError:
                pass


NEW_CONVERSATION = ":new"


def cmd_chat(args: argparse.Namespace) -> int:
    from retrieval.app import open_chat
    from retrieval.conversation import Conversation
    from retrieval.errors import QuestionError

    cfg = load_cfg(args)
    qa = open_qa(cfg)
    chat = open_chat(cfg, qa)
    conv = Conversation(cfg.conversation.max_turns)
    if args.json and not sys.stdin.isatty():
        # A script's conversation: every line a question of the same conversation.
        status = 0
        for n, raw in enumerate(sys.stdin.buffer, 1):
            try:
                line = decode_question(raw, f"stdin line {n}").strip()
                if not line:
                    continue
                if line == NEW_CONVERSATION:
                    conv.reset()
                    continue
                print(json.dumps(chat.ask(conv, line, args.retriever).to_dict(), ensure_ascii=False), flush=True)
            except (QuestionError, UsageError) as exc:
                _err(f"stdin line {n}: {exc}" if isinstance(exc, QuestionError) else str(exc))
                status = 2
        return status
    n = qa.index.manifest["counts"]
    print(f"newsqa：已载入 {n['articles']} 篇文章。输入问题，可以接着追问（如「他担任什么职务？」）；"
          f"空行或 {NEW_CONVERSATION} 开始新对话，Ctrl-D 退出。例如：{EXAMPLE}")
    for line in _read_lines("问> ", cfg.cache_dir / "chat_history"):
        if not line.strip() or line.strip() == NEW_CONVERSATION:
            if conv.turns:
                conv.reset()
                print("（新对话）")
            continue
        try:
            # input() hands back undecodable terminal bytes as surrogates.
            line = decode_question(os.fsencode(line), "question")
            streaming = chat.llm is not None and not args.json

            def show(piece: str, started: list[bool] = []) -> None:
                if not started:
                    started.append(True)
                    print("模型回答（逐句核对中）：", flush=True)
                print(piece, end="", flush=True)

            reply = chat.ask(conv, line, args.retriever, on_text=show if streaming else None)
            if args.json:
                print(json.dumps(reply.to_dict(), ensure_ascii=False))
            else:
                if reply.grounded is not None and reply.grounded.raw:
                    print()
                if reply.follow_up:
                    print(f"（接着上文追问，检索：{reply.search_question}）")
                print(format_chat_answer(reply))
        except (QuestionError, UsageError) as exc:
            _err(str(exc))  # the session goes on: ask again
        print()
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    cfg = load_cfg(args)
    if args.index_cmd == "rebuild":
        from retrieval.index.backend import open_backend
        from retrieval.index.lexical import Tokenizer

        store = open_backend(cfg)
        # One rebuild at a time; taking the lock also checks the folder is writable, before the model loads.
        with store.rebuild_lock(note=_note):
            manifest = None if args.full else store.manifest()  # --full repairs even a garbled manifest
            if manifest is not None and not store.is_stale(cfg)[0]:
                # Nothing to do: answer without loading the model (seconds saved on every cron run).
                c = manifest["counts"]
                print(f"index up to date: {c['articles']} articles, {c['chunks']} chunks")
                return 0
            report = rebuild(cfg, load_encoder(cfg), Tokenizer(), args.full)
        print(_report_line(report))
        for s in report.skipped:
            print(s.message, file=sys.stderr)
        return 0
    from retrieval.index.backend import open_backend

    from retrieval.errors import IndexDamagedError

    store = open_backend(cfg)
    try:
        manifest = store.manifest()
        stale, why = store.is_stale(cfg)
    except IndexDamagedError as exc:
        # Status is where a user looks when answers fail: say what is wrong
        # in its usual shape (exit 1, so scripts notice) rather than abort.
        info = {"index": store.describe(), "exists": True, "damaged": str(exc),
                "corpus": [str(p) for p in cfg.corpus_paths]}
        if args.json:
            print(json.dumps(info, ensure_ascii=False, indent=2))
        else:
            print(f"index:   {info['index']}")
            print(f"corpus:  {', '.join(info['corpus'])}")
            print(f"status:  {exc}")
        return 1
    info = {
        "index": store.describe(), "exists": manifest is not None, "stale": stale, "reason": why,
        "corpus": [str(p) for p in cfg.corpus_paths],
    }
    if manifest:
        info.update({k: manifest.get(k) for k in ("model", "dim", "tokenizer", "index_kind", "built_at",
                                                    "counts", "date_range", "issues", "corpus_hash",
                                                    "format_version")})
        info["skipped"] = manifest.get("skipped", [])
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    print(f"index:   {info['index']}")
    print(f"corpus:  {', '.join(info['corpus'])}")
    if not manifest:
        print(f"status:  no index yet (run '{PROG} index rebuild')")
        return 0
    c = manifest["counts"]
    print(f"model:   {manifest['model']} ({manifest['dim']}-d, {manifest['index_kind']})")
    print(f"counts:  {c['files']} files, {c['articles']} articles, {c['chunks']} chunks")
    if manifest.get("date_range"):
        dates = manifest["date_range"]
        n = manifest.get("issues") or 0
        issues = f" ({n} issue{'s' if n != 1 else ''})" if n else ""
        print(f"dates:   {dates[0]} to {dates[1]}{issues}")
    print(f"built:   {manifest['built_at']}")
    print(f"status:  {'stale: ' + why if stale else 'up to date'}")
    return 0


def cmd_milvus(args: argparse.Namespace) -> int:
    from urllib.parse import urlparse

    from retrieval.index.milvus_server import serve

    cfg = load_cfg(args)
    uri = urlparse(cfg.milvus.uri)
    data = Path(args.data) if args.data else cfg.index_path.parent / "milvus"
    return serve(data.resolve(), args.host or uri.hostname or "127.0.0.1", args.port or uri.port or 19530, _note)


def cmd_bot(args: argparse.Namespace) -> int:
    cfg = load_cfg(args)
    _quiet_libraries()
    # Telegram is imported only here, so the other commands never pay for it.
    from bot.telegram_bot import run, settings_from_env, setup_logging

    settings = settings_from_env(cfg)  # before the model loads: a bad token fails at once
    setup_logging(settings)
    qa = open_qa(cfg)
    run(cfg, qa, settings)
    return 0


def cmd_articles(args: argparse.Namespace) -> int:
    from retrieval.errors import CorpusError
    from retrieval.ingest.corpus import read_corpus

    if args.page is not None and not args.date:
        _err("--page lists one page of a day: give --date too")
        return 2
    cfg = load_cfg(args)
    if args.date and not args.files:
        from retrieval.archive import stored_catalog
        from retrieval.errors import IndexMissingError

        # A day's headlines come from the index's stored articles (a month in well under a second),
        # not from reading every corpus file again; without an index, from the corpus.
        try:
            return _print_catalog_day(stored_catalog(cfg), args)
        except IndexMissingError:
            _note("no index yet: reading the corpus files (run 'newsqa index rebuild' to browse faster)")
    # Files named here are read instead of the corpus: check a new paper's
    # layout before indexing it.
    paths = [Path(p) for p in args.files] if args.files else cfg.corpus_paths
    files, skipped = read_corpus(paths, progress=tqdm_progress, ocr_threads=cfg.corpus.ocr_threads,
                                 layout=cfg.corpus.layout, workers=cfg.corpus.workers)
    articles = [a for f in files for a in f.articles]
    if not articles:
        raise CorpusError(f"no articles found in {', '.join(map(str, paths))}")
    if args.date:
        return _print_day(articles, args)
    if args.json:
        print(json.dumps([a.to_dict() for a in articles], ensure_ascii=False, indent=1))
        return 0
    for a in articles:
        meta = " · ".join(x for x in (a.author and f"记者 {a.author}", a.photographer and f"摄影 {a.photographer}",
                                        a.date, a.page and f"第{a.page}版", a.file) if x)
        # kicker and subtitle as the paper prints them around the headline: 引题 《标题》 ——副题
        head = (f"{a.kicker} " if a.kicker else "") + f"《{a.title}》" + \
            (f" {a.subtitle}" if (a.subtitle or "").startswith(("—", "-")) else f" ——{a.subtitle}" if a.subtitle else "")
        print(f"{a.id}  {head}  {meta}  ({len(a.paragraphs)} 段)")
        if args.files:
            body = a.text.replace("\n", " ")
            print(f"    {body[:60]}{'…' if len(body) > 60 else ''}")
    for s in skipped:
        print(s.message, file=sys.stderr)
    return 0


def _print_day(articles: list, args: argparse.Namespace) -> int:
    from retrieval.archive import Catalog

    return _print_catalog_day(Catalog(articles), args)


def _print_catalog_day(catalog, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from bot.render import day_lines
    from retrieval.archive import parse_day

    day = catalog.day(parse_day(args.date), args.page)
    if args.json:
        print(json.dumps(day.to_dict(), ensure_ascii=False, indent=1))
    else:
        print("\n".join(day_lines(day)))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from retrieval.config import IndexConfig
    from retrieval.evaluate import eval_index, evaluate, load_items, write_report
    from retrieval.index.lexical import Tokenizer
    from retrieval.answer.qa import QA

    cfg = load_cfg(args)
    path = Path(args.file)
    all_items = load_items(path)
    items = _selected(all_items, args)
    tokenizer = Tokenizer()
    if args.index:
        cfg = cfg.replace(index=IndexConfig(**{**cfg.index.__dict__, "path": str(Path(args.index).resolve())}))
    else:
        _note(f"indexing the contexts of {path.name}…")
        cfg, report = eval_index(cfg, path, all_items, load_encoder(cfg), tokenizer, tqdm_progress)
        _note(_report_line(report))
    from retrieval.app import load_reader

    if args.no_reader:
        cfg = cfg.replace(reader=dataclasses.replace(cfg.reader, enabled=False))
    # Questions are embedded as `ask` embeds them (numpy fp32 for the default model).
    encoder = load_query_encoder(cfg)
    qa = QA(cfg, encoder, tokenizer, reader=load_reader(cfg, _note, encoder))
    modes = ["bm25", "dense", "hybrid"] if args.retriever == "all" else [args.retriever or cfg.retrieval.mode]
    results = {}
    for mode in modes:
        summary = evaluate(qa, items, mode, progress=lambda total, desc: tqdm_progress(total, f"{mode} {desc}"))
        results[mode] = summary
        if args.report:
            report = Path(args.report)
            if len(modes) > 1:
                report = report.with_name(f"{report.stem}.{mode}{report.suffix}")
            write_report(summary, report)
    if args.json:
        out = {m: s.to_dict() for m, s in results.items()}
        print(json.dumps(out[modes[0]] if len(modes) == 1 else out, ensure_ascii=False, indent=1))
        return 0
    cols = ["questions", "recall@1", "recall@5", "recall@20", "mrr@10", "em", "f1", "found_rate",
            "latency_p50_ms", "latency_p95_ms", "total_seconds"]
    print(f"{'retriever':10s}" + "".join(f"{c:>16s}" for c in cols))
    for m, s in results.items():
        d = s.to_dict()
        print(f"{m:10s}" + "".join(f"{d[c]:>16}" for c in cols))
    if qa.reader is not None:
        print(f"\nranking before → after reading (reader reads the top {cfg.reader.depth}):")
        for m, s in results.items():
            d = s.to_dict()
            print(f"{m:10s} recall@1 {d['retrieval_recall@1']:.4f} → {d['recall@1']:.4f}   "
                  f"recall@5 {d['retrieval_recall@5']:.4f} → {d['recall@5']:.4f}   "
                  f"mrr@10 {d['retrieval_mrr@10']:.4f} → {d['mrr@10']:.4f}")
    some = next(iter(results.values()))
    if some.skipped_empty:
        print(f"questions with no text, skipped: {some.skipped_empty}")
    if some.unanswerable:
        print(f"unanswerable questions: {some.unanswerable}, correctly declined: "
              + ", ".join(f"{m} {s.correct_declines}" for m, s in results.items()))
    return 0


def cmd_reader_train(args: argparse.Namespace) -> int:
    cfg = load_cfg(args)
    _quiet_libraries()
    from retrieval.app import base_model_dir
    from retrieval.reader.train import TrainConfig, train

    data = Path(args.data)
    if not data.is_file():
        raise UsageError(f"{data}: training file not found")
    if not 0.0 <= args.short_crops <= 1.0:
        raise UsageError(f"--short-crops: a share between 0 and 1, got {args.short_crops}")
    if not 0.0 <= args.mined_negatives <= 1.0:
        raise UsageError(f"--mined-negatives: a share between 0 and 1, got {args.mined_negatives}")
    out = Path(args.out)
    tc = TrainConfig(data=data, out=out, work=Path(args.work) if args.work else out.with_name(out.name + ".work"),
                     base_dir=base_model_dir(cfg, _note), base_model=cfg.embedding.model, layers=args.layers,
                     epochs=args.epochs, lr=args.lr, head_lr=args.head_lr if args.head_lr else args.lr * 5,
                     warmup=args.warmup, bf16={"auto": None, "bf16": True, "fp32": False}[args.precision],
                     seed=args.seed, init=Path(args.init) if args.init else None,
                     batch_size=args.batch_size, max_steps=args.max_steps,
                     limit_questions=args.limit, holdout_eval=args.holdout_eval,
                     checkpoint_minutes=args.checkpoint_minutes, threads=cfg.embedding.threads,
                     chunking=cfg.chunking, short_crops=args.short_crops,
                     mined_negatives=args.mined_negatives)
    try:
        figures = train(tc, log=_note)
    except ValueError as exc:
        from retrieval.errors import ReaderError

        raise ReaderError(str(exc)) from exc
    print(f"reader written to {out}: " + json.dumps({k: v for k, v in figures.items() if k != "history"},
                                                   ensure_ascii=False))
    return 0


def _write_jsonl(dst: Path, rows: list[dict]) -> None:
    tmp = dst.with_name(dst.name + ".tmp")
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tmp.open("w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        tmp.replace(dst)
    finally:
        tmp.unlink(missing_ok=True)


def cmd_reader_mix(args: argparse.Namespace) -> int:
    from retrieval.reader.mix import build_mix, split_by_article

    sources: list[tuple[str, list[dict], int]] = []
    held: list[tuple[str, list[dict]]] = []
    for name, path, sample, share in (("cmrc", args.cmrc, args.cmrc_sample, 0.0),
                                      ("drcd", args.drcd, 0, args.drcd_holdout),
                                      ("xquad", args.xquad, 0, args.xquad_holdout)):
        if not path:
            continue
        rows = _training_rows(Path(path))
        train_rows, held_rows = split_by_article(rows, name, share) if share else (rows, [])
        sources.append((name, train_rows, sample))
        if held_rows:
            held.append((name, held_rows))
    if not sources:
        raise UsageError("give at least one of --cmrc, --drcd, --xquad")
    out = build_mix(sources, seed=args.seed, near_miss=args.near_miss, edge_names=args.edge_names,
                    missing_sentence=args.missing_sentence)
    dst = Path(args.out)
    _write_jsonl(dst, out)
    for name, rows in held:
        _write_jsonl(dst.with_name(f"{dst.stem}.heldout-{name}.jsonl"), rows)
    misses = sum(1 for r in out if not r["answers"])
    edge = sum(1 for r in out if r["id"].startswith("EDGENAME_"))
    cut = sum(1 for r in out if r["id"].startswith("CUT_"))
    print(f"{dst}: {len(out) - misses} questions ("
          + ", ".join(f"{n} {sum(1 for r in out if r['id'].startswith(n + ':'))}" for n, _, _ in sources)
          + f"), {edge} of them about names beginning with 于/任/本…, and {misses} unanswerable ({cut} with the "
          + f"answer's sentence cut, {misses - cut} near-miss); held out, never in the mix: "
          + (", ".join(f"{n} {len(r)} questions of {len({x.get('title') for x in r})} articles "
                       f"({dst.stem}.heldout-{n}.jsonl)" for n, r in held) or "nothing"))
    return 0


def _training_rows(src: Path) -> list[dict]:
    """A CMRC-style training file's rows, or a one-line UsageError naming the file."""
    from retrieval.reader.train import load_rows

    if not src.is_file():
        raise UsageError(f"{src}: no such file")
    try:
        return load_rows(src)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def cmd_reader_augment(args: argparse.Namespace) -> int:
    from retrieval.reader.augment import count_questions, date_questions, mixed
    from retrieval.reader.train import TrainConfig

    src = Path(args.data)
    rows = _training_rows(src)
    days = date_questions(rows, TrainConfig.holdout, seed=args.seed)
    counts = count_questions(rows, TrainConfig.holdout, limit=max(args.counts, 0), seed=args.seed) \
        if args.counts else []
    synthetic = days + counts
    out = mixed(rows, synthetic, args.sample, seed=args.seed + 1)
    dst = Path(args.out)
    _write_jsonl(dst, out)
    print(f"{dst}: {len(out) - len(synthetic)} questions from {src.name}, {len(days)} synthetic day questions"
          + (f" and {len(counts)} synthetic count questions" if args.counts else ""))
    return 0


def cmd_reader_average(args: argparse.Namespace) -> int:
    cfg = load_cfg(args)
    from retrieval.app import base_model_dir
    from retrieval.reader.average import average_readers

    paths = [Path(p) for p in args.readers]
    try:
        weights = [float(w) for w in args.weights.split(",")] if args.weights else None
    except ValueError:
        raise UsageError(f"--weights: expected comma-separated numbers, e.g. 1,1; got {args.weights!r}") from None
    out = average_readers(paths, Path(args.out), base_model_dir(cfg, _note), weights)
    print(f"reader written to {out}; calibrate it: newsqa reader calibrate --data TRAIN (with [reader] path = {out})")
    return 0


def cmd_reader_rescorer(args: argparse.Namespace) -> int:
    from retrieval.app import load_reader, reader_path
    from retrieval.evaluate import load_items
    from retrieval.reader import rescore
    from retrieval.reader.evaluation import rescorer_candidates

    cfg = load_cfg(args)
    path = reader_path(cfg)
    # Without its current re-scorer: the candidates are the reader's own, and a damaged one is replaced.
    reader = load_reader(cfg, _note, rescorer=False)
    if path is None or reader is None:
        raise UsageError("no reader configured ([reader] enabled = false, or no reader shipped)")
    items = _selected(load_items(Path(args.file)), args)
    if not items:
        raise UsageError(f"{args.file}: no questions to fit on")
    sets = rescorer_candidates(reader, items, cfg.chunking, progress=tqdm_progress)
    bigrams, last = rescore.vocabularies([it.question for it in items], [a for it in items for a in it.answers[:1]])
    bar = tqdm_progress(args.steps, "steps")
    fitted = rescore.fit(sets, bigrams, last, steps=args.steps, progress=lambda _: bar.update(1))
    bar.close()
    out = rescore.attach(path, fitted)
    print(f"span re-scorer written to {out} ({len(sets)} windows of {len(items)} questions); "
          f"recalibrate: newsqa reader calibrate --data TRAIN")
    return 0


def _selected(items: list, args: argparse.Namespace) -> list:
    """The questions ``--split`` and ``--limit`` ask for (even/odd: by position in the file)."""
    if args.split != "all":
        items = [it for i, it in enumerate(items) if i % 2 == (0 if args.split == "even" else 1)]
    return items[: args.limit] if args.limit else items


def cmd_reader_eval(args: argparse.Namespace) -> int:
    from retrieval.app import load_reader
    from retrieval.evaluate import load_items
    from retrieval.reader.evaluation import evaluate_reader

    cfg = load_cfg(args)
    # A forced backend compares the int8 graphs with the numpy forward pass.
    reader = load_reader(cfg, _note, backend=args.backend)
    if reader is None:
        raise UsageError("no reader configured ([reader] enabled = false, or no reader shipped)")
    items = _selected(load_items(Path(args.file)), args)
    res = evaluate_reader(reader, items, cfg.chunking, progress=tqdm_progress,
                          rescore=not args.no_rescorer)
    res = {**res, "backend": reader.backend, "rescorer": bool(reader.rescorer) and not args.no_rescorer}
    if args.json:
        print(json.dumps(res, ensure_ascii=False, indent=1))
    else:
        print("  ".join(f"{k} {v}" for k, v in res.items()))
    return 0


def cmd_reader_calibrate(args: argparse.Namespace) -> int:
    from retrieval.app import load_reader, reader_path
    from retrieval.reader.calibration import calibrate

    cfg = load_cfg(args)
    reader = load_reader(cfg, _note)
    path = reader_path(cfg)
    if reader is None or path is None:
        raise UsageError("no reader configured ([reader] enabled = false, or no reader shipped)")
    res = calibrate(cfg, reader, path, Path(args.data), limit=args.limit, note=_note, progress=tqdm_progress)
    print(json.dumps(res, ensure_ascii=False, indent=1))
    return 0


# ------------------------------------------------------------------ parser

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Question answering over Chinese news, with quoted sources.")
    p.add_argument("--config", metavar="PATH", help="config file (default: ./config.toml, then built-in defaults)")
    p.add_argument("--corpus", metavar="PATH", action="append",
                   help="corpus file or folder, instead of the configured one (repeatable)")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")

    ask = sub.add_parser("ask", help="answer one question ('-': one question per line from stdin)")
    ask.add_argument("question", nargs="*", help=f'the question, e.g. "{EXAMPLE}"')
    ask.add_argument("--json", action="store_true", help="print one JSON object per answer")
    ask.add_argument("--retriever", choices=["hybrid", "bm25", "dense"], help="override the configured retriever")
    ask.set_defaults(func=cmd_ask)

    chat = sub.add_parser("chat", help="a conversation: follow-up questions lean on the previous answer "
                                       "(empty line or :new starts over; Ctrl-D quits)",
                          description="Ask questions one after another; a follow-up (他/它/这个/还有呢/为什么…) is "
                                      "answered from the previous answer's article first. An empty line or :new "
                                      "starts a new conversation. With --json and a pipe on stdin: one question a "
                                      "line, all one conversation, one JSON result a line.")
    chat.add_argument("--json", action="store_true", help="print one JSON object per answer (ask --json's, plus "
                                                          "search_question and follow_up)")
    chat.add_argument("--retriever", choices=["hybrid", "bm25", "dense"], help="override the configured retriever")
    chat.set_defaults(func=cmd_chat)

    idx = sub.add_parser("index", help="build or inspect the index")
    isub = idx.add_subparsers(dest="index_cmd", metavar="ACTION", required=True)
    rb = isub.add_parser("rebuild", help="update the index (only new or changed articles are embedded)")
    rb.add_argument("--full", action="store_true", help="re-embed everything")
    st = isub.add_parser("status", help="what is indexed and whether it is up to date")
    st.add_argument("--json", action="store_true")
    idx.set_defaults(func=cmd_index)

    bot = sub.add_parser("bot", help="run the Telegram bot (token in $TELEGRAM_BOT_TOKEN)",
                         description="Serve questions on Telegram. The token comes from TELEGRAM_BOT_TOKEN; "
                                     "TELEGRAM_BASE_URL overrides [telegram] base_url (self-hosted Bot API "
                                     "servers); polling or webhook per [telegram] mode.")
    bot.set_defaults(func=cmd_bot)

    mv = sub.add_parser("milvus", help="run a local Milvus server for [index] backend = \"milvus\"")
    msub = mv.add_subparsers(dest="milvus_cmd", metavar="ACTION", required=True)
    up = msub.add_parser("up", help="start Milvus (milvus-lite's engine) in the foreground; Ctrl-C stops it")
    up.add_argument("--data", metavar="DIR", help="data folder (default: milvus/ beside the index folder)")
    up.add_argument("--host", help="default: the host of [milvus] uri")
    up.add_argument("--port", type=int, help="default: the port of [milvus] uri")
    mv.set_defaults(func=cmd_milvus)

    arts = sub.add_parser("articles", help="list the articles found in the corpus (or in the files named)")
    arts.add_argument("files", nargs="*", help="read these files or folders instead of the corpus, and show "
                                               "the first words of each article")
    arts.add_argument("--json", action="store_true")
    arts.add_argument("--date", metavar="DAY", help="the headlines of one day's paper by page (2020-01-09)")
    arts.add_argument("--page", type=int, metavar="N", help="with --date: page N only")
    arts.set_defaults(func=cmd_articles)

    ev = sub.add_parser("eval", help="retrieval and answer metrics on a CMRC-2018-style JSONL file")
    ev.add_argument("file", help="JSON Lines with id, question, answers, context_id, context, title")
    ev.add_argument("--index", metavar="PATH", help="evaluate against this existing index instead of a throwaway one")
    ev.add_argument("--retriever", choices=["hybrid", "bm25", "dense", "all"], help="default: the configured one")
    ev.add_argument("--json", action="store_true", help="print the summary as JSON")
    ev.add_argument("--report", metavar="OUT.jsonl", help="write one line per question for error analysis")
    ev.add_argument("--split", choices=["all", "even", "odd"], default="all",
                    help="only questions at even or odd positions (tune on one half, report the other)")
    ev.add_argument("--limit", type=int, default=0, help="only the first N questions")
    ev.add_argument("--no-reader", action="store_true", help="answer with the rules instead of the trained reader")
    ev.set_defaults(func=cmd_eval)

    rd = sub.add_parser("reader", help="train, evaluate or calibrate the answer reader")
    rsub = rd.add_subparsers(dest="reader_cmd", metavar="ACTION", required=True)
    tr = rsub.add_parser("train", help="fine-tune a reader on CMRC-2018-style JSON Lines (hours of CPU; resumable)",
                         description="Fine-tune the extractive reader. Checkpoints go to --work every 10 minutes; "
                                     "run the same command again to resume. Writes the reader to --out.")
    tr.add_argument("--data", required=True, help="training questions (JSON Lines: question, answers, context...)")
    tr.add_argument("--out", required=True, help="reader directory to write")
    tr.add_argument("--work", help="checkpoint directory (default: OUT.work)")
    tr.add_argument("--layers", type=int, default=6, help="encoder layers kept (default 6)")
    tr.add_argument("--epochs", type=float, default=3.0)
    tr.add_argument("--lr", type=float, default=1e-4, help="encoder learning rate (default 1e-4)")
    tr.add_argument("--head-lr", type=float, default=0.0, help="heads' learning rate (default 5 × --lr)")
    tr.add_argument("--warmup", type=float, default=0.06, help="share of steps with a rising learning rate")
    tr.add_argument("--seed", type=int, default=13, help="data order and head initialisation")
    tr.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto",
                    help="auto: bf16 autocast where the CPU has native bf16, else fp32")
    tr.add_argument("--init", help="start from this reader's weights (a new schedule on top of an earlier run)")
    tr.add_argument("--batch-size", type=int, default=16)
    tr.add_argument("--max-steps", type=int, default=0, help="stop after N steps (smoke tests)")
    tr.add_argument("--limit", type=int, default=0, help="only the first N questions")
    tr.add_argument("--holdout-eval", type=int, default=400, help="held-out questions scored after each epoch")
    tr.add_argument("--checkpoint-minutes", type=float, default=10.0)
    tr.add_argument("--short-crops", type=float, default=0.0,
                    help="share of questions also read as the answer's own sentence, with a lone "
                         "sentence of the same context as a negative (teaches short articles; default 0)")
    tr.add_argument("--mined-negatives", type=float, default=0.0,
                    help="share of questions that also read another article's most similar chunk without "
                         "the answer as an unanswerable passage, every epoch (default 0)")
    tr.set_defaults(func=cmd_reader_train)
    re_ = rsub.add_parser("eval", help="span F1/EM reading each question's own paragraph, and latency")
    re_.add_argument("file", help="JSON Lines with question, answers, context (and title)")
    re_.add_argument("--split", choices=["all", "even", "odd"], default="all")
    re_.add_argument("--limit", type=int, default=0)
    re_.add_argument("--json", action="store_true")
    re_.add_argument("--backend", choices=["auto", "onnx", "onnx-u8", "numpy"], default=None,
                     help="reader forward pass instead of [reader] backend: the shipped int8 graph (onnx), "
                          "the same with unsigned weights (onnx-u8), numpy, or auto (the int8 graph for this CPU)")
    re_.add_argument("--no-rescorer", action="store_true", help="the reader's own best spans, without its re-scorer")
    re_.set_defaults(func=cmd_reader_eval)
    rs = rsub.add_parser("rescorer", help="fit the span re-scorer (answer type vs span shape) on QA JSON Lines")
    rs.add_argument("file", help="JSON Lines with question, answers, context (and title)")
    rs.add_argument("--split", choices=["all", "even", "odd"], default="all")
    rs.add_argument("--limit", type=int, default=0)
    rs.add_argument("--steps", type=int, default=300, help="full-batch optimisation steps")
    rs.set_defaults(func=cmd_reader_rescorer)
    cal = rsub.add_parser("calibrate", help="fit confidence and the not-found threshold on held-out training data")
    cal.add_argument("--data", required=True, help="the training file; its held-out slice is used")
    cal.add_argument("--limit", type=int, default=0)
    cal.set_defaults(func=cmd_reader_calibrate)
    ag = rsub.add_parser("augment", help="training questions plus synthetic ones asking for the day of an event "
                                          "(and, with --counts, for one of several counts)")
    ag.add_argument("--data", required=True, help="the training file (CMRC-2018-style JSON Lines)")
    ag.add_argument("--out", required=True, help="JSON Lines to write, for `newsqa reader train --data`")
    ag.add_argument("--sample", type=int, default=3000, help="real questions kept beside them (0: all)")
    ag.add_argument("--counts", type=int, default=0,
                    help="also that many synthetic count questions (-1: all; 0: none)")
    ag.add_argument("--seed", type=int, default=0)
    ag.set_defaults(func=cmd_reader_augment)
    mx = rsub.add_parser("mix", help="a training mix of CMRC 2018, DRCD and XQuAD zh with near-miss questions; "
                                      "DRCD and XQuAD split by article, the held-out part written beside it")
    mx.add_argument("--out", required=True, help="JSON Lines to write (held-out parts: OUT.heldout-NAME.jsonl)")
    mx.add_argument("--cmrc", help="CMRC-2018-style training file")
    mx.add_argument("--cmrc-sample", type=int, default=0, help="questions drawn from --cmrc (0: all)")
    mx.add_argument("--drcd", help="DRCD (traditional) in the same layout")
    mx.add_argument("--drcd-holdout", type=float, default=0.3, help="share of DRCD articles held out")
    mx.add_argument("--xquad", help="XQuAD zh in the same layout")
    mx.add_argument("--xquad-holdout", type=float, default=0.25, help="share of XQuAD articles held out")
    mx.add_argument("--near-miss", type=float, default=0.5,
                    help="share of the possible near-miss questions (another number) added (default 0.5)")
    mx.add_argument("--edge-names", type=int, default=0,
                    help="questions about a name rewritten to begin with 于/任/本/自… (default 0)")
    mx.add_argument("--missing-sentence", type=float, default=0.0,
                    help="share of the answerable questions also asked over their paragraph with the answer's "
                         "sentence cut out, as unanswerable (default 0)")
    mx.add_argument("--seed", type=int, default=0)
    mx.set_defaults(func=cmd_reader_mix)
    av = rsub.add_parser("average", help="write the weight average of readers trained along one line")
    av.add_argument("readers", nargs="+", help="reader directories (same base model and shape)")
    av.add_argument("--out", required=True, help="reader directory to write")
    av.add_argument("--weights", default="", help="comma-separated weights (default: equal)")
    av.set_defaults(func=cmd_reader_average)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from embeddings.errors import ModelError, VectorIndexError
    from retrieval.errors import NewsQAError

    from retrieval.errors import QuestionError

    try:
        return args.func(args)
    except (UsageError, QuestionError) as exc:
        # A question that is empty or too long is a usage error, like a missing one.
        _err(str(exc))
        return 2
    except (NewsQAError, ModelError, VectorIndexError) as exc:
        _err(str(exc))
        return 1
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # A file newsqa meant to read or write is gone, locked or unreadable
        # (a corpus file removed during a rebuild, say): one line naming it.
        where = os.fsdecode(exc.filename) if isinstance(exc.filename, (str, bytes)) else ""
        _err(f"{where}: {exc.strerror or exc}" if where else str(exc))
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
