"""Relevance from ONNX models, on small graphs built here: a model that returns its own map (as
Grad-CAM does) gets it mapped back onto the exam's time axis and stored; any model that scores classes
gets occlusion sensitivity, which finds the one stretch of input a hand-made graph looks at."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.providers.base import ProviderConfigError, build_provider
from annotations.lib.providers.relevance import MAX_OCCLUSION_CALLS, band_decode

CLASS = "annotations.lib.providers.onnx_model.OnnxModelProvider"
CODES = [{"index": 0, "code": "AF", "threshold": 0.5}, {"index": 1, "code": "RBBB", "threshold": 0.5}]


def _save(path: Path, nodes, inputs, outputs, initializers) -> str:
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cam_graph(path: Path, cam: np.ndarray) -> str:
    """scores = sigmoid(mean over time and leads), same for both classes; cam = a fixed map (classes,
    [leads,] samples) broadcast over the batch, as a Grad-CAM head would return one per exam."""
    x = helper.make_tensor_value_info("ecg", TensorProto.FLOAT, ["N", 4096, 12])
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 2])
    c = helper.make_tensor_value_info("cam", TensorProto.FLOAT, ["N", *cam.shape])
    ones = [1] * cam.ndim
    nodes = [
        helper.make_node("ReduceMean", ["ecg"], ["mean"], axes=[1, 2], keepdims=0),
        helper.make_node("Unsqueeze", ["mean", "axis1"], ["mean2"]),
        helper.make_node("Mul", ["mean2", "two"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["scores"]),
        helper.make_node("Reshape", ["mean", "shape"], ["meanN"]),
        helper.make_node("Mul", ["meanN", "zero"], ["zeros"]),
        helper.make_node("Add", ["zeros", "map"], ["cam"]),
    ]
    initializers = [
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.ones((1, 2), dtype=np.float32), "two"),
        numpy_helper.from_array(np.array([-1, *ones], dtype=np.int64), "shape"),
        numpy_helper.from_array(np.zeros(1, dtype=np.float32), "zero"),
        numpy_helper.from_array(cam.astype(np.float32), "map"),
    ]
    return _save(path, nodes, [x], [y, c], initializers)


def window_graph(path: Path) -> str:
    """One class whose score depends only on input samples 1000..1500 (their energy, all leads)."""
    x = helper.make_tensor_value_info("ecg", TensorProto.FLOAT, ["N", 5000, 12])
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 1])
    nodes = [
        helper.make_node("Slice", ["ecg", "starts", "ends", "axes"], ["window"]),
        helper.make_node("Mul", ["window", "window"], ["energy"]),
        helper.make_node("ReduceMean", ["energy"], ["mean"], axes=[1, 2], keepdims=0),
        helper.make_node("Unsqueeze", ["mean", "axis1"], ["mean2"]),
        helper.make_node("Sigmoid", ["mean2"], ["scores"]),
    ]
    initializers = [
        numpy_helper.from_array(np.array([1000], dtype=np.int64), "starts"),
        numpy_helper.from_array(np.array([1500], dtype=np.int64), "ends"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
    ]
    return _save(path, nodes, [x], [y], initializers)


def install(folder: Path, sha: str, model: str, **mapping) -> dict:
    data = {
        "format": "ecgreview-onnx-mapping/1",
        "name": "tiny-cam",
        "version": "0.1",
        "activation": "sigmoid",
        "output": "scores",
        "input": {"sampling_rate": 400, "samples": 4096, "pad": "center"},
        "classes": CODES,
    }
    data.update(mapping)
    (folder / "map.json").write_text(json.dumps(data))
    return {
        "class": CLASS,
        "options": {"models_dir": str(folder), "model": model, "sha256": sha, "mapping": "map.json"},
    }


def exam_signals(seconds: float = 10.0, rate: float = 500.0) -> np.ndarray:
    return np.random.default_rng(11).normal(0.0, 0.5, (12, int(seconds * rate)))


def hot_map(leads: int | None) -> np.ndarray:
    """Class 0 (AF) relevant at input samples 48 + 1600 .. 48 + 2000, i.e. 4-5 s of a 10 s exam at
    500 Hz; with leads, only on the network's first lead."""
    shape = (2, 4096) if leads is None else (2, leads, 4096)
    cam = np.zeros(shape)
    if leads is None:
        cam[0, 1648:2048] = 2.0
    else:
        cam[0, 0, 1648:2048] = 2.0
    cam[1, ..., :100] = -1.0  # negative relevance counts as none
    return cam


def test_a_class_by_time_map_comes_back_on_the_exams_time_axis(tmp_path):
    sha = cam_graph(tmp_path / "cam.onnx", hot_map(None))
    provider = build_provider(
        install(tmp_path, sha, "cam.onnx", relevance={"output": "cam", "layout": "class_time"})
    )
    result = provider.evaluate(exam_signals(), 500.0)
    assert set(result.relevance) == {"AF", "RBBB"}
    af = result.relevance["AF"]
    assert af.shape == (1, 5000)
    assert af[0, 2010:2490].min() > 1.99 and af[0, :1990].max() < 0.02 and af[0, 2510:].max() < 0.02
    assert result.relevance["RBBB"].max() == 0.0  # its negative relevance counts as none


def test_a_per_lead_map_in_the_networks_lead_order_comes_back_in_standard_order(tmp_path):
    sha = cam_graph(tmp_path / "cam.onnx", hot_map(12))
    reversed_leads = list(reversed(STANDARD_LEADS))  # the network's first lead is V6
    provider = build_provider(
        install(
            tmp_path,
            sha,
            "cam.onnx",
            input={"sampling_rate": 400, "samples": 4096, "pad": "center", "leads": reversed_leads},
            relevance={"output": "cam", "layout": "class_lead_time"},
        )
    )
    af = provider.evaluate(exam_signals(), 500.0).relevance["AF"]
    assert af.shape == (12, 5000)
    v6 = STANDARD_LEADS.index("V6")
    assert af[v6, 2010:2490].min() > 1.99
    assert np.delete(af, v6, axis=0).max() == 0.0


@pytest.mark.parametrize(
    ("relevance", "message"),
    [
        ({"output": "nope", "layout": "class_time"}, "no output named"),
        ({"output": "cam", "layout": "time_class"}, "layout"),
        ({"output": "cam", "layout": "class_lead_time"}, "shape"),
    ],
)
def test_a_relevance_output_that_does_not_fit_the_graph_is_refused(tmp_path, relevance, message):
    sha = cam_graph(tmp_path / "cam.onnx", hot_map(None))
    with pytest.raises(ProviderConfigError, match=message):
        build_provider(install(tmp_path, sha, "cam.onnx", relevance=relevance))


def window_provider(tmp_path):
    sha = window_graph(tmp_path / "window.onnx")
    return build_provider(
        install(
            tmp_path,
            sha,
            "window.onnx",
            input={"sampling_rate": 500, "samples": 5000, "pad": "center"},
            classes=[{"index": 0, "code": "AF", "threshold": 0.5}],
        )
    )


def test_occlusion_on_an_onnx_model_finds_the_samples_its_score_depends_on_within_the_budget(tmp_path):
    provider = window_provider(tmp_path)
    rows = []
    real_run = provider.session.run

    def counting_run(names, feeds):
        rows.append(len(next(iter(feeds.values()))))
        return real_run(names, feeds)

    provider.session.run = counting_run
    relevance = provider.occlusion(exam_signals(), 500.0)
    assert sum(rows) <= MAX_OCCLUSION_CALLS
    hot = relevance["AF"][0] / relevance["AF"][0].max()
    assert relevance["AF"].shape == (1, 5000)
    assert hot[1000:1500].mean() > 0.5 and hot[:750].max() == 0.0 and hot[1750:].max() == 0.0


@pytest.mark.django_db
def test_the_service_stores_a_models_own_map_and_occlusion_as_bands_on_the_exam(tmp_path, tnmg):
    from annotations.models import SuggestionRelevance
    from annotations.services.suggestions import suggestion_compute, suggestion_occlusion_compute
    from tests.factories import make_exam

    sha = cam_graph(tmp_path / "cam.onnx", hot_map(None))
    provider = build_provider(
        install(tmp_path, sha, "cam.onnx", relevance={"output": "cam", "layout": "class_time"})
    )
    exam = make_exam(seed=2)  # 10 s at 500 Hz
    row = suggestion_compute(exam.pk, provider)
    assert row.status == "ok", row.error
    stored = {r.code: r for r in SuggestionRelevance.objects.filter(suggestion=row, method="provider")}
    assert set(stored) == {"AF", "RBBB"}
    af = stored["AF"]
    assert (af.leads, af.bins, af.bin_ms, af.peak) == (1, 1000, 10.0, pytest.approx(2.0, abs=0.01))
    band = band_decode(af.data, af.leads, af.bins)[0]
    assert band[401:499].min() > 0.99 and band[:399].max() < 0.02 and band[501:].max() < 0.02
    assert stored["RBBB"].peak == 0.0

    suggestion_occlusion_compute(row.pk, provider)
    suggestion_occlusion_compute(row.pk, provider)  # a redelivered task changes nothing
    occluded = SuggestionRelevance.objects.filter(suggestion=row, method="occlusion")
    assert sorted(occluded.values_list("code", flat=True)) == ["AF", "RBBB"]
    assert all(r.leads == 1 and r.bins == 1000 for r in occluded)
