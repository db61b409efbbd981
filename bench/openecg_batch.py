"""Benchmark: would one call of 12 leads make the openecg provider faster, and would its answers stay?

The shipped codec (openecg 0.11.0, codec_v6_int8.onnx) declares its batch axis dynamic, but six reshape
shapes of its attention blocks are stored for batch 1 and its intermediate shapes are annotated for batch 1,
so onnxruntime refuses 12 leads in one call and the provider calls it once per lead. This bench rewrites
those shapes in memory only (the batch-coupled 1 becomes -1; the shipped file and its hash are untouched),
then on the real records of tests/data, one thread, as a `models` worker runs:

1. the time of 12 single-lead calls against one call of 12 leads, per exam;
2. how far the batched outputs move from the single ones: the largest logit difference per head, the share
   of samples whose argmax (wave class, rhythm class) changes. They move because the graph quantises its
   activations with DynamicQuantizeLinear, whose scale is one per tensor: batched, each lead is quantised
   with the range of all 12, so a lead's answer would depend on the other leads of the exam.

    .venv/bin/python bench/openecg_batch.py [--repeats 3]

Needs the `onnx` package (requirements-dev.txt) to rewrite the graph in memory. Prints figures, asserts
nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy loads
    os.environ.setdefault(variable, "1")

import numpy as np  # noqa: E402 (after the thread settings above)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere


def batched_graph(data: bytes) -> bytes:
    """The codec with its batch-1 reshape shapes made batch-free and its fixed shape annotations dropped."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(data)
    graph = model.graph
    shapes = {init.name: init for init in graph.initializer}
    # The attention runs on 500 tokens of 128 channels in 4 heads (sequence first, as PyTorch exports it);
    # in each stored shape the 1 or the 4 that is really "batch" or "batch x heads" becomes -1.
    free = {
        (500, 1, 3, 128): (500, -1, 3, 128),
        (500, 4, 32): (500, -1, 32),
        (1, 4, 500, 32): (-1, 4, 500, 32),
        (1, 4, 32, 500): (-1, 4, 32, 500),
        (500, 128): (-1, 128),
        (500, 1, 128): (500, -1, 128),
    }
    for node in graph.node:
        if node.op_type != "Reshape" or node.input[1] not in shapes:
            continue
        stored = shapes[node.input[1]]
        shape = tuple(numpy_helper.to_array(stored).tolist())
        if shape in free:
            stored.CopyFrom(numpy_helper.from_array(np.array(free[shape], dtype=np.int64), stored.name))
    del graph.value_info[:]
    for output in graph.output:
        output.type.tensor_type.shape.dim[0].dim_param = "batch"
    return model.SerializeToString()


def session(data: bytes):
    import onnxruntime as ort

    from annotations.lib.providers.onnx_session import exact_int8_products

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    exact_int8_products(options)  # as the provider does: the answers must be the same arithmetic
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def windows() -> list[np.ndarray]:
    """Each record's 12 rank-normalised leads as the provider feeds them: (12, 5000) float32."""
    from annotations.lib.providers.openecg_codec import _window, rank_normalize
    from bench.suggestions_scale import records

    out = []
    for signals, rate in records():
        window, _, _ = _window(signals, rate)
        out.append(np.stack([rank_normalize(lead) for lead in window]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="passes over the records; the fastest counts")
    args = parser.parse_args()
    from annotations.lib.providers.openecg_codec import bundled_model_path

    shipped = bundled_model_path().read_bytes()
    single, batched = session(shipped), session(batched_graph(shipped))
    heads = [output.name for output in single.get_outputs()]
    exams = windows()
    single.run(heads, {"signal": exams[0][:1]})
    batched.run(heads, {"signal": exams[0]})
    one_by_one, together = [], []
    for _ in range(args.repeats):
        began = time.perf_counter()
        alone = [[single.run(heads, {"signal": x[i : i + 1]}) for i in range(len(x))] for x in exams]
        one_by_one.append(time.perf_counter() - began)
        began = time.perf_counter()
        joint = [batched.run(heads, {"signal": x}) for x in exams]
        together.append(time.perf_counter() - began)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{len(exams)} records, 12 leads each, one thread; {os.cpu_count()} cores, load average {load}")
    per_single, per_batch = min(one_by_one) / len(exams), min(together) / len(exams)
    print(f"  12 calls of one lead   {per_single * 1000:7.1f} ms per exam  ({1 / per_single:5.2f} exams/s)")
    print(f"  one call of 12 leads   {per_batch * 1000:7.1f} ms per exam  ({1 / per_batch:5.2f} exams/s)")
    print(f"  speed-up               {per_single / per_batch:7.2f}x")
    for k, head in enumerate(heads):
        apart = np.concatenate([np.concatenate([lead[k] for lead in exam]) for exam in alone])
        batch = np.concatenate([exam[k] for exam in joint])
        moved = np.abs(apart - batch).max()
        changed = np.mean(apart.argmax(-1) != batch.argmax(-1))
        print(f"  {head:<14} largest logit change {moved:6.3f}, samples whose class changes {changed:7.3%}")


if __name__ == "__main__":
    main()
