"""A local Milvus server for trying the Milvus backend, and for the tests.

``milvus-lite==2.5.1`` (the ``milvus`` extra) ships Milvus' C++ engine, with
full-text search and the jieba analyzer, as the binary
``milvus_lite/lib/milvus``. Started with ``<data file> <host:port> <log level>``
it serves the ordinary Milvus protocol over TCP, so newsqa talks to it exactly
as to a Milvus cluster. This is how ``milvus_lite/server.py`` starts it; it is
not a documented command, so this module is the only place that knows it.
(milvus-lite 3.x is a Python reimplementation without that binary.)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.errors import IndexUnavailableError

# gRPC's C core prints keepalive chatter ("too_many_pings") to stderr; set before grpc loads.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")
DATA_FILE = "milvus.db"  # milvus-lite takes a file name of letters, digits, . - _


def binary() -> Path:
    """The milvus-lite engine binary; a clear error when it is not installed."""
    import importlib.util

    # Located, not imported: milvus_lite/__init__.py needs pkg_resources, gone from new setuptools.
    spec = importlib.util.find_spec("milvus_lite")
    if spec is None or not spec.submodule_search_locations:
        raise IndexUnavailableError("milvus-lite is not installed; pip install 'newsqa[milvus]' "
                                    "(milvus-lite==2.5.1)")
    path = Path(list(spec.submodule_search_locations)[0]).resolve() / "lib" / "milvus"
    if not path.is_file():
        raise IndexUnavailableError(f"{path} not found: this milvus-lite has no Milvus server binary; "
                                    "install milvus-lite==2.5.1")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class MilvusServer:
    """One server process over one data folder."""

    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    log_level: str = "ERROR"
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def uri(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, wait_seconds: float = 120.0) -> MilvusServer:
        """Start the server and return once it answers a client."""
        if _answers(self.host, self.port):
            raise IndexUnavailableError(f"port {self.port} on {self.host} is already in use")
        exe = binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = str(exe.parent) + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
        self.process = subprocess.Popen(
            [str(exe), str(self.data_dir / DATA_FILE), f"{self.host}:{self.port}", self.log_level],
            env=env, cwd=str(self.data_dir), stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                raise IndexUnavailableError(f"the Milvus server exited at start (status {code}); is "
                                            f"{self.data_dir / DATA_FILE} used by another server?")
            if _answers(self.host, self.port) and self._ready():
                return self
            time.sleep(0.2)
        self.stop()
        raise IndexUnavailableError(f"the Milvus server did not answer on {self.uri} within {wait_seconds:.0f}s")

    def _ready(self) -> bool:
        from pymilvus import MilvusClient

        try:
            MilvusClient(uri=self.uri, timeout=2).list_collections()
            return True
        except Exception:  # still starting
            return False

    def stop(self, kill: bool = False) -> None:
        """Stop the server (SIGTERM, SIGKILL after 10 s; ``kill``: at once)."""
        p = self.process
        if p is None:
            return
        if p.poll() is None:
            p.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        self.process = None

    def __enter__(self) -> MilvusServer:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(data_dir: Path, host: str, port: int, note=print) -> int:  # type: ignore[no-untyped-def]
    """Run a server in the foreground until Ctrl-C or SIGTERM (``newsqa milvus up``)."""
    server = MilvusServer(data_dir, port, host)
    server.start()
    note(f"Milvus is answering on {server.uri} (data in {data_dir}); Ctrl-C stops it")
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    try:
        while not stop and server.process is not None and server.process.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    code = server.process.returncode if server.process is not None and server.process.poll() is not None else 0
    server.stop()
    if code:
        raise IndexUnavailableError(f"the Milvus server stopped with status {code}")
    return 0
