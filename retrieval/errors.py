"""Exceptions of the QA core. Front ends (CLI, bot) turn them into one-line messages."""


class NewsQAError(Exception):
    """Base class: the message is meant for the user as it stands."""


class ConfigError(NewsQAError):
    pass


class CorpusError(NewsQAError):
    """The corpus is missing, empty, or a file in it cannot be read."""


class IndexMissingError(NewsQAError):
    pass


class IndexMismatchError(NewsQAError):
    """The index on disk was built with another model, format or settings."""


class QuestionError(NewsQAError):
    """The question is empty or unusable. ``reason`` ("empty" | "too_long") lets a
    front end word the message in the user's language; ``limit`` is the maximum length."""

    def __init__(self, message: str, reason: str = "invalid", limit: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.limit = limit


class ReaderError(NewsQAError):
    """The answer reader cannot be loaded or trained as asked."""


class IndexDamagedError(NewsQAError):
    """A file of the current build is missing, cut short or altered; ``file`` is
    its path inside the build."""

    def __init__(self, file: str) -> None:
        super().__init__(f"index damaged ({file}); run `newsqa index rebuild --full`")
        self.file = file


class IndexWriteError(NewsQAError):
    """The index folder cannot be written (permissions, a file in the way, a full disk)."""


class IndexUnavailableError(NewsQAError):
    """The index server (Milvus) cannot be reached or failed a request; the
    message names the server and what to do, never a credential."""


class ModelError(NewsQAError):
    """A model file shipped with newsqa (the page-line model) is missing, damaged or made for other code."""
