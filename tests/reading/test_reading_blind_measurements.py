"""The blind reader's measurements panel (the reading context's `measurements`), by the batch's
`blind_measurements` setting: "none", "cart" (the cart's beat and global measurements) or
"cart_and_computed" (those and the ones computed from the signal, with fiducial marks and ST levels).
Measurements of the signal only: in hidden and two-stage batches nothing diagnostic (a statement, a
score, a model's name, a suggestion) comes with them before the blind read is submitted."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.ecg.synthetic import synthetic_ecg
from annotations.models import AuditEvent, Exam, ExamBeat, ReviewBatch, Suggestion, SuggestionScore
from tests.batches.test_batch_pages import api_spec, design_post
from tests.factories import DatasetFactory, ExamFactory, batch_for, make_exam
from tests.reading.helpers import labels, queue, ref

pytestmark = pytest.mark.django_db
API = "/api/v1/reading/assignments"
CART = {"heart_rate_bpm": 61, "pr_ms": 161, "qrs_ms": 117, "qt_ms": 368, "qtc_ms": 370, "qrs_axis_deg": -52}
NOTHING = {"setting": "none", "beat": None, "intervals": {"cart": None, "computed": None}, "st_mm": None}
MODES = [ReviewBatch.SuggestionMode.HIDDEN, ReviewBatch.SuggestionMode.TWO_STAGE]


def _cart_beat(exam: Exam) -> list[list[int]]:
    """A cart beat of the synthetic ECG: 1.2 s at 500 Hz around its second R peak, in microvolts."""
    signals, peaks = synthetic_ecg(heart_rate_bpm=61, duration_s=3.0)
    r = int(peaks[1])
    leads = [[round(v * 1000) for v in row[r - 250 : r + 350]] for row in signals]
    ExamBeat.objects.create(
        exam=exam, source_format="muse", source="GE MUSE Median", sampling_rate=500.0, gain_uv=4.88,
        n_samples=600, leads_uv=leads,
    )  # fmt: skip
    return leads


@pytest.fixture
def carted():
    exam = make_exam(DatasetFactory(name="carts"), "cart-1", heart_rate=61)
    Exam.objects.filter(pk=exam.pk).update(device_measurements=CART)
    exam.refresh_from_db()
    _cart_beat(exam)
    return exam


def _suggest(exam, taxonomy) -> None:
    suggestion = Suggestion.objects.create(
        exam=exam, provider="openecg-codec", provider_version="6", measurements={"qt_ms": 999.0}
    )
    SuggestionScore.objects.create(
        suggestion=suggestion, diagnostic_class=taxonomy.classes.get(code="AF"), score=0.93
    )


def _measurements(client, assignment, **query) -> dict:
    suffix = "?prefetch=1" if query.get("prefetch") else ""
    body = client.get(f"{API}/{ref(assignment)}/{suffix}").json()
    return body["measurements"]


def _nothing_diagnostic(panel: dict) -> None:
    text = json.dumps(panel)
    for word in ("openecg", "provider", "score", "suggest", "AF", "statement", "999"):
        assert word not in text, word


def test_by_default_a_batch_shows_its_blind_readers_no_measurements(client_for, ana, diego, tnmg, carted):
    anas = queue(batch_for(tnmg, diego, [ana], [carted]), ana)[0]
    assert _measurements(client_for(ana), anas) == NOTHING
    assert ReviewBatch.objects.get().design["blind_measurements"] == "none"


@pytest.mark.parametrize("mode", MODES)
def test_cart_shows_the_cart_s_beat_and_measurements_and_nothing_computed(
    client_for, ana, diego, tnmg, carted, mode
):
    _suggest(carted, tnmg)
    anas = queue(
        batch_for(tnmg, diego, [ana], [carted], suggestion_mode=mode, blind_measurements="cart"), ana
    )[0]
    panel = _measurements(client_for(ana), anas)
    assert panel["setting"] == "cart"
    assert panel["intervals"] == {"cart": CART, "computed": None} and panel["st_mm"] is None
    beat = panel["beat"]
    assert beat["source"] == "cart" and beat["sampling_rate"] == 500.0
    assert list(beat["leads"]) == list(STANDARD_LEADS) and len(beat["leads"]["II"]) == 600
    assert beat["start_ms"] == pytest.approx(-500, abs=2)  # R found on the beat, 250 samples in
    assert beat["marks"] == {"p_on_ms": None, "qrs_on_ms": None, "qrs_off_ms": None, "t_off_ms": None}
    _nothing_diagnostic(panel)


@pytest.mark.parametrize("mode", MODES)
def test_cart_and_computed_adds_the_computed_intervals_marks_and_st_levels_before_the_blind_read(
    client_for, ana, diego, tnmg, mode
):
    exam = make_exam(heart_rate=72)
    _suggest(exam, tnmg)
    anas = queue(
        batch_for(tnmg, diego, [ana], [exam], suggestion_mode=mode, blind_measurements="cart_and_computed"),
        ana,
    )[0]
    client = client_for(ana)
    body = client.get(f"{API}/{ref(anas)}/").json()
    assert body["suggestion"] is None and body["median"] is None
    panel = body["measurements"]
    _nothing_diagnostic(panel)
    assert panel["setting"] == "cart_and_computed"
    assert panel["intervals"]["cart"] == {}  # the file gave none
    computed = panel["intervals"]["computed"]
    assert computed["heart_rate_bpm"] == pytest.approx(72, abs=1)
    assert 80 <= computed["qrs_ms"] <= 120 and 140 <= computed["pr_ms"] <= 200
    assert set(computed) >= {"qtc_bazett_ms", "qtc_fridericia_ms", "p_axis_deg", "qrs_axis_deg", "t_axis_deg"}
    beat = panel["beat"]
    assert beat["source"] == "computed" and beat["n_beats"] >= 8 and beat["start_ms"] == -250.0
    marks = beat["marks"]
    assert marks["qrs_off_ms"] - marks["qrs_on_ms"] == pytest.approx(computed["qrs_ms"], abs=1)
    assert set(panel["st_mm"]["j"]) == set(STANDARD_LEADS) == set(panel["st_mm"]["j60"])
    # A blind draft is still blind; the panel stays, nothing else comes.
    client.put(
        f"{API}/{ref(anas)}/draft/", {"labels": labels("SB"), "revision": 0}, content_type="application/json"
    )
    again = client.get(f"{API}/{ref(anas)}/").json()
    assert again["measurements"] == panel and again["suggestion"] is None
    # Prefetched, the panel is the same (the exam's measurements, not something shown on opening).
    assert _measurements(client, anas, prefetch=True) == panel


def test_the_cart_s_beat_is_drawn_with_the_computed_marks_where_it_was_kept(
    client_for, ana, diego, tnmg, carted
):
    anas = queue(batch_for(tnmg, diego, [ana], [carted], blind_measurements="cart_and_computed"), ana)[0]
    panel = _measurements(client_for(ana), anas)
    assert panel["beat"]["source"] == "cart" and panel["intervals"]["cart"] == CART
    assert panel["intervals"]["computed"]["heart_rate_bpm"] == pytest.approx(61, abs=1)
    assert panel["beat"]["marks"]["qrs_on_ms"] is not None


def test_two_stage_keeps_the_panel_after_the_blind_read_and_only_then_reveals_the_suggestion(
    client_for, ana, diego, tnmg
):
    exam = make_exam()
    _suggest(exam, tnmg)
    batch = batch_for(
        tnmg,
        diego,
        [ana],
        [exam],
        suggestion_mode=ReviewBatch.SuggestionMode.TWO_STAGE,
        blind_measurements="cart",
    )
    anas = queue(batch, ana)[0]
    client = client_for(ana)
    blind = _measurements(client, anas)
    done = client.post(
        f"{API}/{ref(anas)}/submit/", {"labels": labels("SB"), "revision": 0}, content_type="application/json"
    ).json()
    assert done["done"] is False and done["context"]["suggestion"]["provider"] == "openecg-codec"
    assert done["context"]["measurements"] == blind


def test_a_shown_batch_carries_the_panel_beside_the_suggestion_it_shows(client_for, ana, diego, tnmg):
    exam = make_exam()
    _suggest(exam, tnmg)
    mode = ReviewBatch.SuggestionMode.SHOWN
    anas = queue(
        batch_for(tnmg, diego, [ana], [exam], suggestion_mode=mode, blind_measurements="cart_and_computed"),
        ana,
    )[0]
    body = client_for(ana).get(f"{API}/{ref(anas)}/").json()
    assert body["suggestion"]["provider"] == "openecg-codec"
    _nothing_diagnostic(body["measurements"])
    assert body["measurements"]["intervals"]["computed"]["qt_ms"] != 999.0


def test_the_older_cart_option_means_the_cart_setting(client_for, ana, diego, tnmg, carted):
    anas = queue(batch_for(tnmg, diego, [ana], [carted], device_measurements_shown=True), ana)[0]
    assert ReviewBatch.objects.get().design["blind_measurements"] == "cart"
    assert _measurements(client_for(ana), anas)["intervals"]["cart"] == CART
    # A batch made before the setting existed reads it from the option it was made with.
    batch = ReviewBatch.objects.get()
    batch.design = {k: v for k, v in batch.design.items() if k != "blind_measurements"}
    batch.save(update_fields=["design"])
    assert _measurements(client_for(ana), anas)["setting"] == "cart"


def test_another_reader_s_assignment_is_404_whatever_the_setting(client_for, ana, bruno, diego, tnmg, carted):
    anas = queue(batch_for(tnmg, diego, [ana], [carted], blind_measurements="cart_and_computed"), ana)[0]
    assert client_for(bruno).get(f"{API}/{ref(anas)}/").status_code == 404


@pytest.fixture
def archive():
    return ExamFactory.create_batch(6, dataset=DatasetFactory(name="archive"))


def test_the_api_takes_the_setting_keeps_it_audits_it_and_the_progress_says_it(
    client_for, diego, ana, bruno, tnmg, archive
):
    client = client_for(diego)
    spec = api_spec(tnmg, [ana, bruno], "Computed", blind_measurements="cart_and_computed", sample_size=4)
    assert client.post("/api/v1/batches/preview/", spec, content_type="application/json").status_code == 200
    created = client.post("/api/v1/batches/", spec, content_type="application/json")
    assert created.status_code == 201, created.content
    batch = ReviewBatch.objects.get(pk=created.json()["id"])
    assert batch.design["blind_measurements"] == "cart_and_computed"
    assert batch.design["device_measurements_shown"] is True
    audit = AuditEvent.objects.get(action="batch.create", target_id=str(batch.pk)).after
    assert audit["blind_measurements"] == "cart_and_computed"
    progress = client.get(f"/api/v1/batches/{batch.pk}/progress/").json()
    assert progress["batch"]["blind_measurements"] == "cart_and_computed"


def test_an_unknown_setting_is_refused_and_creates_nothing(client_for, diego, ana, bruno, tnmg, archive):
    client = client_for(diego)
    spec = api_spec(tnmg, [ana, bruno], "Bad", blind_measurements="statements", sample_size=4)
    for url in ("/api/v1/batches/preview/", "/api/v1/batches/"):
        refused = client.post(url, spec, content_type="application/json")
        assert refused.status_code == 400 and "blind_measurements" in refused.json()
    assert not ReviewBatch.objects.filter(name="Bad").exists()


def test_the_designer_offers_the_setting_in_portuguese_too(client_for, diego, ana, bruno, tnmg, archive):
    client = client_for(diego)
    form = client.get("/batches/new/").content.decode()
    assert 'name="blind_measurements"' in form and "Measurements shown to blind readers" in form
    portuguese = client.get("/batches/new/", HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert "Medidas mostradas aos leitores cegos" in portuguese
    response = client.post(
        "/batches/new/",
        design_post(tnmg, [ana, bruno], action="create", blind_measurements="cart_and_computed"),
    )
    batch = ReviewBatch.objects.get()
    assert response.status_code == 302 and batch.design["blind_measurements"] == "cart_and_computed"
    assert 'id="blind-measurements-computed"' in client.get(f"/batches/{batch.pk}/").content.decode()


def test_the_command_takes_the_setting(ana, bruno, diego, tnmg, archive):
    call_command(
        "create_batch", "--name", "Cmd", "--coordinator", "diego", "--readers", "ana,bruno", "--k", "2",
        "--dataset", "archive", "--blind-measurements", "cart",
    )  # fmt: skip
    assert ReviewBatch.objects.get(name="Cmd").design["blind_measurements"] == "cart"


def test_a_release_card_records_what_blind_readers_saw(ana, bruno, carla, diego, tnmg, tmp_path):
    from annotations.selectors.releases.plan import export_plan
    from annotations.services.releases.export import ExportOptions, export_write
    from tests.exporting import labelled_study
    from tests.factories import UserFactory

    carol = UserFactory(username="carol", roles=["reader"])
    study = labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)
    batch = study.batch
    batch.design = {
        **batch.design,
        "blind_measurements": "cart_and_computed",
        "device_measurements_shown": True,
    }
    batch.save(update_fields=["design"])
    result = export_write(
        export_plan([batch.pk]),
        tmp_path,
        ExportOptions(hdf5=False),
        title="t",
        release_date="2026-01-01T00:00:00Z",
    )
    assert result.card["batches"][0]["readers_were_shown"]["blind_measurements"] == "cart_and_computed"
    markdown = (tmp_path / "dataset_card.md").read_text()
    assert "the cart's measurements, measurements computed from the signal" in markdown
