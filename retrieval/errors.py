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
