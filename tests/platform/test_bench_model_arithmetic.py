"""bench/_model_arithmetic.py: the multiply-adds a model's graph costs per run, by kind. bench/model_bound.py
divides them by what one core computes to print the fastest the model could run on it; here the count is
checked on graphs whose arithmetic is known, and on the codec the openecg provider runs."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from bench import _model_arithmetic


def _graph(nodes, inputs, outputs, initializers) -> bytes:
    graph = helper.make_graph(nodes, "known", inputs, outputs, initializer=initializers)
    # ir_version: what onnxruntime reads, whatever newer format this onnx would write by default
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _weights(name: str, shape: tuple[int, ...], dtype=np.float32):
    return numpy_helper.from_array(np.ones(shape, dtype=dtype), name)


def test_a_matrix_product_a_convolution_and_an_int8_product_are_counted_by_their_shapes():
    # x (1, 1, 1000) -> Conv 16 filters of 1 x 10, stride 10 -> (1, 16, 100): 16 * 100 * 10 = 16,000
    # -> Transpose (1, 100, 16) -> MatMul (16, 32) -> (1, 100, 32): 100 * 32 * 16 = 51,200
    # -> a uint8 copy of it (Cast) -> MatMulInteger (32, 8) -> (1, 100, 8): 100 * 8 * 32 = 25,600
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], strides=[10]),
        helper.make_node("Transpose", ["c"], ["t"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["t", "m"], ["y"]),
        helper.make_node("Cast", ["y"], ["q"], to=TensorProto.UINT8),
        helper.make_node("MatMulInteger", ["q", "k"], ["z"]),
    ]
    data = _graph(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, 1000])],
        [helper.make_tensor_value_info("z", TensorProto.INT32, ["b", "n", "c"])],
        [_weights("w", (16, 1, 10)), _weights("m", (16, 32)), _weights("k", (32, 8), np.uint8)],
    )

    counted = _model_arithmetic.multiply_adds(data)

    assert counted == {"Conv": 16_000, "MatMul": 51_200, "MatMulInteger": 25_600}
    assert _model_arithmetic.float_part(counted) == 67_200
    assert _model_arithmetic.integer_part(counted) == 25_600


def test_an_unnamed_batch_is_counted_as_one_run_of_the_model():
    # A batch dimension left open by the exporter counts once: the figures are per call of one lead.
    data = _graph(
        [helper.make_node("MatMul", ["x", "m"], ["y"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 50, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", "n", "c"])],
        [_weights("m", (4, 3))],
    )
    assert _model_arithmetic.multiply_adds(data) == {"MatMul": 50 * 3 * 4}


def test_sizes_computed_at_run_time_are_counted_as_the_run_has_them():
    # The shape a Reshape takes is computed from the input at run time (Shape -> Concat), as the codec's
    # attention does: ONNX's shape inference leaves it unknown, the run does not.
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "first"], ["b"], axis=0),
        helper.make_node("Concat", ["b", "rest"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["r"]),
        helper.make_node("MatMul", ["r", "m"], ["y"]),
    ]
    data = _graph(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 60, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", "n", "c"])],
        [
            numpy_helper.from_array(np.array([0], dtype=np.int64), "first"),
            numpy_helper.from_array(np.array([-1, 8], dtype=np.int64), "rest"),
            _weights("m", (8, 3)),
        ],
    )
    # (1, 60, 4) -> (1, 30, 8) -> (1, 30, 3): 30 * 3 * 8 = 720; a 2-lead batch costs twice as much
    assert _model_arithmetic.multiply_adds(data) == {"MatMul": 720}
    assert _model_arithmetic.multiply_adds(data, (2, 60, 4)) == {"MatMul": 1440}


def test_the_codec_the_provider_runs_costs_what_its_layers_add_up_to():
    """The openecg codec, as the provider runs it (its upsampling refinement evaluated on phases), per
    lead: four attention layers over 500 tokens of 128 channels (4 heads of 32), each 2 x 4 x 500 x 500 x
    32 float; the encoder's convolutions (20-sample patches, then four of 128 x 128 x 7 over 500 tokens);
    the refinement as matrix products at 500 tokens; the int8 projections and feed-forward layers."""
    from annotations.lib.providers.openecg_codec import OpenEcgProvider

    provider = OpenEcgProvider()
    counted = _model_arithmetic.multiply_adds(provider.graph_bytes)

    attention = 4 * 2 * 4 * 500 * 500 * 32
    encoder = 128 * 500 * 20 + 4 * 128 * 500 * 128 * 7
    refinement = 500 * 384 * 640 + 500 * 128 * (640 + 512 + 384 + 256 + 128 + 256 + 384 + 512 + 640)
    assert counted["Conv"] == encoder
    assert counted["MatMul"] == attention + refinement
    assert _model_arithmetic.float_part(counted) == 847_104_000
    # In int8, per layer: the 128 -> 384 query-key-value projection, the 128 -> 128 output one and the
    # 128 -> 256 -> 128 feed-forward, at 500 tokens; then three heads (4 wave, 6 beat and 6 rhythm classes)
    # over the 128 channels at each of the 5,000 samples.
    layers = 4 * 500 * (128 * 384 + 128 * 128 + 2 * 128 * 256)
    heads = 5000 * 128 * (4 + 6 + 6)
    assert _model_arithmetic.integer_part(counted) == counted["MatMulInteger"] == layers + heads
