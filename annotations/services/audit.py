"""The audit trail: one row per write, recorded inside the write's own transaction."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction

from annotations.models import AuditEvent
from ecgreview.prepared_writes import rows_insert


def audit_record(
    *,
    actor: User | AnonymousUser | None,
    action: str,
    target: Any = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ip_address: str | None = None,
    actor_username: str = "",
) -> AuditEvent:
    """Append an audit event. Must run inside the transaction of the write it describes."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"audit_record({action!r}) called outside the write's transaction")
    user = actor if isinstance(actor, User) and actor.is_authenticated else None
    event = AuditEvent(
        actor=user,
        actor_username=user.get_username() if user else actor_username,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        before=before,
        after=after,
        ip_address=ip_address,
    )
    rows_insert([event])  # its SQL built once per process: every write of the app records one
    return event


def audit_export_record(*, actor: User, filters: dict[str, Any], ip_address: str | None) -> AuditEvent:
    """The export of the trail is itself audited, with the filters it was asked for: its own transaction,
    since reading the trail writes nothing else."""
    with transaction.atomic():
        return audit_record(
            actor=actor,
            action="audit.export",
            after={name: str(value) for name, value in filters.items()},
            ip_address=ip_address,
        )
