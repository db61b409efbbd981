"""What a reader sees while reading: only their own assignments and their own reads.

Blinding is enforced here, on the server: every query is filtered by the requesting reader, and the
reading context carries nothing about other readers (not their labels, not how many read the exam, not
consensus, not the labels that came with the import, not the gold flag). An assignment that is not the
reader's answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import router
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.crypto import salted_hmac
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext

from annotations.errors import Conflict, Invalid, NotFound
from annotations.models import (
    Annotation,
    Assignment,
    Exam,
    ReviewBatch,
    Suggestion,
    SuggestionExposure,
    Taxonomy,
)
from annotations.roles import Role, has_role
from annotations.selectors.batches.closures import closed_without_read
from annotations.selectors.reading.prepared import PreparedQuery

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import Model

    from annotations.models import Exam

logger = logging.getLogger(__name__)
OPEN = (Assignment.Status.PENDING, Assignment.Status.IN_PROGRESS)


def waveform_etag(scope: str, exam: Exam) -> str:
    """The waveform's cache token for one viewer's view of it (a reader's assignment, an adjudicator's
    case): a keyed hash of the scope and the content, never the content's hash itself, which would let a
    reader recognise a retest copy or the same exam in another batch. The same assignment gets the same
    token on every visit, so the browser still revalidates with a 304; new content gives a new token."""
    token = salted_hmac("annotations.waveform-etag", f"{scope}:{exam.waveform_sha256}", algorithm="sha256")
    return token.hexdigest()[:40]


def _newest_ok(suggestions: QuerySet[Suggestion]) -> Suggestion | None:
    ok = suggestions.filter(status=Suggestion.Status.OK).order_by("-computed_at", "-id")
    preferred = getattr(settings, "SUGGESTION_READER_PROVIDER", None)
    return (ok.filter(provider=preferred).first() if preferred else None) or ok.first()


def suggestion_for_exam(exam_id: int) -> Suggestion | None:
    """The suggestion readers see: the newest OK one of SUGGESTION_READER_PROVIDER, so every reader of
    an exam sees the same provider whichever finished first; else the newest OK one of any provider.

    When the exam has none yet, one of a copy of its waveform (Exam.copy_of, another dataset's import of
    the same ECG) is shown: seen there, it already counts as seen for this exam (_locked_row), so a
    two-stage read reveals it and a "shown" batch shows it, rather than nothing."""
    own = _newest_ok(Suggestion.objects.filter(exam_id=exam_id))
    if own is not None:
        return own
    first = Exam.objects.filter(pk=exam_id).values_list(Coalesce("copy_of_id", "id"), flat=True).first()
    if first is None:
        return None
    same_ecg = Suggestion.objects.filter(Q(exam_id=first) | Q(exam__copy_of_id=first)).exclude(
        exam_id=exam_id
    )
    return _newest_ok(same_ecg)


def _reader_assignments(user: User) -> QuerySet[Assignment]:
    if not has_role(user, Role.READER):
        return Assignment.objects.none()
    # A slot the system closed (a retest withdrawn, a draft set aside) is no longer the reader's.
    return Assignment.objects.filter(reader=user, batch__status=ReviewBatch.Status.ACTIVE).exclude(
        closed_without_read()
    )


def assignment_for_reader(user: User, assignment_id: int) -> Assignment:
    """The reader's own assignment in an active batch; 404 for anything else."""
    try:
        return (
            _reader_assignments(user).select_related("exam", "batch", "batch__taxonomy").get(pk=assignment_id)
        )
    except Assignment.DoesNotExist:
        raise NotFound(gettext("no such assignment")) from None


# The largest id a bigint column holds: a longer number is no batch (SQLite's driver overflows on it).
_MAX_ID = 2**63 - 1


def reader_batch_named(user: User, raw: str | None) -> int | None:
    """The batch a reader's next-exam request names with `?batch=`, or None when it names none.

    A value that is not a batch id is refused (Invalid, naming it): ignored, a typo went on with the next
    exam of any batch, and "²" or a 24-digit number failed the request. A batch the reader has no exam in
    answers 404 whether or not it exists; one that does not exist would otherwise read as "nothing left"."""
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= _MAX_ID:
        raise Invalid(
            gettext("batch must be the number of one of your batches, not “%(value)s”") % {"value": raw}
        )
    batch_id = int(raw)
    if (
        not has_role(user, Role.READER)
        or not Assignment.objects.filter(reader=user, batch_id=batch_id).exists()
    ):
        raise NotFound(gettext("no such batch"))
    return batch_id


class BatchClosed(Conflict):
    """A write to the reader's own assignment in a batch its coordinator has closed (409). Not a 404: the
    assignment is the reader's, and what they had typed is lost, so they are owed the reason."""


def _refused_as_closed(user: User, assignment_id: int) -> BatchClosed | None:
    """The refusal for the reader's own assignment in a closed batch; None for anything else, which stays
    a 404 (another reader's, a draft batch's, none). Asked only once the write's own query found nothing."""
    row = (
        Assignment.objects.filter(
            pk=assignment_id, reader_id=user.pk, batch__status=ReviewBatch.Status.CLOSED
        )
        .values_list("batch__name", "batch__closed_at")
        .first()
    )
    if row is None:
        return None
    name, closed_at = row
    when = date_format(localtime(closed_at), "SHORT_DATE_FORMAT") if closed_at else ""
    message = gettext(
        "The batch “%(batch)s” was closed by its coordinator%(when)s: it takes no more reads or "
        "changes. What you had saved of this exam is kept as it was and does not count as a read; what "
        "you had not saved was not kept."
    ) % {"batch": name, "when": (gettext(" on %(date)s") % {"date": when}) if when else ""}
    return BatchClosed(message, extra={"batch_closed": True})


def _fields(model: type[Model]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


# What the lock query reads, model by model: each one's columns, under its path from the assignment.
_LOCKED_MODELS = [
    (model, prefix, _fields(model))
    for model, prefix in ((Assignment, ""), (ReviewBatch, "batch__"), (Taxonomy, "batch__taxonomy__"))
]


def _locked_row(*, shape: tuple[Any, ...], reader_id: int, assignment_id: int) -> QuerySet[Any]:
    """The reader's own assignment in an active batch, locked, with its batch and taxonomy (read, not
    locked), and when this reader was first shown a suggestion for its exam in any batch."""
    # The exam's own suggestion, or one of another exam of its waveform (a copy under another dataset:
    # Exam.copy_of points at the first exam of the waveform): the same ECG, so seen all the same.
    first = Coalesce(OuterRef("exam__copy_of_id"), OuterRef("exam_id"))
    shown = SuggestionExposure.objects.filter(reader_id=reader_id).filter(
        Q(suggestion__exam_id=OuterRef("exam_id"))
        | Q(suggestion__exam_id=first)
        | Q(suggestion__exam__copy_of_id=first)
    )
    columns = [prefix + name for _, prefix, names in _LOCKED_MODELS for name in names]
    return (
        Assignment.objects.filter(
            pk=assignment_id, reader_id=reader_id, batch__status=ReviewBatch.Status.ACTIVE
        )
        .annotate(first_shown_at=Subquery(shown.order_by("shown_at").values("shown_at")[:1]))
        .select_for_update(of=("self",))
        .order_by()
        .values_list(*columns, "first_shown_at")
    )


# Built once per process: on a submit, building this query cost more CPU than running it (prepared.py).
_LOCKED = PreparedQuery(_locked_row)


def assignment_for_reader_locked(user: User, assignment_id: int) -> Assignment:
    """assignment_for_reader under a row lock on the assignment alone (the batch and taxonomy rows are
    read, never locked, so readers of one batch do not queue behind each other). Inside a transaction:
    the services' writes check ownership and lock in this one query.

    It carries `first_shown_at`: when this reader was first shown a suggestion for this exam, in any batch
    (None if never). The first save of a read needs it to know whether the read is blind; read here, it
    costs no query of its own on every first save."""
    if not has_role(user, Role.READER):
        raise NotFound(gettext("no such assignment"))
    rows = _LOCKED.rows(reader_id=user.pk, assignment_id=assignment_id)
    if not rows:
        raise _refused_as_closed(user, assignment_id) or NotFound(gettext("no such assignment"))
    row, start, db = rows[0], 0, router.db_for_write(Assignment)
    instances: list[Any] = []
    for model, _, names in _LOCKED_MODELS:
        instances.append(model.from_db(db, names, row[start : start + len(names)]))
        start += len(names)
    assignment: Assignment
    assignment, batch, taxonomy = instances
    batch.taxonomy = taxonomy
    assignment.batch = batch
    # The locked row's own, set as annotate() would (services.reading reads it; not a model field).
    assignment.first_shown_at = row[-1]  # type: ignore[attr-defined]
    return assignment


def _next_row(*, shape: tuple[bool, int, str], reader_id: int, **values: int) -> QuerySet[Any]:
    """The first of the reader's assignments of one status in active batches, in queue order, leaving
    out those given: within one batch (shape[0]), or across batches, the soonest due first."""
    within_batch, left, status = shape
    mine = Q(reader_id=reader_id, batch__status=ReviewBatch.Status.ACTIVE, status=status)
    if within_batch:
        mine &= Q(batch_id=values["batch_id"])
    if left:
        mine &= ~Q(pk__in=[values[f"left_{index}"] for index in range(left)])
    if within_batch:
        # Within one batch the (reader, batch, status, position) index gives the answer without a sort,
        # so the query stays flat however long the queue is (bench/next_exam.py).
        order: tuple[str, ...] = ("position",)
    elif status == Assignment.Status.PENDING:
        order = ("batch__due_date", "batch_id", "position")
    else:
        order = ("batch_id", "position")
    return Assignment.objects.filter(mine).order_by(*order).values_list("pk")[:1]


# Built once per process: it runs on every submit and skip, where building it cost more CPU than running
# it (prepared.py).
_NEXT = PreparedQuery(_next_row)


def assignment_next_id_for_reader(
    user: User,
    *,
    batch_id: int | None = None,
    after: Assignment | None = None,
    skip_ids: tuple[int, ...] = (),
) -> int | None:
    """The id of the next exam to read, in the reader's own randomised order: unread exams first, then
    drafts. With `after`, the one being left is skipped over, so "submit and next" never returns it.

    Only the id: every caller sends the reader there."""
    if not has_role(user, Role.READER):
        return None
    left = [*([after.pk] if after is not None else []), *skip_ids]
    values = {f"left_{index}": pk for index, pk in enumerate(left)}
    if batch_id is not None:
        values["batch_id"] = batch_id
    for status in OPEN:  # unread first, then drafts
        rows = _NEXT.rows(shape=(batch_id is not None, len(left), status), reader_id=user.pk, **values)
        if rows:
            first: int = rows[0][0]
            return first
    return None


def assignment_left_off_id_for_reader(user: User, *, batch_id: int | None = None) -> int | None:
    """The draft the reader was working on when they left (of this batch, or of any): the read they
    changed last, provided nothing of theirs was submitted or skipped after it. None otherwise, and then
    "Continue" goes on in queue order. A reader who logged out mid-exam expects to come back to it, not to
    find it behind every unread exam of the batch."""
    if not has_role(user, Role.READER):
        return None
    mine = Assignment.objects.filter(reader_id=user.pk, batch__status=ReviewBatch.Status.ACTIVE)
    if batch_id is not None:
        mine = mine.filter(batch_id=batch_id)
    last = (
        Annotation.objects.filter(
            assignment__in=mine.filter(status=Assignment.Status.IN_PROGRESS), is_current=True
        )
        .order_by("-updated_at")
        .values_list("assignment_id", "updated_at")
        .first()
    )
    if last is None:
        return None
    assignment_id, changed_at = last
    moved_on = mine.filter(Q(submitted_at__gt=changed_at) | Q(skipped_at__gt=changed_at)).exists()
    return None if moved_on else assignment_id


def assignment_next_for_reader(
    user: User,
    *,
    batch_id: int | None = None,
    after: Assignment | None = None,
    skip_ids: tuple[int, ...] = (),
) -> Assignment | None:
    """assignment_next_id_for_reader's assignment itself."""
    pk = assignment_next_id_for_reader(user, batch_id=batch_id, after=after, skip_ids=skip_ids)
    return None if pk is None else Assignment.objects.get(pk=pk)
