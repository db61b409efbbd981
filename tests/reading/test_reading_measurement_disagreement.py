"""The median panel's measurements table gives the recording cart's value beside the provider's and marks a
difference over its tolerance (PR and QRS 10 ms, QT 25 ms: IEC 60601-2-25:2011; heart rate 5 bpm and
axes 15 degrees: ours). The panel stays exactly as blinded as before (only where the suggestion is shown),
and the cart's values appear in it only in a batch designed to show the cart's measurements."""

from __future__ import annotations

import pytest

from annotations.models import Exam, ReviewBatch, Suggestion
from tests.factories import batch_for, make_exam
from tests.reading.helpers import labels, queue, ref

pytestmark = pytest.mark.django_db
API = "/api/v1/reading/assignments"
CART = {
    "heart_rate_bpm": 61,
    "rr_ms": 982,
    "pr_ms": 161,
    "qrs_ms": 75,
    "qt_ms": 368,
    "qtc_ms": 370,  # by the cart's own formula: no provider row is the same quantity
    "p_axis_deg": 74,
    "qrs_axis_deg": -170,
    "t_axis_deg": 57,
}
MODEL = {
    "heart_rate_bpm": 64.0,  # 3 bpm: within 5
    "pr_ms": 150.0,  # 11 ms: over 10
    "qrs_ms": 108.0,  # 33 ms: over 10
    "qt_ms": 393.0,  # 25 ms: at the tolerance, not over it
    "qtc_bazett_ms": 401.0,
    "p_axis_deg": 90.0,  # 16 degrees: over 15
    "qrs_axis_deg": 175.0,  # 15 degrees across ±180: not over
    "t_axis_deg": 40.0,  # 17 degrees: over
}


def _assignment(ana, diego, tnmg, *, mode, cart_shown=True, name="Carts"):
    exam = make_exam(seed=2)
    Exam.objects.filter(pk=exam.pk).update(device_measurements=CART)
    Suggestion.objects.create(exam=exam, provider="rules", provider_version="1", measurements=MODEL)
    batch = batch_for(
        tnmg, diego, [ana], [exam], name=name, suggestion_mode=mode, device_measurements_shown=cart_shown
    )
    return queue(batch, ana)[0]


def test_the_table_gives_the_cart_beside_the_model_and_marks_what_differs_over_tolerance(
    client_for, ana, diego, tnmg
):
    anas = _assignment(ana, diego, tnmg, mode=ReviewBatch.SuggestionMode.SHOWN)
    median = client_for(ana).get(f"{API}/{ref(anas)}/").json()["median"]
    assert median["measurements"] == MODEL
    assert median["device"] == {k: v for k, v in CART.items() if k not in ("rr_ms", "qtc_ms")}
    assert median["differences"] == {
        "heart_rate_bpm": {"difference": 3.0, "tolerance": 5, "exceeds": False},
        "pr_ms": {"difference": -11.0, "tolerance": 10, "exceeds": True},
        "qrs_ms": {"difference": 33.0, "tolerance": 10, "exceeds": True},
        "qt_ms": {"difference": 25.0, "tolerance": 25, "exceeds": False},
        "p_axis_deg": {"difference": 16.0, "tolerance": 15, "exceeds": True},
        "qrs_axis_deg": {"difference": -15.0, "tolerance": 15, "exceeds": False},
        "t_axis_deg": {"difference": -17.0, "tolerance": 15, "exceeds": True},
    }
    assert median["tolerances"] == {
        "heart_rate_bpm": 5,
        "pr_ms": 10,
        "qrs_ms": 10,
        "qt_ms": 25,
        "p_axis_deg": 15,
        "qrs_axis_deg": 15,
        "t_axis_deg": 15,
    }


def test_a_batch_that_does_not_show_the_cart_gets_the_panel_as_before(client_for, ana, diego, tnmg):
    anas = _assignment(ana, diego, tnmg, mode=ReviewBatch.SuggestionMode.SHOWN, cart_shown=False)
    body = client_for(ana).get(f"{API}/{ref(anas)}/").json()
    assert body["exam"]["device_measurements"] is None
    median = body["median"]
    assert median["measurements"] == MODEL
    assert (median["device"], median["differences"]) == (None, {})


def test_hidden_mode_shows_no_panel_and_two_stage_only_after_the_blind_read(client_for, ana, diego, tnmg):
    hidden = _assignment(ana, diego, tnmg, mode=ReviewBatch.SuggestionMode.HIDDEN, name="Hidden")
    client = client_for(ana)
    assert client.get(f"{API}/{ref(hidden)}/").json()["median"] is None
    two_stage = _assignment(ana, diego, tnmg, mode=ReviewBatch.SuggestionMode.TWO_STAGE, name="Two-stage")
    assert client.get(f"{API}/{ref(two_stage)}/").json()["median"] is None
    answer = client.post(
        f"{API}/{ref(two_stage)}/submit/",
        {"labels": labels("SB"), "revision": 0},
        content_type="application/json",
    ).json()
    assert answer["context"]["median"]["differences"]["qrs_ms"]["exceeds"] is True
