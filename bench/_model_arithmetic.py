"""The multiply-adds one call of an ONNX graph costs, by operator: what bench/model_bound.py divides by the
speed of one core to print the fastest a model could ever run on it.

The shapes are taken from a run, not from ONNX's shape inference: the codec's attention reshapes with sizes
computed at run time (Shape -> Gather -> Concat), which inference leaves unknown for some layers, and an
unknown size would be counted as nothing. Every product's operands and result are made outputs of the graph
and the graph is run once on zeros of the given input shape; a zero input changes no shape.

Counted: MatMul, MatMulInteger (int8), Gemm, Conv and ConvInteger: the operators whose work grows with the
product of their sizes. The element-wise, normalisation and softmax nodes cost little arithmetic per value
and are left out, so the count is a floor on the model's work, never above it.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import shape_inference

PRODUCTS = ("MatMul", "MatMulInteger", "Gemm")
CONVOLUTIONS = ("Conv", "ConvInteger")
INTEGER = ("MatMulInteger", "ConvInteger")


def _needed(model: onnx.ModelProto) -> list[str]:
    """The operands and results of the counted nodes that are not weights (their shapes come from a run)."""
    weights = {initializer.name for initializer in model.graph.initializer}
    names: list[str] = []
    for node in model.graph.node:
        if node.op_type in PRODUCTS + CONVOLUTIONS:
            for name in (node.input[0], node.input[1], node.output[0]):
                if name not in weights and name not in names:
                    names.append(name)
    return names


def _shapes_from_a_run(model: onnx.ModelProto, input_shape: tuple[int, ...] | None) -> dict[str, tuple]:
    typed = shape_inference.infer_shapes(model)  # the element type of every tensor, for the outputs
    types = {info.name: info.type.tensor_type.elem_type for info in typed.graph.value_info}
    types.update({info.name: info.type.tensor_type.elem_type for info in typed.graph.output})
    graph_input = model.graph.input[0]
    types[graph_input.name] = graph_input.type.tensor_type.elem_type
    declared = tuple(d.dim_value or 1 for d in graph_input.type.tensor_type.shape.dim)  # open sizes: 1
    shape = input_shape or declared
    outputs = {output.name for output in model.graph.output}
    for name in _needed(model):
        if name not in outputs and name != graph_input.name:
            if not types.get(name):
                raise ValueError(f"{name}: no element type inferred, so it cannot be read from a run")
            model.graph.output.append(onnx.helper.make_tensor_value_info(name, types[name], None))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # every node as written
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    dtype = onnx.helper.tensor_dtype_to_np_dtype(types[graph_input.name])
    values = session.run(None, {graph_input.name: np.zeros(shape, dtype=dtype)})
    shapes = {
        output.name: tuple(value.shape) for output, value in zip(session.get_outputs(), values, strict=True)
    }
    shapes[graph_input.name] = shape
    shapes.update({w.name: tuple(w.dims) for w in model.graph.initializer})
    return shapes


def _count(node: onnx.NodeProto, shapes: dict[str, tuple]) -> int:
    first, second, result = (shapes[name] for name in (node.input[0], node.input[1], node.output[0]))
    if node.op_type in CONVOLUTIONS:
        # Each output value sums (input channels per group) x kernel size products: the weight's own shape.
        return int(np.prod(result)) * int(np.prod(second[1:]))
    if node.op_type == "Gemm":
        transposed = any(a.name == "transA" and a.i for a in node.attribute)
        return int(np.prod(result)) * (first[0] if transposed else first[-1])
    return int(np.prod(result)) * first[-1]


def multiply_adds(graph: bytes, input_shape: tuple[int, ...] | None = None) -> dict[str, int]:
    """Multiply-adds of one call of the graph, by operator type, for an input of `input_shape` (default:
    the declared shape, open sizes taken as 1, i.e. one lead)."""
    model = onnx.load_from_string(graph)
    shapes = _shapes_from_a_run(model, input_shape)
    counted: dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type in PRODUCTS + CONVOLUTIONS:
            counted[node.op_type] = counted.get(node.op_type, 0) + _count(node, shapes)
    return counted


def float_part(counted: dict[str, int]) -> int:
    return sum(value for op, value in counted.items() if op not in INTEGER)


def integer_part(counted: dict[str, int]) -> int:
    return sum(value for op, value in counted.items() if op in INTEGER)
