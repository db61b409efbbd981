"""Why a rule-based provider scored a code (criterion, published source, the measured finding) is stored with
its suggestion, printed by `manage.py suggest` (JSON and text), and given to coordinators with each score
of the exam API; imported predictions carry none."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.core.management import call_command

from annotations.lib.providers.base import Provider, ProviderResult, Rationale
from annotations.models import Suggestion
from annotations.selectors.suggestions.scoring import META
from annotations.services.suggestions import suggestion_compute, suggestion_providers
from tests.factories import make_exam

pytestmark = pytest.mark.django_db

SOKOLOW = Rationale(
    criterion="Sokolow-Lyon voltage",
    source="Sokolow & Lyon 1949; AHA/ACCF/HRS 2009 part V",
    finding="S V1 1.6 + R V5 2.5 = 4.1 mV",
)
RBBB = Rationale(
    criterion="Complete RBBB",
    source="AHA/ACCF/HRS 2009 part III",
    finding="QRS 148 ms, rSR' in V1, broad S in I and V6",
)


class ReasonedProvider(Provider):
    """A rule-based provider with known output: two codes with a rationale, one scored by no rule."""

    name = "reasoned"
    version = "1"
    codes = ("LVH_V", "RBBB", "SB")

    def run(self, signals_mv: np.ndarray, sampling_rate: float) -> ProviderResult:
        return ProviderResult(
            scores={"LVH_V": 0.9, "RBBB": 0.2, "SB": 0.1},
            measurements={"qrs_ms": 148.0},
            rationale={"LVH_V": SOKOLOW, "RBBB": RBBB},
        )


@pytest.fixture
def reasoned(settings):
    settings.SUGGESTION_PROVIDERS = [f"{__name__}.ReasonedProvider"]
    suggestion_providers.cache_clear()
    yield
    suggestion_providers.cache_clear()


def test_the_rationale_is_stored_with_the_scores_and_thresholds(tnmg):
    row = suggestion_compute(make_exam(seed=1).pk, ReasonedProvider())
    meta = Suggestion.objects.get(pk=row.pk).measurements[META]
    assert meta["rationale"] == {"LVH_V": SOKOLOW.as_json(), "RBBB": RBBB.as_json()}
    assert meta["scores"] == {"LVH_V": 0.9, "RBBB": 0.2, "SB": 0.1}


def test_suggest_prints_the_rationale_as_json_and_as_text(tnmg, reasoned):
    exam = make_exam(seed=2)
    out = io.StringIO()
    call_command("suggest", str(exam.pk), "--provider", "reasoned", "--json", stdout=out)
    shown = json.loads(out.getvalue())
    assert shown["rationale"] == {"LVH_V": SOKOLOW.as_json(), "RBBB": RBBB.as_json()}
    assert "_scoring" not in shown["measurements"]
    text = io.StringIO()
    call_command("suggest", str(exam.pk), "--provider", "reasoned", stdout=text)
    lines = text.getvalue().splitlines()
    at = next(i for i, line in enumerate(lines) if "LVH_V" in line)
    # Under its code's line: the criterion with its source, then the finding.
    assert "Sokolow-Lyon voltage (Sokolow & Lyon 1949; AHA/ACCF/HRS 2009 part V)" in lines[at + 1]
    assert "S V1 1.6 + R V5 2.5 = 4.1 mV" in lines[at + 2]
    sb = next(i for i, line in enumerate(lines) if " SB " in line)
    assert "criterion" not in lines[sb + 1]  # a code no rule scored has no rationale lines


def test_a_row_without_a_rationale_prints_an_empty_one(tnmg):
    """Imported predictions (services.imports.predictions) and rows stored before providers gave reasons."""
    exam = make_exam(seed=3)
    Suggestion.objects.create(
        exam=exam,
        provider="offline",
        provider_version="v1",
        measurements={META: {"scores": {"AF": 0.9}, "thresholds": {"AF": 0.5}, "taxonomies": []}},
    )
    out = io.StringIO()
    call_command("suggest", str(exam.pk), "--provider", "offline", "--json", stdout=out)
    assert json.loads(out.getvalue())["rationale"] == {}


def test_coordinators_get_each_score_s_rationale_in_the_exam_api(client_for, diego, ana, tnmg):
    exam = make_exam(seed=4)
    suggestion_compute(exam.pk, ReasonedProvider())
    body = client_for(diego).get(f"/api/v1/exams/{exam.pk}/").json()
    (suggestion,) = [s for s in body["suggestions"] if s["provider"] == "reasoned"]
    by_code = {score["code"]: score for score in suggestion["scores"]}
    assert by_code["LVH_V"]["rationale"] == SOKOLOW.as_json()
    assert by_code["RBBB"]["rationale"] == RBBB.as_json()
    assert by_code["SB"]["rationale"] is None
    assert client_for(ana).get(f"/api/v1/exams/{exam.pk}/").status_code in (403, 404)
