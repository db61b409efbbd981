"""Skips are not reads: progress counts them apart, coordinators see and hand on skipped slots, the
export carries their reasons, a two-stage blind read cannot be withdrawn by a skip, and readers list
their own reads per batch. Through the API and the pages, with the Django test client."""

from __future__ import annotations

import csv

import pytest
from django.utils import timezone

from annotations.models import Adjudication, Assignment, AuditEvent, ReviewBatch
from annotations.selectors.releases.plan import export_plan
from annotations.services.releases.export import ExportOptions, export_write
from tests.exporting import labelled_study
from tests.factories import UserFactory, batch_for, make_exam
from tests.reading.helpers import labels, queue, ref, shared_batch

pytestmark = pytest.mark.django_db
READING = "/api/v1/reading/assignments"


def submit(client, assignment, *codes):
    response = client.post(
        f"{READING}/{ref(assignment)}/submit/",
        {"labels": labels(*codes), "revision": 0},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response


def skip(client, assignment, reason):
    return client.post(
        f"{READING}/{ref(assignment)}/skip/", {"reason": reason}, content_type="application/json"
    )


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", roles=["reader"])


@pytest.fixture
def study(ana, bruno, diego, tnmg):
    """ana and bruno each read both exams of a batch (k=2); ana submits one and skips the other."""
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2)
    first, second = queue(batch, ana)
    return batch, first, second


def test_progress_counts_submitted_reads_and_skips_apart(client_for, study, ana, diego):
    batch, first, second = study
    submit(client_for(ana), first, "SB")
    assert skip(client_for(ana), second, "Tracing unreadable").status_code == 200
    progress = client_for(diego).get(f"/api/v1/batches/{batch.pk}/progress/").json()
    assert (progress["reads_done"], progress["skipped"]) == (1, 1)
    assert progress["coverage"]["reads_done"] == 1 and progress["coverage"]["skipped"] == 1
    assert progress["coverage"]["reads"] == 4 and progress["coverage"]["exams_complete"] == 0
    rows = {row["username"]: row for row in progress["readers"]}
    assert (rows["ana"]["done"], rows["ana"]["skipped"], rows["ana"]["remaining"]) == (1, 1, 0)
    [listed] = progress["skips"]
    assert listed["assignment_id"] == second.pk and listed["reader"] == "ana"
    assert listed["reason"] == "Tracing unreadable"
    assert listed["exam"] == f"{second.exam.dataset.name}/{second.exam.external_id}"
    assert listed["skipped_at"] is not None and listed["handed_to"] is None


def test_a_readers_last_activity_counts_their_skips(client_for, study, bruno, diego):
    """A walk found a reader who had only skipped shown with no activity at all."""
    batch, _, _ = study
    bruno_first = queue(batch, bruno)[0]
    assert skip(client_for(bruno), bruno_first, "Tracing unreadable").status_code == 200
    progress = client_for(diego).get(f"/api/v1/batches/{batch.pk}/progress/").json()
    rows = {row["username"]: row for row in progress["readers"]}
    skipped_at = Assignment.objects.get(pk=bruno_first.pk).skipped_at
    assert rows["bruno"]["last_activity"] == skipped_at.isoformat()
    assert rows["ana"]["last_activity"] is None


def test_the_dashboard_says_reads_done_without_the_skip_and_lists_the_skip_with_its_reason(
    client_for, study, ana, diego
):
    batch, first, second = study
    submit(client_for(ana), first, "SB")
    skip(client_for(ana), second, "Wrong <patient> & lead")
    page = client_for(diego).get(f"/batches/{batch.pk}/").content.decode()
    assert "1 of 4 reads done; 1 skipped." in page
    assert "2 of 4 reads done" not in page
    assert 'id="skips"' in page and "Wrong &lt;patient&gt; &amp; lead" in page
    # Both readers of the batch already hold this exam: nobody may take the slot.
    assert "No reader of this batch may read it." in page


def hand_on(client, batch, assignment, reader):
    return client.post(
        f"/api/v1/batches/{batch.pk}/skips/{assignment.pk}/hand-on/",
        {"reader_id": reader.pk},
        content_type="application/json",
    )


@pytest.fixture
def handing(ana, bruno, carol, diego, tnmg):
    """Six exams, k=2 among ana, bruno and carol; ana skips one that carol has not been given."""
    exams = [make_exam(seed=i) for i in range(6)]
    batch = batch_for(tnmg, diego, [ana, bruno, carol], exams, name="Hand on", readers_per_exam=2, seed=4)
    carols = set(Assignment.objects.filter(batch=batch, reader=carol).values_list("exam_id", flat=True))
    skipped = next(a for a in queue(batch, ana) if a.exam_id not in carols)
    return batch, skipped


def test_a_coordinator_hands_a_skipped_slot_to_an_eligible_reader_among_their_unread_exams(
    client_for, handing, ana, carol, diego
):
    batch, skipped = handing
    client = client_for(ana)
    assert skip(client, skipped, "Outside my expertise").status_code == 200
    before = [(a.pk, a.position) for a in queue(batch, carol)]
    response = hand_on(client_for(diego), batch, skipped, carol)
    assert response.status_code == 201, response.content
    new = Assignment.objects.get(pk=response.json()["assignment_id"])
    assert (new.reader, new.exam_id, new.status, new.read_round) == (carol, skipped.exam_id, "pending", 1)
    assert new.replaces_id == skipped.pk
    # Among carol's unread exams, never after the end of her queue; her own order is kept.
    positions = sorted(p for _, p in before)
    assert positions[0] <= new.position <= positions[-1] + 1
    after = [a.pk for a in queue(batch, carol) if a.pk != new.pk]
    assert after == [pk for pk, _ in before]
    event = AuditEvent.objects.get(action="assignment.hand_on")
    assert event.actor == diego and event.after["reader"] == "carol"
    progress = client_for(diego).get(f"/api/v1/batches/{batch.pk}/progress/").json()
    assert progress["skips"][0]["handed_to"] == "carol"
    # The same slot is handed on once.
    again = hand_on(client_for(diego), batch, skipped, carol)
    assert again.status_code == 409 and "already" in again.json()["detail"]


def test_handing_on_is_refused_for_a_reader_who_read_the_exam_or_adjudicated_it_or_is_not_in_the_batch(
    client_for, handing, ana, bruno, carol, diego, tnmg
):
    batch, skipped = handing
    skip(client_for(ana), skipped, "noisy")
    coordinator = client_for(diego)
    holder = Assignment.objects.filter(batch=batch, exam=skipped.exam).exclude(reader=ana).get().reader
    refused = hand_on(coordinator, batch, skipped, holder)
    assert refused.status_code == 409 and "already" in refused.json()["detail"]
    # Read it in another batch: blind no more.
    other = batch_for(tnmg, diego, [carol], [skipped.exam], name="Elsewhere")
    refused = hand_on(coordinator, batch, skipped, carol)
    assert refused.status_code == 409 and "carol" in refused.json()["detail"]
    Assignment.objects.filter(batch=other).delete()
    # Adjudicated it (in any batch).
    Adjudication.objects.create(
        batch=other,
        exam=skipped.exam,
        diagnostic_class=tnmg.classes.get(code="SB"),
        adjudicator=carol,
        value=True,
        decided_at=timezone.now(),
    )
    refused = hand_on(coordinator, batch, skipped, carol)
    assert refused.status_code == 409 and "adjudicated" in refused.json()["detail"]
    # Not a reader of this batch.
    outsider = UserFactory(username="otto", roles=["reader"])
    refused = hand_on(coordinator, batch, skipped, outsider)
    assert refused.status_code == 400 and "otto" in refused.json()["detail"]
    # A slot that was not skipped.
    open_slot = Assignment.objects.filter(batch=batch, reader=ana, status="pending").first()
    refused = hand_on(coordinator, batch, open_slot, outsider)
    assert refused.status_code == 409 and "skipped" in refused.json()["detail"]
    assert Assignment.objects.filter(batch=batch).count() == 12
    assert not AuditEvent.objects.filter(action="assignment.hand_on").exists()
    # Readers cannot hand slots on.
    assert hand_on(client_for(bruno), batch, skipped, carol).status_code == 403


def test_a_slot_handed_to_a_reader_who_has_read_everything_becomes_their_next_exam(
    client_for, handing, ana, carol, diego
):
    """A reader with no unread exam left: the handed-on exam goes after the end of their queue."""
    batch, skipped = handing
    carols_client = client_for(carol)
    for assignment in queue(batch, carol):
        submit(carols_client, assignment, "NORM")
    assert skip(client_for(ana), skipped, "Outside my expertise").status_code == 200
    last = queue(batch, carol)[-1].position
    response = hand_on(client_for(diego), batch, skipped, carol)
    assert response.status_code == 201, response.content
    new = Assignment.objects.get(pk=response.json()["assignment_id"])
    assert (new.status, new.position) == ("pending", last + 1)
    following = client_for(carol).get(f"/api/v1/reading/next/?batch={batch.pk}").json()
    assert following["next_assignment_id"] == ref(new)


def test_the_dashboard_form_hands_a_skipped_slot_on(client_for, handing, ana, carol, diego):
    batch, skipped = handing
    skip(client_for(ana), skipped, "noisy")
    page = client_for(diego).get(f"/batches/{batch.pk}/").content.decode()
    form = page.split(f'action="/batches/{batch.pk}/skips/{skipped.pk}/hand-on/"')[1].split("</form>")[0]
    assert f'<option value="{carol.pk}">carol</option>' in form and ">ana<" not in form
    response = client_for(diego).post(
        f"/batches/{batch.pk}/skips/{skipped.pk}/hand-on/", {"reader": carol.pk}, follow=True
    )
    assert response.status_code == 200
    assert Assignment.objects.filter(batch=batch, reader=carol, replaces=skipped).exists()
    assert "handed to carol" in response.content.decode()


def test_a_two_stage_reader_cannot_skip_after_the_blind_read_is_stored(client_for, ana, bruno, diego, tnmg):
    from tests.reading.test_reading_api import _suggest

    batch = shared_batch(
        readers=[ana, bruno],
        coordinator=diego,
        taxonomy=tnmg,
        exams=1,
        mode=ReviewBatch.SuggestionMode.TWO_STAGE,
    )
    anas = queue(batch, ana)[0]
    _suggest(anas.exam, tnmg)
    client = client_for(ana)
    assert submit(client, anas, "SB").json()["done"] is False
    refused = skip(client, anas, "changed my mind")
    assert refused.status_code == 409 and "blind read" in refused.json()["detail"]
    anas.refresh_from_db()
    assert anas.status == "in_progress" and anas.skip_reason == ""
    assert anas.annotations.get(stage="blind").status == "submitted"


def test_skip_reasons_reach_reads_csv_with_the_skipped_status(
    ana, bruno, carla, diego, carol, tnmg, tmp_path
):
    study = labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)
    carols = Assignment.objects.get(batch=study.batch, reader=carol, exam=study.exams["E004"])
    Assignment.objects.filter(pk=carols.pk).update(skip_reason='noisy, "baseline", =cmd\nsecond line')
    export_write(
        export_plan([study.batch.pk]),
        tmp_path,
        ExportOptions(hdf5=False),
        title="t",
        release_date="2026-01-01T00:00:00.000000Z",
    )
    with open(tmp_path / "reads.csv", newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    skipped = [row for row in table if row["status"] == "skipped"]
    assert len(skipped) == 1
    row = skipped[0]
    assert row["exam_id"] == "E004" and row["skip_reason"] == 'noisy, "baseline", =cmd\nsecond line'
    assert row["code"] == "" and row["submitted_at"] == ""
    assert {r["status"] for r in table if r is not row} == {"submitted"}
    assert all(r["skip_reason"] == "" for r in table if r is not row)
    # The same pseudonyms: carol keeps hers.
    assert row["reader"] in {r["reader"] for r in table if r is not row}


def submitted_skipped_drafted(client, batch, reader, reason: str) -> tuple:
    """The reader's three slots of the batch: the first submitted (SB), the second skipped with `reason`,
    the third a saved draft (AF)."""
    first, second, third = queue(batch, reader)
    submit(client, first, "SB")
    skip(client, second, reason)
    client.put(
        f"{READING}/{ref(third)}/draft/",
        {"labels": labels("AF"), "revision": 0},
        content_type="application/json",
    )
    return first, second, third


def test_a_reader_lists_their_own_reads_of_a_batch(client_for, ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=3)
    client = client_for(ana)
    first, second, third = submitted_skipped_drafted(client, batch, ana, "MARK-skip-reason")
    brunos = queue(batch, bruno)[0]
    client_for(bruno).put(
        f"{READING}/{ref(brunos)}/draft/",
        {"labels": labels("WPW"), "comment": "MARK-bruno", "revision": 0},
        content_type="application/json",
    )
    home = client_for(ana).get("/").content.decode()
    assert f'href="/read/batches/{batch.pk}/"' in home
    page = client_for(ana).get(f"/read/batches/{batch.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    for assignment in (first, second, third):
        assert f'href="/read/{ref(assignment)}/"' in body
    assert f'href="/read/{ref(brunos)}/"' not in body and "MARK-bruno" not in body
    assert "MARK-skip-reason" in body and "Submitted" in body and "Skipped" in body and "Draft" in body
    # Another reader's batch is no batch at all.
    other = shared_batch(readers=[bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    assert client_for(ana).get(f"/read/batches/{other.pk}/").status_code == 404
    assert client_for(diego).get(f"/read/batches/{batch.pk}/").status_code == 403


def test_a_submitted_read_reopens_as_submitted_not_as_a_draft(client_for, study, ana):
    _, first, _ = study
    client = client_for(ana)
    submit(client, first, "SB")
    context = client.get(f"{READING}/{ref(first)}/").json()
    assert context["assignment"]["status"] == "submitted" and context["annotation"]["status"] == "submitted"
    refused = client.put(
        f"{READING}/{ref(first)}/draft/",
        {"labels": labels("AF"), "revision": 1},
        content_type="application/json",
    )
    assert refused.status_code == 409


def test_my_reads_pages_a_long_list_by_queue_place(client_for, ana, bruno, diego, tnmg, settings):
    """A reader with tens of thousands of reads gets them a page at a time (the whole list was 25 MB of
    HTML at 100k reads), with links to the next and the previous page."""
    settings.MY_READS_PAGE_SIZE = 2
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=5)
    slots = queue(batch, ana)
    client = client_for(ana)
    for slot in slots:
        submit(client, slot, "SB")
    first = client.get(f"/read/batches/{batch.pk}/").content.decode()
    shown = [s for s in slots if f'href="/read/{ref(s)}/"' in first]
    assert shown == slots[:2]
    assert f'href="?after={slots[1].position}"' in first and "?before=" not in first
    second = client.get(f"/read/batches/{batch.pk}/?after={slots[1].position}").content.decode()
    assert [s for s in slots if f'href="/read/{ref(s)}/"' in second] == slots[2:4]
    assert f'href="?before={slots[2].position}"' in second and f'href="?after={slots[3].position}"' in second
    back = client.get(f"/read/batches/{batch.pk}/?before={slots[2].position}").content.decode()
    assert [s for s in slots if f'href="/read/{ref(s)}/"' in back] == slots[:2]
    assert client.get(f"/read/batches/{batch.pk}/?after=x").status_code == 400


def test_every_time_a_reader_or_coordinator_reads_is_written_yyyy_mm_dd_hh_mm(
    client_for, ana, bruno, diego, tnmg, settings
):
    """As every other page writes times (the server's time zone): My reads wrote 'Nov. 25, 2026, 8:50
    a.m.', the home page's draft tooltip the same, and the dashboard's skips an ISO stamp with seconds."""
    import re

    from annotations.models import Assignment

    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=3)
    client = client_for(ana)
    _, second, _ = submitted_skipped_drafted(client, batch, ana, "noise")
    stamp = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?![:\d])")
    mine = client.get(f"/read/batches/{batch.pk}/").content.decode()
    cells = re.findall(r'<td class="when">([^<]*)</td>', mine)
    assert len(cells) == 3 and all(stamp.fullmatch(cell.strip()) for cell in cells), cells
    home = client.get("/").content.decode()
    assert stamp.search(home.split('class="tag draft-link"', 1)[1].split(">", 1)[0])
    skipped_at = Assignment.objects.get(pk=second.pk).skipped_at
    dashboard = client_for(diego).get(f"/batches/{batch.pk}/").content.decode()
    row = dashboard.split(f'data-assignment="{second.pk}"', 1)[1].split("</tr>", 1)[0]
    assert stamp.search(row) and skipped_at.isoformat() not in row
    # A due date, on the reader's home and the coordinator's batch list alike.
    from datetime import date

    batch.due_date = date(2026, 12, 1)
    batch.save(update_fields=["due_date"])
    assert "<td>2026-12-01</td>" in client_for(ana).get("/").content.decode()
    assert "<td>2026-12-01</td>" in client_for(diego).get("/batches/").content.decode()


def test_home_and_the_batch_list_say_how_many_reads_were_skipped_beside_reads_done(
    client_for, handing, ana, carol, diego
):
    """A skip handed on adds a slot: all read, the batch reads '11 / 13' on Home for ever unless the
    skip is named beside it."""
    batch, skipped = handing
    skip(client_for(ana), skipped, "Tracing unreadable")
    assert hand_on(client_for(diego), batch, skipped, carol).status_code == 201
    for reader in (ana, *{a.reader for a in Assignment.objects.filter(batch=batch)} - {ana}):
        for slot in Assignment.objects.filter(batch=batch, reader=reader, status="pending"):
            submit(client_for(reader), slot, "SB")
    home = client_for(diego).get("/").content.decode()
    listed = client_for(diego).get("/batches/").content.decode()
    for page in (home, listed):
        assert '12 / 13 <span class="muted" data-count="skipped">(1 skipped)</span>' in page
    rows = client_for(diego).get("/api/v1/batches/").json()
    row = next(r for r in rows if r["id"] == batch.pk)
    assert (row["reads_done"], row["read_count"], row["reads_skipped"]) == (12, 13, 1)


def test_a_portuguese_coordinator_reads_a_refused_hand_on_in_portuguese(client_for, handing, ana, diego):
    batch, skipped = handing
    skip(client_for(ana), skipped, "noisy")
    coordinator = client_for(diego)
    coordinator.post("/i18n/setlang/", {"language": "pt-br", "next": "/"})
    outsider = UserFactory(username="otto", roles=["reader"])
    url = f"/batches/{batch.pk}/skips/{skipped.pk}/hand-on/"
    page = coordinator.post(url, {"reader": outsider.pk}, follow=True).content.decode()
    assert "otto não lê o lote “Hand on”; adicione essa pessoa ao lote antes" in page
    holder = Assignment.objects.filter(batch=batch, exam=skipped.exam).exclude(reader=ana).get().reader
    page = coordinator.post(url, {"reader": holder.pk}, follow=True).content.decode()
    assert f"{holder.username} já recebeu este exame (lote “Hand on”)" in page
    assert not Assignment.objects.filter(replaces=skipped).exists()


def test_a_handed_on_exam_never_comes_before_the_exam_on_the_readers_screen(handing, ana, carol, diego):
    """Placed before the exam carol has open, the handed-on exam would push it back one place and come up
    next, named by its position as the one another reader skipped. It goes after the open exam."""
    from django.test import Client

    batch, skipped = handing
    carols_client, anas_client, diegos_client = Client(), Client(), Client()
    carols_client.force_login(carol)
    anas_client.force_login(ana)
    diegos_client.force_login(diego)
    for assignment in queue(batch, carol)[:-1]:
        submit(carols_client, assignment, "NORM")
    opened = carols_client.get(f"/api/v1/reading/next/?batch={batch.pk}").json()["next_assignment_id"]
    before = carols_client.get(f"/api/v1/reading/assignments/{opened}/").json()["assignment"]["position"]
    assert skip(anas_client, skipped, "Outside my expertise").status_code == 200
    for _ in range(10):  # the place is drawn at random: every draw must keep the open exam first
        response = hand_on(diegos_client, batch, skipped, carol)
        assert response.status_code == 201, response.content
        after = carols_client.get(f"/api/v1/reading/assignments/{opened}/").json()["assignment"]["position"]
        assert after == before
        assert (
            carols_client.get(f"/api/v1/reading/next/?batch={batch.pk}").json()["next_assignment_id"]
            == opened
        )
        Assignment.objects.filter(pk=response.json()["assignment_id"]).delete()
