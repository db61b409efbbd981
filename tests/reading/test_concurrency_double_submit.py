"""The same write sent twice at once, over HTTP to a real gunicorn on real PostgreSQL: stored once.

Policy for a duplicated submission (a double click, a client retrying while the first request is still
in flight): the first to take the assignment's row lock is stored and answered 200; the duplicate waits
for that lock, finds the read already submitted and is answered 409 Conflict ("this read is already
submitted"), having written nothing: no second annotation, no second revision, no second audit event.
A client that sees that 409 after a lost answer knows its read is stored. The same holds for two
adjudicators signing the same exam from the same page version: one decision is kept whole, the other
is refused with 409 and the current version, leaving nothing of itself behind.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict

import pytest

from annotations.models import (
    Adjudication,
    Annotation,
    AnnotationRevision,
    Assignment,
    AuditEvent,
    Consensus,
    DisputedLabel,
)
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.reading import LabelInput, annotation_save_draft, annotation_submit
from bench import _load
from tests.factories import ExamFactory, UserFactory, batch_for
from tests.live_http import live_gunicorn
from tests.reading.helpers import ref

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

READERS, EXAMS_EACH = 20, 50
DISPUTED_EXAMS = 12


def both_at_once(first, second) -> list:
    """Run two requests released by one barrier, so they reach the server together."""
    barrier = threading.Barrier(2)
    answers: list = [None, None]

    def send(index: int, call) -> None:
        barrier.wait()
        try:
            answers[index] = call()
        except Exception as error:  # recorded for the assertion, never swallowed
            answers[index] = (None, {"error": repr(error)}, 0.0)

    threads = [threading.Thread(target=send, args=(i, call)) for i, call in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def reader_double_submits(
    port: int, credentials: _load.Credentials, queue: list[Assignment], drafts: dict[int, int], seen: dict
):
    """Two tabs of one reader (two connections, one session) submit each exam at the same instant."""
    tabs = (_load.HttpClient(port, credentials), _load.HttpClient(port, credentials))
    for assignment in queue:
        body = {**_load.READ, "revision": drafts.get(assignment.pk, 0)}
        url = f"/api/v1/reading/assignments/{ref(assignment)}/submit/"
        seen[assignment.pk] = both_at_once(
            lambda tab=tabs[0], body=body, url=url: tab.json("POST", url, body),
            lambda tab=tabs[1], body=body, url=url: tab.json("POST", url, body),
        )


def test_every_read_submitted_twice_at_once_by_twenty_readers_is_stored_once_and_the_echo_gets_409(
    diego, tnmg
):
    readers = [UserFactory(username=f"twin{i:02d}", roles=["reader"]) for i in range(READERS)]
    batch = batch_for(
        tnmg,
        diego,
        readers,
        ExamFactory.create_batch(READERS * EXAMS_EACH // 2),
        name="Double clicks",
        readers_per_exam=2,
        seed=9,
    )
    queues = {
        reader: list(Assignment.objects.filter(batch=batch, reader=reader).order_by("position"))
        for reader in readers
    }
    # Every other exam was drafted first, so both "from a draft" and "straight away" are doubled.
    drafts = {
        a.pk: annotation_save_draft(actor=r, assignment=a, labels=[LabelInput("SB")], revision=0).revision
        for r, queue in queues.items()
        for a in queue[::2]
    }
    sessions = {reader: _load.reader_session(reader) for reader in readers}
    seen: dict[int, list] = {}
    with live_gunicorn() as server:
        threads = [
            threading.Thread(target=reader_double_submits, args=(server.port, sessions[r], q, drafts, seen))
            for r, q in queues.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        log = server.log_tail()

    assert len(seen) == READERS * EXAMS_EACH
    outcomes = Counter(tuple(sorted(status or 0 for status, _, _ in pair)) for pair in seen.values())
    assert outcomes == {(200, 409): READERS * EXAMS_EACH}, f"{outcomes}\n{log}"
    echoes = {answer["detail"] for pair in seen.values() for status, answer, _ in pair if status == 409}
    assert echoes == {"this read is already submitted"}

    slots = Assignment.objects.filter(batch=batch)
    assert set(slots.values_list("status", flat=True)) == {"submitted"}
    current = Annotation.objects.filter(assignment__batch=batch, is_current=True, status="submitted")
    assert Counter(current.values_list("assignment_id", flat=True)) == Counter(
        {pk: 1 for pk in slots.values_list("pk", flat=True)}
    )
    assert Annotation.objects.filter(assignment__batch=batch).count() == READERS * EXAMS_EACH
    # One revision per accepted write: the drafts, and one submit per slot, never the echo.
    revisions = AnnotationRevision.objects.filter(annotation__assignment__batch=batch)
    assert revisions.count() == len(drafts) + READERS * EXAMS_EACH
    submitted_labels = revisions.filter(status="submitted").values_list("labels", flat=True)
    assert all(labels == _load.READ["labels"] for labels in submitted_labels)
    targets = [str(pk) for pk in current.values_list("pk", flat=True)]
    submits = AuditEvent.objects.filter(action="annotation.submit", target_id__in=targets)
    assert submits.count() == READERS * EXAMS_EACH


@pytest.fixture
def disputed_exams(diego, tnmg, ana, bruno):
    """Exams ana and bruno disagree on twice (1dAVb and RBBB), with the agreement computed."""
    exams = ExamFactory.create_batch(DISPUTED_EXAMS)
    batch = batch_for(tnmg, diego, [ana, bruno], exams, name="Disputes")
    for reader, codes in ((ana, ["SB", "1dAVb", "RBBB"]), (bruno, ["SB"])):
        for assignment in Assignment.objects.filter(batch=batch, reader=reader):
            annotation_submit(
                actor=reader, assignment=assignment, labels=[LabelInput(c) for c in codes], revision=0
            )
    batch_agreement_compute(batch.pk)
    assert DisputedLabel.objects.filter(batch=batch).count() == 2 * DISPUTED_EXAMS
    return batch, exams


def test_two_adjudicators_signing_the_same_exams_at_once_keep_exactly_one_whole_decision(
    carla, disputed_exams
):
    batch, exams = disputed_exams
    olga = UserFactory(username="olga", roles=["adjudicator"])
    votes = {carla.pk: True, olga.pk: False}
    seen: dict[int, list] = {}
    with live_gunicorn() as server:
        clients = {
            user.pk: _load.HttpClient(server.port, _load.reader_session(user)) for user in (carla, olga)
        }

        def decide(user_id: int, exam_id: int):
            value = votes[user_id]
            body = {
                "decisions": [{"code": "1dAVb", "value": value}, {"code": "RBBB", "value": value}],
                "rationale": f"signed by {user_id}",
                "version": 0,  # both loaded the page before anyone signed
            }
            return clients[user_id].json("POST", f"/api/v1/adjudication/{batch.pk}/{exam_id}/", body)

        for exam in exams:
            seen[exam.pk] = both_at_once(
                lambda e=exam.pk: decide(carla.pk, e), lambda e=exam.pk: decide(olga.pk, e)
            )
        log = server.log_tail()

    winners: dict[int, int] = {}
    for exam_id, (by_carla, by_olga) in seen.items():
        statuses = sorted((by_carla[0] or 0, by_olga[0] or 0))
        assert statuses == [200, 409], f"exam {exam_id}: {by_carla[:2]} {by_olga[:2]}\n{log}"
        refused = by_carla if by_carla[0] == 409 else by_olga
        assert refused[1]["version"] == 1
        winners[exam_id] = carla.pk if by_carla[0] == 200 else olga.pk

    decisions = defaultdict(list)
    for row in Adjudication.objects.filter(batch=batch):
        decisions[row.exam_id].append(row)
    for exam_id, winner in winners.items():
        rows = decisions[exam_id]
        # Whole: both classes, one adjudicator, one value, one version and rationale: the winner's.
        assert sorted(r.diagnostic_class.code for r in rows) == ["1dAVb", "RBBB"]
        assert {(r.adjudicator_id, r.value, r.version, r.rationale) for r in rows} == {
            (winner, votes[winner], 1, f"signed by {winner}")
        }
        consensus = Consensus.objects.filter(
            batch=batch, exam_id=exam_id, diagnostic_class__code__in=["1dAVb", "RBBB"]
        )
        assert {(c.method, c.value) for c in consensus} == {("adjudicated", votes[winner])}
    signed = AuditEvent.objects.filter(action="adjudication.decide")
    assert Counter(event.after["exam"] for event in signed) == Counter({pk: 1 for pk in winners})
