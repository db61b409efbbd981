"""The audit trail for coordinators: filtered by declared fields only, streamed for export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Q, QuerySet

from annotations.errors import Forbidden, Invalid
from annotations.models import AuditEvent
from annotations.roles import Role, has_role


@dataclass(frozen=True)
class AuditFilter:
    action: str = ""
    actor: str = ""
    target_type: str = ""
    since: date | None = None
    until: date | None = None


def audit_events(user, wanted: AuditFilter) -> QuerySet[AuditEvent]:
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden
    events = AuditEvent.objects.all()
    if wanted.action:
        events = events.filter(action__startswith=wanted.action)
    if wanted.actor:
        events = events.filter(actor_username=wanted.actor)
    if wanted.target_type:
        events = events.filter(target_type=wanted.target_type)
    if wanted.since:
        events = events.filter(occurred_at__date__gte=wanted.since)
    if wanted.until:
        events = events.filter(occurred_at__date__lte=wanted.until)
    return events.order_by("occurred_at", "id")


@dataclass(frozen=True)
class AuditPage:
    """Events newest first; `older`/`newer` are the cursors of the pages around it (None at an end)."""

    events: list[AuditEvent]
    older: str | None
    newer: str | None


def _cursor(event: AuditEvent) -> str:
    return f"{event.occurred_at.isoformat()}_{event.pk}"


def _beyond(token: str, older: bool) -> Q:
    """Events past the cursor's (time, id), in the direction asked, as a condition the occurred_at index
    serves (keyset: the page starts at the cursor, not after skipping every row before it)."""
    try:
        moment, pk = token.rsplit("_", 1)
        when, key = datetime.fromisoformat(moment), int(pk)
    except ValueError:
        raise Invalid("the page cursor is not one this list made; start again from the newest") from None
    if when.tzinfo is None:
        raise Invalid("the page cursor is not one this list made; start again from the newest")
    if older:
        return Q(occurred_at__lt=when) | Q(occurred_at=when, pk__lt=key)
    return Q(occurred_at__gt=when) | Q(occurred_at=when, pk__gt=key)


def audit_page(user, wanted: AuditFilter, *, older: str = "", newer: str = "", size: int = 100) -> AuditPage:
    """One page of the trail: the newest events, those older than cursor `older`, or the page just
    newer than cursor `newer`. No OFFSET and no count: a trail grows by every read of every study."""
    events = audit_events(user, wanted)
    if newer:
        rows = list(events.filter(_beyond(newer, older=False)).order_by("occurred_at", "id")[: size + 1])
        more = len(rows) > size
        rows = rows[:size][::-1]
        return AuditPage(rows, _cursor(rows[-1]) if rows else None, _cursor(rows[0]) if more else None)
    if older:
        events = events.filter(_beyond(older, older=True))
    rows = list(events.order_by("-occurred_at", "-id")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return AuditPage(rows, _cursor(rows[-1]) if more else None, _cursor(rows[0]) if older and rows else None)
