"""Chunks → vectors and BM25 → ranked passages: the on-disk build (store), the
lexical side, hybrid search, and the backends that hold an index (embedded
FAISS + bm25s, or a Milvus server)."""
