"""The audit trail for coordinators: filtered by declared fields only, streamed for export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet

from annotations.errors import Forbidden
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
