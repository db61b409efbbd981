"""The openecg codec's refinement evaluated on its upsampling's phases: the same answers as the graph as
shipped, on the real records of tests/data and on synthetic strips, for fewer multiply-adds; any other
graph is run as it is."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from annotations.lib.ecg.synthetic import synthetic_ecg
from annotations.lib.providers.onnx_phases import refine_on_phases
from annotations.lib.providers.openecg_codec import OpenEcgProvider, bundled_model_path
from tests.factories import batch_for
from tests.suggestions.test_suggestions_measurements import RECORDS, load_mv


@pytest.fixture(scope="module")
def both() -> tuple[OpenEcgProvider, OpenEcgProvider]:
    return OpenEcgProvider(), OpenEcgProvider(refine_on_phases=False)


def _strips() -> list[tuple[str, np.ndarray, float]]:
    strips = [(name, *load_mv(name)) for name in RECORDS]
    for rate in (45, 75, 130):
        signals, _ = synthetic_ecg(heart_rate_bpm=rate, rr_jitter=0.03, noise_uv=20.0, seed=rate)
        strips.append((f"synthetic {rate} bpm", signals, 500.0))
    return strips


def test_the_provider_runs_the_refinement_on_phases_and_says_so(both):
    phases, shipped = both
    assert phases.graph == "refinement on phases" and shipped.graph == "as shipped"
    ops = {node.op_type for node in onnx.load_from_string(phases.graph_bytes).graph.node}
    assert "Resize" not in ops  # nothing at the fine rate is computed before the heads
    signals, fs = load_mv(next(iter(RECORDS)))
    assert phases.evaluate(signals, fs).measurements["model_graph"] == "refinement on phases"
    assert shipped.evaluate(signals, fs).measurements["model_graph"] == "as shipped"


def test_its_logits_match_the_shipped_graph_on_every_lead(both):
    """Per lead, as the provider calls the model: the same wave, beat and rhythm class at every sample;
    the logits move only where the heads' int8 input scale moves by a rounding."""
    phases, shipped = both
    flipped = samples = 0
    largest = 0.0
    for _, signals, fs in _strips():
        for lead in phases.lead_inputs(signals, fs):
            a = phases.logits(lead)
            b = shipped.logits(lead)
            for x, y in zip(a, b, strict=True):
                flipped += int((x.argmax(-1) != y.argmax(-1)).sum())
                samples += x.shape[0]
                largest = max(largest, float(np.abs(x - y).max()))
    assert samples == len(_strips()) * 12 * 5000 * 3
    assert flipped <= samples * 1e-5, (flipped, samples)
    assert largest < 0.5, largest


@pytest.mark.parametrize("name,signals,fs", _strips(), ids=[s[0] for s in _strips()])
def test_its_scores_and_measurements_are_the_shipped_graphs(both, name, signals, fs):
    phases, shipped = (provider.evaluate(signals, fs) for provider in both)
    for code, score in shipped.scores.items():
        assert phases.scores[code] == pytest.approx(score, abs=1e-3), (name, code)
    for key in ("n_beats", "beats_measured", "pr_ms", "qrs_ms", "qt_ms", "heart_rate_bpm", "qrs_axis_deg"):
        assert phases.measurements[key] == shipped.measurements[key], (name, key)


def test_a_graph_of_another_shape_is_run_as_it_is(tmp_path):
    """A model file whose upsampling is not a nearest repeat is not rewritten: the provider runs it as it
    is and says so."""
    model = onnx.load(str(bundled_model_path()))
    resize = next(node for node in model.graph.node if node.op_type == "Resize")
    for attribute in resize.attribute:
        if attribute.name == "mode":
            attribute.s = b"linear"
    data = model.SerializeToString()
    assert refine_on_phases(data) is None
    path = tmp_path / "linear.onnx"
    path.write_bytes(data)
    provider = OpenEcgProvider(model_path=str(path))
    assert provider.graph == "as shipped"
    signals, fs = load_mv(next(iter(RECORDS)))
    assert provider.evaluate(signals, fs).measurements["model_graph"] == "as shipped"


def test_the_rewrite_refuses_a_graph_without_the_pattern():
    empty = onnx.helper.make_model(
        onnx.helper.make_graph(
            [onnx.helper.make_node("Identity", ["x"], ["y"])],
            "identity",
            [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
            [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])],
        )
    )
    assert refine_on_phases(empty.SerializeToString()) is None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_stores_the_codecs_suggestions_computed_on_phases(
    ana, bruno, diego, tnmg, settings, monkeypatch
):
    """Through the models queue, as a deployment runs it: a real worker builds the codec (the graph rewritten
    in its own process), and what it stores for a new batch's exams is what the shipped graph answers here."""
    import json

    from annotations.models import Suggestion
    from annotations.services.suggestions import exam_signals_mv, suggestion_providers
    from tests.factories import make_exam
    from tests.workers import celery_worker, wait_for

    entry = "annotations.lib.providers.openecg_codec.OpenEcgProvider"
    settings.SUGGESTION_PROVIDERS = [entry]
    monkeypatch.setenv("SUGGESTION_PROVIDERS", json.dumps([entry]))
    suggestion_providers.cache_clear()
    exams = [make_exam(heart_rate=rate, seed=i) for i, rate in enumerate((52.0, 118.0))]
    try:
        with celery_worker(queues="models", timeout=90):
            batch_for(tnmg, diego, [ana, bruno], exams, name="Codec")
            wait_for(lambda: Suggestion.objects.filter(exam__in=exams, provider="openecg").count() == 2, 180)
    finally:
        suggestion_providers.cache_clear()
    shipped = OpenEcgProvider(refine_on_phases=False)
    for exam in exams:
        row = Suggestion.objects.get(exam=exam, provider="openecg")
        assert row.status == "ok", row.error
        assert row.measurements["model_graph"] == "refinement on phases"
        here = shipped.evaluate(exam_signals_mv(exam), exam.sampling_rate)
        stored = {score.diagnostic_class.code: score.score for score in row.scores.all()}
        for code, value in here.scores.items():
            if code in stored:
                assert stored[code] == pytest.approx(value, abs=1e-3), (exam.pk, code)
        assert row.measurements["heart_rate_bpm"] == here.measurements["heart_rate_bpm"]
        assert row.measurements["qrs_ms"] == here.measurements["qrs_ms"]
