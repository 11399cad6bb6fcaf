"""What the Milvus benchmarks share: a Milvus to talk to, and memory figures.

``milvus(uri)`` yields the URI of an existing server (``--uri``) or starts a
local one (milvus-lite 2.5.1's server, on a free port, over a temporary folder)
and stops it afterwards. ``rss_mb(pid)`` reads a process's resident memory.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator


@dataclass(frozen=True)
class MilvusTarget:
    uri: str
    server_pid: int | None  # None: a server this process did not start (its memory is not ours to read)


def rss_mb(pid: int | str = "self") -> float:
    """VmRSS of a process in MiB (nan when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


@contextmanager
def milvus(uri: str | None = None, data_dir: Path | None = None) -> Iterator[MilvusTarget]:
    """``data_dir``: keep the local server's data there (a later run can reuse its collections)."""
    if uri:
        yield MilvusTarget(uri, None)
        return
    from retrieval.index.milvus_server import MilvusServer, free_port

    server = MilvusServer(data_dir or Path(tempfile.mkdtemp(prefix="newsqa-milvus-bench-")), free_port()).start()
    try:
        assert server.process is not None
        yield MilvusTarget(server.uri, server.process.pid)
    finally:
        server.stop()


def drop_collections(uri: str, base: str) -> None:
    """Remove every collection of the base name ``base`` (its builds, articles
    and meta), so the next size's server memory is not counted with this one's."""
    import os

    from pymilvus import MilvusClient

    client = MilvusClient(uri=uri, token=os.environ.get("MILVUS_TOKEN", ""))
    for name in client.list_collections():
        if name == f"{base}_meta" or name.startswith(f"{base}__"):
            client.drop_collection(name)
