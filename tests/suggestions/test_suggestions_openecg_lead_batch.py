"""The openecg codec taking many leads per call (the graph a GPU runs), each lead quantised on its own.

Checked here on the CPU, where the same rewritten graph runs: a lead's logits are the shipped int8 graph's
for that lead alone, bit for bit, whatever other leads share the call; the provider's scores and
measurements are the one-lead-at-a-time provider's; a configuration that cannot be honoured (no GPU
build of onnxruntime, a graph of other shapes) is refused with a message saying why. The GPU's own
figures come from bench/openecg_gpu.py on a machine that has one (docs/scaling.md).
"""

from __future__ import annotations

import io
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from django.core.management import call_command

from annotations.lib.ecg.synthetic import synthetic_ecg
from annotations.lib.providers.base import ProviderConfigError, build_provider
from annotations.lib.providers.onnx_lead_batch import per_lead_batch
from annotations.lib.providers.openecg_codec import GRAPH_LEAD_BATCH, OpenEcgProvider
from tests.suggestions.test_suggestions_measurements import DATA, load_mv

OPENECG = "annotations.lib.providers.openecg_codec.OpenEcgProvider"
NAMES = ("E07500", "00001_lr", "s0010_re", "Example_aECG")


@pytest.fixture(scope="module")
def single() -> OpenEcgProvider:
    return OpenEcgProvider()


@pytest.fixture(scope="module")
def batched() -> OpenEcgProvider:
    return OpenEcgProvider(leads_per_call=30)  # not a multiple of 12: calls cut through exams


def _exams() -> list[tuple[np.ndarray, float]]:
    exams = [load_mv(name) for name in NAMES]
    short, _ = synthetic_ecg(heart_rate_bpm=130, rr_jitter=0.03, noise_uv=20.0, seed=7)
    exams.append((short[:, :1500], 500.0))  # 3 s: zero-padded to the window
    return exams


def test_the_rewritten_graph_quantises_each_lead_in_float_and_keeps_no_integer_product(batched):
    ops = {node.op_type for node in onnx.load_from_string(batched.graph_bytes).graph.node}
    assert "DynamicQuantizeLinear" not in ops and "MatMulInteger" not in ops
    assert {"ReduceMin", "ReduceMax", "Round", "MatMul"} <= ops
    assert batched.graph == GRAPH_LEAD_BATCH


def test_each_leads_logits_are_the_shipped_graphs_for_that_lead_alone(single, batched):
    """Every lead of 4 records, 12 per call, against the int8 graph one lead per call: equal bits."""
    heads = batched._heads
    for signals, fs in _exams()[:4]:
        leads = single.lead_inputs(signals, fs)
        together = batched._session.run(heads, {batched._input: leads})
        for index, lead in enumerate(leads):
            alone = single.logits(lead)
            for k in range(len(heads)):
                np.testing.assert_array_equal(together[k][index], alone[k])


def test_a_leads_answer_does_not_depend_on_the_other_leads_of_the_call(batched):
    """The reason for quantising per lead: with one scale per call, a loud lead beside a quiet one
    would change the quiet one's codes."""
    signals, fs = load_mv("00001_lr")
    leads = batched.lead_inputs(signals, fs)
    loud = leads * np.float32(1.0)
    loud[1:] = np.float32(40.0) * np.sign(leads[1:])  # every other lead far outside the first's range
    alone = batched._session.run(batched._heads, {batched._input: leads[:1]})
    beside_quiet = batched._session.run(batched._heads, {batched._input: leads})
    beside_loud = batched._session.run(batched._heads, {batched._input: loud})
    for k in range(len(batched._heads)):
        np.testing.assert_array_equal(beside_quiet[k][0], alone[k][0])
        np.testing.assert_array_equal(beside_loud[k][0], alone[k][0])


def test_the_providers_scores_and_measurements_are_the_one_lead_providers(single, batched):
    exams = _exams()
    for one, many in zip(single.evaluate_many(exams), batched.evaluate_many(exams), strict=True):
        assert many.scores == one.scores
        assert many.measurements.pop("model_graph") == GRAPH_LEAD_BATCH
        assert one.measurements.pop("model_graph") == "refinement on phases"
        assert many.measurements == one.measurements
        assert many.measurements["model_execution"] == "cpu"


def test_an_exam_that_fails_its_checks_fails_alone_in_a_batched_call(batched):
    exams = _exams()[:2]
    exams.insert(1, (np.zeros((12, 500)), 500.0))  # 1 s: too short for any provider
    results = batched.evaluate_many(exams)
    assert [type(r).__name__ for r in results] == ["ProviderResult", "ProviderError", "ProviderResult"]
    assert "at least 2 s" in str(results[1])


def test_a_graph_without_the_codecs_shapes_is_left_alone(single):
    """The shipped graph without the phases rewrite has another last block: per_lead_batch declines, and
    a provider asked to batch it says so instead of running something else."""
    assert (
        per_lead_batch(
            onnx.helper.make_model(onnx.helper.make_graph([], "empty", [], [])).SerializeToString()
        )
        is None
    )
    with pytest.raises(ProviderConfigError, match="cannot take several leads per call"):
        OpenEcgProvider(refine_on_phases=False, leads_per_call=12)


@pytest.mark.parametrize(
    "options,message",
    [
        ({"execution": "tpu"}, "choose one of cpu, cuda"),
        ({"leads_per_call": 0}, "a whole number, 1 or more"),
        ({"leads_per_call": "12"}, "a whole number, 1 or more"),
    ],
)
def test_options_that_make_no_sense_are_refused(options, message):
    with pytest.raises(ProviderConfigError, match=message):
        build_provider({"class": OPENECG, "options": options})


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="a GPU build")
def test_cuda_without_a_gpu_build_of_onnxruntime_is_refused_not_run_on_the_cpu():
    with pytest.raises(ProviderConfigError, match="needs onnxruntime-gpu in place of onnxruntime"):
        build_provider({"class": OPENECG, "options": {"execution": "cuda"}})


def _suggest(settings, exam_id: int, options: dict) -> dict:
    from annotations.services.suggestions import suggestion_providers

    settings.SUGGESTION_PROVIDERS = [{"class": OPENECG, "options": options}]
    suggestion_providers.cache_clear()
    try:
        out = io.StringIO()
        call_command("suggest", str(exam_id), "--provider", "openecg", "--json", stdout=out)
    finally:
        suggestion_providers.cache_clear()
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_an_operator_who_configures_batched_leads_gets_the_same_suggestion(tnmg, settings):
    """Through the operator's interface: SUGGESTION_PROVIDERS with options, then the suggest command on
    an imported record."""
    from annotations.models import Exam, Suggestion

    call_command(
        "import_exams", str(DATA / "dicom" / "waveform_ecg.dcm"), "--dataset", "dicom", "--no-progress"
    )
    exam = Exam.objects.get(dataset__name="dicom")
    one = _suggest(settings, exam.pk, {})
    # Same model file, same version: the stored row would be shown again. Compute afresh.
    Suggestion.objects.filter(exam=exam).delete()
    many = _suggest(settings, exam.pk, {"leads_per_call": 48})
    assert one["status"] == many["status"] == "ok", (one["error"], many["error"])
    assert many["measurements"].pop("model_graph") == GRAPH_LEAD_BATCH
    one["measurements"].pop("model_graph")
    assert many["measurements"] == one["measurements"]
    assert many["suggested"] == one["suggested"]


@pytest.mark.django_db
@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="a GPU build")
def test_the_suggest_command_says_what_is_missing_for_cuda(tnmg, settings):
    from annotations.models import Exam

    call_command(
        "import_exams", str(DATA / "dicom" / "waveform_ecg.dcm"), "--dataset", "dicom", "--no-progress"
    )
    exam = Exam.objects.get(dataset__name="dicom")
    with pytest.raises(Exception, match="onnxruntime-gpu") as raised:
        _suggest(settings, exam.pk, {"execution": "cuda"})
    assert "Traceback" not in str(raised.value)


@pytest.mark.django_db
@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="a GPU build")
def test_a_web_process_without_a_gpu_shows_the_exam_page_of_a_gpu_configured_site(
    client_for, diego, tnmg, settings
):
    """SUGGESTION_PROVIDERS is one setting for every process, and only the models workers have the GPU:
    the exam page asks which configured model can explain by occlusion, and must not build (and fail to
    build) the codec's CUDA session to learn that the codec cannot."""
    from annotations.services.suggestions import suggestion_providers
    from tests.factories import make_exam

    exam = make_exam(seed=3)
    settings.SUGGESTION_PROVIDERS = [
        "annotations.lib.providers.measurements.MeasurementProvider",
        {"class": OPENECG, "options": {"execution": "cuda"}},
    ]
    suggestion_providers.cache_clear()
    try:
        page = client_for(diego).get(f"/exams/{exam.pk}/")
    finally:
        suggestion_providers.cache_clear()
    assert page.status_code == 200
    assert 'id="occlusion-none"' in page.content.decode()
