"""What a reader is shown of the models beyond their statements: the scalar outputs (potassium with its
standard deviation, ECG age...) as the batch's suggestion mode shows scores, and relevance bands (where
in the trace a suggested class's score came from) only once the reader's blind read is submitted, in
every mode; hidden batches never. Another reader's assignment answers 404."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from annotations.lib.providers.relevance import band_encode
from annotations.models import (
    ReviewBatch,
    Suggestion,
    SuggestionExposure,
    SuggestionRelevance,
    SuggestionScore,
)
from annotations.selectors.suggestions.scoring import META
from tests.reading.helpers import labels, queue, ref, shared_batch

pytestmark = pytest.mark.django_db
API = "/api/v1/reading/assignments"
HIDDEN, TWO_STAGE, SHOWN = (
    ReviewBatch.SuggestionMode.HIDDEN,
    ReviewBatch.SuggestionMode.TWO_STAGE,
    ReviewBatch.SuggestionMode.SHOWN,
)


def _band(suggestion, code: str, start: int, method: str = "provider") -> None:
    values = np.zeros((12, 5000))
    values[:, start : start + 500] = 1.0
    band = band_encode(values, 500.0)
    SuggestionRelevance.objects.create(
        suggestion=suggestion,
        code=code,
        method=method,
        leads=band.leads,
        bins=band.bins,
        bin_ms=band.bin_ms,
        peak=band.peak,
        data=band.data,
    )


def _models(exam, taxonomy, scores: dict[str, float]) -> tuple[Suggestion, Suggestion]:
    """A classifier with scores and bands for every class, and a regression model with a scalar."""
    thresholds = dict.fromkeys(scores, 0.5)
    classifier = Suggestion.objects.create(
        exam=exam,
        provider="tiny-cam",
        provider_version="1",
        measurements={META: {"scores": scores, "thresholds": thresholds}},
    )
    for index, (code, score) in enumerate(scores.items()):
        SuggestionScore.objects.create(
            suggestion=classifier, diagnostic_class=taxonomy.classes.get(code=code), score=score
        )
        _band(classifier, code, start=500 * index)
    regression = Suggestion.objects.create(
        exam=exam,
        provider="potassium",
        provider_version="2",
        measurements={"scalars": {"potassium": {"value": 4.4, "unit": "mmol/L", "sd": 0.3}}},
    )
    return classifier, regression


def _first(mode, ana, bruno, diego, tnmg, scores=None):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, mode=mode)
    assignment = queue(batch, ana)[0]
    _models(assignment.exam, tnmg, scores or {"AF": 0.9, "SB": 0.4, "RBBB": 0.3, "1dAVb": 0.2})
    return batch, assignment


def _submit(client, assignment, revision=0):
    return client.post(
        f"{API}/{ref(assignment)}/submit/",
        {"labels": labels("SB"), "revision": revision},
        content_type="application/json",
    ).json()


def _explanations(client, assignment):
    response = client.get(f"{API}/{ref(assignment)}/explanations/")
    assert response.status_code == 200, response.content
    return response.json()


def test_hidden_mode_never_sends_scalars_or_bands(client_for, ana, bruno, diego, tnmg):
    _, anas = _first(HIDDEN, ana, bruno, diego, tnmg)
    client = client_for(ana)
    assert _explanations(client, anas) == {"scalars": None, "bands": None}
    assert _submit(client, anas)["done"] is True
    assert _explanations(client, anas) == {"scalars": None, "bands": None}
    assert not SuggestionExposure.objects.exists()


def test_two_stage_sends_scalars_and_bands_only_after_the_blind_read(client_for, ana, bruno, diego, tnmg):
    batch, anas = _first(TWO_STAGE, ana, bruno, diego, tnmg)
    client = client_for(ana)
    assert _explanations(client, anas) == {"scalars": None, "bands": None}
    client.put(
        f"{API}/{ref(anas)}/draft/",
        {"labels": labels("SB"), "revision": 0},
        content_type="application/json",
    )
    assert _explanations(client, anas) == {"scalars": None, "bands": None}  # a blind draft is still blind
    assert not SuggestionExposure.objects.exists()
    assert _submit(client, anas, revision=1)["done"] is False
    shown = _explanations(client, anas)
    assert shown["scalars"] == [
        {
            "provider": "potassium",
            "title": "potassium",  # a model the project does not ship keeps its own name
            "name": "potassium",
            "value": 4.4,
            "unit": "mmol/L",
            "sd": 0.3,
        }
    ]
    (band,) = shown["bands"]  # only the class the model suggests (AF at 0.9; the others are below 0.5)
    assert (band["code"], band["method"], band["provider"], band["leads"]) == (
        "AF",
        "provider",
        "tiny-cam",
        12,
    )
    assert (band["bins"], band["bin_ms"]) == (1000, 10.0)
    values = np.frombuffer(base64.b64decode(band["data"]), dtype=np.uint8).reshape(12, 1000)
    assert values[:, :100].min() == 255 and values[:, 100:].max() == 0  # AF's band: the first second
    assert band["name"] == "Atrial fibrillation" and band["score"] == 0.9
    shown_providers = set(
        SuggestionExposure.objects.filter(reader=ana, assignment=anas).values_list(
            "suggestion__provider", flat=True
        )
    )
    assert {"tiny-cam", "potassium"} <= shown_providers
    assert all(e.stage == "revised" for e in SuggestionExposure.objects.all())
    brunos = queue(batch, bruno)[0]
    bruno_client = client_for(bruno)
    assert bruno_client.get(f"{API}/{ref(anas)}/explanations/").status_code == 404
    assert _explanations(bruno_client, brunos) == {"scalars": None, "bands": None}


def test_shown_mode_sends_scalars_on_open_and_bands_only_after_the_reader_submits(
    client_for, ana, bruno, diego, tnmg
):
    _, anas = _first(SHOWN, ana, bruno, diego, tnmg)
    client = client_for(ana)
    opened = _explanations(client, anas)
    assert opened["scalars"][0]["name"] == "potassium" and opened["bands"] is None
    assert _submit(client, anas)["done"] is True
    assert [b["code"] for b in _explanations(client, anas)["bands"]] == ["AF"]


def test_with_no_class_suggested_the_three_best_scored_classes_get_their_bands(
    client_for, ana, bruno, diego, tnmg
):
    scores = {"AF": 0.1, "SB": 0.4, "RBBB": 0.3, "1dAVb": 0.2}
    _, anas = _first(TWO_STAGE, ana, bruno, diego, tnmg, scores=scores)
    client = client_for(ana)
    _submit(client, anas)
    assert [b["code"] for b in _explanations(client, anas)["bands"]] == ["SB", "RBBB", "1dAVb"]


def test_people_who_do_not_read_get_no_explanations(client_for, ana, bruno, diego, eve, tnmg):
    _, anas = _first(SHOWN, ana, bruno, diego, tnmg)
    assert client_for(diego).get(f"{API}/{ref(anas)}/explanations/").status_code in (403, 404)
    assert client_for(eve).get(f"{API}/{ref(anas)}/explanations/").status_code in (403, 404)
