"""Why a rule scored a statement (criterion, source, finding) reaches a reader with the score it explains,
mapped onto the batch's taxonomy as scores are, and only as the batch's suggestion mode shows scores:
never in hidden batches, never before the blind read in two-stage ones, never while prefetching; by no
route (the context API, the submit answer, the explanations, the page's HTML)."""

from __future__ import annotations

import pytest

from annotations.models import ReviewBatch, Suggestion, SuggestionScore
from annotations.selectors.suggestions.scoring import META
from tests.factories import DiagnosticClassFactory, TaxonomyFactory, batch_for, make_exam
from tests.reading.helpers import labels, queue, ref, shared_batch

pytestmark = pytest.mark.django_db
API = "/api/v1/reading/assignments"
HIDDEN, TWO_STAGE, SHOWN = (
    ReviewBatch.SuggestionMode.HIDDEN,
    ReviewBatch.SuggestionMode.TWO_STAGE,
    ReviewBatch.SuggestionMode.SHOWN,
)
FINDING = "S V1 1.6 + R V5 2.5 = 4.1 mV"
SOKOLOW = {
    "criterion": "Sokolow-Lyon voltage",
    "source": "Sokolow & Lyon 1949; AHA/ACCF/HRS 2009 part V",
    "finding": FINDING,
}
RBBB = {"criterion": "Complete RBBB", "source": "AHA/ACCF/HRS 2009 part III", "finding": "QRS 148 ms"}
SCORES = {"LVH_V": 0.9, "RBBB": 0.3, "SB": 0.1}


def _leaks(body: bytes) -> bool:
    """Whether a body holds the rationale (its criterion's name is also a synonym of the statement, so the
    finding and the source stand for it)."""
    return FINDING.encode() in body or SOKOLOW["source"].encode() in body


def _suggest(exam, taxonomy, *, rationale=True) -> Suggestion:
    """A stored rule-based suggestion: LVH_V suggested with its rationale, RBBB under its threshold with
    one, SB with none. Without `rationale`, as an imported prediction is stored."""
    meta = {"scores": SCORES, "thresholds": dict.fromkeys(SCORES, 0.5), "taxonomies": [taxonomy.pk]}
    if rationale:
        meta["rationale"] = {"LVH_V": SOKOLOW, "RBBB": RBBB}
    suggestion = Suggestion.objects.create(
        exam=exam, provider="rules", provider_version="1", measurements={META: meta, "qrs_ms": 148.0}
    )
    for klass in taxonomy.classes.all():
        code = (klass.maps or {}).get("tnmg") or klass.code
        if code in SCORES:
            SuggestionScore.objects.create(suggestion=suggestion, diagnostic_class=klass, score=SCORES[code])
    return suggestion


def _first(mode, ana, bruno, diego, tnmg, **options):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, mode=mode)
    assignment = queue(batch, ana)[0]
    _suggest(assignment.exam, tnmg, **options)
    return assignment


def _rationale(context) -> dict:
    return {score["code"]: score["rationale"] for score in context["suggestion"]["scores"]}


def _everything_before_the_suggestion(client, assignment) -> list[bytes]:
    """Every body a reader gets about the assignment while the suggestion must stay hidden."""
    return [
        client.get(f"/read/{ref(assignment)}/").content,
        client.get(f"{API}/{ref(assignment)}/").content,
        client.get(f"{API}/{ref(assignment)}/?prefetch=1").content,
        client.get(f"{API}/{ref(assignment)}/explanations/").content,
        client.put(
            f"{API}/{ref(assignment)}/draft/",
            {"labels": labels("SB"), "revision": 0},
            content_type="application/json",
        ).content,
    ]


def _submit(client, assignment, revision):
    return client.post(
        f"{API}/{ref(assignment)}/submit/",
        {"labels": labels("SB"), "revision": revision},
        content_type="application/json",
    )


def test_hidden_mode_never_sends_a_rationale(client_for, ana, bruno, diego, tnmg):
    anas = _first(HIDDEN, ana, bruno, diego, tnmg)
    client = client_for(ana)
    bodies = [*_everything_before_the_suggestion(client, anas), _submit(client, anas, 1).content]
    bodies.append(client.get(f"{API}/{ref(anas)}/explanations/").content)
    for body in bodies:
        assert not _leaks(body)


def test_two_stage_sends_the_rationale_only_after_the_blind_read(client_for, ana, bruno, diego, tnmg):
    anas = _first(TWO_STAGE, ana, bruno, diego, tnmg)
    client = client_for(ana)
    for body in _everything_before_the_suggestion(client, anas):
        assert not _leaks(body)
    answer = _submit(client, anas, 1).json()
    assert answer["done"] is False
    expected = {"LVH_V": SOKOLOW, "RBBB": RBBB, "SB": None}
    assert _rationale(answer["context"]) == expected
    assert _rationale(client.get(f"{API}/{ref(anas)}/").json()) == expected
    # The page itself still carries nothing of it: the context comes from the API.
    assert not _leaks(client.get(f"/read/{ref(anas)}/").content)


def test_shown_mode_sends_it_on_open_but_not_while_prefetching(client_for, ana, bruno, diego, tnmg):
    anas = _first(SHOWN, ana, bruno, diego, tnmg)
    client = client_for(ana)
    prefetched = client.get(f"{API}/{ref(anas)}/?prefetch=1")
    assert prefetched.json()["suggestion"] is None and not _leaks(prefetched.content)
    assert not _leaks(client.get(f"/read/{ref(anas)}/").content)
    scores = client.get(f"{API}/{ref(anas)}/").json()["suggestion"]["scores"]
    lvh = next(score for score in scores if score["code"] == "LVH_V")
    assert lvh == {
        "code": "LVH_V",
        "name": tnmg.classes.get(code="LVH_V").name,
        "score": 0.9,
        "suggested": True,
        "rationale": SOKOLOW,
    }


def test_another_reader_gets_nothing_of_it(client_for, ana, bruno, diego, eve, tnmg):
    anas = _first(SHOWN, ana, bruno, diego, tnmg)
    for user in (bruno, eve):
        response = client_for(user).get(f"{API}/{ref(anas)}/")
        assert response.status_code in (403, 404) and not _leaks(response.content)


def test_a_class_of_another_taxonomy_takes_the_rationale_of_the_code_it_maps_to(client_for, ana, diego):
    local = TaxonomyFactory(key="local")
    DiagnosticClassFactory(taxonomy=local, code="HVE-VOLT", maps={"tnmg": "LVH_V"})
    DiagnosticClassFactory(taxonomy=local, code="SB")
    batch = batch_for(local, diego, [ana], [make_exam(seed=4)], name="Local codes", suggestion_mode=SHOWN)
    anas = queue(batch, ana)[0]
    _suggest(anas.exam, local)
    context = client_for(ana).get(f"{API}/{ref(anas)}/").json()
    assert _rationale(context) == {"HVE-VOLT": SOKOLOW, "SB": None}


def test_an_imported_prediction_has_no_rationale(client_for, ana, bruno, diego, tnmg):
    anas = _first(SHOWN, ana, bruno, diego, tnmg, rationale=False)
    context = client_for(ana).get(f"{API}/{ref(anas)}/").json()
    assert _rationale(context) == {"LVH_V": None, "RBBB": None, "SB": None}
