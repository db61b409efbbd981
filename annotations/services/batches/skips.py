"""Handing a skipped slot on: a coordinator gives the exam a reader set aside to another reader.

A skip is not a read, so the exam is one read short. The new slot goes to a reader of the same batch
who may read the exam by the one cross-batch rule (selectors.blinding) and who holds no read of it in any
batch, at a random place among that reader's unread exams, so nothing in the queue tells them the exam
was skipped by someone else.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from annotations.errors import Conflict, Forbidden, NotFound
from annotations.models import Assignment, ReviewBatch
from annotations.roles import Role, has_role
from annotations.selectors.batches.access import batch_reader_ids
from annotations.selectors.blinding import batch_seen_elsewhere, exam_reader_eligible, readers_seen_before
from annotations.selectors.users import blind_refusal
from annotations.services.audit import audit_record
from annotations.services.batches.lifecycle import BatchDesignError

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Positions are shifted in two statements (up by this much, then back down by one less) so that no row
# ever collides with another on the (batch, reader, position) unique constraint mid-update.
_SHIFT = 1_000_000_000


class HandOnError(BatchDesignError):
    """The reader asked for cannot take the slot (not a reader of the batch): bad input."""


class HandOnConflict(Conflict, HandOnError):
    """The slot or the exam's state forbids it (not skipped, already handed on, the reader already holds
    a read of the exam or saw its dispute, the batch is closed)."""


def _refuse_reader(batch: ReviewBatch, skipped: Assignment, reader: User) -> None:
    name = reader.get_username()
    if not has_role(reader, Role.READER):
        raise HandOnError(_("%(name)s is not a reader") % {"name": name})
    if blind_refusal([reader]):
        raise HandOnError(blind_refusal([reader]))
    if reader.pk not in batch_reader_ids(batch):
        raise HandOnError(
            _("%(name)s is not a reader of batch “%(batch)s”; add them to the batch first")
            % {"name": name, "batch": batch.name}
        )
    held = Assignment.objects.filter(reader=reader, exam_id=skipped.exam_id).select_related("batch").first()
    if held is not None:
        raise HandOnConflict(
            _(
                "%(name)s has already been given this exam (batch “%(batch)s”); a second read by the same "
                "reader would not be independent"
            )
            % {"name": name, "batch": held.batch.name}
        )
    if not exam_reader_eligible(reader.pk, skipped.exam_id):
        raise HandOnConflict(
            _("%(name)s adjudicated this exam or saw its dispute, so cannot read it blind") % {"name": name}
        )
    seen = readers_seen_before([reader.pk], [skipped.exam_id])[reader.pk]
    if seen["read"]:
        raise HandOnConflict(
            _(
                "%(name)s read this ECG under another exam (a copy of its waveform); a second read would not "
                "be independent"
            )
            % {"name": name}
        )
    if batch_seen_elsewhere(batch, [reader.pk], [skipped.exam_id]).get(reader.pk):
        raise HandOnConflict(
            _(
                "%(name)s saw this exam's model suggestion elsewhere, and batch “%(batch)s” keeps readers "
                "away from exams they have seen"
            )
            % {"name": name, "batch": batch.name}
        )


def _random_unread_position(batch: ReviewBatch, reader_id: int) -> int:
    """A uniformly drawn place among the reader's unread exams (before one of them, or after the last),
    made free by moving the later part of the queue down by one. Never before the exam on the reader's
    screen (their first open slot): it would move on, and the new exam would come next, named by its place."""
    mine = Assignment.objects.filter(batch=batch, reader_id=reader_id)
    open_slots = mine.filter(status__in=[Assignment.Status.PENDING, Assignment.Status.IN_PROGRESS])
    current = open_slots.order_by("position").values_list("position", flat=True).first()
    unread = list(
        mine.filter(status=Assignment.Status.PENDING, position__gt=-1 if current is None else current)
        .order_by("position")
        .values_list("position", flat=True)
    )
    slot = secrets.randbelow(len(unread) + 1)
    if slot == len(unread):
        last = mine.order_by("-position").values_list("position", flat=True).first()
        return 0 if last is None else last + 1
    position = unread[slot]
    later = mine.filter(position__gte=position)
    later.update(position=F("position") + _SHIFT)
    mine.filter(position__gte=_SHIFT).update(position=F("position") - (_SHIFT - 1))
    return position


def _skipped_slot_locked(batch: ReviewBatch, assignment_id: int) -> Assignment:
    """The batch's skipped slot, locked, provided it may still be handed on."""
    skipped = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("reader")
        .filter(pk=assignment_id, batch=batch)
        .first()
    )
    if skipped is None:
        raise NotFound(_("no such assignment in this batch"))
    if skipped.status != Assignment.Status.SKIPPED:
        raise HandOnConflict(
            _("only a skipped exam can be handed on; this one is %(status)s")
            % {"status": skipped.get_status_display().lower()}
        )
    if skipped.read_round != 1:
        raise HandOnConflict(_("a retest re-read measures its own reader; it cannot be handed on"))
    given = Assignment.objects.filter(replaces=skipped).select_related("reader").first()
    if given is not None:
        raise HandOnConflict(
            _("this skipped exam was already handed to %(name)s") % {"name": given.reader.get_username()}
        )
    return skipped


def assignment_hand_on(*, actor: User, batch: ReviewBatch, assignment_id: int, reader: User) -> Assignment:
    """Give a skipped slot of the batch to another reader of it: a new pending read of the same exam.

    Refused (HandOnError: 400) for someone who is not a reader of the batch, and (HandOnConflict: 409)
    for a slot that is not skipped or was already handed on, a reader who holds a read of the exam in
    any batch or adjudicated it or saw its dispute, and a closed batch. Nothing changes when refused.
    """
    if not has_role(actor, Role.COORDINATOR):
        raise Forbidden(_("only coordinators hand skipped exams on"))
    with transaction.atomic():
        # The batch lock orders this with reassigning, rebalancing and escalation, which move queues too.
        locked_batch = ReviewBatch.objects.select_for_update().get(pk=batch.pk)
        if locked_batch.status == ReviewBatch.Status.CLOSED:
            raise HandOnConflict(_("batch “%(batch)s” is closed") % {"batch": locked_batch.name})
        skipped = _skipped_slot_locked(locked_batch, assignment_id)
        _refuse_reader(locked_batch, skipped, reader)
        position = _random_unread_position(locked_batch, reader.pk)
        new = Assignment.objects.create(
            batch=locked_batch,
            exam_id=skipped.exam_id,
            reader=reader,
            read_round=skipped.read_round,
            position=position,
            replaces=skipped,
            escalated=skipped.escalated,  # an escalation read handed on is still one
            assigned_at=timezone.now(),
        )
        audit_record(
            actor=actor,
            action="assignment.hand_on",
            target=new,
            before={"assignment": skipped.pk, "reader": skipped.reader.get_username()},
            after={"reader": reader.get_username(), "exam": skipped.exam_id, "position": position},
        )
    return new
