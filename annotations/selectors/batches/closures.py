"""Slots closed without a read, by the system and not by their reader: a reader who left the study (their
drafts set aside and handed on, their retests withdrawn, the exams nobody else may read yet set aside)
or a retest whose first read was skipped. They are stored as skips marked `closed_by_system`, with one of
these reasons (the reason says why to the coordinator and in the audit), but they are nobody's skip: no
skip count holds them, and their reader is never shown them, since a slot named a retest would tell which
exams were retests. The mark, not the reason, tells them from a reader's skip: a reader may type any
reason, these words included, and must not make their own skip nobody's (and so adjudicate the exam)."""

from __future__ import annotations

from django.db.models import Q

DRAFT_SET_ASIDE = "set aside: the reader left the study before submitting; the exam went to another reader"
RETEST_WITHDRAWN = "withdrawn: a retest re-read measures its own reader, who left the study"
RETEST_FIRST_SKIPPED = (
    "withdrawn: its first read was skipped, and a retest re-reads the reader's own first read"
)
RETEST_TOO_CLOSE = (
    "withdrawn: after a reassign, too few of the reader's exams were left between it and its first read "
    "to re-read it blind"
)
# Unlike the others, this one still wants a reader: the coordinator hands it on (services.batches.skips)
# once someone may read the exam, a reader added to the batch for instance.
READER_LEFT_UNTAKEN = (
    "set aside: the reader left the study, and no reader of the batch may read the exam yet; "
    "hand it on once one may"
)
CLOSED_FOR_GOOD = (DRAFT_SET_ASIDE, RETEST_WITHDRAWN, RETEST_FIRST_SKIPPED, RETEST_TOO_CLOSE)
CLOSED_WITHOUT_READ = (*CLOSED_FOR_GOOD, READER_LEFT_UNTAKEN)


def closed_without_read(prefix: str = "") -> Q:
    """The slots the system closed; `prefix` reaches them through a relation ("assignments__")."""
    return Q(**{f"{prefix}closed_by_system": True})


def closed_for_good(prefix: str = "") -> Q:
    """The closed slots nobody will read: the others wait, as a reader's skip does, to be handed on."""
    return closed_without_read(prefix) & ~Q(**{f"{prefix}skip_reason": READER_LEFT_UNTAKEN})
