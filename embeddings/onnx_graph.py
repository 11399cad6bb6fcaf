"""ONNX graphs of BERT-layout encoders, written directly from their weights.

Shared by the int8 passage encoder (embeddings/int8.py) and the answer
reader's export (retrieval/reader/onnx_export.py). The graphs are built here
rather than traced with ``torch.onnx.export``: tracing the transformers encoder
bakes in parts of its mask handling and produced wrong outputs, and building
them needs neither torch nor transformers. They use ONNX Runtime's fused
transformer kernels (``Attention``, ``SkipLayerNormalization``, ``BiasGelu``).

Input is the word embeddings already gathered, (batch, tokens, hidden) float32,
plus the attention mask (batch, tokens) int64: the 250k-row word-embedding
matrix stays out of the file and is gathered from the base model's memory map,
as the numpy path does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from embeddings.light import Layer

ACT_OPS = {"gelu": "BiasGelu", "gelu_new": "FastGelu", "gelu_pytorch_tanh": "FastGelu"}


class GraphBuilder:
    """Nodes and initialisers of one graph, named as they are added."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []

    def const(self, name: str, arr: np.ndarray) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.require(arr, requirements="C"), name))  # keeps 0-d scalars 0-d
        return name

    def node(self, op: str, inputs: list[str], name: str, n_out: int = 1, domain: str = "",
             **attrs: Any) -> list[str]:
        from onnx import helper

        outs = [name] if n_out == 1 else [f"{name}:{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=name, domain=domain, **attrs))
        return outs

    def identity(self, x: str, name: str) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node("Identity", [x], [name], name=name))
        return name

    def linear(self, x: str, w: np.ndarray, b: np.ndarray, name: str) -> str:
        """x @ w.T + b, torch Linear layout (out, in)."""
        (y,) = self.node("MatMul", [x, self.const(name + ".weight", w.T)], name)
        return self.node("Add", [y, self.const(name + ".bias", b)], name + ".add")[0]

    def encoder(self, positions: np.ndarray, type_row: np.ndarray, ln: tuple[np.ndarray, np.ndarray],
                layers: Sequence[Layer], heads: int, eps: float, act: str) -> str:
        """Embedding sum and layer norm, then the post-LN layers, over the graph
        inputs ``inputs_embeds`` and ``attention_mask``; returns the name of the
        last hidden state (batch, tokens, hidden). ``positions`` starts at the
        row the first token uses (RoBERTa-style models skip the padding rows)."""
        act_op = ACT_OPS.get(act)
        if act_op is None:
            raise ValueError(f"activation {act!r} has no ONNX export")
        # The token-type row is folded into the position table once here.
        pos = np.asarray(positions, np.float32) + np.asarray(type_row, np.float32)
        (shape,) = self.node("Shape", ["inputs_embeds"], "emb.shape")
        (n_tok,) = self.node("Slice", [shape, self.const("one", np.array([1], np.int64)),
                                       self.const("two", np.array([2], np.int64))], "emb.tokens")
        (pos_n,) = self.node("Slice", [self.const("embeddings.position", pos),
                                       self.const("zero", np.array([0], np.int64)), n_tok, "zero"], "emb.positions")
        (x,) = self.node("Add", ["inputs_embeds", pos_n], "emb.add")
        (x,) = self.node("LayerNormalization", [x, self.const("emb.ln.weight", ln[0]),
                                                self.const("emb.ln.bias", ln[1])],
                         "emb.ln", axis=-1, epsilon=eps)
        (mask,) = self.node("Cast", ["attention_mask"], "mask.int32", to=6)  # INT32
        for i, L in enumerate(layers):
            p = f"layer{i}"
            # Attention's weight is (hidden, 3·hidden) with q, k, v side by
            # side: the layout load_layers builds for the numpy path.
            (ctx,) = self.node("Attention", [x, self.const(p + ".qkv.weight", L.qkv[0]),
                                             self.const(p + ".qkv.bias", L.qkv[1]), mask],
                               p + ".attention", domain="com.microsoft", num_heads=heads)
            (o,) = self.node("MatMul", [ctx, self.const(p + ".o.weight", L.o[0])], p + ".o")
            (x,) = self.node("SkipLayerNormalization", [o, x, self.const(p + ".ln1.weight", L.ln1[0]),
                                                        self.const(p + ".ln1.bias", L.ln1[1]),
                                                        self.const(p + ".o.bias", L.o[1])],
                             p + ".ln1", domain="com.microsoft", epsilon=eps)
            (up,) = self.node("MatMul", [x, self.const(p + ".up.weight", L.up[0])], p + ".up")
            (up,) = self.node(act_op, [up, self.const(p + ".up.bias", L.up[1])], p + ".act", domain="com.microsoft")
            (down,) = self.node("MatMul", [up, self.const(p + ".down.weight", L.down[0])], p + ".down")
            (x,) = self.node("SkipLayerNormalization", [down, x, self.const(p + ".ln2.weight", L.ln2[0]),
                                                        self.const(p + ".ln2.bias", L.ln2[1]),
                                                        self.const(p + ".down.bias", L.down[1])],
                             p + ".ln2", domain="com.microsoft", epsilon=eps)
        return x

    def model(self, name: str, hidden: int, outputs: list[tuple[str, list[str]]]) -> Any:
        """The checked ModelProto; ``outputs`` are (name, symbolic shape) float32 tensors."""
        import onnx
        from onnx import TensorProto, helper

        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info("inputs_embeds", TensorProto.FLOAT, ["batch", "tokens", hidden]),
             helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"])],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n, shape in outputs],
            self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                        helper.make_opsetid("com.microsoft", 1)],
                                  producer_name="newsqa")
        model.ir_version = 8  # readable by every onnxruntime that has these contrib ops
        onnx.checker.check_model(model)
        return model


def save_quantized(model: Any, out: Path, exclude: Sequence[str] = (), per_channel: bool = True,
                   unsigned_weights: bool = False) -> None:
    """Write ``model`` to ``out`` with int8 weights (activations quantised per
    call), through a temporary file so ``out`` exists only when complete.
    Signed weights by default: VNNI's u8×s8 products. ``unsigned_weights``:
    u8×u8, for x86 CPUs without VNNI, whose u8×s8 kernel adds pairs of
    products in 16 bits and saturates."""
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = out.with_name(out.name + ".tmp")
    fp32 = out.with_name(out.name + ".fp32.tmp")
    onnx.save(model, fp32)
    # The quantiser's advice to pre-process goes to the root logger, where a
    # CLI user would see it; it concerns graphs traced from frameworks. A
    # handler in place keeps logging.warning() from configuring the root
    # logger, which would then print every library's debug records.
    logging.disable(logging.WARNING)
    guard = logging.NullHandler()
    logging.root.addHandler(guard)
    try:
        quantize_dynamic(fp32, tmp, weight_type=QuantType.QUInt8 if unsigned_weights else QuantType.QInt8,
                         per_channel=per_channel,
                         nodes_to_exclude=list(exclude),
                         # ONNX shape inference cannot type the contrib ops' outputs.
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        logging.root.removeHandler(guard)
        logging.disable(logging.NOTSET)
        fp32.unlink(missing_ok=True)
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)


def session(path: Path, threads: int) -> Any:
    """An ONNX Runtime session pinned to ``threads`` (0: all cores)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or os.cpu_count() or 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
