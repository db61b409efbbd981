"""Benchmark: the fastest the openecg model could run in one process on this machine, from its arithmetic.

bench/suggestions_scale.py measures exams/s; this one says how far that can go on this CPU. It counts the
multiply-adds of the graph the provider runs (bench/_model_arithmetic.py), times onnxruntime's float32
and int8 matrix products on one thread (large square matrices: about the best the core does with either),
and the model's own calls on one thread, as a worker runs them. Then two floors, each the time the
model's products alone would take at those speeds (the element-wise nodes and the provider's own code only
add to it): as the graph is (float products at the float speed, int8 ones at the int8 speed), and with
every product in int8, the fastest arithmetic the core has (which would change the model's answers).
And what the goal of 20 exams/s per process would ask of the core.

    .venv/bin/python bench/model_bound.py [--calls 60]

Prints figures and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy loads
    os.environ.setdefault(variable, "1")

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _model_arithmetic  # noqa: E402

GOAL_EXAMS_PER_S = 20.0
SQUARE = 2048  # large enough for BLAS to reach its speed, small enough to time in a second


def product_speed(integer: bool, repeats: int = 5) -> float:
    """Multiply-adds x 2 per second (GFLOP/s, or GOP/s in int8) of onnxruntime's matrix product on one
    thread: SQUARE x SQUARE, the best of `repeats`. In int8 it is MatMulInteger of uint8 by int8, as the
    codec's quantised layers run."""
    rng = np.random.default_rng(0)
    if integer:
        a = rng.integers(0, 256, (SQUARE, SQUARE), dtype=np.uint8)
        b = rng.integers(-127, 128, (SQUARE, SQUARE), dtype=np.int8)
        op, a_type, y_type = "MatMulInteger", TensorProto.UINT8, TensorProto.INT32
    else:
        a = rng.random((SQUARE, SQUARE), dtype=np.float32)
        b = rng.random((SQUARE, SQUARE), dtype=np.float32)
        op, a_type, y_type = "MatMul", TensorProto.FLOAT, TensorProto.FLOAT
    graph = helper.make_graph(
        [helper.make_node(op, ["a", "b"], ["y"])],
        "product",
        [helper.make_tensor_value_info("a", a_type, [SQUARE, SQUARE])],
        [helper.make_tensor_value_info("y", y_type, [SQUARE, SQUARE])],
        initializer=[numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    session.run(None, {"a": a})  # the first call pays for the set-up
    best = min(_timed(lambda: session.run(None, {"a": a})) for _ in range(repeats))
    return 2 * SQUARE**3 / best / 1e9


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def model_call_s(provider, calls: int) -> float:
    """Median seconds of one call of the provider's session on one lead, as run_many makes it."""
    from annotations.lib.providers.openecg_codec import rank_normalize

    lead = rank_normalize(np.random.default_rng(1).standard_normal(5000))[None, :].astype(np.float32)
    run = lambda: provider._session.run(provider._heads, {provider._input: lead})  # noqa: E731
    for _ in range(5):
        run()
    return statistics.median(_timed(run) for _ in range(calls))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60, help="model calls timed (one lead each)")
    args = parser.parse_args()
    from annotations.lib.providers.openecg_codec import STANDARD_LEADS, OpenEcgProvider

    provider = OpenEcgProvider()
    counted = _model_arithmetic.multiply_adds(provider.graph_bytes)
    per_lead_float = _model_arithmetic.float_part(counted)
    per_lead_int8 = _model_arithmetic.integer_part(counted)
    leads = len(STANDARD_LEADS)  # one call per lead (OpenEcgProvider._lead says why)
    exam_float = 2 * per_lead_float * leads / 1e9  # GFLOP
    exam_int8 = 2 * per_lead_int8 * leads / 1e9  # GOP
    float_speed, int8_speed = product_speed(integer=False), product_speed(integer=True)
    call_s = model_call_s(provider, args.calls)
    exam_s = call_s * leads
    as_graph_s = exam_float / float_speed + exam_int8 / int8_speed
    all_int8_s = (exam_float + exam_int8) / int8_speed
    goal_s = 1 / GOAL_EXAMS_PER_S

    by_op = ", ".join(f"{op} {value / 1e6:,.0f} M" for op, value in sorted(counted.items()))
    print(f"openecg model, graph {provider.graph}, one call (one lead of 5,000 samples), multiply-adds:")
    print(
        f"  {by_op}; an exam is {leads} calls: {exam_float:.1f} GFLOP of float products, {exam_int8:.1f} GOP"
    )
    print("  of int8 ones")
    print(
        f"this core, one thread, onnxruntime {SQUARE} x {SQUARE} matrix product: float32 {float_speed:.0f} "
        f"GFLOP/s, int8 {int8_speed:.0f} GOP/s"
    )
    print(
        f"the model, one thread: {call_s * 1e3:.1f} ms per call, {exam_s * 1e3:.0f} ms per exam, "
        f"{1 / exam_s:.2f} exams/s (its products at the rates above: {as_graph_s / exam_s:.0%} of that)"
    )
    print(
        f"floor, the graph as it is: its products alone take {as_graph_s * 1e3:.0f} ms per exam at those "
        f"rates: at most {1 / as_graph_s:.1f} exams/s per process"
    )
    print(
        f"floor, every product in int8: {all_int8_s * 1e3:.0f} ms per exam: at most {1 / all_int8_s:.1f} "
        f"exams/s per process"
    )
    print(
        f"goal {GOAL_EXAMS_PER_S:.0f} exams/s per process: {goal_s * 1e3:.0f} ms per exam, "
        f"{as_graph_s / goal_s:.1f}x less than the graph's floor, {all_int8_s / goal_s:.1f}x less than the "
        f"all-int8 one"
    )


if __name__ == "__main__":
    main()
