"""Slots a reader who left could never finish (their retests, withdrawn; their drafts, set aside and
handed on) are closed without a read. They are not that reader's skips: not in anyone's skip counts, not
in the reader's own lists should the account come back, and not shown to them at all: a retest slot named
as such would tell the reader which exams were retests."""

import pytest

from annotations.models import Assignment
from tests.factories import ExamFactory, UserFactory, batch_for
from tests.reading.helpers import ref

pytestmark = pytest.mark.django_db


def test_a_departed_readers_withdrawn_retests_are_nobodys_skips(client_for, ana, diego, tnmg):
    jack = UserFactory(username="jack", roles=["reader"])
    batch = batch_for(
        tnmg, diego, [ana, jack], ExamFactory.create_batch(30), name="Retested", retest_fraction=0.2, seed=2
    )
    assert Assignment.objects.filter(batch=batch, reader=jack, read_round=2).exists()
    coordinator = client_for(diego)
    assert coordinator.post(f"/people/{jack.pk}/active/", {"active": "0"}).status_code == 302
    coordinator.post(f"/batches/{batch.pk}/reassign/", {"from_reader": jack.pk, "to_reader": ana.pk})
    withdrawn = list(Assignment.objects.filter(batch=batch, reader=jack, read_round=2))
    assert withdrawn and all(a.status == Assignment.Status.SKIPPED for a in withdrawn)

    progress = coordinator.get(f"/api/v1/batches/{batch.pk}/progress/").json()
    assert progress["skipped"] == 0
    # jack read nothing and nothing of his is open: listed, if at all, with no skip.
    assert {r["username"]: r["skipped"] for r in progress["readers"]}.get("jack", 0) == 0
    listed = {b["id"]: b for b in coordinator.get("/api/v1/batches/").json()}
    assert listed[batch.pk]["reads_skipped"] == 0
    # The list counts the reads the dashboard counts: the withdrawn and set-aside slots are nobody's.
    assert listed[batch.pk]["read_count"] == progress["coverage"]["reads"]
    # The skips table lists his first reads set aside for handing on, never a withdrawn retest.
    table = (
        coordinator.get(f"/batches/{batch.pk}/").content.decode().split('id="skips"')[1].split("</table>")[0]
    )
    assert "withdrawn:" not in table and "set aside: the reader left the study" in table

    assert coordinator.post(f"/people/{jack.pk}/active/", {"active": "1"}).status_code == 302
    reader = client_for(jack)
    worklist = {w["batch_id"]: w for w in reader.get("/api/v1/worklist/").json()}
    assert worklist.get(batch.pk, {}).get("skipped", 0) == 0
    assert "withdrawn" not in reader.get(f"/read/batches/{batch.pk}/").content.decode()
    for slot in withdrawn:
        assert reader.get(f"/api/v1/reading/assignments/{ref(slot)}/").status_code == 404
