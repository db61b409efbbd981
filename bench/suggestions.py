"""Benchmark: exams per second in one worker process for each built-in suggestion provider.

Workloads: synthetic 10 s 12-lead exams at 500 Hz (varied rate and noise) and the real sample records
in tests/data (100, 500 and 1000 Hz; 10-43 s). Providers: the measurement provider, and the ONNX
provider on a tiny test graph built here (mean per lead -> linear -> sigmoid: what this measures is
preprocessing plus onnxruntime overhead, not a real network) or, with --model/--sha256/--mapping, on an
installed model. One thread for BLAS and onnxruntime, as in a Celery worker process with one exam at a
time. Prints figures; asserts nothing.

    .venv/bin/python bench/suggestions.py [--synthetic 40] [--repeat 3]
        [--models-dir DIR --model FILE.onnx --sha256 HEX --mapping FILE.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy loads
    os.environ.setdefault(variable, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from annotations.lib.ecg.synthetic import synthetic_ecg  # noqa: E402
from annotations.lib.formats.base import ReadOptions, standardized  # noqa: E402
from annotations.lib.formats.registry import READERS  # noqa: E402
from annotations.lib.providers.base import Provider  # noqa: E402
from annotations.lib.providers.measurements import MeasurementProvider  # noqa: E402
from annotations.lib.providers.onnx_model import OnnxModelProvider  # noqa: E402

SAMPLES = {
    "E07500": ("wfdb", "wfdb/cinc2021/E07500.hea"),
    "JS20000": ("wfdb", "wfdb/cinc2021/JS20000.hea"),
    "JS20017": ("wfdb", "wfdb/cinc2021/JS20017.hea"),
    "HR06000": ("wfdb", "wfdb/cinc2021/HR06000.hea"),
    "00001_lr": ("wfdb", "wfdb/ptbxl/00001_lr.hea"),
    "A1986": ("cpsc2018", "cpsc2018/A1986.mat"),
    "Example_aECG": ("aecg", "hl7-aecg/Example_aECG.xml"),
    "waveform_ecg": ("dicom", "dicom/waveform_ecg.dcm"),
    "s0010_re": ("wfdb", "wfdb/ptbdb/s0010_re.hea"),
}
Exam = tuple[str, np.ndarray, float]


def real_exams() -> list[Exam]:
    exams = []
    for name, (fmt, relative) in SAMPLES.items():
        record = standardized(
            next(iter(READERS[fmt].read(ROOT / "tests" / "data" / relative, ReadOptions())))
        )
        signals = np.asarray(record.signals[:12], dtype=np.float64)
        if record.gain_uv is not None:
            gains = np.broadcast_to(np.asarray(record.gain_uv, dtype=np.float64), (record.signals.shape[0],))
            signals = signals * gains[:12, None] / 1000.0
        exams.append((name, signals, record.sampling_rate))
    return exams


def synthetic_exams(count: int) -> list[Exam]:
    rng = np.random.default_rng(0)
    exams = []
    for index in range(count):
        rate = float(rng.uniform(45, 140))
        signals, _ = synthetic_ecg(heart_rate_bpm=rate, rr_jitter=0.02, noise_uv=30.0, seed=index)
        exams.append((f"synthetic-{index}", signals, 500.0))
    return exams


def tiny_onnx(folder: Path) -> dict:
    """The test-style graph (N, 4096, 12) -> 4 sigmoid outputs, installed with its mapping."""
    from onnx import TensorProto, helper, numpy_helper  # dev dependency: only this fallback needs it

    rng = np.random.default_rng(1)
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["ecg"], ["mean"], axes=[1], keepdims=0),
            helper.make_node("MatMul", ["mean", "W"], ["linear"]),
            helper.make_node("Add", ["linear", "B"], ["logits"]),
            helper.make_node("Sigmoid", ["logits"], ["scores"]),
        ],
        "bench",
        [helper.make_tensor_value_info("ecg", TensorProto.FLOAT, ["N", 4096, 12])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 4])],
        initializer=[
            numpy_helper.from_array(rng.normal(size=(12, 4)).astype(np.float32), "W"),
            numpy_helper.from_array(np.zeros(4, dtype=np.float32), "B"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    (folder / "bench.onnx").write_bytes(model.SerializeToString())
    mapping = {
        "format": "ecgreview-onnx-mapping/1",
        "name": "bench-tiny",
        "version": "0",
        "classes": [{"index": i, "code": code} for i, code in enumerate(("1dAVb", "RBBB", "LBBB", "SB"))],
    }
    (folder / "bench.json").write_text(json.dumps(mapping))
    sha = hashlib.sha256((folder / "bench.onnx").read_bytes()).hexdigest()
    return {"models_dir": folder, "model": "bench.onnx", "sha256": sha, "mapping": "bench.json"}


def time_provider(provider: Provider, exams: list[Exam], repeat: int) -> tuple[float, float]:
    """Best-of-repeat seconds for the whole list; returns (exams per second, worst single exam in ms)."""
    provider.evaluate(exams[0][1], exams[0][2])  # warm caches and lazy imports
    best, worst = float("inf"), 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        for _, signals, rate in exams:
            one = time.perf_counter()
            provider.evaluate(signals, rate)
            worst = max(worst, time.perf_counter() - one)
        best = min(best, time.perf_counter() - start)
    return len(exams) / best, worst * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--models-dir")
    parser.add_argument("--model")
    parser.add_argument("--sha256")
    parser.add_argument("--mapping")
    args = parser.parse_args()

    workloads = {"synthetic 10 s @ 500 Hz": synthetic_exams(args.synthetic), "real samples": real_exams()}
    with tempfile.TemporaryDirectory() as folder:
        if args.model:
            options = {key: getattr(args, key) for key in ("models_dir", "model", "sha256", "mapping")}
        else:
            options = tiny_onnx(Path(folder))
        providers: list[Provider] = [MeasurementProvider(), OnnxModelProvider(**options)]
        print(f"one process, 1 thread; repeat {args.repeat}, best run reported")
        print(f"{'provider':<38} {'workload':<26} {'exams':>6} {'exams/s':>9} {'worst ms':>9}")
        for provider in providers:
            for label, exams in workloads.items():
                rate, worst = time_provider(provider, exams, args.repeat)
                who = f"{provider.name} {provider.version}"
                print(f"{who:<38} {label:<26} {len(exams):>6} {rate:>9.1f} {worst:>9.1f}")


if __name__ == "__main__":
    main()
