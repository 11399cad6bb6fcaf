"""Passage encoding with int8 weights in ONNX Runtime.

Index builds are bound by the encoder: about 20 chunks/s for ~300-character
chunks through sentence-transformers in fp32 on 2 cores. The same BERT-family
model as an ONNX graph with int8 weights (dynamic quantisation, per-channel
scales) runs on the CPU's VNNI instructions, several times faster, with vectors
close enough to fp32 that retrieval is unchanged (bench/int8.py prints both).
Activations are quantised with one scale per call, so a passage's vector moves
a little with its batch (cosine ≥ 0.997 to itself alone, as close as it is to
fp32); vectors are reused by content hash, never recomputed to compare.

The graph holds the transformer layers only; word rows are gathered from the
converted model's memory-mapped ``model.safetensors``, as the numpy question
encoder does. It is derived from the user's converted model, once, into
``<model dir>/newsqa-int8/`` with a manifest written last; a manifest that no
longer matches the model (another conversion) makes it be rebuilt. Needs
``onnx`` (to write the graph once) and ``onnxruntime``; without them, or for a
model this does not cover, ``load`` returns None and the caller uses
sentence-transformers.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from embeddings.light import load_layers, model_spec, read_safetensors

FORMAT_VERSION = 1
DIRNAME = "newsqa-int8"
GRAPH = "encoder.int8.onnx"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Int8Manifest:
    format_version: int
    base_fingerprint: str  # config + tensor layout + size of the model it was made from
    layers: int
    hidden: int
    quantization: str = "dynamic int8 weights, per-channel, onnxruntime"


def base_fingerprint(model_dir: Path) -> str:
    st = model_dir / "model.safetensors"
    h = hashlib.sha1((model_dir / "config.json").read_bytes())
    with st.open("rb") as f:
        h.update(f.read(1 << 20))  # header (names, shapes, offsets) and the first weights
    h.update(str(st.stat().st_size).encode())
    return h.hexdigest()[:24]


def _read_manifest(d: Path) -> Int8Manifest | None:
    try:
        return Int8Manifest(**json.loads((d / MANIFEST).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def build_graph(model_dir: Path) -> Any:
    """The fp32 ONNX graph: gathered word rows + mask → last hidden state."""
    from embeddings.onnx_graph import GraphBuilder

    spec = model_spec(model_dir)
    if spec is None:
        raise ValueError(f"{model_dir}: not a BERT-family sentence-transformers model")
    w = read_safetensors(model_dir / "model.safetensors")

    def get(name: str) -> np.ndarray:
        return np.asarray(w[spec.prefix + name], dtype=np.float32)

    g = GraphBuilder()
    pos = get("embeddings.position_embeddings.weight")[spec.pos_offset:]
    x = g.encoder(pos, get("embeddings.token_type_embeddings.weight")[0],
                  (get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias")),
                  load_layers(get, spec.layers), spec.heads, spec.eps, spec.act)
    g.identity(x, "hidden")
    return g.model("newsqa-encoder", spec.dim, [("hidden", ["batch", "tokens", spec.dim])])


def ensure_graph(model_dir: Path, note: Callable[[str], None] = lambda _: None) -> Path:
    """``<model_dir>/newsqa-int8``, written once (graph first, manifest last,
    the folder renamed into place) and rebuilt when the model changed."""
    from embeddings.onnx_graph import save_quantized

    final = model_dir / DIRNAME
    spec = model_spec(model_dir)
    if spec is None:
        raise ValueError(f"{model_dir}: not a BERT-family sentence-transformers model")
    want = Int8Manifest(FORMAT_VERSION, base_fingerprint(model_dir), spec.layers, spec.dim)
    if _read_manifest(final) == want and (final / GRAPH).is_file():
        return final
    note("writing the int8 passage encoder (once, a few seconds)…")
    tmp = Path(tempfile.mkdtemp(prefix=".int8-", dir=model_dir))
    try:
        save_quantized(build_graph(model_dir), tmp / GRAPH)
        (tmp / MANIFEST).write_text(json.dumps(asdict(want), indent=1), encoding="utf-8")
        os.chmod(tmp, 0o755)
        if final.exists():
            shutil.rmtree(final, ignore_errors=True)
        try:
            os.replace(tmp, final)
        except OSError:
            # Another process put its (identical) graph there first.
            if _read_manifest(final) != want:
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


class Int8Encoder:
    """``encode_passages``, ``encode_query`` and ``dim`` of
    ``embeddings.encoder.Encoder``, in int8 with ONNX Runtime."""

    precision = "int8"

    def __init__(self, model_name: str, model_dir: Path, *, query_prompt: str, passage_prompt: str,
                 batch_size: int, threads: int, note: Callable[[str], None] = lambda _: None) -> None:
        from tokenizers import Tokenizer as HFTokenizer

        from embeddings.onnx_graph import session

        spec = model_spec(model_dir)
        if spec is None:
            raise ValueError(f"{model_dir}: not a BERT-family sentence-transformers model")
        self._spec = spec
        self.model_name = model_name
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.batch_size = batch_size
        self.dim = spec.dim
        self._word = read_safetensors(model_dir / "model.safetensors")[spec.prefix + "embeddings.word_embeddings.weight"]
        self._tok = HFTokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tok.no_padding()
        self._tok.no_truncation()
        self._session = session(ensure_graph(model_dir, note) / GRAPH, threads)

    @classmethod
    def load(cls, model_name: str, model_dir: Path, *, query_prompt: str, passage_prompt: str, batch_size: int,
             threads: int, note: Callable[[str], None] = lambda _: None) -> Int8Encoder | None:
        """The encoder, or None (with a note saying why) when this model or
        machine cannot run it; the caller then encodes in fp32."""
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            note("note: onnxruntime is not installed; passages are encoded in fp32")
            return None
        if model_spec(model_dir) is None:
            return None
        try:
            return cls(model_name, model_dir, query_prompt=query_prompt, passage_prompt=passage_prompt,
                       batch_size=batch_size, threads=threads, note=note)
        except ImportError:
            note("note: the onnx package is needed once to write the int8 encoder; passages are encoded in fp32")
        except (OSError, ValueError) as exc:
            note(f"note: int8 encoder unavailable ({str(exc).splitlines()[0]}); passages are encoded in fp32")
        return None

    def _ids(self, texts: Sequence[str]) -> list[list[int]]:
        out = []
        n = self._spec.max_len
        for e in self._tok.encode_batch(list(texts)):
            ids = e.ids
            # Keep the closing special token, as sentence-transformers' truncation does.
            out.append(ids if len(ids) <= n else ids[: n - 1] + ids[-1:])
        return out

    def _run(self, ids: list[list[int]]) -> np.ndarray:
        n = max(len(i) for i in ids)
        tok = np.full((len(ids), n), self._spec.pad_id, dtype=np.int64)
        mask = np.zeros((len(ids), n), dtype=np.int64)
        for k, row in enumerate(ids):
            tok[k, : len(row)] = row
            mask[k, : len(row)] = 1
        emb = np.ascontiguousarray(self._word[tok], dtype=np.float32)
        (hidden,) = self._session.run(None, {"inputs_embeds": emb, "attention_mask": mask})
        if self._spec.mean:
            m = mask[:, :, None].astype(np.float32)
            vec = (hidden * m).sum(1) / np.maximum(m.sum(1), 1.0)
        else:
            vec = hidden[:, 0]
        if self._spec.normalize:
            vec = vec / np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)
        return vec.astype(np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self._run(self._ids([self.query_prompt + text]))[0]

    def encode_passages(self, texts: Sequence[str],
                        progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Encode in token-length-sorted batches (less padding), returned in input order."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = self._ids([self.passage_prompt + t for t in texts])
        order = np.argsort([-len(i) for i in ids], kind="stable")
        # Small batches: on 2 cores 4–8 passages a call run ~35% faster than
        # 32 (less padding, activations stay in cache).
        step = min(self.batch_size, 8)
        for s in range(0, len(order), step):
            idx = order[s : s + step]
            out[idx] = self._run([ids[j] for j in idx])
            if progress:
                progress(len(idx))
        return out
