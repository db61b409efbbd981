"""Model scores do not depend on which CPU the models worker happens to run on.

onnxruntime's fast uint8 x int8 product on x86 CPUs without VNNI (AVX2, AVX-512 without VNNI) adds pairs of
products in a saturating 16-bit register, so an int8 model's output there is not the model's arithmetic: the
CI host (a CPU without VNNI) moved the openecg codec's logits by up to 0.40 and a suggestion's QRS duration
by 0.5 ms against a VNNI host. Every session the providers open asks for the exact (uint8 x uint8) product.

The product below is one whose exact answer a saturating kernel cannot give: on a VNNI host every path is
exact, so there only the option itself can be checked; on an AVX2 host the answer is checked as well.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from annotations.lib.providers.onnx_model import OnnxModelProvider
from annotations.lib.providers.openecg_codec import OpenEcgProvider, _session
from tests.suggestions.test_suggestions_onnx import build_graph, write_mapping

EXACT = "session.x64quantprecision"
DEPTH = 64  # terms summed per output: 64 x 255 x 127, far past the 16-bit pair sums' 32,767


def _saturating_product() -> bytes:
    """uint8 activations of 255 by constant int8 weights of 127, as a dynamically quantised model has."""
    a = helper.make_tensor_value_info("a", TensorProto.UINT8, [4, DEPTH])
    y = helper.make_tensor_value_info("y", TensorProto.INT32, [4, 8])
    weights = numpy_helper.from_array(np.full((DEPTH, 8), 127, dtype=np.int8), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "w"], ["y"])], "u8s8", [a], [y], initializer=[weights]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _asks_for_exact_products(session) -> bool:
    return session.get_session_options().get_session_config_entry(EXACT) == "1"


def test_the_openecg_sessions_ask_for_the_exact_int8_product():
    assert _asks_for_exact_products(OpenEcgProvider()._session)
    assert _asks_for_exact_products(OpenEcgProvider(leads_per_call=12)._session)


def test_an_operators_onnx_model_session_asks_for_the_exact_int8_product(tmp_path):
    sha = build_graph(tmp_path / "tiny.onnx")
    provider = OnnxModelProvider(
        models_dir=tmp_path, model="tiny.onnx", sha256=sha, mapping=write_mapping(tmp_path)
    )
    assert _asks_for_exact_products(provider.session)


def test_a_product_past_the_16_bit_pair_sums_is_exact_on_this_cpu():
    session = _session(_saturating_product(), "cpu", 0)
    (y,) = session.run(None, {"a": np.full((4, DEPTH), 255, dtype=np.uint8)})
    assert (y == DEPTH * 255 * 127).all(), f"{int(y.min())} .. {int(y.max())}, not {DEPTH * 255 * 127}"
