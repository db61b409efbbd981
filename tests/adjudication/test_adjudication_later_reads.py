"""A read that comes in after an adjudication (a skipped exam handed on, a reader added to gold exams)
changes the votes the decision was made on. The consensus must still hold the taxonomy's exclusive sets
with the human decision in it, the adjudicated cell must show the votes it has now, and the adjudicator
must still be able to reach and correct the decision once no dispute is left on the exam."""

import csv
import io

import pytest

from annotations.models import Assignment, Consensus, DisputedLabel, Release
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.reading import assignment_skip
from annotations.services.releases.builds import release_build
from tests.batches.test_batch_escalation import read
from tests.factories import UserFactory, batch_for, make_exam
from tests.releases.test_release_current_consensus import file_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def later(ana, bruno, diego, tnmg):
    """ana, bruno and dave hold the exam (k=3); dave skips it, so ana's and bruno's reads are all there is.
    carol joins the batch later, to be handed dave's skip."""
    dave = UserFactory(username="dave", roles=["reader"])
    carol = UserFactory(username="carol", roles=["reader"])
    exam = make_exam()
    batch = batch_for(tnmg, diego, [ana, bruno, dave], [exam], name="Later")
    return batch, exam, dave, carol


def _slot(batch, reader):
    return Assignment.objects.get(batch=batch, reader=reader, read_round=1)


def _first_reads(later, ana, bruno, ana_codes, bruno_codes):
    batch, _exam, dave, _carol = later
    read(ana, _slot(batch, ana), ana_codes)
    read(bruno, _slot(batch, bruno), bruno_codes)
    assignment_skip(actor=dave, assignment=_slot(batch, dave), reason="Tracing unreadable")
    batch_agreement_compute(batch.pk)


def _decide(client, batch, exam, decisions, version, rationale=""):
    return client.post(
        f"/api/v1/adjudication/{batch.pk}/{exam.pk}/",
        {
            "decisions": [{"code": c, "value": v} for c, v in decisions],
            "rationale": rationale,
            "version": version,
        },
        content_type="application/json",
    )


def _carol_reads(client_for, diego, later, codes):
    batch, _exam, dave, carol = later
    coordinator = client_for(diego)
    assert coordinator.post(f"/batches/{batch.pk}/add-readers/", {"readers": [carol.pk]}).status_code == 302
    skipped = _slot(batch, dave)
    url = f"/api/v1/batches/{batch.pk}/skips/{skipped.pk}/hand-on/"
    response = coordinator.post(url, {"reader_id": carol.pk}, content_type="application/json")
    assert response.status_code == 201, response.content
    read(carol, Assignment.objects.get(batch=batch, reader=carol), codes)
    batch_agreement_compute(batch.pk)


def _released_row(client, batch, exam) -> dict:
    response = client.post(
        "/api/v1/releases/", {"batches": [batch.pk], "hdf5": False}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    release = release_build(Release.objects.get(pk=response.json()["id"]).pk)
    rows = csv.DictReader(io.StringIO(file_text(client, release, "consensus.csv")))
    return next(row for row in rows if row["exam_id"] == exam.external_id)


def test_a_later_read_that_makes_a_majority_against_an_adjudication_is_disputed_not_released(
    later, ana, bruno, carla, diego, client_for
):
    """1dAVb and AVB3 never go together. Tied 1-1 on each, carla signs AVB3 present and leaves 1dAVb
    open; carol's later read makes 1dAVb a 2-of-3 majority. The consensus would hold both."""
    batch, exam, _dave, _carol = later
    _first_reads(later, ana, bruno, ["SR", "1dAVb"], ["SR", "AVB3"])
    assert _decide(client_for(carla), batch, exam, [("AVB3", True)], 0).status_code == 200
    _carol_reads(client_for, diego, later, ["SR", "1dAVb"])

    present = set(
        Consensus.objects.filter(batch=batch, exam=exam, value=True).values_list(
            "diagnostic_class__code", flat=True
        )
    )
    assert not {"1dAVb", "AVB3"} <= present, f"the consensus holds an exclusive pair: {sorted(present)}"
    disputed = dict(
        DisputedLabel.objects.filter(batch=batch, exam=exam).values_list("diagnostic_class__code", "reason")
    )
    assert disputed.get("1dAVb") == "exclusive"
    released = _released_row(client_for(diego), batch, exam)
    assert (released["1dAVb"], released["AVB3"]) == ("", "1")  # undecided beside the human decision
    queue = client_for(carla).get("/api/v1/adjudication/").json()
    assert [item["exam_id"] for item in queue] == [exam.pk]  # back with the adjudicator, who settles it
    case = client_for(carla).get(f"/api/v1/adjudication/{batch.pk}/{exam.pk}/").json()
    assert {d["code"] for d in case["disputed"]} >= {"1dAVb", "AVB3"}
    response = _decide(
        client_for(carla), batch, exam, [("1dAVb", True), ("AVB3", False)], 1, "PR 240 ms, 1:1"
    )
    assert response.status_code == 200, response.content
    batch_agreement_compute(batch.pk)
    values = dict(
        Consensus.objects.filter(
            batch=batch, exam=exam, diagnostic_class__code__in=["1dAVb", "AVB3"]
        ).values_list("diagnostic_class__code", "value")
    )
    assert values == {"1dAVb": True, "AVB3": False}


def test_an_adjudicated_cell_shows_the_votes_it_has_now_and_stays_correctable(
    later, ana, bruno, carla, diego, client_for
):
    """carla signs 1dAVb present on a 1-1 tie; carol's later read agrees, so no dispute is left. The
    adjudicated cell says 2 of 3 (what reads.csv says), and carla can still open and correct it."""
    batch, exam, _dave, _carol = later
    _first_reads(later, ana, bruno, ["SR", "1dAVb"], ["SR"])
    assert _decide(client_for(carla), batch, exam, [("1dAVb", True)], 0).status_code == 200
    _carol_reads(client_for, diego, later, ["SR", "1dAVb"])

    row = Consensus.objects.get(batch=batch, exam=exam, diagnostic_class__code="1dAVb")
    assert (row.method, row.value, row.positive_votes, row.total_votes) == ("adjudicated", True, 2, 3)
    assert not DisputedLabel.objects.filter(batch=batch, exam=exam).exists()
    case = client_for(carla).get(f"/api/v1/adjudication/{batch.pk}/{exam.pk}/")
    assert case.status_code == 200, "a signed decision can no longer be reached once its dispute is gone"
    decided = {d["code"]: d for d in case.json()["disputed"]}
    assert decided["1dAVb"]["decided_value"] is True
    assert (decided["1dAVb"]["positive_votes"], decided["1dAVb"]["total_votes"]) == (2, 3)
    response = _decide(client_for(carla), batch, exam, [("1dAVb", False)], 1, "PR 190 ms on review")
    assert response.status_code == 200, response.content
    assert not Consensus.objects.get(batch=batch, exam=exam, diagnostic_class__code="1dAVb").value
    assert client_for(carla).get("/api/v1/adjudication/").json() == []  # settled: not in the queue
