"""A read that marks nothing is an answer in a taxonomy read as a closed list of yes/no questions (CODE-15%'s
six classes: "none of the six is present"). The release's reads.csv must hold it, as one row with no
class, or every figure recomputed from the file (reads per exam, agreement, test-retest) is wrong."""

from __future__ import annotations

import csv
import io

import pytest

from annotations.models import Release
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.releases.builds import release_build
from annotations.services.taxonomy import SHIPPED_DIR, taxonomy_load, taxonomy_read_file
from tests.factories import UserFactory, batch_for, make_exam
from tests.reading.helpers import queue, ref

pytestmark = pytest.mark.django_db
API = "/api/v1/reading/assignments"


def _submit(client, assignment, codes: list[str]) -> None:
    saved = client.put(
        f"{API}/{ref(assignment)}/draft/",
        {"labels": [{"code": c, "uncertain": False} for c in codes], "revision": 0},
        content_type="application/json",
    )
    assert saved.status_code == 200, saved.content
    done = client.post(
        f"{API}/{ref(assignment)}/submit/",
        {"labels": [{"code": c, "uncertain": False} for c in codes], "revision": saved.json()["revision"]},
        content_type="application/json",
    )
    assert done.status_code == 200, done.content


def test_a_read_that_marks_none_of_the_classes_is_a_row_of_reads_csv(client_for, diego):
    code15 = taxonomy_load(taxonomy_read_file(SHIPPED_DIR / "code15.json")).taxonomy
    one, two = (UserFactory(username=name, roles=["reader"]) for name in ("one", "two"))
    exams = [make_exam(seed=i) for i in range(2)]
    batch = batch_for(code15, diego, [one, two], exams, name="Six questions")
    for reader, answers in ((one, [["AF"], []]), (two, [[], []])):
        by_exam = {a.exam_id: a for a in queue(batch, reader)}
        for exam, codes in zip(exams, answers, strict=True):
            _submit(client_for(reader), by_exam[exam.pk], codes)
    batch_agreement_compute(batch.pk)
    client = client_for(diego)
    created = client.post(
        "/api/v1/releases/", {"batches": [batch.pk], "hdf5": False}, content_type="application/json"
    )
    release = release_build(Release.objects.get(pk=created.json()["id"]).pk)

    def text(name: str) -> str:
        return b"".join(client.get(f"/releases/{release.pk}/files/{name}").streaming_content).decode()

    reads = list(csv.DictReader(io.StringIO(text("reads.csv"))))
    consensus = {row["exam_id"]: row for row in csv.DictReader(io.StringIO(text("consensus.csv")))}
    for exam in exams:
        rows = [r for r in reads if r["exam_id"] == exam.external_id]
        # Every read the consensus counts has its reader in the file: two readers, two reads.
        assert len({r["reader"] for r in rows}) == int(consensus[exam.external_id]["reads"]) == 2
    empty = [r for r in reads if r["code"] == ""]
    assert len(empty) == 3
    assert all(r["status"] == "submitted" and r["uncertain"] == "" and r["submitted_at"] for r in empty)
