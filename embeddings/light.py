"""Question encoding without torch: the forward pass of a BERT-family
sentence-transformers model in numpy.

Answering one question needs one short forward pass. Importing torch and
sentence-transformers for it costs seconds at start-up and about 800 MB of
memory; this reads the same weights straight from ``model.safetensors``
(memory-mapped, so only the embedding rows a question uses are paged in) and
computes the same vector. It covers BERT, RoBERTa and XLM-RoBERTa encoders with
mean or CLS pooling, which includes the default multilingual-e5-small; for
anything else ``load`` returns None and the caller uses sentence-transformers.
Passages (index builds) always go through sentence-transformers.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SUPPORTED_TYPES = ("bert", "roberta", "xlm-roberta")
_DTYPES = {"F32": np.float32, "F16": np.float16}


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Tensors of a safetensors file as read-only views of one memory map."""
    with path.open("rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    base = 8 + n
    out: dict[str, np.ndarray] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(meta["dtype"])
        if dtype is None:
            raise ValueError(f"unsupported tensor type {meta['dtype']}")
        start, end = meta["data_offsets"]
        arr = buf[base + start : base + end].view(dtype).reshape(meta["shape"])
        out[name] = arr if dtype == np.float32 else arr.astype(np.float32)
    return out


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below float32 resolution of
    # the activations); numpy has no erf and scipy would cost its import time.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


_ACTS = {"gelu": _gelu, "gelu_new": _gelu_tanh, "gelu_pytorch_tanh": _gelu_tanh}


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


@dataclass(frozen=True)
class _Layer:
    # Weights transposed once to (in, out), contiguous; query, key and value
    # fused into one matrix so a layer is four matrix products.
    qkv: tuple[np.ndarray, np.ndarray]
    o: tuple[np.ndarray, np.ndarray]
    ln1: tuple[np.ndarray, np.ndarray]
    up: tuple[np.ndarray, np.ndarray]
    down: tuple[np.ndarray, np.ndarray]
    ln2: tuple[np.ndarray, np.ndarray]


def _linear(w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.ascontiguousarray(w.T), np.asarray(b)


class LightQueryEncoder:
    """``encode_query`` and ``dim`` of ``embeddings.encoder.Encoder``, in numpy."""

    def __init__(self, model_name: str, path: Path, query_prompt: str, cfg: dict, pooling: dict,
                 normalize: bool) -> None:
        from tokenizers import Tokenizer as HFTokenizer

        st_cfg = _json(path / "sentence_bert_config.json", {})
        w = _read_safetensors(path / "model.safetensors")
        prefix = next((p for p in ("", "bert.", "roberta.", "model.") if f"{p}embeddings.word_embeddings.weight" in w), None)
        if prefix is None:
            raise ValueError("no BERT-style embedding weights")

        def t(name: str) -> np.ndarray:
            return w[prefix + name]

        def pair(name: str) -> tuple[np.ndarray, np.ndarray]:
            return t(name + ".weight"), t(name + ".bias")

        self.model_name = model_name
        self.query_prompt = query_prompt
        self.dim = int(cfg["hidden_size"])
        self._heads = int(cfg["num_attention_heads"])
        self._eps = float(cfg.get("layer_norm_eps", 1e-12))
        self._act = _ACTS[cfg.get("hidden_act", "gelu")]
        # RoBERTa-style models number positions after the padding id.
        self._pos_offset = int(cfg.get("pad_token_id", 1)) + 1 if cfg["model_type"] != "bert" else 0
        self._max_len = min(int(st_cfg.get("max_seq_length") or 512),
                            int(cfg["max_position_embeddings"]) - self._pos_offset)
        self._word = t("embeddings.word_embeddings.weight")
        self._pos = t("embeddings.position_embeddings.weight")
        self._type = t("embeddings.token_type_embeddings.weight")[0]
        self._ln = pair("embeddings.LayerNorm")
        self._layers = []
        for i in range(int(cfg["num_hidden_layers"])):
            pre = f"encoder.layer.{i}."
            parts = [pair(pre + f"attention.self.{n}") for n in ("query", "key", "value")]
            self._layers.append(_Layer(
                _linear(np.concatenate([w for w, _ in parts]), np.concatenate([b for _, b in parts])),
                _linear(*pair(pre + "attention.output.dense")), pair(pre + "attention.output.LayerNorm"),
                _linear(*pair(pre + "intermediate.dense")), _linear(*pair(pre + "output.dense")),
                pair(pre + "output.LayerNorm")))
        self._mean = bool(pooling.get("pooling_mode_mean_tokens"))
        self._normalize = normalize
        self._tok = HFTokenizer.from_file(str(path / "tokenizer.json"))
        self._tok.no_padding()
        self._tok.enable_truncation(self._max_len)

    @classmethod
    def load(cls, model_name: str, path: Path, query_prompt: str) -> LightQueryEncoder | None:
        """The encoder, or None when the model is not one this covers."""
        try:
            cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
            modules = [m.get("type", "").rsplit(".", 1)[-1] for m in _json(path / "modules.json", [])]
            pooling = _json(path / "1_Pooling" / "config.json", {})
            if cfg.get("model_type") not in SUPPORTED_TYPES or cfg.get("hidden_act", "gelu") not in _ACTS:
                return None
            if cfg.get("position_embedding_type", "absolute") != "absolute":
                return None
            if modules not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
                return None
            modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
            if modes not in ({"pooling_mode_mean_tokens"}, {"pooling_mode_cls_token"}):
                return None
            if not (path / "tokenizer.json").is_file() or not (path / "model.safetensors").is_file():
                return None
            return cls(model_name, path, query_prompt, cfg, pooling, normalize=modules[-1] == "Normalize")
        except (OSError, ValueError, KeyError):
            return None

    def encode_query(self, text: str) -> np.ndarray:
        ids = np.asarray(self._tok.encode(self.query_prompt + text).ids, dtype=np.int64)
        n = len(ids)
        x = self._word[ids] + self._pos[self._pos_offset : self._pos_offset + n] + self._type
        x = _layer_norm(x.astype(np.float32), *self._ln, self._eps)
        h = self._heads
        d = self.dim // h
        scale = np.float32(1.0 / math.sqrt(d))
        for L in self._layers:
            qkv = (x @ L.qkv[0] + L.qkv[1]).reshape(n, 3, h, d)
            q = qkv[:, 0].transpose(1, 0, 2)
            k = qkv[:, 1].transpose(1, 2, 0)
            v = qkv[:, 2].transpose(1, 0, 2)
            s = (q @ k) * scale
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(1, 0, 2).reshape(n, self.dim)
            x = _layer_norm(x + ctx @ L.o[0] + L.o[1], *L.ln1, self._eps)
            up = self._act(x @ L.up[0] + L.up[1])
            x = _layer_norm(x + up @ L.down[0] + L.down[1], *L.ln2, self._eps)
        vec = x.mean(0) if self._mean else x[0]
        if self._normalize:
            vec = vec / max(float(np.linalg.norm(vec)), 1e-12)
        return vec.astype(np.float32)


def _json(path: Path, default: Any) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else default
