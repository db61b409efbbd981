"""The documented Keras -> ONNX conversion (annotations/lib/convert_keras.py), end to end: a network of the
architecture of Ribeiro et al. 2020 with random weights is built and saved as .hdf5 by tf.keras in
.venv-convert (keras_code_network.py), converted by the documented command, and the result, loaded by
OnnxModelProvider here, scores real 12-lead records as Keras itself does on the same preprocessed input.

.venv-convert comes from `make convert-venv` (.ci/run builds it); without it the conversion tests fail in
CI and are skipped elsewhere, saying so.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from annotations.lib import convert_keras
from annotations.lib.providers.base import build_providers
from annotations.lib.providers.onnx_model import InputSpec, OnnxModelProvider, preprocess
from tests.suggestions.test_openecg_outputs import load_labelled

ROOT = Path(__file__).resolve().parents[2]
CONVERT_VENV = ROOT / ".venv-convert"
CONVERT_PYTHON = CONVERT_VENV / "bin" / "python"
NETWORK_SCRIPT = Path(__file__).with_name("keras_code_network.py")
# 500 Hz records of 10, 15 and 25 s: padded to 4096 samples at 400 Hz, and cropped around the centre.
RECORDS = ("A0001", "A0002", "A0003", "A0005")
# Observed: at most 5e-6 (TensorFlow's oneDNN and onnxruntime sum in different orders in float32).
TOLERANCE = 1e-5


def _need_convert_venv() -> None:
    if (CONVERT_VENV / ".installed").is_file():
        return
    message = f"{CONVERT_VENV} is missing or half installed: run `make convert-venv`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CONVERT_PYTHON), *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def _ok(process: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert process.returncode == 0, process.stderr[-4000:]
    return process


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict:
    """The random network's own scores on the records, and what the documented command wrote."""
    _need_convert_venv()
    folder = tmp_path_factory.mktemp("keras")
    records = {name: load_labelled(name) for name in RECORDS}
    x = np.concatenate([preprocess(signals, rate, InputSpec()) for signals, rate in records.values()])
    np.save(folder / "input.npy", x)
    _ok(_run(NETWORK_SCRIPT, folder / "input.npy", folder / "model.hdf5", folder / "keras.npy"))
    models = folder / "models"
    command = _ok(_run("-m", "annotations.lib.convert_keras", folder / "model.hdf5", models))
    return {
        "records": records,
        "keras": np.load(folder / "keras.npy"),
        "models": models,
        "mapping": json.loads((models / "code-dnn.json").read_text()),
        "entry": json.loads(command.stdout.strip().splitlines()[-1]),
        "folder": folder,
    }


@pytest.mark.xdist_group("keras_conversion")
def test_the_onnx_provider_scores_real_records_as_the_keras_network_does(converted):
    provider = OnnxModelProvider(
        models_dir=converted["models"],
        model="code-dnn.onnx",
        sha256=converted["mapping"]["sha256"],
        mapping="code-dnn.json",
    )
    assert provider.codes == ("1dAVb", "RBBB", "LBBB", "SB", "AF", "ST")
    for row, (signals, rate) in enumerate(converted["records"].values()):
        scores = provider.run(signals, rate).scores
        ours = np.array([scores[code] for code in provider.codes])
        np.testing.assert_allclose(ours, converted["keras"][row], rtol=0, atol=TOLERANCE)
    # The scores spread over (0, 1), where a wrong conversion could not hide in a saturated sigmoid.
    assert 0.02 < converted["keras"].min() and converted["keras"].max() < 0.98


@pytest.mark.xdist_group("keras_conversion")
def test_the_mapping_pins_the_onnx_file_and_carries_the_papers_thresholds(converted):
    mapping = converted["mapping"]
    onnx_bytes = (converted["models"] / "code-dnn.onnx").read_bytes()
    assert mapping["sha256"] == hashlib.sha256(onnx_bytes).hexdigest()
    assert (
        mapping["converted_from"]["sha256"]
        == hashlib.sha256((converted["folder"] / "model.hdf5").read_bytes()).hexdigest()
    )
    thresholds = {c["code"]: c["threshold"] for c in mapping["classes"]}
    assert thresholds == {"1dAVb": 0.124, "RBBB": 0.07, "LBBB": 0.05, "SB": 0.278, "AF": 0.39, "ST": 0.174}
    assert mapping["input"] == {
        "sampling_rate": 400,
        "samples": 4096,
        "pad": "center",
        "scale": 1.0,
        "leads": ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"],
    }


@pytest.mark.xdist_group("keras_conversion")
def test_the_printed_settings_entry_loads_the_provider_with_both_files_pinned(converted):
    entry = converted["entry"]
    entry["options"]["models_dir"] = str(converted["models"])
    (provider,) = build_providers([entry]).values()
    assert provider.name == "code-dnn"
    assert provider.version == f"1+{converted['mapping']['sha256'][:12]}"


@pytest.mark.xdist_group("keras_conversion")
def test_a_file_that_is_not_a_keras_model_is_refused_and_nothing_is_written(tmp_path):
    _need_convert_venv()
    bogus = tmp_path / "model.hdf5"
    bogus.write_text("not HDF5")
    process = _run("-m", "annotations.lib.convert_keras", bogus, tmp_path / "models")
    assert process.returncode == 2
    assert "not a Keras model file" in process.stderr
    assert not (tmp_path / "models").exists()


# --- Arguments: checked before TensorFlow is imported, so these run in the main venv ---------------------
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--thresholds", "0.1,0.2"], "2 values for 6 codes"),
        (["--thresholds", "0.1,0.2,0.3,0.4,0.5,1.5"], "not all in [0, 1]"),
        (["--thresholds", "0.1,x,0.3,0.4,0.5,0.6"], "not a comma-separated list of numbers"),
        (["--codes", "1dAVb,RBBB,LBBB,SB,AFIB,ST"], "AFIB not in the TNMG taxonomy"),
        (["--codes", "AF,AF,LBBB,SB,RBBB,ST"], "a code appears twice"),
        (["--name", "Code DNN"], "--name 'Code DNN'"),
        (["--scale", "0"], "--scale 0.0"),
        (["--scale", "nan"], "--scale nan"),
        (["--opset", "11"], "--opset 11: from 13 to 18"),
    ],
)
def test_a_bad_argument_is_named_before_anything_is_loaded(tmp_path, extra, message):
    model = tmp_path / "model.hdf5"
    model.write_bytes(b"\x89HDF")
    args = convert_keras.parser().parse_args([str(model), str(tmp_path / "out"), *extra])
    with pytest.raises(convert_keras.ConversionError, match=message.replace("[", r"\[")):
        convert_keras.request_checked(args)
    assert not (tmp_path / "out").exists()


def test_an_existing_model_file_is_never_replaced(tmp_path):
    model = tmp_path / "model.hdf5"
    model.write_bytes(b"\x89HDF")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "code-dnn.json").write_text("{}")
    args = convert_keras.parser().parse_args([str(model), str(tmp_path / "out")])
    with pytest.raises(convert_keras.ConversionError, match=r"code-dnn\.json exists"):
        convert_keras.request_checked(args)
    assert (tmp_path / "out" / "code-dnn.json").read_text() == "{}"


def test_the_paper_codes_are_tnmg_codes_with_one_threshold_each():
    assert set(convert_keras.CODE_CODES) <= convert_keras.tnmg_codes()
    assert len(convert_keras.PAPER_THRESHOLDS) == len(convert_keras.CODE_CODES)
