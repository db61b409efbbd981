"""The provider contract: results are checked, providers are built from configuration, no Django."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from annotations.lib.providers import (
    Provider,
    ProviderConfigError,
    ProviderError,
    ProviderResult,
    build_provider,
    build_providers,
    unknown_codes,
)


class Fixed(Provider):
    """Returns whatever scores and measurements it was configured with."""

    name = "fixed"
    version = "1"
    codes = ("SB", "ST")

    def __init__(self, scores: dict | None = None, measurements: dict | None = None, name: str = "fixed"):
        self.scores = scores if scores is not None else {"SB": 0.2}
        self.measurements = measurements or {}
        self.name = name

    def run(self, signals_mv, sampling_rate):
        return ProviderResult(scores=self.scores, measurements=self.measurements)


SIGNALS = np.zeros((12, 5000))
FIXED = f"{__name__}.Fixed"


def test_a_valid_result_passes_through_with_plain_float_scores():
    result = Fixed({"SB": np.float32(0.25), "ST": 1}).evaluate(SIGNALS, 500)
    assert result.scores == {"SB": 0.25, "ST": 1.0}
    assert all(type(value) is float for value in result.scores.values())


@pytest.mark.parametrize("bad", [{"SB": 1.5}, {"SB": -0.1}, {"SB": float("nan")}, {"SB": float("inf")}])
def test_a_score_outside_0_1_or_not_finite_is_refused(bad):
    with pytest.raises(ProviderError, match="not a number in"):
        Fixed(bad).evaluate(SIGNALS, 500)


def test_a_score_for_a_code_the_provider_did_not_declare_is_refused():
    with pytest.raises(ProviderError, match="undeclared code 'AF'"):
        Fixed({"AF": 0.5}).evaluate(SIGNALS, 500)


def test_measurements_that_json_cannot_store_are_refused():
    with pytest.raises(ProviderError, match="not plain JSON"):
        Fixed(measurements={"qt_ms": float("nan")}).evaluate(SIGNALS, 500)
    with pytest.raises(ProviderError, match="not plain JSON"):
        Fixed(measurements={"beats": np.arange(3)}).evaluate(SIGNALS, 500)


@pytest.mark.parametrize(
    ("signals", "rate"),
    [
        (np.zeros((11, 5000)), 500),
        (np.zeros(5000), 500),
        (SIGNALS, 0),
        (SIGNALS, float("nan")),
        (SIGNALS, 5000),
    ],
)
def test_signals_that_are_not_12_leads_of_at_least_2_s_at_a_real_rate_are_refused(signals, rate):
    with pytest.raises(ProviderError):
        Fixed().evaluate(signals, rate)


def test_providers_are_built_from_dotted_paths_with_options_in_configuration_order():
    providers = build_providers([FIXED, {"class": FIXED, "options": {"name": "other"}}])
    assert list(providers) == ["fixed", "other"]
    assert providers["other"].evaluate(SIGNALS, 500).scores == {"SB": 0.2}


def test_two_providers_with_one_name_are_refused_because_their_results_would_collide():
    with pytest.raises(ProviderConfigError, match="two providers are named 'fixed'"):
        build_providers([FIXED, FIXED])


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("Fixed", "not a dotted path"),
        ("annotations.lib.providers.base.NoSuchThing", "cannot import"),
        ("annotations.lib.providers.base.ProviderResult", "not a Provider subclass"),
        ({"class": FIXED, "options": {"colour": "red"}}, "colour"),
        ({"path": FIXED}, "must be a dotted path"),
        ({"class": FIXED, "options": {"name": "Not A Slug!"}}, "not a short slug"),
    ],
)
def test_configuration_mistakes_are_refused_with_a_message_that_names_them(entry, message):
    with pytest.raises(ProviderConfigError, match=message):
        build_provider(entry)


def test_codes_a_taxonomy_lacks_are_reported():
    assert unknown_codes(Fixed(), ["SB", "NORM"]) == ["ST"]


def test_the_suggestions_package_and_its_providers_import_without_django():
    code = (
        "import sys, annotations.lib.providers, annotations.lib.providers.measurements, "
        "annotations.lib.providers.onnx_model; "
        "sys.exit(any(m.split('.')[0] == 'django' for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
