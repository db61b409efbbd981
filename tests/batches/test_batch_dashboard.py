"""The batch dashboard's per-exam status table (filters, keyset pages) and its "add readers" choices."""

from __future__ import annotations

import json
import re

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from annotations.models import Assignment, Consensus, DisputedLabel, Suggestion
from annotations.selectors.reading.refs import assignment_ref
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.reading import LabelInput, annotation_submit, assignment_skip
from annotations.services.taxonomy import SHIPPED_DIR, taxonomy_load, taxonomy_read_file
from tests.factories import UserFactory, batch_for, make_exam
from tests.reading.helpers import queue

pytestmark = pytest.mark.django_db


def submit(reader, assignment, *codes):
    annotation_submit(actor=reader, assignment=assignment, labels=[LabelInput(c) for c in codes], revision=0)


@pytest.fixture
def batch(ana, bruno, diego, tnmg):
    exams = [make_exam(seed=i) for i in range(3)]
    return batch_for(tnmg, diego, [ana, bruno], exams, name="Table", seed=3)


def rows(html: str) -> list[str]:
    body = html.split('id="exam-status"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr data-exam="(\d+)"', body)


def test_the_exam_table_shows_reads_skips_disputes_and_state(client_for, diego, ana, bruno, batch, tnmg):
    first, second, third = queue(batch, ana)
    submit(ana, first, "SB")
    submit(bruno, next(a for a in queue(batch, bruno) if a.exam_id == first.exam_id), "SB")
    assignment_skip(actor=ana, assignment=second, reason="noise")
    klass = tnmg.classes.get(code="SB")
    DisputedLabel.objects.create(
        batch=batch,
        exam_id=first.exam_id,
        diagnostic_class=klass,
        reason="tie",
        positive_votes=1,
        total_votes=2,
    )
    page = client_for(diego).get(f"/batches/{batch.pk}/").content.decode()
    assert len(rows(page)) == 3
    row = page.split(f'<tr data-exam="{first.exam_id}"', 1)[1].split("</tr>", 1)[0]
    assert "2 / 2" in row and "Disputed" in row and 'class="disputes">1<' in row
    assert f'<a href="/exams/{first.exam_id}/">' in row  # each exam opens its page
    assert client_for(diego).get(f"/exams/{first.exam_id}/").status_code == 200
    skipped = page.split(f'<tr data-exam="{second.exam_id}"', 1)[1].split("</tr>", 1)[0]
    assert 'class="skips">1<' in skipped and "Being read" in skipped

    disputed = client_for(diego).get(f"/batches/{batch.pk}/?exam_status=disputed").content.decode()
    assert rows(disputed) == [str(first.exam_id)]
    DisputedLabel.objects.all().delete()
    Consensus.objects.create(
        batch=batch,
        exam_id=first.exam_id,
        diagnostic_class=klass,
        value=True,
        method="unanimous",
        positive_votes=2,
        total_votes=2,
        algorithm_version="t",
    )
    done = client_for(diego).get(f"/batches/{batch.pk}/?exam_status=consensus").content.decode()
    assert rows(done) == [str(first.exam_id)]
    reading = client_for(diego).get(f"/batches/{batch.pk}/?exam_status=reading").content.decode()
    assert sorted(rows(reading)) == sorted([str(second.exam_id), str(third.exam_id)])


def test_an_exam_short_of_reads_after_a_skip_is_not_shown_as_being_read(client_for, diego, ana, bruno, batch):
    """Once its only other read is in, an exam one reader skipped waits on the coordinator (hand it on, or
    add a reader), not on any reader: the table says so, and its filter finds it."""
    second = queue(batch, ana)[1]
    assignment_skip(actor=ana, assignment=second, reason="noise")
    submit(bruno, next(a for a in queue(batch, bruno) if a.exam_id == second.exam_id), "SB")
    page = client_for(diego).get(f"/batches/{batch.pk}/").content.decode()
    row = page.split(f'<tr data-exam="{second.exam_id}"', 1)[1].split("</tr>", 1)[0]
    assert "1 / 2" in row and 'class="skips">1<' in row
    assert "Being read" not in row and "Skipped, short of reads" in row
    short = client_for(diego).get(f"/batches/{batch.pk}/?exam_status=short").content.decode()
    assert rows(short) == [str(second.exam_id)]
    reading = client_for(diego).get(f"/batches/{batch.pk}/?exam_status=reading").content.decode()
    assert str(second.exam_id) not in rows(reading)


def test_an_exam_nobody_marked_anything_on_has_its_consensus_once_agreement_is_computed(
    client_for, diego, ana, bruno
):
    """In a taxonomy whose readers may answer "none of these" (CODE-15%'s six classes), a consensus of
    "nothing present" is stored as no rows at all: the table must not read that as "awaiting agreement"
    for ever. It waits only while the stored agreement predates the exam's reads."""
    code15 = taxonomy_load(taxonomy_read_file(SHIPPED_DIR / "code15.json")).taxonomy
    batch = batch_for(code15, diego, [ana, bruno], [make_exam(seed=i) for i in range(3)], name="Six classes")
    empty, marked, _ = queue(batch, ana)
    for reader in (ana, bruno):
        mine = {a.exam_id: a for a in queue(batch, reader)}
        submit(reader, mine[empty.exam_id])
        submit(reader, mine[marked.exam_id], "SB")
    client = client_for(diego)
    awaiting = client.get(f"/batches/{batch.pk}/?exam_status=awaiting_agreement").content.decode()
    assert sorted(rows(awaiting)) == sorted([str(empty.exam_id), str(marked.exam_id)])
    batch_agreement_compute(batch.pk)
    done = client.get(f"/batches/{batch.pk}/?exam_status=consensus").content.decode()
    assert sorted(rows(done)) == sorted([str(empty.exam_id), str(marked.exam_id)])
    assert rows(client.get(f"/batches/{batch.pk}/?exam_status=awaiting_agreement").content.decode()) == []
    row = done.split(f'<tr data-exam="{empty.exam_id}"', 1)[1].split("</tr>", 1)[0]
    assert "2 / 2" in row and "Consensus" in row


def test_the_exam_table_pages_by_keyset_and_never_renders_every_row(client_for, diego, batch):
    client = client_for(diego)
    page = client.get(f"/batches/{batch.pk}/?exam_page_size=2").content.decode()
    first_page = rows(page)
    assert len(first_page) == 2
    link = re.search(r'href="\?([^"]*exam_after=\d+[^"]*)" id="exam-next"', page)
    assert link, "a next-page link"
    second_page = rows(
        client.get(f"/batches/{batch.pk}/?{link.group(1).replace('&amp;', '&')}").content.decode()
    )
    assert len(second_page) == 1 and second_page[0] not in first_page
    assert client.get(f"/batches/{batch.pk}/?exam_after=abc").status_code == 400
    assert client.get(f"/batches/{batch.pk}/?exam_status=nonsense").status_code == 400


def test_add_readers_offers_only_readers_not_in_the_batch(client_for, diego, batch):
    carol = UserFactory(username="carol", roles=["reader"])
    page = client_for(diego).get(f"/batches/{batch.pk}/").content.decode()
    form = page.split('name="readers"', 1)[1].split("</select>", 1)[0]
    assert re.findall(r"<option[^>]*>([^<]+)</option>", form) == ["carol"]
    # and the server refuses one already in it
    ana_id = batch.assignments.values_list("reader_id", flat=True).first()
    response = client_for(diego).post(f"/batches/{batch.pk}/add-readers/", {"readers": [ana_id]}, follow=True)
    assert "choose at least one reader" in response.content.decode()
    assert carol.pk


def _batch_with_suggestions(name, exams, readers, coordinator, tnmg):
    """A batch whose exams each carry a computed suggestion and a failed one, every exam read once."""
    made = [make_exam(seed=100 + i) for i in range(exams)]
    for exam in made:
        Suggestion.objects.create(exam=exam, provider="rules", provider_version="1", measurements={})
        Suggestion.objects.create(
            exam=exam, provider="model", provider_version="2", status=Suggestion.Status.FAILED, error="boom"
        )
    batch = batch_for(tnmg, coordinator, readers, made, name=name, readers_per_exam=1, seed=5)
    for reader in readers:
        for assignment in queue(batch, reader):
            submit(reader, assignment, "SR")
    return batch


def test_the_batch_page_runs_as_many_queries_for_many_exams_as_for_few(
    client_for, diego, ana, bruno, tnmg, django_assert_max_num_queries
):
    """Readers, skips and the exam table come in the page's context, and suggestion progress in the
    section the page fetches: each costs the same number of queries whatever the number of exams, reads
    and suggestions."""
    client = client_for(diego)
    small = _batch_with_suggestions("Small", 2, [ana, bruno], diego, tnmg)
    large = _batch_with_suggestions("Large", 12, [ana, bruno], diego, tnmg)
    for url in ("/batches/{}/", "/batches/{}/suggestions/"):
        client.get(url.format(small.pk))  # the session and caches warm, as for any later page
        with CaptureQueriesContext(connection) as few:
            assert client.get(url.format(small.pk)).status_code == 200
        with django_assert_max_num_queries(len(few.captured_queries)):
            page = client.get(url.format(large.pk)).content.decode()
    assert "rules 1: 12 of 12 exams computed" in page


def test_progress_counts_exams_fully_read_reads_and_days_from_one_pass(client_for, diego, ana, bruno, batch):
    """An exam is fully read when nothing of it is open and its first reads reach its target: a pending
    slot or a skip not handed on keeps it out. Reads per reader and per day add up to the same reads."""
    mine, theirs = queue(batch, ana), queue(batch, bruno)
    exams = [a.exam_id for a in mine]
    of = {a.exam_id: a for a in theirs}
    submit(ana, mine[0], "SB")
    submit(bruno, of[exams[0]], "SB")  # exam 0: fully read
    submit(ana, mine[1], "SB")  # exam 1: bruno's slot still pending
    submit(ana, mine[2], "SB")
    assignment_skip(actor=bruno, assignment=of[exams[2]], reason="noise")  # exam 2: a skip, not handed on
    progress = client_for(diego).get(f"/batches/{batch.pk}/progress.json").json()
    coverage = {"exams": 3, "exams_complete": 1, "reads": 6, "reads_done": 4, "skipped": 1}
    assert progress["coverage"] == coverage
    by_name = {r["username"]: r for r in progress["readers"]}
    assert (by_name["ana"]["done"], by_name["ana"]["remaining"]) == (3, 0)
    assert (by_name["bruno"]["done"], by_name["bruno"]["skipped"], by_name["bruno"]["remaining"]) == (1, 1, 1)
    assert [reads for _, reads in progress["reads_per_day"]] == [4]
    assert [r["username"] for r in progress["readers"]] == sorted(by_name)


def test_progress_json_gives_each_readers_time_quartiles_interpolated_between_reads(
    client_for, diego, ana, bruno, tnmg
):
    """Quartiles interpolate between a reader's submitted reads (10, 11, 13, 40 s: 10.75, 12, 19.75);
    one read is all three quartiles; a reader with no read has none."""
    exams = [make_exam(seed=i) for i in range(4)]
    batch = batch_for(tnmg, diego, [ana, bruno], exams, name="Times", seed=5)
    for assignment, seconds in zip(queue(batch, ana), (13, 40, 10, 11), strict=True):
        annotation_submit(
            actor=ana,
            assignment=assignment,
            labels=[LabelInput("SB")],
            time_on_task_ms=seconds * 1000,
            revision=0,
        )
    progress = client_for(diego).get(f"/batches/{batch.pk}/progress.json").json()
    by_name = {r["username"]: r for r in progress["readers"]}
    ana_row, bruno_row = by_name["ana"], by_name["bruno"]
    assert (ana_row["q1_seconds"], ana_row["median_seconds"], ana_row["q3_seconds"]) == (10.75, 12.0, 19.75)
    assert (bruno_row["q1_seconds"], bruno_row["median_seconds"], bruno_row["q3_seconds"]) == (
        None,
        None,
        None,
    )
    assert progress["coverage"]["exams_complete"] == 0


def test_progress_json_quartiles_of_a_single_read(client_for, diego, ana, bruno, batch):
    submit_timed = next(iter(queue(batch, bruno)))
    annotation_submit(
        actor=bruno, assignment=submit_timed, labels=[LabelInput("SB")], time_on_task_ms=7250, revision=0
    )
    progress = client_for(diego).get(f"/batches/{batch.pk}/progress.json").json()
    bruno_row = next(r for r in progress["readers"] if r["username"] == "bruno")
    assert (bruno_row["q1_seconds"], bruno_row["median_seconds"], bruno_row["q3_seconds"]) == (
        7.25,
        7.25,
        7.25,
    )


def test_an_exam_whose_first_reads_disagree_is_disputed_while_its_retest_waits(
    client_for, diego, ana, bruno, tnmg
):
    """A retest re-read is not one of the exam's first reads: the exam is disputed as soon as those
    disagree, not "being read" until a reader comes back to it much later."""
    from annotations.models import Assignment

    batch = batch_for(
        tnmg,
        diego,
        [ana, bruno],
        [make_exam(seed=i) for i in range(12)],
        name="Retests",
        retest_fraction=0.2,
        seed=2,
    )
    retest = Assignment.objects.filter(batch=batch, read_round=2).first()
    exam_id = retest.exam_id
    for reader, code in ((ana, "SB"), (bruno, "ST")):
        submit(
            reader, Assignment.objects.get(batch=batch, exam_id=exam_id, reader=reader, read_round=1), code
        )
    batch_agreement_compute(batch.pk)
    assert Assignment.objects.get(pk=retest.pk).status == Assignment.Status.PENDING
    disputed = client_for(diego).get(f"/batches/{batch.pk}/?exam_status=disputed").content.decode()
    assert rows(disputed) == [str(exam_id)]


def test_times_on_task_are_read_from_the_batch_slots_without_its_reads(client_for, diego, ana, batch):
    """At 100 k exams x 3 readers, joining the batch's 300 k slots to their reads for the time on task
    was half of the dashboard's time: a submit copies the read's time onto its slot, and the quartiles
    come from the slots alone."""
    for assignment, seconds in zip(queue(batch, ana), (13, 40), strict=False):
        response = client_for(ana).post(
            f"/api/v1/reading/assignments/{assignment_ref(assignment.pk)}/submit/",
            {"labels": [{"code": "SB"}], "time_on_task_ms": seconds * 1000, "revision": 0},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
    slots = Assignment.objects.filter(batch=batch, reader=ana, status="submitted")
    assert sorted(slots.values_list("time_on_task_ms", flat=True)) == [13_000, 40_000]
    with CaptureQueriesContext(connection) as queries:
        progress = client_for(diego).get(f"/batches/{batch.pk}/progress.json").json()
    ana_row = next(r for r in progress["readers"] if r["username"] == "ana")
    assert (ana_row["q1_seconds"], ana_row["median_seconds"], ana_row["q3_seconds"]) == (19.75, 26.5, 33.25)
    assert not [q["sql"] for q in queries.captured_queries if "annotations_annotation" in q["sql"]]


def test_a_slot_keeps_no_time_on_task_unless_submitted(ana, batch):
    pending = next(iter(queue(batch, ana)))
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.filter(pk=pending.pk).update(time_on_task_ms=1000)


def test_postgresql_expects_as_few_reader_days_as_the_slots_hold(diego, ana, bruno, tnmg):
    """The dashboards count a batch's slots per reader and day of submission. Without statistics on the
    day PostgreSQL expected a group per slot (300k for a 100k-exam batch) and grouped them in one process;
    knowing that a reader submits on few days, it groups in parallel (166 against 102 ms at CODE-II size)."""
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL estimate")
    from datetime import UTC, datetime, timedelta

    from annotations.selectors.batches.progress import slot_count_rows
    from tests.factories import ExamFactory

    carol = UserFactory(username="carol", roles=["reader"])
    exams = ExamFactory.create_batch(400)
    batch = batch_for(tnmg, diego, [ana, bruno, carol], exams, name="Days")
    start = datetime(2026, 3, 2, 8, tzinfo=UTC)
    slots = list(Assignment.objects.filter(batch=batch).order_by("pk"))
    for index, slot in enumerate(slots):  # four days, every submit at its own moment
        slot.status = Assignment.Status.SUBMITTED
        slot.started_at = slot.submitted_at = start + timedelta(days=index % 4, seconds=index * 7)
    Assignment.objects.bulk_update(slots, ["status", "started_at", "submitted_at"])
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Assignment._meta.db_table}")
    groups = len(list(slot_count_rows(batch)))
    (plan,) = json.loads(slot_count_rows(batch).explain(format="json"))
    expected = plan["Plan"]["Plan Rows"]
    assert groups == 12
    assert expected <= 10 * groups, f"PostgreSQL expected {expected} reader days of {len(slots)} slots"
