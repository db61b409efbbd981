"""Where one finding makes another unreadable: no PR in atrial fibrillation, and no infarct, injury or
hypertrophy statement read from a ventricular, paced or left-bundle-branch-blocked QRS."""

from __future__ import annotations

import pytest

from annotations.lib.providers.measurements import MeasurementProvider
from annotations.lib.providers.measurements.provider import CONDUCTED_MORPHOLOGY
from tests.suggestions.test_criteria_rhythm import load_labelled, regular, strip


@pytest.fixture(scope="module")
def provider() -> MeasurementProvider:
    return MeasurementProvider()


def test_atrial_fibrillation_gives_no_pr_and_no_first_degree_block(provider):
    # E00005 is labelled AF with RBBB; its median beat's baseline before the QRS is f waves, which the
    # PR reading used to take for a P wave 252 ms before the QRS, a first-degree block.
    signals, fs, labels = load_labelled("E00005")
    assert "164889003" in labels
    result = provider.evaluate(signals, fs)
    assert "AF" in provider.suggested(result)
    assert result.measurements["pr_ms"] is None
    assert any(note.startswith("no PR: atrial fibrillation") for note in result.measurements["quality"])
    assert result.scores.get("1dAVb", 0.0) < 0.1


def test_sinus_rhythm_keeps_its_pr(provider):
    result = provider.evaluate(strip(regular("N", 70)), 500.0)
    assert result.measurements["pr_ms"] == pytest.approx(160.0, abs=20.0)


@pytest.mark.parametrize("kind", ["L", "V", "P"])
def test_a_qrs_not_conducted_normally_suggests_no_infarct_injury_or_hypertrophy(provider, kind):
    result = provider.evaluate(strip(regular(kind, 70)), 500.0)
    found = set(provider.suggested(result)) & set(CONDUCTED_MORPHOLOGY)
    assert not found, {code: result.rationale[code].finding for code in found}
