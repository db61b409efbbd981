"""Keras .hdf5 -> ONNX model + mapping for OnnxModelProvider (annotations/lib/providers/onnx_model.py).

    python -m annotations.lib.convert_keras MODEL.hdf5 OUT_DIR [--name code-dnn] [--version 1]
        [--codes 1dAVb,RBBB,LBBB,SB,AF,ST] [--thresholds 0.124,0.07,0.05,0.278,0.390,0.174]
        [--scale 1.0] [--opset 17]

Made for the network of Ribeiro et al. 2020 (Nat Commun 11, 1760; antonior92/automatic-ecg-diagnosis):
input (N, 4096, 12) at 400 Hz, leads I, II, III, aVR, aVL, aVF, V1-V6 in millivolts (its README's
"multiply volts by 1000"; the maintainer: "make sure your ECG is scaled as millivolts"), shorter tracings
zero-padded on both sides, six sigmoid outputs 1dAVb, RBBB, LBBB, SB, AF, ST. The default thresholds are
the paper's (its data/annotations/dnn.csv: each class's F1-maximising one). Any Keras 2 model with that
input and one sigmoid (or linear: logits) output per code converts the same way.

Runs in its own environment, .venv-convert (`make convert-venv`: tensorflow-cpu, tf-keras, tf2onnx,
onnxruntime; hundreds of MB the application never needs), so it imports nothing from Django and only numpy
from this project; TensorFlow is imported when a model is converted, after the arguments are checked.

Writes OUT_DIR/NAME.onnx and OUT_DIR/NAME.json (the mapping, with the ONNX file's sha256), refusing to
replace either; before writing, the ONNX graph is run by onnxruntime on synthetic tracings and its scores
must equal Keras's to MAX_DIFFERENCE. Prints the SUGGESTION_PROVIDERS entry. Operator's guide:
docs/suggestions-onnx.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from annotations.lib.ecg.leads import STANDARD_LEADS

MAPPING_FORMAT = "ecgreview-onnx-mapping/1"  # the format OnnxModelProvider reads
CODE_CODES = ("1dAVb", "RBBB", "LBBB", "SB", "AF", "ST")
# Ribeiro et al. 2020: the thresholds behind the network's published labels (dnn.csv), set to maximise F1.
PAPER_THRESHOLDS = (0.124, 0.07, 0.05, 0.278, 0.390, 0.174)
SAMPLES, RATE_HZ = 4096, 400
INPUT_NAME, OUTPUT_NAME = "signal", "scores"
DEFAULT_OPSET = 17
OPSETS = range(13, 19)  # 13: the ops this network needs; 18: the newest tf2onnx 1.17 writes
# float32 through ~10 convolutions summed in another order by onnxruntime than by TensorFlow differs in
# the 6th-7th digit; a wrong conversion (a batch norm not folded, a transposed kernel) is off by far more.
MAX_DIFFERENCE = 1e-4
TAXONOMY = Path(__file__).resolve().parent.parent / "taxonomies" / "tnmg.json"
# Same rules as annotations.lib.providers.base, which checks them again when the provider is built.
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,59}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,79}$")


class ConversionError(Exception):
    """A bad argument or model: said in one line, nothing written."""


@dataclass(frozen=True)
class Request:
    model: Path
    out_dir: Path
    name: str
    version: str
    codes: tuple[str, ...]
    thresholds: tuple[float, ...]
    scale: float
    opset: int


# --- Arguments -----------------------------------------------------------------------------------------
def tnmg_codes(path: Path = TAXONOMY) -> set[str]:
    return {c["code"] for c in json.loads(path.read_text(encoding="utf-8"))["classes"]}


def _floats(text: str, what: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ConversionError(f"{what} {text!r} is not a comma-separated list of numbers") from None


def request_checked(args: argparse.Namespace) -> Request:
    """The arguments as a Request, or ConversionError naming the first wrong one."""
    model = Path(args.model)
    if not model.is_file():
        raise ConversionError(f"{model}: no such file")
    if not _NAME.match(args.name):
        raise ConversionError(f"--name {args.name!r}: lower-case letters, digits, '.', '_', '-' (60 at most)")
    if not _VERSION.match(args.version):
        raise ConversionError(f"--version {args.version!r}: letters, digits, '.', '_', '+', '-'")
    codes = tuple(code.strip() for code in args.codes.split(","))
    unknown = sorted(set(codes) - tnmg_codes())
    if unknown:
        raise ConversionError(f"--codes: {', '.join(unknown)} not in the TNMG taxonomy ({TAXONOMY.name})")
    if len(set(codes)) != len(codes):
        raise ConversionError("--codes: a code appears twice")
    thresholds = PAPER_THRESHOLDS if args.thresholds is None else _floats(args.thresholds, "--thresholds")
    if len(thresholds) != len(codes):
        raise ConversionError(f"--thresholds: {len(thresholds)} values for {len(codes)} codes")
    if not all(0.0 <= t <= 1.0 for t in thresholds):  # False for NaN too
        raise ConversionError(f"--thresholds: {thresholds} not all in [0, 1]")
    if not (1e-6 <= args.scale <= 1e6):
        raise ConversionError(f"--scale {args.scale}: a number from 1e-6 to 1e6")
    if args.opset not in OPSETS:
        raise ConversionError(f"--opset {args.opset}: from {OPSETS.start} to {OPSETS.stop - 1}")
    out_dir = Path(args.out_dir)
    for path in (out_dir / f"{args.name}.onnx", out_dir / f"{args.name}.json"):
        if path.exists():
            raise ConversionError(f"{path} exists: remove it or choose another --name")
    return Request(model, out_dir, args.name, args.version, codes, thresholds, float(args.scale), args.opset)


# --- Conversion (TensorFlow from here on) ----------------------------------------------------------------
def _activation(model: Any, n_codes: int) -> str:
    """'sigmoid' or 'logits' from the model's last layer; the input and output shapes checked."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ConversionError(f"{len(model.inputs)} inputs and {len(model.outputs)} outputs, not one each")
    shape_in, shape_out = tuple(model.inputs[0].shape), tuple(model.outputs[0].shape)
    if shape_in[1:] != (SAMPLES, len(STANDARD_LEADS)):
        raise ConversionError(f"model input {shape_in} is not (N, {SAMPLES}, {len(STANDARD_LEADS)})")
    if shape_out[1:] != (n_codes,):
        raise ConversionError(f"model output {shape_out} is not (N, {n_codes}), one score per --codes entry")
    activation = getattr(getattr(model.layers[-1], "activation", None), "__name__", None)
    if activation not in ("sigmoid", "linear"):
        raise ConversionError(f"the last layer's activation is {activation!r}, not 'sigmoid' or 'linear'")
    return "sigmoid" if activation == "sigmoid" else "logits"


def _load_keras(path: Path) -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        # Keras 2 (tf-keras): the published .hdf5 was written by it; Keras 3 reads such files less surely.
        import tf_keras
    except ImportError:
        raise ConversionError(
            "no tf_keras: run this with .venv-convert/bin/python (make convert-venv)"
        ) from None
    try:
        return tf_keras.models.load_model(path, compile=False)
    except Exception as error:  # h5py and Keras raise many types for a file that is not a Keras model
        raise ConversionError(f"{path}: not a Keras model file ({type(error).__name__}: {error})") from None


def _to_onnx(model: Any, opset: int) -> bytes:
    # TensorFlow and tf2onnx live in .venv-convert only (module docstring), loaded once arguments pass.
    import tensorflow as tf
    import tf2onnx

    spec = (tf.TensorSpec((None, SAMPLES, len(STANDARD_LEADS)), tf.float32, name=INPUT_NAME),)

    # A dict names the graph's output; training=False freezes dropout and the batch norms' statistics.
    @tf.function(input_signature=spec)  # type: ignore[untyped-decorator]  # TensorFlow ships no types
    def scores(signal: Any) -> dict[str, Any]:
        return {OUTPUT_NAME: model(signal, training=False)}

    try:
        proto, _ = tf2onnx.convert.from_function(scores, input_signature=spec, opset=opset)
    except Exception as error:  # tf2onnx raises many types for a layer it cannot express in ONNX
        raise ConversionError(
            f"tf2onnx could not convert the model ({type(error).__name__}: {error})"
        ) from None
    serialized: bytes = proto.SerializeToString()
    return serialized


def synthetic_tracings(n: int = 3, seed: int = 0) -> np.ndarray:
    """(n, 4096, 12) float32 ECG-sized test input (1 mV beats at 1-2 Hz over noise), zero-padded like the
    network's real input, for comparing the two runtimes."""
    rng = np.random.default_rng(seed)
    t = np.arange(4000) / RATE_HZ
    x = np.zeros((n, SAMPLES, len(STANDARD_LEADS)), dtype=np.float32)
    for i in range(n):
        rate = rng.uniform(1.0, 2.0)
        beats = np.exp(-(((t * rate) % 1.0 - 0.5) ** 2) / 0.0005)[:, None] * rng.uniform(-1, 1, 12)
        x[i, 48:4048] = beats + rng.normal(0.0, 0.05, (4000, 12))
    return x


def onnx_difference(model: Any, onnx_bytes: bytes) -> float:
    """The largest difference between Keras's and onnxruntime's scores on synthetic tracings."""
    # onnxruntime, like TensorFlow, is the converter's own environment's (module docstring).
    import onnxruntime as ort

    x = synthetic_tracings()
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    (onnx_scores,) = session.run([OUTPUT_NAME], {INPUT_NAME: x})
    keras_scores = model.predict(x, verbose=0)
    return float(np.max(np.abs(onnx_scores.astype(np.float64) - keras_scores)))


def mapping(
    request: Request, activation: str, onnx_sha256: str, keras_sha256: str, difference: float
) -> dict[str, Any]:
    """The mapping JSON (OnnxModelProvider's format), with where the file came from."""
    # TensorFlow and tf2onnx live in .venv-convert only (module docstring), loaded once arguments pass.
    import tensorflow as tf
    import tf2onnx

    return {
        "format": MAPPING_FORMAT,
        "name": request.name,
        "version": request.version,
        "activation": activation,
        "output": OUTPUT_NAME,
        "input": {
            "sampling_rate": RATE_HZ,
            "samples": SAMPLES,
            "pad": "center",
            "scale": request.scale,
            "leads": list(STANDARD_LEADS),
        },
        "classes": [
            {"index": i, "code": code, "threshold": threshold}
            for i, (code, threshold) in enumerate(zip(request.codes, request.thresholds, strict=True))
        ],
        "sha256": onnx_sha256,
        "converted_from": {
            "file": request.model.name,
            "sha256": keras_sha256,
            "tensorflow": tf.__version__,
            "tf2onnx": tf2onnx.__version__,
            "opset": request.opset,
            "max_difference_keras_onnx": difference,
        },
    }


def _write_new(path: Path, data: bytes) -> None:
    """Written under a temporary name, then renamed: a reader never sees half a file."""
    part = path.with_name(f".{path.name}.part")
    part.write_bytes(data)
    os.replace(part, path)


def convert(request: Request) -> dict[str, Any]:
    """Convert, check, write; returns the mapping written. Nothing is written unless everything passed."""
    keras_bytes = request.model.read_bytes()
    model = _load_keras(request.model)
    activation = _activation(model, len(request.codes))
    onnx_bytes = _to_onnx(model, request.opset)
    difference = onnx_difference(model, onnx_bytes)
    if not difference <= MAX_DIFFERENCE:
        raise ConversionError(f"ONNX scores differ from Keras's by {difference:.3g} (> {MAX_DIFFERENCE})")
    onnx_sha256 = hashlib.sha256(onnx_bytes).hexdigest()
    result = mapping(request, activation, onnx_sha256, hashlib.sha256(keras_bytes).hexdigest(), difference)
    request.out_dir.mkdir(parents=True, exist_ok=True)
    _write_new(request.out_dir / f"{request.name}.onnx", onnx_bytes)
    _write_new(request.out_dir / f"{request.name}.json", (json.dumps(result, indent=2) + "\n").encode())
    return result


def provider_entry(request: Request, result: dict[str, Any]) -> dict[str, Any]:
    """The SUGGESTION_PROVIDERS entry that loads what convert() wrote."""
    mapping_path = request.out_dir / f"{request.name}.json"
    return {
        "class": "annotations.lib.providers.onnx_model.OnnxModelProvider",
        "options": {
            "model": f"{request.name}.onnx",
            "sha256": result["sha256"],
            "mapping": mapping_path.name,
            "mapping_sha256": hashlib.sha256(mapping_path.read_bytes()).hexdigest(),
        },
    }


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m annotations.lib.convert_keras",
        description="Convert a Keras .hdf5 ECG network (CODE convention) to ONNX + an ECG Review mapping.",
    )
    p.add_argument("model", help="the Keras .hdf5 file (e.g. the published model.hdf5)")
    p.add_argument("out_dir", help="folder to write NAME.onnx and NAME.json into (created if missing)")
    p.add_argument("--name", default="code-dnn", help="provider name and file stem (default code-dnn)")
    p.add_argument("--version", default="1", help="model version in the mapping (default 1)")
    p.add_argument("--codes", default=",".join(CODE_CODES), help="TNMG code of each output, in order")
    p.add_argument("--thresholds", help="one per code, comma-separated (default: the paper's)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply millivolts by this (default 1)")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        request = request_checked(parser().parse_args(argv))
        result = convert(request)
    except ConversionError as error:
        print(f"convert_keras: {error}", file=sys.stderr)
        return 2
    print(f"wrote {request.out_dir / (request.name + '.onnx')} (sha256 {result['sha256']})")
    print(f"wrote {request.out_dir / (request.name + '.json')}")
    difference = result["converted_from"]["max_difference_keras_onnx"]
    print(f"Keras vs ONNX on synthetic tracings: max difference {difference:.2g}")
    print("SUGGESTION_PROVIDERS entry (models_dir is SUGGESTION_MODELS_DIR):")
    print(json.dumps(provider_entry(request, result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
