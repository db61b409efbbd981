"""Fifty readers submitting through the API at once, against a real gunicorn: nothing lost, nothing 5xx.

Correctness under load only; how fast is bench/load_reads.py's business (no timing is asserted here).
The load is bounded twice: a deadline and a count of reads per client, so it always stops by itself.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from annotations.models import Annotation, AnnotationRevision, Assignment
from annotations.selectors.reading.refs import assignment_pk
from bench import _load
from tests.factories import UserFactory
from tests.live_http import live_gunicorn

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIENTS, SECONDS, READS_EACH = 50, 15.0, 100


def test_fifty_readers_submitting_for_fifteen_seconds_get_no_5xx_and_every_acknowledged_read_is_stored(
    diego, tnmg
):
    readers = [UserFactory(username=f"busy{i:02d}", roles=["reader"]) for i in range(CLIENTS)]
    batch = _load.reading_batch(
        name="Rush hour", taxonomy=tnmg, coordinator=diego, readers=readers, reads_each=READS_EACH
    )
    sessions = [_load.reader_session(reader) for reader in readers]
    with live_gunicorn() as server:
        deadline = time.monotonic() + SECONDS
        result = _load.run_clients(
            [
                lambda log, s=s: _load.submit_reads(
                    _load.HttpClient(server.port, s), batch.pk, deadline, READS_EACH, log
                )
                for s in sessions
            ]
        )
        log = server.log_tail()

    assert result.errors == [], f"{result.errors[:5]}\n{log}"
    assert set(result.statuses) == {200}  # so no 5xx, and no reader was ever refused their own exam
    # The server answers references (selectors.reading.refs); the database holds ids.
    acknowledged = [assignment_pk(ref) for ref in result.acknowledged]
    assert acknowledged and len(acknowledged) == len(set(acknowledged))
    # Every acknowledged read is stored, once, with exactly one revision; nothing else was stored.
    stored = Annotation.objects.filter(assignment__batch=batch, status="submitted", is_current=True)
    assert Counter(stored.values_list("assignment_id", flat=True)) == Counter(dict.fromkeys(acknowledged, 1))
    closed = Assignment.objects.filter(batch=batch, status="submitted").values_list("pk", flat=True)
    assert set(closed) == set(acknowledged)
    assert AnnotationRevision.objects.filter(annotation__assignment__batch=batch).count() == len(acknowledged)
    per_reader = Counter(stored.values_list("assignment__reader__username", flat=True))
    assert set(per_reader) == {reader.username for reader in readers}  # all fifty were served
