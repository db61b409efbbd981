"""The audit list pages by keyset (older / newer than a row), never by OFFSET or a count: the trail of a
CODE-II-sized study holds millions of events, and a deep OFFSET page cost seconds. Filters survive paging."""

import csv
import html
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from annotations.models import AuditEvent

pytestmark = pytest.mark.django_db
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def trail(diego):
    # Two events share each second, so the id breaks ties within one timestamp.
    AuditEvent.objects.bulk_create(
        AuditEvent(
            occurred_at=START + timedelta(seconds=i // 2),
            actor_username="ana" if i % 5 else "bruno",
            action=f"annotation.test{i:03d}",
            target_type="annotation",
            target_id=str(i),
        )
        for i in range(250)
    )


def shown(page: str) -> list[int]:
    return [int(n) for n in re.findall(r"annotation\.test(\d{3})", page)]


def link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a[^>]*rel="{rel}"[^>]*href="([^"]+)"', page) or re.search(
        rf'<a[^>]*href="([^"]+)"[^>]*rel="{rel}"', page
    )
    return "/audit/" + found.group(1).replace("&amp;", "&") if found else None


def test_the_trail_pages_newest_first_by_older_and_newer_links(trail, client_for, diego):
    client = client_for(diego)
    first = client.get("/audit/?action=annotation.test").content.decode()
    assert shown(first) == list(range(249, 149, -1)) and link(first, "prev") is None
    second = client.get(link(first, "next")).content.decode()
    assert shown(second) == list(range(149, 49, -1))
    third = client.get(link(second, "next")).content.decode()
    assert shown(third) == list(range(49, -1, -1)) and link(third, "next") is None
    back = client.get(link(third, "prev")).content.decode()
    assert shown(back) == shown(second)
    assert shown(client.get(link(back, "prev")).content.decode()) == shown(first)


def test_paging_keeps_the_filters(trail, client_for, diego):
    client = client_for(diego)
    first = client.get("/audit/?action=annotation.test&actor=bruno").content.decode()
    assert shown(first) == list(range(245, -1, -5))  # 50 events: one page, no links
    assert link(first, "next") is None
    ana = client.get("/audit/?actor=ana&action=annotation.").content.decode()
    following = link(ana, "next")
    assert "actor=ana" in following and "action=annotation." in following
    assert all(n % 5 for n in shown(client.get(following).content.decode()))


def test_a_cursor_the_list_did_not_make_is_refused_plainly(trail, client_for, diego):
    response = client_for(diego).get("/audit/?older=not-a-cursor")
    assert response.status_code == 400


def test_the_export_streams_every_event_in_order_with_formulas_defused(client_for, diego):
    AuditEvent.objects.bulk_create(
        AuditEvent(
            occurred_at=START + timedelta(seconds=i),
            actor_username="=cmd|' /C calc'!A0" if i == 1234 else "ana",
            action="annotation.submit",
            after={"labels": i, "stage": "blind"},
        )
        for i in range(2500)
    )
    response = client_for(diego).get("/audit/export.csv?action=annotation.")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [json.loads(row["after"])["labels"] for row in rows] == list(range(2500))
    assert rows[1234]["actor_username"] == "'=cmd|' /C calc'!A0"
    # JSON as PostgreSQL's jsonb writes it (COPY): the same object, its keys in jsonb's order.
    assert json.loads(rows[7]["after"]) == {"labels": 7, "stage": "blind"} and rows[7]["before"] == "null"


def test_the_page_shows_before_and_after_as_a_readable_list(client_for, diego):
    """The export gives the recorded JSON; the page reads it out: a field and its value a line, a changed
    one as before → after, yes/no and lists in words (tests/audit/test_audit_in_words.py)."""
    AuditEvent.objects.create(
        occurred_at=START,
        actor_username="ana",
        action="annotation.submit",
        before={"uncertain": False, "labels": 1},
        after={"stage": "blind", "labels": 2, "codes": ["SR", "1dAVb"]},
    )
    page = client_for(diego).get("/audit/").content.decode()
    row = page.split('id="audit-events"', 1)[1].split("annotation.submit", 1)[1].split("</tr>", 1)[0]
    items = [re.sub(r"<[^>]+>", "", html.unescape(text)) for text in re.findall(r"<li>(.*?)</li>", row)]
    # In any order: PostgreSQL's jsonb keeps its keys in an order of its own.
    assert sorted(items) == ["codes: SR, 1dAVb", "labels: 1 → 2", "stage: blind", "uncertain: no → —"]
    assert "True" not in row and "None" not in row and "{" not in row
