"""read_history.csv: every recorded revision of every read in the release (submits, amendments, returns),
read back with csv, so a release keeps the read an amendment replaced."""

import csv
import hashlib

import pytest

from annotations.models import Assignment
from annotations.selectors.releases.plan import export_plan
from annotations.services.batches.returns import assignment_return
from annotations.services.reading import LabelInput, annotation_amend
from annotations.services.releases.export import ExportOptions, export_write
from tests.exporting import labelled_study
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", roles=["reader"])


def _rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_release_keeps_every_revision_of_an_amended_and_a_returned_read(
    ana, bruno, carol, carla, diego, tnmg, tmp_path
):
    study = labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)
    e003, e001 = study.exams["E003"], study.exams["E001"]
    anas = Assignment.objects.get(batch=study.batch, exam=e003, reader=ana)
    annotation_amend(
        actor=ana,
        assignment=anas,
        labels=[LabelInput("NORM")],
        comment="=looked again",
        reason="=HYPERLINK pressed Enter too early",
        revision=2,
    )
    assignment_return(
        actor=diego, batch=study.batch, reader_id=bruno.pk, exam_id=e001.pk, reason="check the QRS width"
    )
    result = export_write(
        export_plan([study.batch.pk]),
        tmp_path,
        ExportOptions(hdf5=False),
        title="history",
        release_date="2026-01-01T00:00:00.000000Z",
    )
    names = {f["name"] for f in result.files}
    assert "read_history.csv" in names
    history = _rows(tmp_path / "read_history.csv")
    key = {name: user_id for name, user_id in result.key.items()}
    name_of = {user_id: name for name, user_id in key.items() if name.startswith("R")}

    ana_e003 = [r for r in history if r["reader"] == name_of[ana.pk] and r["exam_id"] == "E003"]
    assert [(r["revision"], r["kind"], r["codes"]) for r in ana_e003] == [
        ("2", "submit", "1dAVb"),
        ("3", "amend", "NORM"),
    ]
    # Free text is never a formula in a spreadsheet.
    assert ana_e003[1]["reason"] == "'=HYPERLINK pressed Enter too early"
    assert ana_e003[1]["comment"] == "'=looked again"
    assert ana_e003[0]["reason"] == ""
    assert (
        ana_e003[0]["recorded_at"].endswith("Z") and ana_e003[0]["recorded_at"] < ana_e003[1]["recorded_at"]
    )

    bruno_e001 = [r for r in history if r["reader"] == name_of[bruno.pk] and r["exam_id"] == "E001"]
    assert [(r["kind"], r["codes"], r["reason"]) for r in bruno_e001] == [
        ("submit", "RBBB", ""),
        ("returned", "RBBB", "check the QRS width"),
    ]
    # No draft saves: only what was submitted, amended or returned.
    assert {r["kind"] for r in history} == {"submit", "amend", "returned"}
    assert {r["dataset"] for r in history} == {"export-study"}
    assert set(history[0]) == {
        "reader",
        "dataset",
        "exam_id",
        "batch",
        "read_round",
        "stage",
        "revision",
        "kind",
        "codes",
        "uncertain",
        "comment",
        "reason",
        "recorded_at",
    }
    # Bruno's uncertain AF on E002 keeps its mark.
    bruno_e002 = [r for r in history if r["reader"] == name_of[bruno.pk] and r["exam_id"] == "E002"]
    assert [(r["codes"], r["uncertain"]) for r in bruno_e002] == [("AF", "AF")]

    # reads.csv holds the read as it counts now: ana's NORM, and nothing of bruno's returned E001.
    reads = _rows(tmp_path / "reads.csv")
    assert {r["code"] for r in reads if r["reader"] == name_of[ana.pk] and r["exam_id"] == "E003"} == {"NORM"}
    assert not [r for r in reads if r["reader"] == name_of[bruno.pk] and r["exam_id"] == "E001"]

    sums = dict(reversed(line.split("  ", 1)) for line in (tmp_path / "SHA256SUMS").read_text().splitlines())
    digest = hashlib.sha256((tmp_path / "read_history.csv").read_bytes()).hexdigest()
    assert sums["read_history.csv"] == digest
    assert "read_history.csv" in {f["name"] for f in result.card["files"]}
    assert any("read_history.csv" in line for line in result.card["conventions"])


def test_the_same_state_writes_the_same_history(ana, bruno, carol, carla, diego, tnmg, tmp_path):
    study = labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)
    plan = export_plan([study.batch.pk])
    options = ExportOptions(hdf5=False)
    for folder in ("a", "b"):
        export_write(plan, tmp_path / folder, options, title="t", release_date="2026-01-01T00:00:00.000000Z")
    first, second = ((tmp_path / f / "read_history.csv").read_bytes() for f in ("a", "b"))
    assert first == second
    assert len(_rows(tmp_path / "a" / "read_history.csv")) == 11  # one submit per read of the study
