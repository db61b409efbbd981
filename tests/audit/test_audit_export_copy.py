"""The audit export is the filtered trail as the database writes CSV (COPY), streamed as it comes: every
event once, in order, each column what is stored (JSON as JSON, times in ISO 8601 with their offset), text
a spreadsheet would run as a formula defused, lines ending in a newline as COPY ends them."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from annotations.models import AuditEvent

pytestmark = pytest.mark.django_db
START = datetime(2026, 1, 1, tzinfo=UTC)
HEADER = "id,occurred_at,actor_username,action,target_type,target_id,ip_address,before,after"


@pytest.fixture
def trail():
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                occurred_at=START,
                actor_username="ana",
                action="batch.create",
                target_type="annotations.reviewbatch",
                target_id="7",
                before=None,
                after={"name": 'Lote "São Paulo", 2026\nsegundo', "criteria": {"z": [1, 2.5], "a": None}},
                ip_address="10.0.0.7",
            ),
            AuditEvent(
                occurred_at=START + timedelta(microseconds=250),
                actor_username='=HYPERLINK("x")',
                action="auth.login_failed",
                target_type="",
                target_id="-2+3",
                before={"n": -1},
                after=None,
            ),
            AuditEvent(
                occurred_at=START + timedelta(seconds=1),
                actor_username="-12.5",  # a number, not a formula: left as it is
                action="annotation.submit",
                target_type="annotations.annotation",
                target_id="@SUM(1)",
                after={"labels": 2, "stage": "blind"},
                ip_address="::1",
            ),
        ]
    )
    return list(AuditEvent.objects.order_by("occurred_at", "id"))


def export(client) -> tuple[bytes, list]:
    response = client.get("/audit/export.csv")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    chunks = list(response.streaming_content)
    return b"".join(chunks), chunks


def test_the_export_is_each_event_as_stored_with_formulas_defused(client_for, diego, trail):
    body, _ = export(client_for(diego))
    text = body.decode()
    assert text.startswith(HEADER + "\n") and text.endswith("\n") and "\r\n" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows.pop()["action"] == "audit.export"  # the export itself, recorded first, comes last
    assert [int(row["id"]) for row in rows] == [e.pk for e in trail]
    assert [datetime.fromisoformat(row["occurred_at"]) for row in rows] == [e.occurred_at for e in trail]
    assert [row["occurred_at"] for row in rows] == [e.occurred_at.isoformat() for e in trail]
    assert [row["actor_username"] for row in rows] == ["ana", '\'=HYPERLINK("x")', "-12.5"]
    assert [row["target_id"] for row in rows] == ["7", "'-2+3", "'@SUM(1)"]
    assert [row["target_type"] for row in rows] == ["annotations.reviewbatch", "", "annotations.annotation"]
    assert [row["ip_address"] for row in rows] == ["10.0.0.7", "", "::1"]
    assert [json.loads(row["before"]) for row in rows] == [e.before for e in trail]
    assert [json.loads(row["after"]) for row in rows] == [e.after for e in trail]


def test_a_long_trail_streams_in_bounded_chunks_every_event_once_in_order(client_for, diego):
    AuditEvent.objects.bulk_create(
        AuditEvent(
            occurred_at=START + timedelta(seconds=i // 3),
            actor_username="ana",
            action="annotation.submit",
            target_type="annotations.annotation",
            target_id=str(i),
            after={"labels": i % 4, "stage": "blind", "padding": "x" * 200},
        )
        for i in range(6000)
    )
    body, chunks = export(client_for(diego))
    rows = list(csv.DictReader(io.StringIO(body.decode())))[:-1]
    assert [row["target_id"] for row in rows] == [str(i) for i in range(6000)]
    # Memory stays flat: the body comes in pieces, none of them near the whole.
    assert len(chunks) > 3 and max(len(c) for c in chunks) <= 512 * 1024 < len(body)


@pytest.mark.django_db(transaction=True)  # as a server runs it: autocommit, no test transaction around
def test_a_client_that_stops_reading_leaves_the_connection_usable(client_for, diego):
    AuditEvent.objects.bulk_create(
        AuditEvent(occurred_at=START, actor_username="ana", action="x", after={"padding": "y" * 500})
        for _ in range(3000)
    )
    response = client_for(diego).get("/audit/export.csv")
    first = next(iter(response.streaming_content))
    assert first.startswith(HEADER.encode())
    response.close()  # what the server does when the client goes away mid-download
    assert AuditEvent.objects.filter(action="x").count() == 3000


def test_without_postgresql_python_writes_the_same_columns(client_for, diego, trail, monkeypatch):
    from django.db import connection

    client = client_for(diego)
    copied = list(csv.DictReader(io.StringIO(export(client)[0].decode())))
    monkeypatch.setattr(connection, "vendor", "sqlite")
    written = list(csv.DictReader(io.StringIO(export(client)[0].decode())))
    assert len(written) == len(copied) + 1  # the second export's own event
    for row in (*copied, *written):
        row["before"], row["after"] = json.loads(row["before"]), json.loads(row["after"])
    assert written[: len(copied)] == copied


def test_a_carriage_return_typed_at_the_login_form_stays_in_its_cell_on_both_paths(
    client, client_for, diego, monkeypatch
):
    """A failed login records whatever name was typed. A lone carriage return in it is quoted, as COPY
    quotes it: csv.writer with a "\\n" line end left it bare, and every reader ended the row there."""
    from django.db import connection

    client.post("/accounts/login/", {"username": "ana\rmallory", "password": "x"})
    assert AuditEvent.objects.filter(action="auth.login_failed", actor_username="ana\rmallory").exists()
    coordinator = client_for(diego)
    for vendor in ("postgresql", "sqlite"):
        if vendor == "sqlite":
            monkeypatch.setattr(connection, "vendor", vendor)
        rows = list(csv.reader(io.StringIO(export(coordinator)[0].decode(), newline="")))
        assert {len(row) for row in rows} == {len(HEADER.split(","))}, vendor
        assert [row[2] for row in rows if row[3] == "auth.login_failed"] == ["ana\rmallory"], vendor


def test_the_trail_comes_oldest_first_by_time_then_id_whatever_order_the_ids_were_given(client_for, diego):
    """An event may be stored after one that happened later (a clock, a restored backup): the export goes
    by when each happened, and by id only among events of the same moment."""
    moments = [5, 1, 3, 1, 0, 3]  # seconds after START, in the order the events are stored
    stored = AuditEvent.objects.bulk_create(
        AuditEvent(occurred_at=START + timedelta(seconds=s), action="x", target_id=str(i))
        for i, s in enumerate(moments)
    )
    by_moment = sorted(enumerate(moments), key=lambda item: (item[1], stored[item[0]].pk))
    expected = [str(i) for i, _ in by_moment]
    rows = list(csv.DictReader(io.StringIO(export(client_for(diego))[0].decode())))
    exported = [row["target_id"] for row in rows if row["action"] == "x"]
    assert exported == expected == ["4", "1", "3", "2", "5", "0"]


def test_events_given_without_an_order_of_their_own_come_in_the_models_order(db):
    """The export keeps the order of the events it is given: audit_events' oldest first, else the model's
    own (newest first), else none at all."""
    from annotations.selectors.audit import audit_export_chunks

    AuditEvent.objects.bulk_create(
        AuditEvent(occurred_at=START + timedelta(seconds=s), action="x", target_id=str(s)) for s in (2, 0, 1)
    )

    def exported(events) -> list[str]:
        body = b"".join(audit_export_chunks(events)).decode()
        return [row["target_id"] for row in csv.DictReader(io.StringIO(body))]

    assert exported(AuditEvent.objects.all()) == ["2", "1", "0"]
    assert exported(AuditEvent.objects.order_by("occurred_at")) == ["0", "1", "2"]
    assert sorted(exported(AuditEvent.objects.order_by())) == ["0", "1", "2"]
