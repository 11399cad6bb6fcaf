"""Question encoding without torch: the forward pass of a BERT-family
sentence-transformers model in numpy.

Answering one question needs one short forward pass. Importing torch and
sentence-transformers for it costs seconds at start-up and about 800 MB of
memory; this reads the same weights straight from ``model.safetensors``
(memory-mapped, so only the embedding rows a question uses are paged in) and
computes the same vector. It covers BERT, RoBERTa and XLM-RoBERTa encoders with
mean or CLS pooling, which includes the default multilingual-e5-small; for
anything else ``load`` returns None and the caller uses sentence-transformers.
Passages (index builds) go through int8 ONNX Runtime (embeddings/int8.py) or
sentence-transformers.
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


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
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


ACTS = {"gelu": _gelu, "gelu_new": _gelu_tanh, "gelu_pytorch_tanh": _gelu_tanh}


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


@dataclass(frozen=True)
class Layer:
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


def load_layers(get: Any, n_layers: int, prefix: str = "encoder.layer.") -> list[Layer]:
    """BERT-layout encoder layers; ``get(name)`` returns a float32 array."""

    def pair(name: str) -> tuple[np.ndarray, np.ndarray]:
        return get(name + ".weight"), get(name + ".bias")

    layers = []
    for i in range(n_layers):
        pre = f"{prefix}{i}."
        parts = [pair(pre + f"attention.self.{n}") for n in ("query", "key", "value")]
        layers.append(Layer(
            _linear(np.concatenate([w for w, _ in parts]), np.concatenate([b for _, b in parts])),
            _linear(*pair(pre + "attention.output.dense")), pair(pre + "attention.output.LayerNorm"),
            _linear(*pair(pre + "intermediate.dense")), _linear(*pair(pre + "output.dense")),
            pair(pre + "output.LayerNorm")))
    return layers


def run_layers(x: np.ndarray, layers: list[Layer], heads: int, eps: float, act: Any,
               mask: np.ndarray | None = None) -> np.ndarray:
    """Post-LN transformer layers over ``x`` (batch, tokens, hidden); ``mask``
    (batch, tokens) is 1 for real tokens, 0 for padding."""
    b, n, dim = x.shape
    d = dim // heads
    scale = np.float32(1.0 / math.sqrt(d))
    bias = None if mask is None else np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
    x = x.reshape(b * n, dim)
    for L in layers:
        qkv = (x @ L.qkv[0] + L.qkv[1]).reshape(b, n, 3, heads, d)
        q = qkv[:, :, 0].transpose(0, 2, 1, 3)
        k = qkv[:, :, 1].transpose(0, 2, 3, 1)
        v = qkv[:, :, 2].transpose(0, 2, 1, 3)
        s = (q @ k) * scale
        if bias is not None:
            s = s + bias
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(0, 2, 1, 3).reshape(b * n, dim)
        x = layer_norm(x + ctx @ L.o[0] + L.o[1], *L.ln1, eps)
        up = act(x @ L.up[0] + L.up[1])
        x = layer_norm(x + up @ L.down[0] + L.down[1], *L.ln2, eps)
    return x.reshape(b, n, dim)


@dataclass(frozen=True)
class ModelSpec:
    """What the numpy and ONNX encoders need to know about a BERT-family
    sentence-transformers directory."""

    prefix: str  # "" or "bert." etc. before the tensor names
    dim: int
    layers: int
    heads: int
    eps: float
    act: str
    pos_offset: int  # RoBERTa-style models number positions after the padding id
    max_len: int
    pad_id: int
    mean: bool  # mean pooling (else the first token)
    normalize: bool


def model_spec(path: Path) -> ModelSpec | None:
    """The spec of the model at ``path``, or None when it is not one these
    encoders cover (then sentence-transformers runs it)."""
    try:
        cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
        modules = [m.get("type", "").rsplit(".", 1)[-1] for m in _json(path / "modules.json", [])]
        pooling = _json(path / "1_Pooling" / "config.json", {})
        st_cfg = _json(path / "sentence_bert_config.json", {})
        if cfg.get("model_type") not in SUPPORTED_TYPES or cfg.get("hidden_act", "gelu") not in ACTS:
            return None
        if cfg.get("position_embedding_type", "absolute") != "absolute":
            return None
        if modules not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            return None
        modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
        if modes not in ({"pooling_mode_mean_tokens"}, {"pooling_mode_cls_token"}):
            return None
        st = path / "model.safetensors"
        if not (path / "tokenizer.json").is_file() or not st.is_file():
            return None
        with st.open("rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            names = json.loads(f.read(n))
        prefix = next((p for p in ("", "bert.", "roberta.", "model.")
                       if f"{p}embeddings.word_embeddings.weight" in names), None)
        if prefix is None:
            return None
        pad = int(cfg.get("pad_token_id", 1 if cfg["model_type"] != "bert" else 0))
        offset = pad + 1 if cfg["model_type"] != "bert" else 0
        return ModelSpec(
            prefix=prefix, dim=int(cfg["hidden_size"]), layers=int(cfg["num_hidden_layers"]),
            heads=int(cfg["num_attention_heads"]), eps=float(cfg.get("layer_norm_eps", 1e-12)),
            act=cfg.get("hidden_act", "gelu"), pos_offset=offset,
            max_len=min(int(st_cfg.get("max_seq_length") or 512), int(cfg["max_position_embeddings"]) - offset),
            pad_id=pad, mean="pooling_mode_mean_tokens" in modes, normalize=modules[-1] == "Normalize")
    except (OSError, ValueError, KeyError, struct.error):
        return None


class LightQueryEncoder:
    """``encode_query`` and ``dim`` of ``embeddings.encoder.Encoder``, in numpy."""

    precision = "fp32"

    def __init__(self, model_name: str, path: Path, query_prompt: str, spec: ModelSpec) -> None:
        from tokenizers import Tokenizer as HFTokenizer

        w = read_safetensors(path / "model.safetensors")

        def t(name: str) -> np.ndarray:
            return w[spec.prefix + name]

        self.model_name = model_name
        self.query_prompt = query_prompt
        self.dim = spec.dim
        self._heads = spec.heads
        self._eps = spec.eps
        self._act = ACTS[spec.act]
        self._pos_offset = spec.pos_offset
        self._max_len = spec.max_len
        self._word = t("embeddings.word_embeddings.weight")
        self._pos = t("embeddings.position_embeddings.weight")
        self._type = t("embeddings.token_type_embeddings.weight")[0]
        self._ln = (t("embeddings.LayerNorm.weight"), t("embeddings.LayerNorm.bias"))
        self._layers = load_layers(t, spec.layers)
        self._mean = spec.mean
        self._normalize = spec.normalize
        # No truncation inside the tokenizer: the answer reader shares this
        # object (parsing tokenizer.json costs 0.6 s of every start) and must
        # see whole passages; questions are cut here instead, as HF would.
        self._tok = HFTokenizer.from_file(str(path / "tokenizer.json"))
        self._tok.no_padding()
        self._tok.no_truncation()

    @property
    def tokenizer(self) -> Any:
        """The fast tokenizer (no truncation, no padding), for sharing."""
        return self._tok

    @classmethod
    def load(cls, model_name: str, path: Path, query_prompt: str) -> LightQueryEncoder | None:
        """The encoder, or None when the model is not one this covers."""
        spec = model_spec(path)
        if spec is None:
            return None
        try:
            return cls(model_name, path, query_prompt, spec)
        except (OSError, ValueError, KeyError):
            return None

    def encode_query(self, text: str) -> np.ndarray:
        raw = self._tok.encode(self.query_prompt + text).ids
        if len(raw) > self._max_len:  # keep the closing special token, as truncation does
            raw = raw[: self._max_len - 1] + raw[-1:]
        ids = np.asarray(raw, dtype=np.int64)
        n = len(ids)
        x = self._word[ids] + self._pos[self._pos_offset : self._pos_offset + n] + self._type
        x = layer_norm(x.astype(np.float32), *self._ln, self._eps)
        x = run_layers(x[None], self._layers, self._heads, self._eps, self._act)[0]
        vec = x.mean(0) if self._mean else x[0]
        if self._normalize:
            vec = vec / max(float(np.linalg.norm(vec)), 1e-12)
        return vec.astype(np.float32)


def _json(path: Path, default: Any) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else default
