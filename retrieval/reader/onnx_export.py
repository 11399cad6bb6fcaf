"""The reader as an ONNX graph for ONNX Runtime, int8 by default: about 3×
faster than the numpy forward pass on a 2-core CPU (the reader is matmul-bound,
and ONNX Runtime's int8 kernels use the CPU's VNNI instructions).

The graph is written directly from the reader's own weights by
embeddings/onnx_graph.py (the builder the int8 passage encoder uses too), so a
reader shipped without the ONNX file can get one wherever ``onnx`` and
``onnxruntime`` are installed. It computes what ``Reader._forward`` computes in
numpy. Outputs: start, end (batch, tokens), has (batch,), trim_start, trim_end
(batch, tokens, trim classes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from embeddings.light import load_layers, read_safetensors
from embeddings.onnx_graph import ACT_OPS, GraphBuilder, save_quantized
from retrieval.errors import ReaderError
from retrieval.reader.format import MANIFEST, ONNX_FP32, ONNX_INT8, WEIGHTS, read_manifest, write_manifest

OUTPUTS = ("start", "end", "has", "trim_start", "trim_end")
# Small heads (2, 1 and 6 outputs): int8 buys no time there and costs accuracy.
_HEAD_NODES = ("span", "has_dense", "has_out", "trim")


def _head_nodes(model: Any) -> list[str]:
    return [n.name for n in model.graph.node if n.name.split(".")[0] in _HEAD_NODES]


def build_graph(reader_dir: Path, base_dir: Path) -> Any:
    """The fp32 ONNX model of the reader in ``reader_dir`` (an ``onnx.ModelProto``)."""
    manifest = read_manifest(reader_dir)
    cfg = json.loads((base_dir / "config.json").read_text(encoding="utf-8"))
    act = cfg.get("hidden_act", "gelu")
    if act not in ACT_OPS:
        raise ReaderError(f"{base_dir}: activation {act!r} has no ONNX export")
    eps = float(cfg.get("layer_norm_eps", 1e-12))
    own = read_safetensors(reader_dir / WEIGHTS)

    def get(name: str) -> np.ndarray:
        if name not in own:
            raise ReaderError(f"{reader_dir / WEIGHTS}: tensor {name} missing; the reader is damaged")
        return np.asarray(own[name], dtype=np.float32)

    g = GraphBuilder()
    x = g.encoder(get("embeddings.position_embeddings.weight"), get("embeddings.token_type_embeddings.weight")[0],
                  (get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias")),
                  load_layers(get, manifest.layers), manifest.heads, eps, act)
    k = manifest.trim_classes
    axis2 = g.const("axis2", np.array([2], np.int64))
    se = g.linear(x, get("span.weight"), get("span.bias"), "span")
    s, e = g.node("Split", [se, g.const("split.span", np.array([1, 1], np.int64))], "span.split", n_out=2, axis=2)
    g.node("Squeeze", [s, axis2], "start")
    g.node("Squeeze", [e, axis2], "end")
    (cls,) = g.node("Gather", [x, g.const("first", np.array(0, np.int64))], "cls", axis=1)
    (h,) = g.node("Tanh", [g.linear(cls, get("has_dense.weight"), get("has_dense.bias"), "has_dense")], "has.tanh")
    h = g.linear(h, get("has_out.weight"), get("has_out.bias"), "has_out")
    g.node("Squeeze", [h, g.const("axis1", np.array([1], np.int64))], "has")
    tr = g.linear(x, get("trim.weight"), get("trim.bias"), "trim")
    g.node("Split", [tr, g.const("split.trim", np.array([k, k], np.int64))], "trim.split", n_out=2, axis=2)
    g.identity("trim.split:0", "trim_start")
    g.identity("trim.split:1", "trim_end")
    return g.model("newsqa-reader", manifest.hidden,
                   [("start", ["batch", "tokens"]), ("end", ["batch", "tokens"]), ("has", ["batch"]),
                    ("trim_start", ["batch", "tokens", k]), ("trim_end", ["batch", "tokens", k])])


def export_onnx(reader_dir: Path, base_dir: Path, int8: bool = True, per_channel: bool = True) -> Path:
    """Write the reader's ONNX graph into ``reader_dir`` (``reader.int8.onnx``,
    or ``reader.onnx`` with ``int8=False``), then rewrite the manifest to name
    it, so the file is used only once it is complete. Returns the file's path."""
    import onnx

    reader_dir = Path(reader_dir)
    manifest = read_manifest(reader_dir)
    model = build_graph(reader_dir, Path(base_dir))
    name = ONNX_INT8 if int8 else ONNX_FP32
    out = reader_dir / name
    tmp = reader_dir / (name + ".tmp")
    if int8:
        # The heads stay fp32. Per-channel scales: on 200 CMRC dev questions
        # F1 70.1 / EM 44.0 against 69.2 / 42.5 per-tensor (fp32: 69.4 / 44.0),
        # at the same speed.
        save_quantized(model, out, exclude=_head_nodes(model), per_channel=per_channel)
    else:
        onnx.save(model, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    write_manifest(reader_dir, dataclasses.replace(manifest, onnx=name))
    return out


def add_onnx_graph(out: Path, base_dir: Path) -> None:
    """Give a freshly written reader the int8 ONNX graph the runtime prefers,
    when the tools to write it (onnx, onnxruntime) are installed."""
    import importlib.util

    if importlib.util.find_spec("onnx") and importlib.util.find_spec("onnxruntime"):
        export_onnx(out, base_dir)


ONNX_U8 = "reader.u8.onnx"


def cached_u8_graph(reader_dir: Path, base_dir: Path, cache_dir: Path,
                    note: Callable[[str], None] = lambda _: None) -> Path:
    """The reader's int8 graph with unsigned weights, for x86 CPUs without
    VNNI (see ``Reader``), written once under ``cache_dir`` and reused while
    the reader's weights and manifest stay the same. The shipped reader
    directory may be read-only, and most machines never need this graph.
    The key leaves out where the reader lies: a copy that keeps the files'
    times (cp -p, shutil.copytree) has the same graph and reuses it."""
    reader_dir = Path(reader_dir)
    w = (reader_dir / WEIGHTS).stat()
    key = hashlib.sha1(f"{w.st_size}|{w.st_mtime_ns}|".encode()
                       + (reader_dir / MANIFEST).read_bytes()).hexdigest()[:16]
    out = Path(cache_dir) / "reader-graphs" / key / ONNX_U8
    if out.is_file():
        return out
    note("writing the reader's int8 graph for this CPU (once, a few seconds)…")
    out.parent.mkdir(parents=True, exist_ok=True)
    model = build_graph(reader_dir, Path(base_dir))
    save_quantized(model, out, exclude=_head_nodes(model), unsigned_weights=True)
    return out
