"""In a two-stage batch every read has the same two steps, whatever the reader saw before.

A retest re-reads an exam whose suggestion the reader was shown in their first read. Its read cannot be
blind, and the stored data say so; but if it skipped the step without the suggestion (or was labelled a
revision while still a draft), the reader would know it for a retest, which is what a retest must never
let them know. Checked through the reader's API, step by step against the same reader's first read, and
in what the coordinator gets: the evidence page's blind-to-revised moves and the release's reads.csv."""

from __future__ import annotations

import csv

import pytest
from django.test import Client

from annotations.models import Annotation, Assignment, ReviewBatch, SuggestionExposure
from annotations.selectors.releases.plan import export_plan
from annotations.services.releases.export import ExportOptions, export_write
from annotations.services.suggestions import suggestion_compute
from tests.factories import batch_for, make_exam
from tests.reading.helpers import ref
from tests.suggestions.test_suggestions_service import FixedProvider

pytestmark = pytest.mark.django_db
READ = "/api/v1/reading/assignments"


@pytest.fixture
def retested(ana, diego, tnmg):
    """Thirty exams, each with a suggestion (SB suggested), read by ana in two stages; six come back."""
    exams = [make_exam(heart_rate=60.0 + i, seed=i) for i in range(30)]
    batch = batch_for(
        tnmg,
        diego,
        [ana],
        exams,
        name="Two-stage retests",
        suggestion_mode=ReviewBatch.SuggestionMode.TWO_STAGE,
        retest_fraction=0.2,
        seed=4,
    )
    for exam in exams:
        suggestion_compute(exam.pk, FixedProvider("1", {"SB": 0.9}))
    return batch


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _steps(client: Client, assignment: Assignment) -> list[dict]:
    """What the reader's page is told at each step of one read: opened, draft saved, reopened, blind step
    submitted, revision opened again, revision submitted."""
    url = f"{READ}/{ref(assignment)}"
    body = {"labels": [{"code": "LBBB"}], "comment": "", "time_on_task_ms": 900}
    opened = client.get(f"{url}/").json()
    draft = client.put(f"{url}/draft/", {**body, "revision": 0}, content_type="application/json").json()
    reopened = client.get(f"{url}/").json()
    first = client.post(f"{url}/submit/", {**body, "revision": 1}, content_type="application/json").json()
    revising = client.get(f"{url}/").json()
    revision = revising["annotation"]["revision"]
    body = {**body, "labels": [{"code": "SB"}], "revision": revision}
    last = client.post(f"{url}/submit/", body, content_type="application/json").json()
    return [
        {"step": "opened", "stage": opened["annotation"]["stage"], "suggestion": bool(opened["suggestion"])},
        {"step": "draft", "stage": draft["stage"]},
        {
            "step": "reopened",
            "stage": reopened["annotation"]["stage"],
            "suggestion": bool(reopened["suggestion"]),
        },
        {
            "step": "blind submitted",
            "done": first["done"],
            "suggestion": bool(first.get("context", {}).get("suggestion")),
        },
        {
            "step": "revising",
            "stage": revising["annotation"]["stage"],
            "blind": revising["annotation"]["blind"],
            "suggestion": bool(revising["suggestion"]),
        },
        {"step": "revision submitted", "done": last.get("done")},
    ]


def _pairs(batch, ana) -> tuple[Assignment, Assignment]:
    retest = Assignment.objects.filter(batch=batch, reader=ana, read_round=2).order_by("position").first()
    first = Assignment.objects.get(batch=batch, reader=ana, read_round=1, exam=retest.exam)
    return first, retest


def test_a_retest_goes_through_the_same_steps_as_its_first_read(retested, ana):
    first, retest = _pairs(retested, ana)
    client = _client(ana)
    seen = _steps(client, first)
    assert seen[1]["stage"] == "blind" and seen[3] == {
        "step": "blind submitted",
        "done": False,
        "suggestion": True,
    }
    again = _steps(client, retest)
    assert again == seen


def test_a_retests_first_step_is_stored_with_the_earlier_sight_and_its_revision_with_the_new_one(
    retested, ana
):
    first, retest = _pairs(retested, ana)
    client = _client(ana)
    _steps(client, first)
    sight = SuggestionExposure.objects.get(assignment=first).shown_at
    _steps(client, retest)
    reads = {a.stage: a for a in Annotation.objects.filter(assignment=retest)}
    assert set(reads) == {Annotation.Stage.BLIND, Annotation.Stage.REVISED}
    # Not blind in memory: the first step carries when the reader had seen the suggestion before.
    assert reads[Annotation.Stage.BLIND].suggestion_shown_at == sight
    revealed = SuggestionExposure.objects.get(assignment=retest).shown_at
    assert reads[Annotation.Stage.REVISED].suggestion_shown_at == revealed > sight
    assert reads[Annotation.Stage.REVISED].is_current and retest.__class__.objects.get(
        pk=retest.pk
    ).status == (Assignment.Status.SUBMITTED)


def test_automation_bias_leaves_out_a_first_step_made_after_an_earlier_sight(
    client_for, retested, ana, diego
):
    first, retest = _pairs(retested, ana)
    client = _client(ana)
    _steps(client, first)
    _steps(client, retest)
    evidence = client_for(diego).get(f"/api/v1/batches/{retested.pk}/evidence/").json()
    (row,) = evidence["automation_bias"]
    # The first read added SB, the suggested statement: one move toward it (LBBB, which the suggestion
    # does not score, is left out). The retest did the same, but its "before" was made after the reader
    # had seen the suggestion, so it is no evidence of a move.
    assert (row["reader"], row["reads_compared"], row["toward"], row["away"]) == ("ana", 1, 1, 0)


def test_reads_csv_marks_a_retests_first_step_as_made_after_the_suggestion_was_seen(retested, ana, tmp_path):
    first, retest = _pairs(retested, ana)
    client = _client(ana)
    _steps(client, first)
    _steps(client, retest)
    export_write(
        export_plan([retested.pk], target=""),
        tmp_path,
        ExportOptions(hdf5=False),
        title="retests",
        release_date="2026-01-01T00:00:00.000000Z",
    )
    with open(tmp_path / "reads.csv", newline="", encoding="utf-8") as handle:
        table = [r for r in csv.DictReader(handle) if r["exam_id"] == first.exam.external_id]
    shown = {(r["read_round"], r["stage"]): r["suggestion_shown"] for r in table}
    assert shown == {("1", "blind"): "0", ("1", "revised"): "1", ("2", "blind"): "1", ("2", "revised"): "1"}
