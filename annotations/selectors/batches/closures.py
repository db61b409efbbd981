"""Slots closed without a read, by the system and not by their reader: a reader who left the study (their
drafts set aside and handed on, their retests withdrawn) or a retest whose first read was skipped. They are
stored as skips with one of these reasons (the reason says why to the coordinator and in the audit), but
they are nobody's skip: no skip count holds them, and their reader is never shown them, since a slot
named a retest would tell which exams were retests."""

from __future__ import annotations

from django.db.models import Q

DRAFT_SET_ASIDE = "set aside: the reader left the study before submitting; the exam went to another reader"
RETEST_WITHDRAWN = "withdrawn: a retest re-read measures its own reader, who left the study"
RETEST_FIRST_SKIPPED = (
    "withdrawn: its first read was skipped, and a retest re-reads the reader's own first read"
)
CLOSED_WITHOUT_READ = (DRAFT_SET_ASIDE, RETEST_WITHDRAWN, RETEST_FIRST_SKIPPED)


def closed_without_read(prefix: str = "") -> Q:
    """The slots the system closed; `prefix` reaches them through a relation ("assignments__")."""
    return Q(**{f"{prefix}skip_reason__in": CLOSED_WITHOUT_READ})
