"""The ONNX model provider, against a tiny graph built here with onnx's helper API.

The graph is mean-over-time of each lead -> linear layer -> sigmoid, so every output can be computed
by hand with numpy from the preprocessed input.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.providers.base import ProviderConfigError, ProviderError, build_providers
from annotations.lib.providers.onnx_model import InputSpec, OnnxModelProvider, fit_length, preprocess

RNG = np.random.default_rng(7)
WEIGHTS = RNG.normal(0.0, 2.0, (12, 4)).astype(np.float32)
BIAS = np.array([-0.5, 0.0, 0.3, 1.0], dtype=np.float32)
CLASSES = [
    {"index": 0, "code": "AF", "threshold": 0.5},
    {"index": 2, "code": "RBBB", "threshold": 0.7},
    {"index": 3, "code": "1dAVb", "threshold": 0.2},
]  # output 1 is deliberately unmapped


def build_graph(path: Path, *, samples: int = 4096, leads: int = 12, sigmoid: bool = True) -> str:
    """Save the test network; returns its sha256."""
    x = helper.make_tensor_value_info("ecg", TensorProto.FLOAT, ["N", samples, leads])
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 4])
    nodes = [
        helper.make_node("ReduceMean", ["ecg"], ["mean"], axes=[1], keepdims=0),
        helper.make_node("MatMul", ["mean", "W"], ["linear"]),
        helper.make_node("Add", ["linear", "B"], ["logits" if sigmoid else "scores"]),
    ]
    if sigmoid:
        nodes.append(helper.make_node("Sigmoid", ["logits"], ["scores"]))
    graph = helper.make_graph(
        nodes,
        "mean_linear",
        [x],
        [y],
        initializer=[
            numpy_helper.from_array(WEIGHTS[:leads], "W"),
            numpy_helper.from_array(BIAS, "B"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_mapping(folder: Path, **overrides) -> str:
    mapping = {
        "format": "ecgreview-onnx-mapping/1",
        "name": "tiny-net",
        "version": "0.1",
        "activation": "sigmoid",
        "input": {"sampling_rate": 400, "samples": 4096, "pad": "center", "scale": 1.0},
        "classes": CLASSES,
    }
    mapping.update(overrides)
    (folder / "tiny.json").write_text(json.dumps(mapping))
    return "tiny.json"


@pytest.fixture
def installed(tmp_path) -> dict:
    """A models folder as a coordinator leaves it, and the provider options pointing into it."""
    sha = build_graph(tmp_path / "tiny.onnx")
    return {"models_dir": tmp_path, "model": "tiny.onnx", "sha256": sha, "mapping": write_mapping(tmp_path)}


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


# --- Preprocessing -----------------------------------------------------------------------------------------
def test_a_10_hz_sine_at_500_hz_is_resampled_to_the_same_sine_at_400_hz_and_padded_symmetrically():
    fs, seconds, freq = 500.0, 10.0, 10.0
    t = np.arange(round(seconds * fs)) / fs
    signals = np.tile(np.sin(2 * np.pi * freq * t), (12, 1))
    x = preprocess(signals, fs, InputSpec())
    assert x.shape == (1, 4096, 12) and x.dtype == np.float32
    # 10 s at 400 Hz is 4000 samples: 96 zeros, 48 before and 48 after.
    lead = x[0, :, 0].astype(np.float64)
    assert not lead[:48].any() and not lead[-48:].any()
    analytic = np.sin(2 * np.pi * freq * np.arange(4000) / 400.0)
    interior = slice(100, 3900)  # away from the resampling filter's edge transients
    np.testing.assert_allclose(lead[48:4048][interior], analytic[interior], atol=2e-3)


def test_a_1000_hz_recording_longer_than_4096_samples_at_400_hz_is_cropped_around_its_centre():
    fs, freq = 1000.0, 7.0
    t = np.arange(20_000) / fs  # 20 s -> 8000 samples at 400 Hz, keep 1952 .. 6047
    signals = np.tile(np.cos(2 * np.pi * freq * t), (12, 1))
    lead = preprocess(signals, fs, InputSpec())[0, :, 5].astype(np.float64)
    analytic = np.cos(2 * np.pi * freq * (1952 + np.arange(4096)) / 400.0)
    np.testing.assert_allclose(lead, analytic, atol=2e-3)


def test_end_padding_puts_every_zero_after_the_signal_and_an_odd_difference_keeps_the_extra_zero_last():
    ones = np.ones((12, 4001))
    end = fit_length(ones, 4096, "end")
    assert end[:, :4001].all() and not end[:, 4001:].any()
    centred = fit_length(ones, 4096, "center")
    assert not centred[:, :47].any() and centred[:, 47:4048].all() and not centred[:, 4048:].any()


def test_scale_and_lead_order_are_applied_as_the_network_expects():
    signals = np.arange(12, dtype=np.float64)[:, None] * np.ones((12, 4096))  # lead k is constant k
    order = ("V6", "V5", "V4", "V3", "V2", "V1", "aVF", "aVL", "aVR", "III", "II", "I")
    x = preprocess(signals, 400.0, InputSpec(scale=0.5, leads=order))
    expected = np.array([STANDARD_LEADS.index(lead) for lead in order]) * 0.5
    np.testing.assert_array_equal(x[0, 0], expected.astype(np.float32))
    np.testing.assert_array_equal(x[0, -1], expected.astype(np.float32))


# --- Model outputs ---------------------------------------------------------------------------------------
def test_the_scores_are_the_graph_outputs_mapped_to_their_codes(installed):
    provider = OnnxModelProvider(**installed)
    levels = RNG.normal(0.0, 0.3, 12)
    signals = levels[:, None] * np.ones((12, 4096))  # 400 Hz, exactly 4096 samples: no resampling, no pad
    result = provider.evaluate(signals, 400.0)
    expected = sigmoid(levels.astype(np.float32) @ WEIGHTS + BIAS)
    assert set(result.scores) == {"AF", "RBBB", "1dAVb"}
    for item in CLASSES:
        assert result.scores[item["code"]] == pytest.approx(float(expected[item["index"]]), abs=1e-5)


def test_padding_reaches_the_network_as_zeros(installed):
    provider = OnnxModelProvider(**installed)
    levels = np.linspace(-1.0, 1.0, 12)
    signals = levels[:, None] * np.ones((12, 2000))  # 5 s at 400 Hz: the mean over 4096 is diluted
    result = provider.evaluate(signals, 400.0)
    expected = sigmoid((levels * 2000 / 4096) @ WEIGHTS + BIAS)
    assert result.scores["AF"] == pytest.approx(float(expected[0]), abs=1e-5)


def test_per_class_thresholds_decide_which_codes_are_suggested(installed):
    provider = OnnxModelProvider(**installed)
    result = provider.evaluate(np.zeros((12, 4096)), 400.0)  # zero input: outputs are sigmoid(bias)
    expected = sigmoid(BIAS)  # 0.38, 0.5, 0.57, 0.73 for outputs 0..3
    assert provider.thresholds == {"AF": 0.5, "RBBB": 0.7, "1dAVb": 0.2}
    suggested = {item["code"] for item in CLASSES if expected[item["index"]] >= item["threshold"]}
    assert set(provider.suggested(result)) == suggested == {"1dAVb"}


def test_a_graph_that_outputs_logits_is_passed_through_a_sigmoid_when_the_mapping_says_so(tmp_path):
    sha = build_graph(tmp_path / "tiny.onnx", sigmoid=False)
    options = {"models_dir": tmp_path, "model": "tiny.onnx", "sha256": sha}
    provider = OnnxModelProvider(**options, mapping=write_mapping(tmp_path, activation="logits"))
    result = provider.evaluate(np.zeros((12, 4096)), 400.0)
    assert result.scores["1dAVb"] == pytest.approx(float(sigmoid(BIAS[3])), abs=1e-6)
    as_probabilities = OnnxModelProvider(**options, mapping=write_mapping(tmp_path, activation="sigmoid"))
    with pytest.raises(ProviderError, match="logits"):  # bias 1.0 > 1 is not a probability
        as_probabilities.evaluate(np.zeros((12, 4096)), 400.0)


def test_the_provider_version_carries_the_model_checksum_so_new_weights_never_reuse_a_version(installed):
    provider = OnnxModelProvider(**installed)
    assert provider.name == "tiny-net"
    assert provider.version == f"0.1+{installed['sha256'][:12]}"


def test_the_provider_is_built_from_configuration_like_the_setting_will_hold(installed):
    config = [
        {"class": "annotations.lib.providers.onnx_model.OnnxModelProvider", "options": installed},
    ]
    providers = build_providers(config)
    assert list(providers) == ["tiny-net"]
    with pytest.raises(ProviderConfigError, match="two providers"):
        build_providers(config * 2)


# --- Refusals -----------------------------------------------------------------------------------------
def test_a_model_whose_checksum_does_not_match_the_pinned_one_is_refused(installed):
    with pytest.raises(ProviderConfigError, match="does not match the pinned"):
        OnnxModelProvider(**{**installed, "sha256": "0" * 64})


def test_a_model_file_changed_after_pinning_is_refused(installed):
    path = installed["models_dir"] / "tiny.onnx"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ProviderConfigError, match="sha256"):
        OnnxModelProvider(**installed)


def test_a_model_with_the_wrong_input_shape_is_refused(tmp_path):
    sha = build_graph(tmp_path / "long.onnx", samples=5000)
    with pytest.raises(ProviderConfigError, match="input shape"):
        OnnxModelProvider(models_dir=tmp_path, model="long.onnx", sha256=sha, mapping=write_mapping(tmp_path))
    sha = build_graph(tmp_path / "eight.onnx", leads=8)
    with pytest.raises(ProviderConfigError, match="input shape"):
        OnnxModelProvider(
            models_dir=tmp_path, model="eight.onnx", sha256=sha, mapping=write_mapping(tmp_path)
        )


def test_model_files_outside_the_models_directory_urls_and_non_onnx_files_are_refused(installed, tmp_path):
    outside = tmp_path.parent / "elsewhere.onnx"
    outside.write_bytes((tmp_path / "tiny.onnx").read_bytes())
    with pytest.raises(ProviderConfigError, match="outside the models directory"):
        OnnxModelProvider(**{**installed, "model": "../elsewhere.onnx"})
    with pytest.raises(ProviderConfigError, match="never downloaded"):
        OnnxModelProvider(**{**installed, "model": "https://example.org/model.onnx"})
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(ProviderConfigError, match=r"only \.onnx"):
        OnnxModelProvider(**{**installed, "model": "model.pkl"})


def test_a_mapping_that_points_past_the_graph_outputs_or_repeats_a_code_is_refused(installed, tmp_path):
    past = [*CLASSES, {"index": 4, "code": "LBBB", "threshold": 0.5}]
    with pytest.raises(ProviderConfigError, match="output 4"):
        OnnxModelProvider(**{**installed, "mapping": write_mapping(tmp_path, classes=past)})
    twice = [*CLASSES, {"index": 1, "code": "AF", "threshold": 0.5}]
    with pytest.raises(ProviderConfigError, match="appears twice"):
        OnnxModelProvider(**{**installed, "mapping": write_mapping(tmp_path, classes=twice)})
    with pytest.raises(ProviderConfigError, match="threshold"):
        bad = [{"index": 0, "code": "AF", "threshold": 1.5}]
        OnnxModelProvider(**{**installed, "mapping": write_mapping(tmp_path, classes=bad)})


def test_a_pinned_mapping_file_is_checked_too(installed):
    mapping_sha = hashlib.sha256((installed["models_dir"] / "tiny.json").read_bytes()).hexdigest()
    assert OnnxModelProvider(**installed, mapping_sha256=mapping_sha).codes == ("AF", "RBBB", "1dAVb")
    with pytest.raises(ProviderConfigError, match="does not match"):
        OnnxModelProvider(**installed, mapping_sha256="f" * 64)
