"""What a reader may see of their own work. Every query here is filtered by the requesting user."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Exists, Max, OuterRef
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from annotations.errors import NotFound
from annotations.models import Annotation, Assignment, ReviewBatch
from annotations.roles import Role, has_role
from annotations.selectors.batches.closures import closed_without_read
from annotations.selectors.reading.corrections import returned_reason_subquery
from annotations.selectors.reading.refs import assignment_ref
from annotations.selectors.reading.skip_reasons import skip_reason_shown

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.contrib.auth.models import User

    from annotations.models import Annotation, AnnotationLabel


@dataclass(frozen=True)
class DraftEntry:
    assignment_id: int
    position: int  # 1-based place in the reader's own queue
    updated_at: object
    returned_reason: str = ""  # a coordinator returned the read: why (selectors.reading.corrections)


@dataclass(frozen=True)
class WorklistEntry:
    batch_id: int
    batch_name: str
    due_date: object
    total: int
    done: int  # submitted reads; a skip is not a read
    drafts: int
    skipped: int = 0
    draft_entries: tuple[DraftEntry, ...] = field(default=())

    @property
    def remaining(self) -> int:
        return self.total - self.done - self.skipped


def reader_worklist(user: User) -> list[WorklistEntry]:
    """The reader's active batches with their own progress; nothing about other readers. None for an
    account that is no longer a reader: it may hold slots still, but it can read none of them."""
    if not has_role(user, Role.READER):
        return []
    holds_mine = Assignment.objects.filter(batch=OuterRef("pk"), reader=user)
    batches = list(
        ReviewBatch.objects.filter(Exists(holds_mine), status=ReviewBatch.Status.ACTIVE)
        .order_by("due_date", "pk")
        .values_list("pk", "name", "due_date")
    )
    # Counted by batch and status, without the batches' rows: joined to them, PostgreSQL scanned the
    # whole assignment table for a reader of a 100 k-exam batch; so, the reader's index answers alone.
    slots: dict[int, dict[str, int]] = {}
    counted = (
        Assignment.objects.filter(reader=user, batch_id__in=[pk for pk, _, _ in batches])
        .exclude(closed_without_read())
        .values_list("batch_id", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for batch_id, status, n in counted:
        slots.setdefault(batch_id, {})[status] = n
    drafts_by_batch = _reader_drafts_by_batch(user)
    return [
        WorklistEntry(
            batch_id=pk,
            batch_name=name,
            due_date=due_date,
            total=sum(slots.get(pk, {}).values()),
            done=slots.get(pk, {}).get(Assignment.Status.SUBMITTED, 0),
            drafts=slots.get(pk, {}).get(Assignment.Status.IN_PROGRESS, 0),
            skipped=slots.get(pk, {}).get(Assignment.Status.SKIPPED, 0),
            draft_entries=tuple(drafts_by_batch.get(pk, ())),
        )
        for pk, name, due_date in batches
    ]


def _reader_drafts_by_batch(user: User) -> dict[int, list[DraftEntry]]:
    """The reader's own saved drafts, so the home page can reopen them."""
    rows = (
        Assignment.objects.filter(
            reader=user, batch__status=ReviewBatch.Status.ACTIVE, status=Assignment.Status.IN_PROGRESS
        )
        .annotate(updated_at=Max("annotations__updated_at"), returned_reason=returned_reason_subquery())
        .values("id", "batch_id", "position", "updated_at", "returned_reason")
        .order_by("batch_id", "position")
    )
    grouped: dict[int, list[DraftEntry]] = {}
    for row in rows:
        grouped.setdefault(row["batch_id"], []).append(
            DraftEntry(
                assignment_id=row["id"],
                position=row["position"] + 1,
                updated_at=row["updated_at"],
                returned_reason=row["returned_reason"] or "",
            )
        )
    return grouped


@dataclass(frozen=True)
class MyRead:
    assignment_id: str  # its reference (selectors.reading.refs), as every reader-facing id
    position: int  # 1-based place in the reader's own queue
    status: str
    status_label: str
    codes: tuple[str, ...]  # the reader's own statements in their current read
    uncertain: frozenset[str]  # those of them the reader marked uncertain
    names: dict[str, str]  # each statement's name in the interface's language (TNMG's Portuguese in pt-BR)
    skip_reason: str
    when: object  # submitted, skipped, or last saved


@dataclass(frozen=True)
class MyReadsPage:
    batch: ReviewBatch
    rows: list[MyRead]
    earlier: int | None  # queue place to page back from (?before=), or None on the first page
    later: int | None  # queue place to page on from (?after=), or None on the last page


def reader_batch_reads(
    user: User, batch_id: int, *, after: int | None = None, before: int | None = None, size: int = 100
) -> MyReadsPage:
    """The reader's own reads of one active batch: submitted, skipped and drafts, in queue order, one page
    of `size` after (or before) a queue place: a reader may hold tens of thousands.

    Blinded like every reader query: only the requesting reader's assignments, nothing of anyone else's
    (not even how many others read an exam). A batch the reader has no exam in answers 404.
    """
    mine = Assignment.objects.filter(reader=user, batch_id=batch_id, batch__status=ReviewBatch.Status.ACTIVE)
    if not has_role(user, Role.READER) or not mine.exists():
        raise NotFound(_("no such batch"))
    batch = (
        ReviewBatch.objects.select_related("taxonomy")
        .only("id", "name", "due_date", "taxonomy__groups")
        .get(pk=batch_id)
    )
    shown = mine.filter(
        status__in=[Assignment.Status.SUBMITTED, Assignment.Status.SKIPPED, Assignment.Status.IN_PROGRESS]
    ).exclude(closed_without_read())
    if before is not None:
        page = list(shown.filter(position__lt=before).order_by("-position")[: size + 1])[::-1]
        more_before, more_after = len(page) > size, True
        page = page[-size:]
    else:
        window = shown.filter(position__gt=after) if after is not None else shown
        page = list(window.order_by("position")[: size + 1])
        more_before, more_after = after is not None, len(page) > size
        page = page[:size]
    return MyReadsPage(
        batch=batch,
        rows=_my_reads(page, batch.taxonomy.groups),
        earlier=page[0].position if page and more_before else None,
        later=page[-1].position if page and more_after else None,
    )


def _my_reads(assignments: list[Assignment], groups: list[str]) -> list[MyRead]:
    current = Annotation.objects.filter(assignment__in=assignments, is_current=True).prefetch_related(
        "labels__diagnostic_class"
    )
    by_assignment = {a.assignment_id: a for a in current}
    return [_my_read(assignment, by_assignment.get(assignment.pk), groups) for assignment in assignments]


def _listed_order(groups: list[str]) -> Callable[[AnnotationLabel], tuple[Any, ...]]:
    """A statement's place in the reader page's list: diagnoses before technical quality, by the
    taxonomy's group order, then by the taxonomy's order (a reader saw "NORM, SR" chosen there and
    "SR, NORM" here)."""
    place = {group: i for i, group in enumerate(groups)}

    def key(label: AnnotationLabel) -> tuple[Any, ...]:
        cls = label.diagnostic_class
        return (cls.kind != "diagnostic", place.get(cls.group, len(place)), cls.position)

    return key


def _my_read(assignment: Assignment, annotation: Annotation | None, groups: list[str]) -> MyRead:
    # As the statement list shows them: stored order is the order of choosing.
    labels = sorted(annotation.labels.all(), key=_listed_order(groups)) if annotation else []
    codes = tuple(label.diagnostic_class.code for label in labels)
    portuguese = (get_language() or "").lower().startswith("pt")
    names = {
        label.diagnostic_class.code: (label.diagnostic_class.name_pt if portuguese else "")
        or label.diagnostic_class.name
        for label in labels
    }
    ended: dict[str, datetime | None] = {
        Assignment.Status.SUBMITTED: assignment.submitted_at,
        Assignment.Status.SKIPPED: assignment.skipped_at,
    }
    when = ended.get(assignment.status, annotation.updated_at if annotation else None)
    return MyRead(
        assignment_id=assignment_ref(assignment.pk),
        position=assignment.position + 1,
        status=assignment.status,
        status_label=assignment.get_status_display(),
        codes=codes,
        uncertain=frozenset(label.diagnostic_class.code for label in labels if label.uncertain),
        names=names,
        skip_reason=skip_reason_shown(assignment.skip_code, assignment.skip_reason)
        if assignment.status == Assignment.Status.SKIPPED
        else "",
        when=when,
    )


def reader_batch_name(user: User, batch_id: int) -> str:
    """The name of a batch the reader holds exams in (reader_batch_named checked that they do), for the
    word that it is finished; "" where they hold none."""
    found = ReviewBatch.objects.filter(pk=batch_id, assignments__reader=user).values_list("name", flat=True)
    return found.first() or ""
