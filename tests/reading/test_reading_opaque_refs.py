"""A reader never sees an assignment's database id: ids are handed out in order, so a retest re-read
sat next to its first read's id, and an escalation's extra read or a skipped exam handed on stood far
above the rest of the batch. Every URL and answer of the reader's side names assignments by an opaque
reference, and the old numeric URLs answer 404."""

import re

import pytest

from annotations.models import Assignment
from annotations.selectors.reading.refs import assignment_pk, assignment_ref
from tests.factories import ExamFactory, batch_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def retested(ana, bruno, diego, tnmg):
    return batch_for(
        tnmg,
        diego,
        [ana, bruno],
        ExamFactory.create_batch(30),
        name="Refs",
        readers_per_exam=1,
        retest_fraction=0.2,
        seed=2,
    )


def test_a_retest_and_its_first_read_have_unrelated_references(retested, ana):
    retest = Assignment.objects.filter(batch=retested, reader=ana, read_round=2).first()
    first = Assignment.objects.get(batch=retested, reader=ana, read_round=1, exam=retest.exam)
    assert retest.pk == first.pk + 1  # what the database does
    refs = (assignment_ref(first.pk), assignment_ref(retest.pk))
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", ref) for ref in refs)
    shared = sum(a == b for a, b in zip(*refs, strict=True))
    assert shared < 8  # 22 base64 characters, about 1 in 64 alike by chance
    assert [assignment_pk(ref) for ref in refs] == [first.pk, retest.pk]
    assert assignment_pk("A" * 22) is None and assignment_pk("not-a-reference") is None


def test_the_reader_side_shows_no_database_id(client_for, retested, ana):
    client = client_for(ana)
    slots = list(Assignment.objects.filter(batch=retested, reader=ana).order_by("position"))
    first = slots[0]
    ref = assignment_ref(first.pk)
    assert client.get(f"/read/{first.pk}/").status_code == 404  # the old numeric URL
    assert client.get(f"/api/v1/reading/assignments/{first.pk}/").status_code == 404
    page = client.get(f"/read/{ref}/")
    assert page.status_code == 200
    context = client.get(f"/api/v1/reading/assignments/{ref}/").json()
    assert context["assignment"]["id"] == ref
    assert context["next_assignment_id"] == assignment_ref(slots[1].pk)
    assert client.get("/api/v1/reading/next/").json()["next_assignment_id"] == ref
    body = {"labels": [{"code": "SB"}], "revision": 0}
    submitted = client.post(
        f"/api/v1/reading/assignments/{ref}/submit/", body, content_type="application/json"
    )
    assert submitted.status_code == 200, submitted.content
    assert submitted.json()["next_assignment_id"] == assignment_ref(slots[1].pk)
    skip_url = f"/api/v1/reading/assignments/{assignment_ref(slots[1].pk)}/skip/"
    skipped = client.post(skip_url, {"reason": "noise"}, content_type="application/json")
    assert skipped.json()["next_assignment_id"] == assignment_ref(slots[2].pk)
    reads = client.get(f"/read/batches/{retested.pk}/").content.decode()
    ids = {str(a.pk) for a in slots}
    shown = set(re.findall(r'data-assignment="([^"]+)"', reads)) | set(
        re.findall(r'href="/read/([^/"]+)/"', reads)
    )
    assert shown and not shown & ids
    assert ref in shown
    html = page.content.decode()
    assert f'data-assignment="{ref}"' in html and f"/read/{first.pk}/" not in html
    # Another reader's reference is no more use than their id.
    other = Assignment.objects.filter(batch=retested).exclude(reader=ana).first()
    assert client.get(f"/read/{assignment_ref(other.pk)}/").status_code == 404
