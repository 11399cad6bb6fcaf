"""The trained reader at query time, in numpy (no torch import, so `newsqa ask`,
`chat` and the bot stay light). Reads a question against several passages and
returns the best span of each with its scores.

``Reader.read`` is the reader's half of answering, each step a call down to
the module that does it, none calling back:

1. tokenize: the question over each passage, as windows (features.py);
2. forward pass: the network's scores per window (``Reader.logits``, here:
   the only network code);
3. decode spans: each window's top spans (decode.py);
4. re-score: the span re-scorer's choice among them (rescore.py);
5. the best window of each passage, as a ``PassageReading``.

Choosing between passages and citing the answer come after, in
retrieval/reader/answering.py."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from embeddings.light import ACTS, layer_norm, load_layers, read_safetensors, run_layers
from retrieval.errors import ReaderError
from retrieval.reader.decode import SpanCandidate, WindowLogits, decode_window
from retrieval.reader.features import ReaderTokenizer, Window, pad_batch
from retrieval.reader.format import MANIFEST, WEIGHTS, ReaderManifest, base_fingerprint, read_manifest
from retrieval.reader.rescore import CANDIDATES, SpanRescorer
from retrieval.reader.verify import Verifier


# Stands for the log-probability of a span where there is none: added to any
# has-answer logit, its sigmoid is ~0.
NO_SPAN_LOGPROB = -30.0


@dataclass(frozen=True)
class PassageReading:
    """What the reader made of one passage: how likely it holds the answer, and
    its best span (character offsets into the passage text). ``top_logprob``
    is the log-probability of the reader's own best span, which the chosen
    ``span`` need not be once a re-scorer has picked among the top spans:
    whether the passage answers at all is the reader's call, the re-scorer
    only chooses the words."""

    passage: int
    has_logit: float
    span: SpanCandidate | None
    top_logprob: float = NO_SPAN_LOGPROB


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -60 else 0.0


class Reader:
    def __init__(self, path: Path, manifest: ReaderManifest, base_dir: Path, tokenizer: Any = None,
                 threads: int = 0, backend: str = "auto", rescorer: bool = True,
                 graph_cache: Path | None = None, note: Callable[[str], None] = lambda _: None) -> None:
        self.path = path
        self.manifest = manifest
        cfg = json.loads((base_dir / "config.json").read_text(encoding="utf-8"))
        base = read_safetensors(base_dir / "model.safetensors")
        prefix = next((p for p in ("", "bert.", "roberta.", "model.")
                       if f"{p}embeddings.word_embeddings.weight" in base), "")
        self._word = base[prefix + "embeddings.word_embeddings.weight"]  # memory-mapped, shared
        self.tokenizer = ReaderTokenizer(base_dir / "tokenizer.json", shared=tokenizer)
        self.rescorer: SpanRescorer | None = (SpanRescorer.load(path / manifest.rescorer)
                                              if manifest.rescorer and rescorer else None)
        self.verifier: Verifier | None = None
        if manifest.calibration.get("no_answer_score") == "verify":
            v = manifest.calibration.get("verifier")
            if not isinstance(v, dict):
                raise ReaderError(f"{path / MANIFEST}: calibration.no_answer_score is \"verify\" but there is no "
                                  "calibration.verifier; fit one with bench/choose_threshold.py --fit-verifier")
            self.verifier = Verifier.from_dict(v, str(path / MANIFEST))
        self._session, graph = _onnx_session(path, manifest, threads, backend, base_dir, graph_cache, note)
        self.backend = "numpy" if self._session is None else f"onnx:{graph}"
        if self._session is not None:
            return
        own = read_safetensors(path / WEIGHTS)

        def get(name: str) -> np.ndarray:
            if name not in own:
                raise ReaderError(f"{path / WEIGHTS}: tensor {name} missing; the reader is damaged, "
                                  f"retrain with `newsqa reader train`")
            return np.asarray(own[name], dtype=np.float32)

        self._pos = get("embeddings.position_embeddings.weight")
        self._type = get("embeddings.token_type_embeddings.weight")[0]
        self._ln = (get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias"))
        self._layers = load_layers(get, manifest.layers)
        self._heads = manifest.heads
        self._eps = float(cfg.get("layer_norm_eps", 1e-12))
        self._act = ACTS[cfg.get("hidden_act", "gelu")]
        self._span = (np.ascontiguousarray(get("span.weight").T), get("span.bias"))
        self._has1 = (np.ascontiguousarray(get("has_dense.weight").T), get("has_dense.bias"))
        self._has2 = (np.ascontiguousarray(get("has_out.weight").T), get("has_out.bias"))
        self._trim = (np.ascontiguousarray(get("trim.weight").T), get("trim.bias"))

    @classmethod
    def load(cls, path: Path, base_model: str, base_dir: Path, tokenizer: Any = None, threads: int = 0,
             backend: str = "auto", rescorer: bool = True, graph_cache: Path | None = None,
             note: Callable[[str], None] = lambda _: None) -> Reader:
        """The reader at ``path``, refused unless it was trained on ``base_model``
        (the word embeddings it uses are that model's). ``tokenizer``: the base
        model's fast tokenizer when one is already loaded. ``backend``: "onnx"
        (the reader's ONNX graph through onnxruntime, ``threads`` threads, 0: 2),
        "onnx-u8" (the same weights quantised unsigned, written once into
        ``graph_cache``), "numpy", or "auto": when the reader has a graph and
        onnxruntime is installed, onnx-u8 on x86 CPUs without VNNI (given a
        ``graph_cache``) and onnx elsewhere; else numpy. ``rescorer``: False
        leaves out the span re-scorer the manifest names (to fit a new one)."""
        manifest = check_base_model(path, base_model)
        fp = base_fingerprint(base_dir)
        if fp != manifest.base_fingerprint:
            raise ReaderError(f"{path}: reader was trained on a different copy of '{base_model}' "
                              f"(fingerprint {manifest.base_fingerprint}, found {fp}); "
                              f"retrain with `newsqa reader train`")
        try:
            return cls(path, manifest, base_dir, tokenizer, threads, backend, rescorer, graph_cache, note)
        except (OSError, ValueError, KeyError) as exc:
            raise ReaderError(f"{path}: cannot load the reader ({exc}); retrain with `newsqa reader train`") from exc

    def _forward(self, windows: list[Window]) -> tuple[np.ndarray, ...]:
        ids, mask = pad_batch(windows)
        b, n = ids.shape
        x = self._word[ids.reshape(-1)].reshape(b, n, -1).astype(np.float32)
        if self._session is not None:
            return tuple(self._session.run(None, {"inputs_embeds": x, "attention_mask": mask}))
        x = x + self._pos[:n][None] + self._type
        x = layer_norm(x, *self._ln, self._eps)
        x = run_layers(x, self._layers, self._heads, self._eps, self._act, mask.astype(np.float32))
        se = x @ self._span[0] + self._span[1]
        has = np.tanh(x[:, 0] @ self._has1[0] + self._has1[1]) @ self._has2[0] + self._has2[1]
        trim = x @ self._trim[0] + self._trim[1]
        k = self.manifest.trim_classes
        return se[..., 0], se[..., 1], has[:, 0], trim[..., :k], trim[..., k:]

    def read(self, question: str, passages: list[tuple[str, str]], batch: int = 16,
             rescore: bool = True) -> list[PassageReading]:
        """(title, text) passages → one reading each, in input order. The span
        of each window is the reader's best, or, with a re-scorer (and
        ``rescore``), the re-scorer's choice among the reader's top spans."""
        if not passages:
            return []
        rescorer = self.rescorer if rescore else None
        asked = rescorer.asked(question) if rescorer else None
        best: dict[int, PassageReading] = {}
        for w, has, spans in self.window_spans(question, passages, CANDIDATES if rescorer else 1, batch):
            span = spans[0] if spans else None
            top = span.span_logprob if span else NO_SPAN_LOGPROB
            if rescorer is not None and asked is not None and spans:
                span = rescorer.choose(asked, passages[w.passage][1], spans)
            prev = best.get(w.passage)
            if prev is None or _better(span, has, top, prev):
                best[w.passage] = PassageReading(w.passage, has, span, top)
        return [best[i] for i in range(len(passages))]

    def window_spans(self, question: str, passages: list[tuple[str, str]], top_n: int,
                     batch: int = 16) -> Iterator[tuple[Window, float, list[SpanCandidate]]]:
        """Each window read, with its has-answer logit and its ``top_n`` spans
        (steps 1 to 3: tokenize, forward pass, decode)."""
        for lg in self.logits(question, passages, batch):
            text = passages[lg.window.passage][1]
            yield lg.window, lg.has, decode_window(lg, text, self.manifest.max_answer_tokens, top_n)

    def logits(self, question: str, passages: list[tuple[str, str]], batch: int = 16) -> Iterator[WindowLogits]:
        """The network's scores for each window of the question over the
        passages (tokenized here), shortest windows first."""
        windows = self.tokenizer.windows(question, passages, self.manifest.max_len, self.manifest.stride)
        if self._session is not None:
            # One window per pass: the int8 graph quantises activations with one scale over the
            # whole batch, so a chunk's scores moved (has-answer logit by up to 0.6) with whatever
            # else was read beside it, and answers with the reading depth. Alone it is as fast
            # (no padding): 203 vs 214 ms for 4 chunks, 420 vs 551 ms for 8.
            batch = 1
        # Similar lengths together: less padding in each forward pass.
        order = sorted(range(len(windows)), key=lambda i: len(windows[i].ids))
        for g in range(0, len(order), batch):
            group = [windows[i] for i in order[g : g + batch]]
            s, e, has, ts, te = self._forward(group)
            for k, w in enumerate(group):
                n = len(w.ids)
                yield WindowLogits(w, s[k, :n], e[k, :n], float(has[k]), ts[k, :n], te[k, :n])

    def confidence(self, reading: PassageReading) -> float:
        """P(the span is right), from the passage's has-answer logit and the
        span's own probability, scaled by the calibration fitted on held-out
        data (identity scaling until one is fitted)."""
        return _sigmoid(self.answer_logit(reading))

    def answer_logit(self, reading: PassageReading) -> float:
        if reading.span is None:
            return NO_SPAN_LOGPROB
        c = self.manifest.calibration
        return (c.get("a_has", 1.0) * reading.has_logit + c.get("a_span", 1.0) * reading.span.span_logprob
                + c.get("b", 0.0))


BACKENDS = ("auto", "onnx", "onnx-u8", "numpy")


def int8_needs_unsigned_weights(cpuinfo: str | None = None) -> bool:
    """True on x86 CPUs without VNNI (``cpuinfo``: /proc/cpuinfo's text).
    There ONNX Runtime's u8×s8 kernel adds pairs of products in 16 bits, which
    saturate: on such a machine the shipped graph lost 1 to 1.5 F1 on CMRC dev
    and moved one plainly answerable chunk below the not-found threshold
    (docs/reader.md, "Backends: VNNI and the unsigned-weight graph"); u8×u8 weights do not saturate.
    False where the flags cannot be read or the CPU is not x86."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            break
    return "sse2" in flags and not flags & {"avx512_vnni", "avx_vnni", "amx_int8"}


def _onnx_session(path: Path, manifest: ReaderManifest, threads: int, backend: str, base_dir: Path,
                  graph_cache: Path | None, note: Callable[[str], None]) -> tuple[Any, str]:
    """An onnxruntime session over the reader's ONNX graph and the graph's
    name, or (None, "") for the numpy forward pass. onnxruntime is imported
    only here (about 0.1 s), so modules that never read stay light."""
    if backend not in BACKENDS:
        raise ReaderError(f"reader backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if backend == "numpy":
        return None, ""
    graph = path / manifest.onnx if manifest.onnx else None
    if backend != "onnx-u8" and (graph is None or not graph.is_file()):
        if backend == "onnx":
            raise ReaderError(f"{path}: the reader has no ONNX graph"
                              f"{f' ({graph.name} missing)' if graph else ''}; export one with "
                              f"retrieval.reader.onnx_export.export_onnx or use the numpy backend")
        return None, ""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        if backend != "auto":
            raise ReaderError(f"onnxruntime is not installed ({exc}); pip install onnxruntime, "
                              f"or use the numpy backend") from exc
        return None, ""
    if backend == "onnx-u8" or (backend == "auto" and graph_cache is not None and int8_needs_unsigned_weights()):
        from retrieval.reader.onnx_export import cached_u8_graph

        if graph_cache is None:
            raise ReaderError("the onnx-u8 reader backend needs a cache directory for its graph")
        try:
            graph = cached_u8_graph(path, base_dir, graph_cache, note)
        except ImportError as exc:  # the onnx package, needed to write the graph
            raise ReaderError(f"cannot write the reader's int8 graph ({exc}); pip install onnx, "
                              f"or set [reader] backend = \"onnx\"") from exc
        except OSError as exc:  # a read-only or full cache
            if backend == "onnx-u8" or graph is None or not graph.is_file():
                raise ReaderError(f"{graph_cache}: cannot write the reader's int8 graph ({exc}); "
                                  f"make the cache writable or set [reader] backend = \"onnx\"") from exc
            note(f"cannot write the reader's int8 graph for this CPU ({exc}); reading with the shipped one")
    assert graph is not None
    opts = ort.SessionOptions()
    # Two threads by default: newsqa targets a 2-core machine, where more
    # threads than cores only contend.
    opts.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle threads sleep instead of spinning: a spinning thread holds a core
    # the question encoder, FAISS or another bot worker needs. On this 2-core
    # machine under load, 2 threads: p50 246 → 141 ms at depth 5.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3  # graph warnings concern whoever exported it, not the user
    try:
        return ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"]), graph.name
    except Exception as exc:  # onnxruntime raises its own exception types for a bad file
        raise ReaderError(f"{graph}: cannot load the reader's ONNX graph ({exc}); export it again "
                          f"or use the numpy backend") from exc


def check_base_model(path: Path, base_model: str) -> ReaderManifest:
    """The reader's manifest, refused unless it names ``base_model``."""
    manifest = read_manifest(path)
    if manifest.base_model != base_model:
        raise ReaderError(f"{path}: reader was trained on base model '{manifest.base_model}', but the "
                          f"embedding model is '{base_model}'; set [reader] path to a reader for it, "
                          f"train one with `newsqa reader train`, or set [reader] enabled = false")
    return manifest


def _better(span: SpanCandidate | None, has: float, top: float, prev: PassageReading) -> bool:
    """Whether a window's reading beats an earlier window's of the same passage."""
    if span is None:
        return False
    if prev.span is None:
        return True
    return has + top > prev.has_logit + prev.top_logprob
