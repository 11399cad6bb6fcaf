"""The reader on disk: a directory with ``reader.safetensors`` (what training
changed: position embeddings, the kept transformer layers, the heads; fp16)
and ``manifest.json`` written last. The frozen word embeddings are not
shipped: they come from the base model at load time, so the base model must be
the one the reader was trained on, which the fingerprint checks."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.errors import ReaderError

FORMAT = "newsqa-reader"
FORMAT_VERSION = 1
TRIM_CLASSES = 3  # characters an answer edge may move inside its first/last piece
WEIGHTS = "reader.safetensors"
MANIFEST = "manifest.json"
# The same reader as an ONNX Runtime graph (retrieval/reader/onnx_export.py).
ONNX_INT8 = "reader.int8.onnx"
ONNX_FP32 = "reader.onnx"


@dataclass(frozen=True)
class ReaderManifest:
    base_model: str
    base_fingerprint: str
    layers: int
    hidden: int
    heads: int
    max_len: int
    stride: int
    max_answer_tokens: int
    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    trim_classes: int = TRIM_CLASSES
    # Platt scaling of the answer score to P(answer right), fitted on held-out data.
    calibration: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    # The ONNX file exported from these weights ("": none). Named here, and
    # written after the file, so a stale or half-written graph is never used.
    onnx: str = ""
    # The learned span re-scorer fitted to these weights ("": none; see rescore.py).
    rescorer: str = ""


def base_fingerprint(base_dir: Path) -> str:
    """A cheap identity of the base model's word embeddings: shape plus a hash
    of a fixed sample of rows (hashing all 250k × 384 floats would cost the
    cold start half a second)."""
    from embeddings.light import read_safetensors

    tensors = read_safetensors(base_dir / "model.safetensors")
    name = next((k for k in tensors if k.endswith("embeddings.word_embeddings.weight")), None)
    if name is None:
        raise ReaderError(f"{base_dir}: base model has no word embeddings")
    w = tensors[name]
    rows = np.linspace(0, w.shape[0] - 1, 64).astype(np.int64)
    h = hashlib.sha256(str(tuple(w.shape)).encode())
    h.update(np.ascontiguousarray(w[rows], dtype=np.float32).tobytes())
    return h.hexdigest()[:24]


def write_safetensors(path: Path, tensors: dict[str, np.ndarray], dtype: str = "F16") -> None:
    np_dtype = {"F16": np.float16, "F32": np.float32}[dtype]
    header: dict[str, Any] = {}
    blobs = []
    pos = 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name], dtype=np_dtype)
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [pos, pos + arr.nbytes]}
        blobs.append(arr.tobytes())
        pos += arr.nbytes
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def save_reader(out: Path, tensors: dict[str, np.ndarray], manifest: ReaderManifest) -> None:
    """Weights first, manifest last, each by atomic rename: a reader directory
    with a manifest is always complete."""
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (WEIGHTS + ".tmp")
    write_safetensors(tmp, tensors)
    os.replace(tmp, out / WEIGHTS)
    write_manifest(out, manifest)


def write_manifest(out: Path, manifest: ReaderManifest) -> None:
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".manifest-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(asdict(manifest), f, ensure_ascii=False, indent=1)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; a bot may run as another user
    os.replace(tmp, out / MANIFEST)


def read_manifest(path: Path) -> ReaderManifest:
    mf = path / MANIFEST
    if not mf.is_file():
        raise ReaderError(f"{path}: not a reader (no {MANIFEST}); train one with `newsqa reader train`")
    try:
        d = json.loads(mf.read_text(encoding="utf-8"))
        if d.get("format") != FORMAT:
            raise ReaderError(f"{mf}: not a newsqa reader manifest")
        if int(d.get("format_version", 0)) != FORMAT_VERSION:
            raise ReaderError(f"{mf}: reader format {d.get('format_version')} but this newsqa reads "
                              f"{FORMAT_VERSION}; retrain with `newsqa reader train`")
        known = set(ReaderManifest.__dataclass_fields__)
        return ReaderManifest(**{k: v for k, v in d.items() if k in known})
    except (ValueError, TypeError) as exc:
        raise ReaderError(f"{mf}: damaged reader manifest ({exc})") from exc
