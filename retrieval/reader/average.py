"""Averaging the weights of readers trained along one line (a reader and the
run that continued it): the mean sits between two points of the same basin
and reads better than either end (on CMRC dev, even half: see the default
reader's card). Only readers of one shape and one base model mix."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from retrieval.errors import ReaderError
from retrieval.reader.format import WEIGHTS, read_manifest, save_reader
from retrieval.reader.onnx_export import add_onnx_graph


def average_readers(paths: list[Path], out: Path, base_dir: Path, weights: list[float] | None = None) -> Path:
    """Write the weighted mean of ``paths`` (equal weights by default) to
    ``out``: fp16 safetensors, then the int8 ONNX graph where the tools are
    here, then the manifest. Calibration is not carried over: the mean is a new
    model, so run `newsqa reader calibrate` on it."""
    from embeddings.light import read_safetensors

    if len(paths) < 2:
        raise ReaderError("averaging needs at least two readers")
    weights = weights or [1.0] * len(paths)
    if len(weights) != len(paths) or any(w <= 0 for w in weights):
        raise ReaderError(f"averaging: {len(paths)} readers need as many positive weights, got {weights}")
    manifests = [read_manifest(p) for p in paths]
    first = manifests[0]
    shape = ("base_model", "base_fingerprint", "layers", "hidden", "heads", "max_len", "trim_classes")
    for p, m in zip(paths[1:], manifests[1:]):
        for k in shape:
            if getattr(m, k) != getattr(first, k):
                raise ReaderError(f"{p}: {k} is {getattr(m, k)!r} but {paths[0]} has {getattr(first, k)!r}; "
                                  f"only readers of one shape and base model can be averaged")
    total = float(sum(weights))
    acc: dict[str, np.ndarray] = {}
    for p, w in zip(paths, weights):
        tensors = read_safetensors(p / WEIGHTS)
        if acc and set(tensors) != set(acc):
            raise ReaderError(f"{p / WEIGHTS}: holds other tensors than {paths[0] / WEIGHTS}")
        for k, v in tensors.items():
            acc[k] = acc.get(k, 0.0) + (w / total) * np.asarray(v, dtype=np.float32)
    training = {**first.training, "averaged": [{"reader": p.name, "weight": w / total}
                                               for p, w in zip(paths, weights)]}
    manifest = dataclasses.replace(first, calibration={}, figures={}, training=training, onnx="", rescorer="")
    save_reader(out, acc, manifest)
    add_onnx_graph(out, base_dir)
    return out
