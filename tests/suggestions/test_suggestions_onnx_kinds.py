"""Output kinds an operator declares in an ONNX model's mapping besides multi-label sigmoid: multi-class
softmax (as af-risk-prediction's 3 classes) and scalar regression with an optional log-variance (as
ecg-age-prediction, ecg-electrolyte-regression), on small graphs built here with the onnx package."""

from __future__ import annotations

import numpy as np
import pytest

from annotations.lib.providers.base import ProviderConfigError, ProviderError, build_provider
from annotations.lib.providers.onnx_model import OnnxModelProvider, preprocess
from tests.suggestions.test_suggestions_onnx import BIAS, WEIGHTS, build_graph, write_mapping

CLASS = "annotations.lib.providers.onnx_model.OnnxModelProvider"


def linear_outputs(signals: np.ndarray, provider: OnnxModelProvider) -> np.ndarray:
    """What the test graph computes without its sigmoid: mean over time, times W, plus B."""
    x = preprocess(signals, 500.0, provider.input_spec)[0].astype(np.float64)
    return x.mean(axis=0) @ WEIGHTS.astype(np.float64) + BIAS


@pytest.fixture
def signals() -> np.ndarray:
    return np.random.default_rng(3).normal(0.2, 0.5, (12, 5000))


def provider_for(tmp_path, **mapping) -> OnnxModelProvider:
    sha = build_graph(tmp_path / "tiny.onnx", sigmoid=False)
    options = {"models_dir": str(tmp_path), "model": "tiny.onnx", "sha256": sha}
    options["mapping"] = write_mapping(tmp_path, **mapping)
    return build_provider({"class": CLASS, "options": options})


def test_a_softmax_output_gives_class_probabilities_the_top_class_and_coded_scores(tmp_path, signals):
    provider = provider_for(
        tmp_path,
        output_kind="softmax",
        activation="logits",
        labels=["no_af", "af_later", "af_now", "other"],
        classes=[{"index": 2, "code": "AF", "threshold": 0.4}],
    )
    result = provider.evaluate(signals, 500.0)
    z = linear_outputs(signals, provider)
    expected = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    probabilities = result.measurements["class_probabilities"]
    assert list(probabilities) == ["no_af", "af_later", "af_now", "other"]
    assert np.allclose(list(probabilities.values()), expected, atol=1e-5)
    assert (
        result.measurements["top_class"] == ["no_af", "af_later", "af_now", "other"][int(expected.argmax())]
    )
    assert result.scores["AF"] == pytest.approx(expected[2], abs=1e-5)


def test_a_regression_output_gives_scalars_with_their_uncertainty_and_no_scores(tmp_path, signals):
    provider = provider_for(
        tmp_path,
        output_kind="regression",
        classes=[],
        scalars=[
            {"index": 0, "name": "potassium", "unit": "mmol/L", "log_variance_index": 1},
            {"index": 3, "name": "ecg_age", "unit": "years"},
        ],
    )
    assert provider.codes == ()
    result = provider.evaluate(signals, 500.0)
    z = linear_outputs(signals, provider)
    assert result.scores == {}
    scalars = result.measurements["scalars"]
    assert scalars["potassium"]["value"] == pytest.approx(z[0], abs=1e-4)
    assert scalars["potassium"]["sd"] == pytest.approx(np.exp(0.5 * z[1]), rel=1e-4)
    assert scalars["potassium"]["unit"] == "mmol/L"
    assert scalars["ecg_age"] == {"value": pytest.approx(z[3], abs=1e-4), "unit": "years", "sd": None}


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"output_kind": "ranking"}, "output_kind"),
        ({"output_kind": "regression", "classes": [], "scalars": []}, "no scalars"),
        ({"output_kind": "regression", "classes": [], "scalars": [{"index": 9, "name": "age"}]}, "output 9"),
        ({"output_kind": "regression", "classes": [], "scalars": [{"index": 0, "name": "Bad Name"}]}, "name"),
        ({"output_kind": "softmax", "labels": ["a", "b"]}, "labels"),
    ],
)
def test_mappings_that_do_not_fit_the_graph_or_the_kind_are_refused(tmp_path, mapping, message):
    with pytest.raises(ProviderConfigError, match=message):
        provider_for(tmp_path, **mapping)


def test_a_softmax_declared_as_probabilities_that_do_not_sum_to_one_is_an_error(tmp_path, signals):
    provider = provider_for(tmp_path, output_kind="softmax", activation="sigmoid")
    with pytest.raises(ProviderError, match="sum"):
        provider.evaluate(signals, 500.0)


@pytest.mark.django_db
def test_a_regression_models_scalars_are_stored_per_exam_and_shown_by_suggest(tmp_path, tnmg):
    import io
    import json

    from django.core.management import call_command

    from annotations.services.suggestions import suggestion_compute
    from tests.factories import make_exam

    provider = provider_for(
        tmp_path,
        name="ecg-age",
        output_kind="regression",
        classes=[],
        scalars=[{"index": 3, "name": "ecg_age", "unit": "years", "log_variance_index": 0}],
    )
    exam = make_exam(seed=4)
    row = suggestion_compute(exam.pk, provider)
    assert row.status == "ok", row.error
    out = io.StringIO()
    call_command("suggest", str(exam.pk), "--provider", "ecg-age", "--json", stdout=out)
    shown = json.loads(out.getvalue())
    assert shown["scores"] == {} and shown["suggested"] == []
    assert set(shown["measurements"]["scalars"]["ecg_age"]) == {"value", "unit", "sd"}
    assert shown["measurements"]["scalars"]["ecg_age"]["sd"] > 0
