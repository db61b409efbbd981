"""Suggestions in the database: computing, storing per (exam, provider, version), taxonomy mapping,
failures, the sweep, progress, and what readers are shown."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from django.core.files.storage import storages

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.ecg.synthetic import synthetic_ecg
from annotations.lib.providers.base import Provider, ProviderResult
from annotations.lib.providers.measurements import MeasurementProvider
from annotations.models import (
    AuditEvent,
    BatchExam,
    ReviewBatch,
    Suggestion,
    SuggestionExposure,
    SuggestionScore,
)
from annotations.selectors.suggestions.summary import batch_suggestion_progress
from annotations.services.batches.lifecycle import batch_close
from annotations.services.exams.create import ExamInput, exam_create
from annotations.services.exams.waveforms import waveform_delete, waveform_store_blob
from annotations.services.suggestions import (
    META,
    exams_missing_suggestions,
    suggestion_compute,
    suggestion_providers,
    suggestions_exam_compute,
)
from tests.factories import DatasetFactory, DiagnosticClassFactory, TaxonomyFactory, batch_for, make_exam
from tests.reading.helpers import labels, queue, ref, shared_batch

API = "/api/v1/reading/assignments"


class FixedProvider(Provider):
    """A real provider with known output, so stored rows can be checked number by number."""

    name = "fixed"
    codes = ("SB", "AF", "LBBB")

    def __init__(self, version: str = "1", scores: dict[str, float] | None = None) -> None:
        self.version = version
        self.scores = scores or {"SB": 0.8, "AF": 0.1, "LBBB": 0.3}
        self.thresholds = {"AF": 0.05}

    def run(self, signals_mv: np.ndarray, sampling_rate: float) -> ProviderResult:
        return ProviderResult(scores=self.scores, measurements={"heart_rate_bpm": 55.0})


def short_exam():
    """A real exam of one second: too short for any provider (at least 2 s are needed)."""
    signals, _ = synthetic_ecg(duration_s=1.0)
    return exam_create(
        dataset=DatasetFactory(),
        data=ExamInput(
            external_id="one-second", signals_mv=signals, sampling_rate=500.0, lead_names=list(STANDARD_LEADS)
        ),
    )


def scores_of(row: Suggestion, taxonomy) -> dict[str, float]:
    return dict(
        SuggestionScore.objects.filter(suggestion=row, diagnostic_class__taxonomy=taxonomy).values_list(
            "diagnostic_class__code", "score"
        )
    )


def test_the_measurement_provider_stores_measurements_and_tnmg_scores(tnmg):
    exam = make_exam(heart_rate=50.0, seed=3)
    row = suggestion_compute(exam.pk, MeasurementProvider())
    assert (row.status, row.provider, row.error) == ("ok", "measurements", "")
    assert row.provider_version == MeasurementProvider.version
    assert row.measurements["heart_rate_bpm"] == pytest.approx(50.0, abs=2.0)
    scores = scores_of(row, tnmg)
    # Every measurement code is a TNMG class; PACE only where the recording can show pacing spikes (the
    # synthetic exam carries nothing above 100 Hz, and its quality notes say so).
    assert set(scores) == set(MeasurementProvider.codes) - {"PACE"}
    assert any("pacing spikes not assessable" in note for note in row.measurements["quality"])
    assert scores["SB"] > 0.9 and scores["ST"] < 0.1
    assert row.measurements[META]["thresholds"]["SB"] == 0.5


def test_computing_twice_leaves_one_row_per_exam_provider_and_version(tnmg):
    exam = make_exam(seed=1)
    first = suggestion_compute(exam.pk, FixedProvider())
    second = suggestion_compute(exam.pk, FixedProvider())
    assert first.pk == second.pk
    assert Suggestion.objects.filter(exam=exam).count() == 1
    assert SuggestionScore.objects.filter(suggestion=first).count() == 3


def test_a_new_provider_version_adds_rows_and_keeps_the_old_ones(tnmg):
    exam = make_exam(seed=1)
    old = suggestion_compute(exam.pk, FixedProvider("1"))
    new = suggestion_compute(exam.pk, FixedProvider("2", {"SB": 0.2, "AF": 0.9, "LBBB": 0.0}))
    assert old.pk != new.pk
    assert sorted(Suggestion.objects.filter(exam=exam).values_list("provider_version", flat=True)) == [
        "1",
        "2",
    ]
    assert scores_of(old, tnmg) == {"SB": 0.8, "AF": 0.1, "LBBB": 0.3}
    assert scores_of(new, tnmg) == {"SB": 0.2, "AF": 0.9, "LBBB": 0.0}


def test_an_exam_too_short_fails_alone_with_its_error_stored(tnmg):
    good, bad = make_exam(seed=2), short_exam()
    assert suggestion_compute(bad.pk, FixedProvider()).status == "failed"
    assert suggestion_compute(good.pk, FixedProvider()).status == "ok"
    failed = Suggestion.objects.get(exam=bad)
    assert "at least 2 s is needed" in failed.error
    assert not failed.scores.exists()


def test_an_exam_whose_blob_is_gone_is_stored_as_failed(tnmg):
    exam = make_exam(seed=9)
    waveform_delete(exam.waveform_key)
    row = suggestion_compute(exam.pk, FixedProvider())
    assert row.status == "failed"
    assert "FileNotFoundError" in row.error


def test_a_failed_exam_is_computed_again_and_a_good_result_replaces_the_failure(tnmg):
    exam = make_exam(seed=4)
    key = exam.waveform_key
    with storages["waveforms"].open(key, "rb") as handle:
        blob = handle.read()
    waveform_delete(key)
    failed = suggestion_compute(exam.pk, FixedProvider())
    assert failed.status == "failed"
    waveform_store_blob(blob)
    assert suggestion_compute(exam.pk, FixedProvider(), retry_failed=False).status == "failed"
    again = suggestion_compute(exam.pk, FixedProvider())
    assert (again.pk, again.status, again.error) == (failed.pk, "ok", "")
    assert scores_of(again, tnmg) == {"SB": 0.8, "AF": 0.1, "LBBB": 0.3}


def test_classes_take_scores_through_their_tnmg_map_and_missing_codes_are_reported(ana, bruno, diego, tnmg):
    taxonomy = TaxonomyFactory(key="local")
    DiagnosticClassFactory(taxonomy=taxonomy, code="BRADY", maps={"tnmg": "SB"})
    DiagnosticClassFactory(taxonomy=taxonomy, code="AF")
    batch = batch_for(taxonomy, diego, [ana, bruno], [make_exam(seed=5)], name="Local codes")
    exam_id = BatchExam.objects.get(batch=batch).exam_id
    row = suggestion_compute(exam_id, FixedProvider())
    assert scores_of(row, taxonomy) == {"BRADY": 0.8, "AF": 0.1}
    assert scores_of(row, tnmg) == {"SB": 0.8, "AF": 0.1, "LBBB": 0.3}  # the default taxonomy too
    progress = batch_suggestion_progress(batch)
    assert progress["providers"][0]["unmapped_codes"] == ["LBBB"]


def test_an_exam_joining_a_batch_of_another_taxonomy_gets_scores_without_recomputing(ana, bruno, diego, tnmg):
    exam = make_exam(seed=6)
    row = suggestion_compute(exam.pk, FixedProvider())
    computed_at = row.computed_at
    taxonomy = TaxonomyFactory(key="later")
    DiagnosticClassFactory(taxonomy=taxonomy, code="AF")
    batch_for(taxonomy, diego, [ana], [exam], name="Later")
    again = suggestion_compute(exam.pk, FixedProvider())
    assert again.computed_at == computed_at
    assert scores_of(again, taxonomy) == {"AF": 0.1}


def test_the_suite_runs_the_measurement_provider_and_the_shipped_default_adds_quality_and_the_codec(
    monkeypatch,
):
    assert list(suggestion_providers()) == ["measurements"]  # tests/settings.py pins it
    from ecgreview import settings as project

    assert project.CELERY_BROKER_URL  # the suite runs with a broker, as a deployment with workers does
    assert project._suggestion_providers(None) == [
        "annotations.lib.providers.measurements.MeasurementProvider",
        "annotations.lib.providers.quality.QualityProvider",
        "annotations.lib.providers.openecg_codec.OpenEcgProvider",
    ]
    # The embedded default (no broker) runs providers inside the request: the quality provider is cheap
    # (a few ms per exam) so it stays on there; the slow codec does not.
    monkeypatch.setattr(project, "CELERY_BROKER_URL", "")
    assert project._suggestion_providers(None) == [
        "annotations.lib.providers.measurements.MeasurementProvider",
        "annotations.lib.providers.quality.QualityProvider",
    ]


def test_one_exam_task_runs_every_configured_provider(tnmg):
    exam = make_exam(seed=7)
    assert suggestions_exam_compute(exam.pk) == {"measurements": "ok"}
    assert suggestions_exam_compute(exam.pk) == {"measurements": "ok"}
    assert Suggestion.objects.filter(exam=exam).count() == 1


def test_the_sweep_finds_exams_of_active_batches_without_a_row(ana, bruno, diego, tnmg):
    done, waiting, broken = make_exam(seed=1), make_exam(seed=2), short_exam()
    batch = batch_for(tnmg, diego, [ana, bruno], [done, waiting, broken], name="Sweep")
    closed = batch_for(tnmg, diego, [ana], [make_exam(seed=8)], name="Closed")
    batch_close(batch=closed, actor=diego)
    measurements = MeasurementProvider()
    suggestion_compute(done.pk, measurements)
    suggestion_compute(broken.pk, measurements)
    # The failed exam is not retried by every sweep; the closed batch is not swept at all.
    assert exams_missing_suggestions(limit=100) == [waiting.pk]
    assert exams_missing_suggestions(limit=0) == []
    progress = batch_suggestion_progress(batch)
    (row,) = progress["providers"]
    assert (progress["exams"], row["ok"], row["failed"], row["missing"]) == (3, 1, 1, 1)
    assert row["failures"][0]["exam_id"] == broken.pk
    assert "at least 2 s" in row["failures"][0]["error"]


def test_the_batch_page_and_the_api_show_suggestion_progress(client_for, ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2)
    suggestion_compute(BatchExam.objects.filter(batch=batch).first().exam_id, MeasurementProvider())
    client = client_for(diego)
    # The dashboard leaves the counting to its own request, which the page fetches (and refreshes).
    page = client.get(f"/batches/{batch.pk}/").content.decode()
    assert f'id="suggestions" data-fragment-url="/batches/{batch.pk}/suggestions/"' in page
    assert "exams computed" not in page
    fragment = client.get(f"/batches/{batch.pk}/suggestions/")
    assert fragment.status_code == 200 and "no-store" in fragment["Cache-Control"]
    assert "1 of 2 exams computed, 0 failed, 1 waiting." in fragment.content.decode()
    data = client.get(f"/api/v1/batches/{batch.pk}/suggestions/").json()
    assert (data["exams"], data["providers"][0]["ok"], data["providers"][0]["missing"]) == (2, 1, 1)
    assert client_for(ana).get(f"/api/v1/batches/{batch.pk}/suggestions/").status_code == 403
    assert client_for(ana).get(f"/batches/{batch.pk}/suggestions/").status_code in (403, 404)


def _computed_batch(ana, bruno, diego, tnmg, mode):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, mode=mode)
    exam_id = BatchExam.objects.get(batch=batch).exam_id
    suggestion_compute(exam_id, FixedProvider())  # another provider, older: readers must not see it
    row = suggestion_compute(exam_id, MeasurementProvider())
    Suggestion.objects.filter(provider="fixed").update(computed_at=row.computed_at)
    return batch, row


def test_shown_mode_gives_readers_the_measurements_and_suggested_statements(
    client_for, ana, bruno, diego, tnmg
):
    batch, row = _computed_batch(ana, bruno, diego, tnmg, ReviewBatch.SuggestionMode.SHOWN)
    (anas,) = queue(batch, ana)
    shown = client_for(ana).get(f"{API}/{ref(anas)}/").json()["suggestion"]
    assert shown["provider"] == "measurements"
    assert set(shown["measurements"]) >= {"heart_rate_bpm", "pr_ms", "qrs_ms", "qt_ms", "qrs_axis_deg"}
    assert shown["measurements"]["heart_rate_bpm"] == row.measurements["heart_rate_bpm"]
    assert META not in shown["measurements"]
    assert {s["code"] for s in shown["scores"]} == set(MeasurementProvider.codes) - {
        "PACE"
    }  # no spikes shown
    assert all(s["suggested"] == (s["score"] >= 0.5) for s in shown["scores"])
    exposure = SuggestionExposure.objects.get(assignment=anas)
    assert (exposure.suggestion, exposure.reader, exposure.stage) == (row, ana, "revised")


def test_two_stage_shows_the_measurements_only_after_the_blind_read(client_for, ana, bruno, diego, tnmg):
    batch, row = _computed_batch(ana, bruno, diego, tnmg, ReviewBatch.SuggestionMode.TWO_STAGE)
    (anas,) = queue(batch, ana)
    client = client_for(ana)
    assert client.get(f"{API}/{ref(anas)}/").json()["suggestion"] is None
    answer = client.post(
        f"{API}/{ref(anas)}/submit/",
        {"labels": labels("NORM"), "comment": "", "time_on_task_ms": 1000, "revision": 0},
        content_type="application/json",
    ).json()
    assert answer["done"] is False
    shown = answer["context"]["suggestion"]
    assert shown["provider"] == "measurements" and "qrs_ms" in shown["measurements"]
    exposure = SuggestionExposure.objects.get(assignment=anas)
    assert (exposure.suggestion, exposure.stage, exposure.mode) == (row, "revised", "two_stage")


def test_creating_a_batch_queues_its_suggestions_after_commit(
    ana, bruno, diego, tnmg, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    assert len(callbacks) == 1  # nothing is sent before the batch's rows are visible to a worker


@pytest.mark.django_db(transaction=True)
def test_a_broker_that_is_down_never_breaks_batch_creation(ana, bruno, diego, tnmg):
    """A separate process whose broker is a closed port creates a batch: it succeeds, the failure to
    queue is logged, and the sweep will find the exams later."""
    from tests.workers import _database_url

    exam = make_exam(seed=1)
    script = (
        "import django; django.setup()\n"
        "from django.contrib.auth import get_user_model\n"
        "from annotations.models import Exam, Taxonomy\n"
        "from annotations.services.batches.lifecycle import batch_create\n"
        "U = get_user_model()\n"
        f"b = batch_create(name='No broker', taxonomy=Taxonomy.objects.get(pk={tnmg.pk}),"
        f" exams=[Exam.objects.get(pk={exam.pk})], readers=[U.objects.get(pk={ana.pk})],"
        f" readers_per_exam=1, actor=U.objects.get(pk={diego.pk}))\n"
        "print('created', b.pk)\n"
    )
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ecgreview.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "DEBUG": "0",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=environ, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "created" in result.stdout
    assert "could not queue annotations.tasks.suggestions_batch" in result.stderr
    batch = ReviewBatch.objects.get(name="No broker")
    assert exams_missing_suggestions(limit=10) == [exam.pk]
    assert AuditEvent.objects.filter(action="batch.create", target_id=str(batch.pk)).exists()


def test_the_progress_names_every_provider_the_batch_was_queued_for_even_with_nothing_computed(
    client_for, ana, bruno, diego, tnmg
):
    """A two-stage batch whose only rows were another model's predictions said "2 of 2 computed, 0
    waiting" while the provider its readers see had computed nothing (a walk on the production stack)."""
    from annotations.services.suggestions import suggestions_batch_run

    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2)
    for member in BatchExam.objects.filter(batch=batch):
        suggestion_compute(member.exam_id, FixedProvider())  # predictions imported from elsewhere
    suggestions_batch_run(batch.pk)  # the fan-out a worker runs: it names the configured providers
    data = client_for(diego).get(f"/api/v1/batches/{batch.pk}/suggestions/").json()
    rows = {row["provider"]: row for row in data["providers"]}
    assert (rows["measurements"]["ok"], rows["measurements"]["missing"]) == (0, 2)
    assert rows["measurements"]["version"] == MeasurementProvider.version
    assert (rows["fixed"]["ok"], rows["fixed"]["missing"]) == (2, 0)
    fragment = client_for(diego).get(f"/batches/{batch.pk}/suggestions/").content.decode()
    assert "0 of 2 exams computed, 0 failed, 2 waiting." in fragment
