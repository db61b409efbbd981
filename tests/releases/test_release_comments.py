"""What people wrote reaches the release: a reader's comment with the read's revision in reads.csv and
consensus.jsonl, the coded skip reasons (and the words of "other") in reads.csv, the adjudicator's
rationale in adjudications.csv, and the dataset card names every free-text column. The reads go through
the reading API; the files are read back with csv, json and h5py."""

from __future__ import annotations

import csv
import json

import h5py
import pytest

from annotations.models import Assignment
from annotations.selectors.releases.plan import export_plan
from annotations.services.adjudication import Decision, adjudication_decide
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.releases.export import ExportOptions, export_write
from tests.reading.helpers import labels, queue, ref, shared_batch

pytestmark = pytest.mark.django_db
READING = "/api/v1/reading/assignments"
COMMENT = "Muscle tremor in I; otherwise normal."
WORDS = '=cmd, "paced"\nsecond line'
RATIONALE = "Sinus bradycardia: rate 52/min, P before every QRS."


def post(client, assignment, action, body):
    send = client.put if action == "draft" else client.post
    response = send(f"{READING}/{ref(assignment)}/{action}/", body, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def released(client_for, ana, bruno, carla, diego, tnmg, tmp_path):
    """ana and bruno read one exam (ana's comment after a draft: revision 2; bruno's none) and disagree;
    each skips the other exam, ana with a listed reason, bruno with "other" and words; carla adjudicates
    SB with a rationale; the release is written."""
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2)
    read, skipped = queue(batch, ana)
    theirs = Assignment.objects.get(batch=batch, reader=bruno, exam=read.exam)
    bruno_skips = Assignment.objects.get(batch=batch, reader=bruno, exam=skipped.exam)
    anas = client_for(ana)  # one test client, logged in as one person at a time
    post(anas, read, "draft", {"labels": labels("SB"), "revision": 0, "comment": "first look"})
    post(anas, read, "submit", {"labels": labels("SB"), "revision": 1, "comment": COMMENT})
    post(anas, skipped, "skip", {"code": "not_12_leads"})
    brunos = client_for(bruno)
    post(brunos, theirs, "submit", {"labels": labels("AF"), "revision": 0})
    post(brunos, bruno_skips, "skip", {"code": "other", "reason": WORDS})
    batch_agreement_compute(batch.pk)
    adjudication_decide(
        actor=carla,
        batch=batch,
        exam_id=read.exam_id,
        decisions=[Decision("SB", True)],
        rationale=RATIONALE,
        version=0,
    )
    out = tmp_path / "release"
    export_write(
        export_plan([batch.pk]),
        out,
        ExportOptions(hdf5=True),
        title="t",
        release_date="2026-01-01T00:00:00.000000Z",
    )
    return batch, read, out


def rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_reads_csv_holds_each_reads_comment_and_revision_and_each_skips_code(released):
    _, read, out = released
    table = rows(out / "reads.csv")
    submitted = [row for row in table if row["status"] == "submitted"]
    by_comment = {row["comment"]: row for row in submitted}
    assert set(by_comment) == {COMMENT, ""}
    anas, brunos = by_comment[COMMENT], by_comment[""]
    assert (anas["exam_id"], anas["code"], anas["revision"]) == (read.exam.external_id, "SB", "2")
    assert (brunos["code"], brunos["revision"], brunos["skip_code"]) == ("AF", "1", "")
    skips = {row["reader"]: row for row in table if row["status"] == "skipped"}
    assert skips[anas["reader"]]["skip_code"] == "not_12_leads"
    assert skips[anas["reader"]]["skip_reason"] == ""
    # The reader's words as written, a leading = escaped for spreadsheets as every free-text cell is.
    assert skips[brunos["reader"]]["skip_code"] == "other"
    assert skips[brunos["reader"]]["skip_reason"] == "'" + WORDS
    assert all(row["revision"] == "" and row["comment"] == "" for row in skips.values())


def test_consensus_jsonl_lists_the_exams_comments_with_reader_and_revision(released):
    batch, read, out = released
    reader = next(row["reader"] for row in rows(out / "reads.csv") if row["comment"] == COMMENT)
    lines = [json.loads(line) for line in (out / "consensus.jsonl").read_text(encoding="utf-8").splitlines()]
    (exam,) = [line for line in lines if line["exam_id"] == read.exam.external_id]
    assert exam["comments"] == [
        {
            "reader": reader,
            "batch": batch.pk,
            "read_round": 1,
            "stage": "blind",
            "revision": 2,
            "comment": COMMENT,
        }
    ]


def test_adjudications_csv_holds_the_rationale(released):
    _, read, out = released
    (decided,) = rows(out / "adjudications.csv")
    assert (decided["exam_id"], decided["code"], decided["value"]) == (read.exam.external_id, "SB", "1")
    assert decided["rationale"] == RATIONALE


def test_the_card_lists_the_free_text_columns_and_the_tracings_hold_none(released):
    _, read, out = released
    card = json.loads((out / "dataset_card.json").read_text(encoding="utf-8"))
    assert card["free_text_columns"] == {
        "reads.csv": ["skip_reason", "comment"],
        "consensus.jsonl": ["comments[].comment"],
        "adjudications.csv": ["rationale"],
        "read_history.csv": ["comment", "reason"],
        "suggestions.csv": ["criterion", "source", "finding"],
    }
    assert "free_text_columns" in (out / "dataset_card.md").read_text(encoding="utf-8")
    # The skips counted per reason, as reads.csv's skip_code column holds them.
    assert card["skips_per_code"] == {"not_12_leads": 1, "other": 1}
    # The tracings are signals and identifiers: the card lists no free text there, and there is none.
    with h5py.File(out / "tracings.hdf5", "r") as tracings:
        assert sorted(tracings) == ["dataset", "exam_id", "tracings"]
        assert [e.decode() for e in tracings["exam_id"][:]] == [read.exam.external_id]  # the one read
    assert COMMENT.encode() not in (out / "tracings.hdf5").read_bytes()
