"""Exceptions raised by the embeddings package; front ends turn them into messages."""


class ModelError(Exception):
    """The embedding model cannot be found, converted or loaded."""


class VectorIndexError(Exception):
    """The vector index on disk is unreadable or does not match."""
