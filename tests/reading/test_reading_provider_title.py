"""A cardiologist reads a suggestion's provider by its name in their language, not by its configuration key.

The key stays in the API (`provider`, what a script filters on); `title` is what the pages show."""

from __future__ import annotations

from annotations.models import ReviewBatch, Suggestion, SuggestionScore
from tests.reading.helpers import queue, ref, shared_batch

API = "/api/v1/reading/assignments"
MEASURED = {"heart_rate_bpm": 72.0, "pr_ms": 160.0, "qrs_ms": 90.0, "qt_ms": 380.0}


def _shown(provider: str, ana, bruno, diego, tnmg):
    batch = shared_batch(
        readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, mode=ReviewBatch.SuggestionMode.SHOWN
    )
    assignment = queue(batch, ana)[0]
    suggestion = Suggestion.objects.create(
        exam=assignment.exam,
        provider=provider,
        provider_version="1.2+neurokit2-0.2.10",
        measurements=MEASURED,
    )
    SuggestionScore.objects.create(
        suggestion=suggestion, diagnostic_class=tnmg.classes.get(code="SB"), score=0.7
    )
    return assignment


def test_a_shipped_provider_is_named_in_the_readers_language(client_for, ana, bruno, diego, tnmg):
    assignment = _shown("measurements", ana, bruno, diego, tnmg)
    client = client_for(ana)
    context = client.get(f"{API}/{ref(assignment)}/").json()
    assert context["suggestion"]["provider"] == "measurements"
    assert context["suggestion"]["title"] == "Interval measurements and rules"
    assert context["median"]["provider"] == "measurements"
    assert context["median"]["title"] == "Interval measurements and rules"
    client.cookies["django_language"] = "pt-br"
    context = client.get(f"{API}/{ref(assignment)}/").json()
    assert context["suggestion"]["title"] == "Medidas de intervalos e regras"
    assert context["median"]["title"] == "Medidas de intervalos e regras"


def test_a_model_the_project_does_not_ship_keeps_its_own_name(client_for, ana, bruno, diego, tnmg):
    assignment = _shown("ribeiro-2020-dnn", ana, bruno, diego, tnmg)
    context = client_for(ana).get(f"{API}/{ref(assignment)}/").json()
    assert context["suggestion"]["title"] == "ribeiro-2020-dnn"
    assert context["median"]["title"] == "ribeiro-2020-dnn"
