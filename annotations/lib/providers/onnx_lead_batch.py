"""The openecg codec's graph rewritten to take many leads in one call, each lead quantised on its own.

Why: one call per lead keeps a GPU idle between its ~250 small kernels, and the shipped graph cannot take
more than one lead: six of its attention reshapes store the batch as 1, and its int8 products quantise their
input with DynamicQuantizeLinear, whose one scale per tensor would make a lead's answer depend on the
other leads of the call (bench/openecg_batch.py measured 0.4-0.6 % of the per-sample classes moving).

The rewrite, in memory (the file and its hash stay as shipped):

1. Batch-free shapes. A stored reshape shape whose 1 stands for the batch becomes -1 (or 0, "keep this
   axis"), and a reshape that flattens (sequence, batch, heads, channels) into rows for a quantised product
   keeps (sequence, batch) apart instead, so that every quantised tensor has the batch as one axis of
   its own.
2. Each DynamicQuantizeLinear becomes the same arithmetic in float, with its min and max taken per lead
   (over every axis but the batch's): scale = (max(x, 0) - min(x, 0)) / 255, zero point =
   clip(round(-min / scale), 0, 255), q = clip(round(x / scale) + zero point, 0, 255), as the operator's
   definition gives them. Its MatMulInteger becomes a float MatMul of (q - zero point) by the weights'
   (w - zero point): every factor is an integer of at most 255 in magnitude and every sum of products
   stays under 2**24, so the float product is exact (also in TF32, whose 10-bit mantissa holds 255).
   The scale it multiplies by afterwards has the lead's own value.

A lead's answer in a call of N leads is then its answer alone, up to the order of float sums, on any
execution provider that runs float MatMul (the CUDA one included; onnxruntime's has no
DynamicQuantizeLinear, so the shipped graph would copy each quantised tensor to the CPU and back).

Hand-written, like onnx_phases.py, because no tool we know of (onnxruntime's quantisation tools, onnxsim)
turns per-tensor dynamic quantisation into per-sample quantisation. Pure numpy and onnx: nothing from
Django. per_lead_batch returns None when the graph does not have the shapes described above.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from onnx import ModelProto, NodeProto

from annotations.lib.lazy_imports import HEAVY_IMPORT

PROBE_BATCH = 3  # a batch size no other axis of the codec has (500, 5000, 128, 256, ...)
QMAX = 255.0  # DynamicQuantizeLinear quantises to uint8
# The codec's attention runs on 500 tokens of 128 channels in 4 heads, sequence first as PyTorch exports
# it; in each stored shape the 1 (or the 4 of batch x heads) that is really the batch becomes free.
FREE_SHAPES = {
    (500, 1, 3, 128): (500, -1, 3, 128),
    (500, 4, 32): (500, -1, 32),
    (1, 4, 500, 32): (-1, 4, 500, 32),
    (1, 4, 32, 500): (-1, 4, 32, 500),
    (500, 1, 128): (500, -1, 128),
}
# (sequence, batch, heads, channels) -> (sequence, batch, heads x channels); some of the codec's reshapes
# read a 0 as a size (allowzero), so the sizes are written out.
KEEP_SEQUENCE_AND_BATCH = (500, -1, 128)
ROWS = (500, 128)  # the same flattening stored for a batch of 1


class _NotThePattern(Exception):
    pass


def _require(condition: bool) -> None:
    if not condition:
        raise _NotThePattern


def _constant(model: ModelProto, name: str, array: np.ndarray) -> str:
    # onnx (protobuf, ~0.2 s) loads only when a codec's graph is rewritten, not when a provider is named.
    from onnx import numpy_helper

    model.graph.initializer.append(numpy_helper.from_array(np.asarray(array), name))
    return name


def _free_batch(model: ModelProto) -> None:
    """Step 1: no stored shape holds the batch as 1, and no quantised tensor merges it into rows."""
    # onnx (protobuf, ~0.2 s) loads only when a codec's graph is rewritten, not when a provider is named.
    from onnx import numpy_helper

    graph = model.graph
    stored = {init.name: init for init in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    quantised = {node.input[0] for node in graph.node if node.op_type == "DynamicQuantizeLinear"}
    for node in graph.node:
        if node.op_type != "Reshape":
            continue
        init = stored.get(node.input[1])
        shape = tuple(numpy_helper.to_array(init).tolist()) if init is not None else None
        if node.output[0] in quantised and shape in (None, ROWS):
            # Rows of (sequence x batch) would mix the leads in one axis; keep them as two.
            name = _constant(model, f"{node.output[0]}_lead_batch_shape", np.array(KEEP_SEQUENCE_AND_BATCH))
            node.input[1] = name
            continue
        if init is None:
            _require(node.input[1] in producer)  # computed from the input's shape: batch-free already
            continue
        if shape in FREE_SHAPES:
            init.CopyFrom(numpy_helper.from_array(np.array(FREE_SHAPES[shape], dtype=np.int64), init.name))
        else:
            # A batch of 1 this rewrite does not know: not the codec.
            _require(shape is not None and 1 not in shape[:2])
    del graph.value_info[:]
    for output in graph.output:
        output.type.tensor_type.shape.dim[0].dim_param = "batch"
    _prune(model)  # the shape computations the flattening reshapes no longer read


def _batch_axes(model: ModelProto) -> dict[str, tuple[int, int]]:
    """(batch axis, rank) of each quantised tensor, seen by running the graph on a batch of PROBE_BATCH
    silent leads. onnx's own shape inference was not enough: it loses the shapes of the reshapes
    above and returns a wrong one after the phases rewrite's."""
    # onnx (protobuf, ~0.2 s) loads only when a codec's graph is rewritten, not when a provider is named.
    import onnx

    with HEAVY_IMPORT:  # lib.lazy_imports says why
        import onnxruntime as ort
    from onnx import helper

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    quantised = [node.input[0] for node in probe.graph.node if node.op_type == "DynamicQuantizeLinear"]
    _require(bool(quantised))
    probe.graph.output.extend(
        helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None) for name in quantised
    )
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every name
    try:
        session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
        width = probe.graph.input[0].type.tensor_type.shape.dim[1].dim_value
        values = session.run(
            quantised, {probe.graph.input[0].name: np.zeros((PROBE_BATCH, width), np.float32)}
        )
    except Exception as error:  # onnxruntime raises its own types: the shapes did not come apart
        raise _NotThePattern from error
    axes = {}
    for name, value in zip(quantised, values, strict=True):
        shape = list(value.shape)
        _require(shape.count(PROBE_BATCH) == 1)
        axis = shape.index(PROBE_BATCH)
        _require(axis < len(shape) - 1)  # the product's output keeps every axis but the last
        axes[name] = (axis, len(shape))
    return axes


def _quantise_per_lead(model: ModelProto, axes: dict[str, tuple[int, int]]) -> None:
    """Step 2: each DynamicQuantizeLinear and its MatMulIntegers as float arithmetic, per lead."""
    # onnx (protobuf, ~0.2 s) loads only when a codec's graph is rewritten, not when a provider is named.
    from onnx import helper, numpy_helper

    graph = model.graph
    weights = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    products = {node.output[0] for node in graph.node if node.op_type == "MatMulInteger"}
    codes = {node.output[0] for node in graph.node if node.op_type == "DynamicQuantizeLinear"}
    replaced: dict[int, list[Any]] = {}
    for index, node in enumerate(graph.node):
        if node.op_type == "DynamicQuantizeLinear":
            replaced[index] = _float_quantiser(model, node, axes)
        elif node.op_type == "MatMulInteger":
            a, b, _, b_zero = node.input
            _require(a in codes and b in weights and b_zero in weights)
            centred = weights[b].astype(np.int32) - weights[b_zero].astype(np.int32)
            # Exact in float32 only while every partial sum stays an integer below 2**24.
            _require(centred.ndim == 2 and centred.shape[0] * QMAX * np.abs(centred).max() < 2**24)
            w = _constant(model, f"{b}_centred_float", centred.astype(np.float32))
            lead = f"{a}_centred_float"
            replaced[index] = [helper.make_node("MatMul", [lead, w], list(node.output), name=node.name)]
        elif node.op_type == "Cast" and node.input[0] in products:
            # The product is float already; the cast to float that followed it has nothing to do.
            replaced[index] = [
                helper.make_node("Identity", list(node.input), list(node.output), name=node.name)
            ]
    nodes = []
    for index, node in enumerate(graph.node):
        nodes.extend(replaced.get(index, [node]))
    del graph.node[:]
    graph.node.extend(nodes)


def _prune(model: ModelProto) -> None:
    """Nodes and initializers nothing reads any more (the shapes computed for the flattening reshapes,
    the uint8 weights) are dropped, so onnxruntime has none to warn about."""
    graph = model.graph
    needed = {output.name for output in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    initializers = [init for init in graph.initializer if init.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)


def _float_quantiser(model: ModelProto, node: NodeProto, axes: dict[str, tuple[int, int]]) -> list[Any]:
    """Nodes giving, for input x: its scale and zero point per lead (under the operator's output names,
    shaped to broadcast along the batch axis), and the centred codes q - zero point as float."""
    # onnx (protobuf, ~0.2 s) loads only when a codec's graph is rewritten, not when a provider is named.
    from onnx import helper

    x = node.input[0]
    codes_name, scale_name, _ = node.output
    axis, rank = axes[x]
    others = [a for a in range(rank) if a != axis]
    p = f"{x}_per_lead_"
    zero = _constant(model, p + "zero", np.array(0.0, dtype=np.float32))
    qmax = _constant(model, p + "qmax", np.array(QMAX, dtype=np.float32))
    tiny = _constant(model, p + "tiny", np.array(np.finfo(np.float32).tiny, dtype=np.float32))
    reduce_axes = _constant(model, p + "axes", np.array(others, dtype=np.int64))

    def make(op: str, inputs: list[str], out: str, **attributes: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attributes))
        return out

    nodes: list[Any] = []
    low = make("Min", [make("ReduceMin", [x, reduce_axes], p + "min", keepdims=1), zero], p + "low")
    high = make("Max", [make("ReduceMax", [x, reduce_axes], p + "max", keepdims=1), zero], p + "high")
    scale = make("Div", [make("Sub", [high, low], p + "range"), qmax], scale_name)
    # An all-zero lead has scale 0; its codes are then 0 whatever is divided, and 0 x anything is 0.
    safe = make("Max", [scale, tiny], p + "safe_scale")
    neg_low = make("Neg", [low], p + "neg_low")
    zero_point = make("Round", [make("Div", [neg_low, safe], p + "zp_raw")], p + "zp_round")
    zero_point = make("Clip", [zero_point, zero, qmax], p + "zp")
    codes = make("Round", [make("Div", [x, safe], p + "ratio")], p + "rounded")
    codes = make("Clip", [make("Add", [codes, zero_point], p + "shifted"), zero, qmax], p + "codes")
    make("Sub", [codes, zero_point], f"{codes_name}_centred_float")
    # The uint8 codes and zero point themselves (outputs 0 and 2) were read by the MatMulIntegers alone.
    return nodes


def per_lead_batch(data: bytes) -> bytes | None:
    """The graph taking any number of leads per call, each quantised as if alone; None if the graph does
    not have the codec's shapes."""
    # onnx (protobuf, ~0.2 s) loads only when a codec's graph is rewritten, not when a provider is named.
    import onnx

    model = onnx.load_from_string(data)
    try:
        _free_batch(model)
        axes = _batch_axes(model)
        _quantise_per_lead(model, axes)
        _prune(model)
    except _NotThePattern:
        return None
    onnx.checker.check_model(model)
    serialized: bytes = model.SerializeToString()
    return serialized
