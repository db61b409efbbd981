"""The reading API and pages, with the Django client: blinding, 404s, waveform bytes, refusals."""

import gzip
import json
import re

import numpy as np
import pytest

from annotations.models import (
    AnnotationRevision,
    Consensus,
    ReferenceLabel,
    ReviewBatch,
    Suggestion,
    SuggestionExposure,
    SuggestionScore,
)
from annotations.services.exams.waveforms import waveform_load
from tests.reading.helpers import labels, page_html, queue, ref, shared_batch

pytestmark = pytest.mark.django_db
API = "/api/v1/reading/assignments"
MARKER = "MARKER-ana-7f3c91"


def _everything_a_reader_can_open(client, assignment) -> list[bytes]:
    """Every page and API response of the reader's own views of an assignment."""
    urls = [
        "/",
        f"/read/{ref(assignment)}/",
        f"{API}/{ref(assignment)}/",
        f"{API}/{ref(assignment)}/?prefetch=1",
        "/api/v1/worklist/",
        f"/api/v1/reading/next/?batch={assignment.batch_id}",
    ]
    bodies = []
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        bodies.append(response.getvalue())
    return bodies


def test_a_second_reader_sees_nothing_of_the_first_readers_work(client_for, ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    anas, brunos = queue(batch, ana)[0], queue(batch, bruno)[0]
    assert anas.exam_id == brunos.exam_id
    ReferenceLabel.objects.create(exam=anas.exam, code_system="code15", code="REFCODE-9931", source="import")
    Consensus.objects.create(
        batch=batch,
        exam=anas.exam,
        diagnostic_class=tnmg.classes.get(code="WPW"),
        value=True,
        method="majority",
        positive_votes=2,
        total_votes=2,
        algorithm_version="v1",
    )
    client = client_for(ana)
    saved = client.put(
        f"{API}/{ref(anas)}/draft/",
        {"labels": labels("LBBB", uncertain=("LBBB",)), "comment": MARKER, "revision": 0},
        content_type="application/json",
    )
    assert saved.status_code == 200
    submitted = client.post(
        f"{API}/{ref(anas)}/submit/",
        {"labels": labels("LBBB"), "comment": MARKER, "revision": saved.json()["revision"]},
        content_type="application/json",
    )
    assert submitted.status_code == 200

    client = client_for(bruno)
    bodies = _everything_a_reader_can_open(client, brunos)
    context = json.loads(bodies[2])
    assert context["annotation"] == {
        "stage": None,
        "status": None,
        "revision": 0,
        "labels": [],
        "comment": "",
        "time_on_task_ms": 0,
        "blind": None,
    }
    assert set(context["exam"]) == {
        "acquired_at",
        "age",
        "sex",
        "sampling_rate",
        "n_samples",
        "lead_names",
        "gain_uv",
        "waveform_url",
        "waveform_etag",
        "device_measurements",
    }
    assert context["exam"]["device_measurements"] is None  # the batch does not show the cart's
    for body in bodies:
        text = body.decode()
        for secret in (MARKER, "REFCODE-9931", "target_reads", "is_gold", "consensus", "external_id"):
            assert secret not in text
        assert not re.search(r"\bana\b", text)  # not even the other reader's name


def test_the_first_reader_sees_her_own_draft_comment(client_for, ana, bruno, diego, tnmg):
    anas = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    client = client_for(ana)
    client.put(
        f"{API}/{ref(anas)}/draft/",
        {"labels": labels("SB"), "comment": MARKER, "revision": 0},
        content_type="application/json",
    )
    context = client.get(f"{API}/{ref(anas)}/").json()
    assert context["annotation"]["comment"] == MARKER
    assert context["annotation"]["labels"] == [{"code": "SB", "uncertain": False}]


def test_ids_that_are_not_the_readers_own_assignment_answer_404(client_for, ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    anas = queue(batch, ana)[0]
    client = client_for(bruno)
    missing = max(anas.pk, anas.exam_id) + 1000
    for target in (anas.pk, missing):
        assert client.get(f"/read/{ref(target)}/").status_code == 404
        assert client.get(f"{API}/{ref(target)}/").status_code == 404
        assert client.get(f"{API}/{ref(target)}/waveform/").status_code == 404
        body = {"labels": labels("SB"), "revision": 0}
        assert (
            client.put(f"{API}/{ref(target)}/draft/", body, content_type="application/json").status_code
            == 404
        )
        assert (
            client.post(f"{API}/{ref(target)}/submit/", body, content_type="application/json").status_code
            == 404
        )
        assert (
            client.post(
                f"{API}/{ref(target)}/skip/", {"reason": "x"}, content_type="application/json"
            ).status_code
            == 404
        )


def test_people_without_the_reader_role_are_turned_away(client_for, ana, bruno, diego, eve, tnmg):
    anas = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    for person in (eve, diego):
        client = client_for(person)
        assert client.get(f"/read/{ref(anas)}/").status_code == 403
        assert client.get(f"{API}/{ref(anas)}/").status_code == 403
        assert client.get(f"{API}/{ref(anas)}/waveform/").status_code == 403


def test_the_waveform_is_int16_gzipped_once_with_a_per_assignment_etag(client_for, ana, bruno, diego, tnmg):
    anas = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    client = client_for(ana)
    response = client.get(f"{API}/{ref(anas)}/waveform/", HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Encoding"] == "gzip"
    # A token of this assignment, never the content hash (a retest copy must not look alike).
    assert anas.exam.waveform_sha256 not in response["ETag"]
    assert response["ETag"] == f'"{client.get(f"{API}/{ref(anas)}/").json()["exam"]["waveform_etag"]}"'
    assert "private" in response["Cache-Control"]
    samples = np.frombuffer(gzip.decompress(response.content), dtype="<i2").reshape(12, -1)
    assert np.array_equal(samples, waveform_load(anas.exam.waveform_key))
    assert float(response["X-ECG-Gain-uV"]) == anas.exam.gain_uv
    plain = client.get(f"{API}/{ref(anas)}/waveform/")
    assert "Content-Encoding" not in plain
    assert plain.content == samples.tobytes()
    again = client.get(f"{API}/{ref(anas)}/waveform/", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        ("gzip", True),
        ("GZIP;q=0.5, br", True),
        ("x-gzip", True),
        ("*", True),
        ("br, *;q=0.1", True),
        ("gzip;q=0", False),
        ("gzip; q=0.000, identity", False),
        ("*, gzip;q=0", False),
        ("identity", False),
        ("gzipped", False),
        ("", False),
    ],
)
def test_the_waveform_is_gzipped_only_where_the_client_accepts_gzip(
    client_for, ana, bruno, diego, tnmg, accept_encoding, gzipped
):
    """Accept-Encoding read as HTTP defines it: a zero quality refuses a coding, and * stands for any
    coding not named."""
    anas = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    response = client_for(ana).get(f"{API}/{ref(anas)}/waveform/", HTTP_ACCEPT_ENCODING=accept_encoding)
    assert response.status_code == 200
    assert (response.get("Content-Encoding") == "gzip") is gzipped
    body = gzip.decompress(response.content) if gzipped else response.content
    assert np.array_equal(
        np.frombuffer(body, dtype="<i2").reshape(12, -1), waveform_load(anas.exam.waveform_key)
    )


def test_an_exclusive_set_violation_is_refused_with_400_naming_both(client_for, ana, bruno, diego, tnmg):
    anas = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    response = client_for(ana).post(
        f"{API}/{ref(anas)}/submit/",
        {"labels": labels("SB", "ST"), "revision": 0},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "Sinus bradycardia" in response.json()["detail"]
    assert "Sinus tachycardia" in response.json()["detail"]


def test_every_exclusive_pair_chosen_is_named_in_one_refusal(client_for, ana, bruno, diego, tnmg):
    """Sinus rhythm with atrial fibrillation and with sinus bradycardia: both pairs are named at once, so the
    reader does not fix one and meet the next on the following submit."""
    anas = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    response = client_for(ana).post(
        f"{API}/{ref(anas)}/submit/",
        {"labels": labels("SR", "AF", "SB"), "revision": 0},
        content_type="application/json",
    )
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "(SR) and “Atrial fibrillation” (AF)" in detail
    assert "(SR) and “Sinus bradycardia” (SB)" in detail


def test_a_stale_draft_answers_409_with_the_current_revision(client_for, ana, bruno, diego, tnmg):
    anas = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    client = client_for(ana)
    body = {"labels": labels("SB"), "revision": 0}
    assert client.put(f"{API}/{ref(anas)}/draft/", body, content_type="application/json").status_code == 200
    stale = client.put(f"{API}/{ref(anas)}/draft/", body, content_type="application/json")
    assert stale.status_code == 409
    assert stale.json()["revision"] == 1


def test_time_on_task_is_kept_as_sent_and_capped_at_a_day(client_for, ana, bruno, diego, tnmg):
    """The reader's clock goes into every read as measured; a tab left open for days counts one day."""
    anas = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    client = client_for(ana)

    def saved(time_on_task_ms: int, revision: int) -> int:
        body = {"labels": labels("SB"), "revision": revision, "time_on_task_ms": time_on_task_ms}
        assert (
            client.put(f"{API}/{ref(anas)}/draft/", body, content_type="application/json").status_code == 200
        )
        return client.get(f"{API}/{ref(anas)}/").json()["annotation"]["time_on_task_ms"]

    assert saved(83_500, revision=0) == 83_500
    assert saved(10 * 24 * 3600 * 1000, revision=1) == 24 * 3600 * 1000
    body = {"labels": labels("SB"), "revision": 2, "time_on_task_ms": 95_000}
    assert client.post(f"{API}/{ref(anas)}/submit/", body, content_type="application/json").status_code == 200
    (submitted,) = AnnotationRevision.objects.filter(annotation__assignment=anas, status="submitted")
    assert submitted.time_on_task_ms == 95_000


def test_submit_answers_the_next_assignment_of_the_readers_queue(client_for, ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2)
    first, second = queue(batch, ana)
    response = client_for(ana).post(
        f"{API}/{ref(first)}/submit/",
        {"labels": labels("NORM"), "revision": 0},
        content_type="application/json",
    )
    assert response.json() == {"done": True, "next_assignment_id": ref(second)}


def _submit(client, assignment, revision=0):
    return client.post(
        f"{API}/{ref(assignment)}/submit/",
        {"labels": labels("NORM"), "revision": revision},
        content_type="application/json",
    )


def test_submit_and_next_goes_to_unread_exams_then_drafts_in_the_queues_order(
    client_for, ana, bruno, diego, tnmg
):
    """Unread exams first, in the reader's randomised order; then her drafts; never the exam just submitted,
    never another batch's; nothing when all are done."""
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=4)
    other = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    first, second, third, fourth = queue(batch, ana)
    client = client_for(ana)
    draft = {"labels": labels("SB"), "revision": 0}
    assert (
        client.put(f"{API}/{ref(second)}/draft/", draft, content_type="application/json").status_code == 200
    )
    assert _submit(client, first).json() == {"done": True, "next_assignment_id": ref(third)}
    assert _submit(client, third).json()["next_assignment_id"] == ref(fourth)
    assert _submit(client, fourth).json()["next_assignment_id"] == ref(
        second
    )  # the draft, once none is unread
    assert _submit(client, second, revision=1).json() == {"done": True, "next_assignment_id": None}
    assert other.status == "pending"  # another batch's exam is never offered as this batch's next


def test_hidden_mode_never_shows_the_suggestion(client_for, ana, bruno, diego, tnmg):
    anas = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    _suggest(anas.exam, tnmg)
    client = client_for(ana)
    assert client.get(f"{API}/{ref(anas)}/").json()["suggestion"] is None
    done = client.post(
        f"{API}/{ref(anas)}/submit/",
        {"labels": labels("SB"), "revision": 0},
        content_type="application/json",
    )
    assert done.json()["done"] is True
    assert not SuggestionExposure.objects.exists()


def test_shown_mode_records_who_saw_the_suggestion_when_the_exam_opened(client_for, ana, bruno, diego, tnmg):
    batch = shared_batch(
        readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, mode=ReviewBatch.SuggestionMode.SHOWN
    )
    anas = queue(batch, ana)[0]
    _suggest(anas.exam, tnmg)
    client = client_for(ana)
    assert client.get(f"{API}/{ref(anas)}/?prefetch=1").json()["suggestion"] is None
    assert not SuggestionExposure.objects.exists()  # prefetching puts nothing on screen
    shown = client.get(f"{API}/{ref(anas)}/").json()["suggestion"]
    assert shown["scores"][0] == {
        "code": "AF",
        "name": "Atrial fibrillation",
        "score": 0.9,
        "suggested": True,
        "rationale": None,  # a model's score: no rule to cite
    }
    exposure = SuggestionExposure.objects.get()
    assert (exposure.reader, exposure.assignment, exposure.mode) == (ana, anas, "shown")
    client.put(
        f"{API}/{ref(anas)}/draft/",
        {"labels": labels("AF"), "revision": 0},
        content_type="application/json",
    )
    assert anas.annotations.get().stage == "revised"  # made with the suggestion on screen: never "blind"


def test_two_stage_shows_the_suggestion_only_after_the_blind_submit(client_for, ana, bruno, diego, tnmg):
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
    assert client.get(f"{API}/{ref(anas)}/").json()["suggestion"] is None
    response = client.post(
        f"{API}/{ref(anas)}/submit/",
        {"labels": labels("SB"), "revision": 0},
        content_type="application/json",
    ).json()
    assert response["done"] is False
    context = response["context"]
    assert context["suggestion"]["scores"][0]["code"] == "AF"
    assert context["annotation"]["stage"] == "revised"
    assert context["annotation"]["blind"] == {"labels": [{"code": "SB", "uncertain": False}]}
    brunos = queue(batch, bruno)[0]
    assert client_for(bruno).get(f"{API}/{ref(brunos)}/").json()["suggestion"] is None


def test_pages_in_portuguese_name_statements_in_portuguese(client_for, ana, bruno, diego, tnmg):
    anas = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    client = client_for(ana)
    client.post("/i18n/setlang/", {"language": "pt-br", "next": "/"})
    context = client.get(f"{API}/{ref(anas)}/").json()
    names = {c["code"]: c["label"] for g in context["taxonomy"]["groups"] for c in g["classes"]}
    assert names["SB"] == "Bradicardia sinusal"
    page = page_html(client.get(f"/read/{ref(anas)}/"))
    assert "Enviar e próximo" in page


def _suggest(exam, taxonomy):
    suggestion = Suggestion.objects.create(exam=exam, provider="demo-model", provider_version="1")
    for code, score in (("AF", 0.9), ("SB", 0.2)):
        SuggestionScore.objects.create(
            suggestion=suggestion, diagnostic_class=taxonomy.classes.get(code=code), score=score
        )
    return suggestion


def test_a_prefetched_next_exam_counts_the_exam_being_submitted_as_done(client_for, ana, bruno, diego, tnmg):
    """The page shows the prefetched exam's progress line right after a submit: it must not count the
    exam just submitted as still open."""
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=3)
    first, second = queue(batch, ana)[:2]
    client = client_for(ana)
    plain = client.get(f"{API}/{ref(second)}/").json()["assignment"]["queue"]
    ahead = client.get(f"{API}/{ref(second)}/?prefetch=1&from={ref(first)}").json()["assignment"]["queue"]
    assert plain == {"total": 3, "open": 3}
    assert ahead == {"total": 3, "open": 2}


def _batch_of(exam, reader, coordinator, taxonomy, name: str, mode: str = ReviewBatch.SuggestionMode.HIDDEN):
    from annotations.models import Assignment
    from tests.factories import batch_for

    # The same reader is handed the same exam in several batches on purpose.
    batch = batch_for(taxonomy, coordinator, [reader], [exam], name=name, suggestion_mode=mode, again=True)
    return Assignment.objects.get(batch=batch, reader=reader)


def test_a_read_made_after_two_exposures_records_the_first(client_for, ana, diego, tnmg):
    """Shown the exam's suggestion in two batches, the reader's read of it in a hidden batch is not blind,
    and it says when the suggestion was first shown to her."""
    from tests.factories import ExamFactory

    exam = ExamFactory()
    _suggest(exam, tnmg)
    client = client_for(ana)
    for name in ("Shown 1", "Shown 2"):
        shown = _batch_of(exam, ana, diego, tnmg, name, ReviewBatch.SuggestionMode.SHOWN)
        assert client.get(f"{API}/{ref(shown)}/").json()["suggestion"] is not None
    first, second = SuggestionExposure.objects.filter(reader=ana).order_by("shown_at")
    assert first.shown_at < second.shown_at
    hidden = _batch_of(exam, ana, diego, tnmg, "Hidden")
    done = client.post(
        f"{API}/{ref(hidden)}/submit/",
        {"labels": labels("SB"), "revision": 0},
        content_type="application/json",
    )
    assert done.status_code == 200
    read = hidden.annotations.get()
    assert (read.stage, read.suggestion_shown_at) == ("revised", first.shown_at)


def test_a_first_submit_reads_the_readers_exposures_in_its_locking_query(client_for, ana, bruno, diego, tnmg):
    """Whether a first read is blind is asked in the query that checks and locks the assignment, not in a
    query of its own: one statement fewer on every first save (bench/load_reads.py)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    client = client_for(ana)
    with CaptureQueriesContext(connection) as queries:
        done = client.post(
            f"{API}/{ref(first)}/submit/",
            {"labels": labels("NORM"), "revision": 0},
            content_type="application/json",
        )
    assert done.status_code == 200
    exposure_table = SuggestionExposure._meta.db_table
    asking = [q["sql"] for q in queries.captured_queries if exposure_table in q["sql"]]
    assert len(asking) == 1
    assert "FOR UPDATE" in asking[0] and "annotations_assignment" in asking[0]


def test_a_frozen_taxonomys_statements_are_read_once_per_language(client_for, ana, bruno, diego, tnmg):
    """A batch's taxonomy is frozen when the batch is made, and a change is a new version: the statement
    list every exam's context carries is built from its rows once per language, not on every exam opened
    or prefetched. Each language still gets its own names."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from annotations.models import DiagnosticClass

    first, second = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2), ana)
    client = client_for(ana)
    english = client.get(f"{API}/{ref(first)}/").json()["taxonomy"]
    with CaptureQueriesContext(connection) as queries:
        again = client.get(f"{API}/{ref(second)}/").json()["taxonomy"]
    classes_table = DiagnosticClass._meta.db_table
    assert again == english
    assert not [q["sql"] for q in queries.captured_queries if f'FROM "{classes_table}"' in q["sql"]]

    def name_of(taxonomy, code):
        return next(c["label"] for g in taxonomy["groups"] for c in g["classes"] if c["code"] == code)

    assert name_of(english, "SB") == "Sinus bradycardia"
    client.post("/i18n/setlang/", {"language": "pt-br", "next": "/"})
    portuguese = client.get(f"{API}/{ref(second)}/").json()["taxonomy"]
    assert name_of(portuguese, "SB") == "Bradicardia sinusal"
    assert [g["label"] for g in portuguese["groups"]] != [g["label"] for g in english["groups"]]
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert client.get(f"{API}/{ref(first)}/").json()["taxonomy"] == english


def test_a_save_that_leaves_out_the_comment_or_the_time_keeps_the_saved_ones(
    client_for, ana, bruno, diego, tnmg
):
    """An API client that sends only the statements and the revision changes only those: the comment and
    the time on task saved before stay. An empty comment sent is a comment cleared."""
    anas = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2), ana)
    client, url = client_for(ana), f"{API}/{ref(anas[0])}"
    note = "ST depression V4-V6, review"
    first = {"labels": labels("SR"), "revision": 0, "comment": note, "time_on_task_ms": 120000}
    assert client.put(f"{url}/draft/", first, content_type="application/json").status_code == 200
    second = client.put(
        f"{url}/draft/", {"labels": labels("SR", "RBBB"), "revision": 1}, content_type="application/json"
    )
    assert second.status_code == 200
    submitted = client.post(f"{url}/submit/", {"labels": labels("SR"), "revision": 2}, "application/json")
    assert submitted.status_code == 200
    read = anas[0].annotations.get()
    assert (read.comment, read.time_on_task_ms, read.status) == (note, 120000, "submitted")
    # Sent empty, the comment is cleared; the first save of a read without them stores none.
    other = f"{API}/{ref(anas[1])}"
    body = {"labels": labels("SR"), "revision": 0, "comment": note}
    assert client.put(f"{other}/draft/", body, content_type="application/json").status_code == 200
    cleared = {"labels": labels("SR"), "revision": 1, "comment": ""}
    assert client.post(f"{other}/submit/", cleared, "application/json").status_code == 200
    read = anas[1].annotations.get()
    assert (read.comment, read.time_on_task_ms) == ("", 0)


def test_a_save_into_a_batch_closed_meanwhile_says_the_batch_was_closed_and_keeps_the_draft(
    client_for, ana, bruno, diego, tnmg
):
    """The reader's own assignment is no secret to them: a save, submit or skip after the coordinator
    closed the batch says that (409, naming the batch), not "no such assignment", and changes nothing."""
    from annotations.models import Annotation, AuditEvent
    from annotations.services.batches.lifecycle import batch_close

    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2)
    first = queue(batch, ana)[0]
    client = client_for(ana)
    saved = client.put(
        f"{API}/{ref(first)}/draft/",
        {"labels": labels("SB"), "comment": "kept", "revision": 0},
        content_type="application/json",
    )
    assert saved.status_code == 200
    batch_close(batch=batch, actor=diego)
    events = AuditEvent.objects.count()
    for verb, method, body in (
        ("draft", client.put, {"labels": labels("AF"), "comment": "lost", "revision": 1}),
        ("submit", client.post, {"labels": labels("AF"), "revision": 1}),
        ("skip", client.post, {"reason": "poor_quality"}),
    ):
        answer = method(f"{API}/{ref(first)}/{verb}/", body, content_type="application/json")
        assert answer.status_code == 409, (verb, answer.content)
        assert answer.json()["batch_closed"] is True, verb
        assert batch.name in answer.json()["detail"] and "closed" in answer.json()["detail"], verb
    read = Annotation.objects.get(assignment=first)
    assert read.status == Annotation.Status.DRAFT and read.comment == "kept"
    assert [label.diagnostic_class.code for label in read.labels.all()] == ["SB"]
    assert AuditEvent.objects.count() == events
    # Another reader's assignment in the same closed batch still answers as one that does not exist.
    brunos = queue(batch, bruno)[0]
    other = client.post(
        f"{API}/{ref(brunos)}/submit/",
        {"labels": labels("SB"), "revision": 0},
        content_type="application/json",
    )
    assert other.status_code == 404 and "batch_closed" not in other.json()


def test_a_portuguese_readers_refusals_are_in_portuguese_and_name_the_statements_as_tnmg_does(
    client_for, ana, bruno, diego, tnmg
):
    anas = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2), ana)
    client = client_for(ana)
    client.post("/i18n/setlang/", {"language": "pt-br", "next": "/"})

    def submit(assignment, body) -> tuple[int, str]:
        answer = client.post(f"{API}/{ref(assignment)}/submit/", body, content_type="application/json")
        return answer.status_code, answer.json().get("detail")

    together = {"labels": labels("SR", "AF"), "revision": 0}
    assert submit(anas[0], together) == (
        400,
        "“Ritmo sinusal” (SR) e “Fibrilação atrial” (AF) não podem ser escolhidos juntos",
    )
    assert submit(anas[0], {"labels": [], "revision": 0}) == (
        400,
        "escolha ao menos um achado, ou pule o exame com um motivo",
    )
    assert (
        submit(anas[0], {"labels": labels("SB", "SB"), "revision": 0})[1]
        == "um achado foi escolhido duas vezes"
    )
    assert submit(anas[0], {"labels": labels("SB"), "revision": 3}) == (
        409,
        "a leitura foi salva em outro lugar (versão 0); recarregue para continuar",
    )
    assert submit(anas[0], {"labels": labels("SB"), "revision": 0})[0] == 200
    assert submit(anas[0], {"labels": labels("SB"), "revision": 1}) == (409, "esta leitura já foi enviada")


def test_a_portuguese_reader_is_told_in_portuguese_that_another_readers_exam_is_not_found(
    client_for, ana, bruno, diego, tnmg
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    client = client_for(ana)
    client.post("/i18n/setlang/", {"language": "pt-br", "next": "/"})
    brunos = client.get(f"{API}/{ref(queue(batch, bruno)[0])}/")
    made_up = client.get(f"{API}/{'A' * 22}/")
    # Word for word what an exam that does not exist answers: nothing tells the two apart.
    assert (brunos.status_code, brunos.json()) == (404, {"detail": "exame não encontrado"})
    assert (made_up.status_code, made_up.json()) == (404, {"detail": "exame não encontrado"})
