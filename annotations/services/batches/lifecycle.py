"""Creating review batches (as designed by lib.batch_design) and closing them; the rules every change
of a batch shares. Running batches' queues: services.batches.queues; escalation:
services.batches.escalation."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone
from django.utils.translation import gettext as _

from annotations.errors import Conflict, Forbidden, Invalid
from annotations.lib.batch_design import Design, DesignError, DesignRequest, design_batch
from annotations.lib.ecg.blind_measurements import SETTINGS
from annotations.models import Assignment, BatchExam, Exam, ReviewBatch, Taxonomy
from annotations.roles import Role, has_role
from annotations.selectors.agreement.rules import AgreementConfigError, consensus_rule
from annotations.selectors.batches.escalation import escalation_rule
from annotations.selectors.batches.wording import design_error_text, problems_text
from annotations.selectors.blinding import (
    design_exclusions,
    kept_back_reasons,
    kept_back_summary,
    pseudonym_order,
    reader_barred_pairs,
    readers_seen_before,
)
from annotations.selectors.users import blind_refusal
from annotations.services.audit import audit_record
from annotations.services.suggestions import batch_suggestions_enqueue
from annotations.services.taxonomy import taxonomy_freeze
from annotations.services.webhooks.events import batch_completed_emit

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import Model

    from annotations.selectors.batches.plan import BatchPlan
    from annotations.selectors.exams.selection import ExamCriteria

# How a disputed exam is escalated (services.batches.escalation), as a batch's design names it.
ESCALATE_ADD_READER = "add_reader"  # then the adjudicator settles every disagreement left
# Then the batch's consensus rule settles what the extra reads decide (the tie-breaking third reader of
# a two-reader protocol); only what it cannot decide (a tie, an uncertain latent estimate) is adjudicated.
ESCALATE_ADD_READER_MAJORITY = "add_reader_majority"
ESCALATE_ADJUDICATE = "adjudicate"
ESCALATIONS = (ESCALATE_ADD_READER, ESCALATE_ADD_READER_MAJORITY, ESCALATE_ADJUDICATE)


class BatchDesignError(Invalid):
    """A batch that cannot be built as asked; the message says why."""


class BatchStateConflict(Conflict, BatchDesignError):
    """A running batch that cannot take the change in its present state (closed, or its queues cannot
    place the new exams): a conflict with the batch, not bad input."""


def require_coordinator(actor: User) -> None:
    if not has_role(actor, Role.COORDINATOR):
        raise Forbidden(_("only coordinators change batches"))


def require_open(batch: ReviewBatch) -> None:
    if batch.status == ReviewBatch.Status.CLOSED:
        raise BatchStateConflict(_("batch “%(batch)s” is closed") % {"batch": batch.name})


def queue_end(batch: ReviewBatch, reader_id: int) -> int:
    last = Assignment.objects.filter(batch=batch, reader_id=reader_id).order_by("-position").first()
    return last.position + 1 if last else 0


def require_readers(readers: Sequence[Any]) -> None:
    not_readers = [r.get_username() for r in readers if not has_role(r, Role.READER)]
    if not_readers:
        raise BatchDesignError(_("not readers: %(names)s") % {"names": ", ".join(not_readers)})
    refused = blind_refusal(readers)
    if refused:
        raise BatchDesignError(refused)


def _designed(
    request: DesignRequest,
    escalation: dict[str, Any] | None,
    planned: tuple[DesignRequest, Design] | None = None,
) -> Design:
    """The design, or the reason it cannot meet its goals (refused before anything is written). A planned
    design (the preview's) is taken when it was made from the same request, exclusions included; a design
    is a function of its request, and 100,000 exams take seconds to design again."""
    try:
        design = planned[1] if planned and planned[0] == request else design_batch(request)
    except DesignError as error:
        raise BatchDesignError(design_error_text(error)) from None
    if design.problems:
        raise BatchDesignError(problems_text(design.problems))
    if escalation and escalation.get("mode") not in ESCALATIONS:
        raise BatchDesignError(
            _("unknown escalation “%(mode)s”; use %(modes)s")
            % {"mode": escalation.get("mode"), "modes": ", ".join(ESCALATIONS)}
        )
    return design


def _design_notes(
    notes: dict[str, Any] | None,
    escalation: dict[str, Any] | None,
    request: DesignRequest,
    design: Design,
    independence: tuple[bool, str, dict[str, Any]],
    serial_comparison: bool,
    blind_measurements: str,
) -> dict[str, Any]:
    """The batch's ``design``: the caller's notes, how it was designed, and what its readers are shown
    (selectors.reading.priors reads serial_comparison, selectors.reading.context
    device_measurements_shown, selectors.reading.blind_measurements blind_measurements)."""
    return {
        **(notes or {}),
        "serial_comparison": serial_comparison,
        # Kept beside the setting for what reads it (printouts, the dashboard, earlier releases' cards).
        "device_measurements_shown": blind_measurements != "none",
        "blind_measurements": blind_measurements,
        "escalation": escalation or None,
        "reader_ids": sorted(request.reader_ids),
        "gold_exams": len(request.gold_exam_ids),
        "retest_fraction": request.retest_fraction,
        # Fewer retests than the fraction asked, where the queues could not hold them.
        "retests_asked": design.retests_asked,
        "retests_unplaced": design.retests_unplaced,
        "min_pair_overlap_asked": request.min_pair_overlap,
        "min_pair_overlap": design.min_pair_overlap,
        # One person, one independent read per exam: on unless turned off with a reason (selectors.blinding
        # batch_excludes_seen), and what it kept from whom at the design.
        "exclude_seen": independence[0],
        **({"independence_off_reason": independence[1]} if not independence[0] else {}),
        "kept_back": independence[2],
    }


def _members_create(batch: ReviewBatch, request: DesignRequest, design: Design) -> None:
    """The batch's exams (gold ones read by every reader) and every reader's queue, every slot pending."""
    exam_ids = np.array(request.exam_ids, dtype=np.int64)
    gold = np.isin(exam_ids, np.array(request.gold_exam_ids, dtype=np.int64))
    rows_insert(
        BatchExam,
        {
            "batch_id": batch.pk,
            "exam_id": exam_ids,
            "target_reads": np.where(gold, len(request.reader_ids), request.readers_per_exam),
            "is_gold": gold,
            "needs_adjudication": False,
        },
        len(exam_ids),
    )
    # The slots' fields (reader, exam, round, position, gold) as columns, without a tuple per slot, in
    # exam order: the foreign-key checks at commit then look each exam up k times in a row, walking the
    # exam table and its index in order, and the indexes that lead with the exam fill in order (the COPY
    # and checks of a 100k-exam batch took 9-12 s in queue order, 7-9 s in exam order).
    slots = np.fromiter(
        itertools.chain.from_iterable(design.slots), dtype=np.int64, count=5 * len(design.slots)
    ).reshape(-1, 5)
    slots = slots[np.lexsort((slots[:, 2], slots[:, 0], slots[:, 1]))]
    rows_insert(
        Assignment,
        {
            "batch_id": batch.pk,
            "exam_id": slots[:, 1],
            "reader_id": slots[:, 0],
            "read_round": slots[:, 2],
            "position": slots[:, 3],
            "status": Assignment.Status.PENDING.value,
            "skip_reason": "",
            "assigned_at": timezone.now(),
        },
        len(slots),
    )


# How PostgreSQL's binary COPY sends each column type, and where its timestamps count from.
_BINARY_TYPES = {"bigint": ">i8", "integer": ">i4", "smallint": ">i2", "boolean": "?"}
_POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _column(model: type[Model], attname: str) -> str:
    """The column of one of the model's concrete fields."""
    field = model._meta.get_field(attname)
    assert isinstance(field, Field) and field.column
    return field.column


def rows_insert(model: type[Model], columns: dict[str, object], count: int) -> None:
    """Insert `count` rows of `columns` (attnames; the others are nullable and left empty), each an array
    of `count` values or one value every row shares. On PostgreSQL by one binary COPY built in numpy: a
    100,000-exam batch is 300,000 slots, which as the ORM's INSERT took minutes and as a COPY row by row
    (a tuple per slot, each value formatted) seconds of Python."""
    if connection.vendor != "postgresql":
        values = {c: v.tolist() if isinstance(v, np.ndarray) else [v] * count for c, v in columns.items()}
        model._default_manager.bulk_create(
            model(**dict(zip(values, row, strict=True))) for row in zip(*values.values(), strict=True)
        )
        return
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(_column(model, c)) for c in columns)
    data = _binary_rows(model, columns, count)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            for start in range(0, len(data), 1 << 20):
                copy.write(data[start : start + (1 << 20)])


def _binary_rows(model: type[Model], columns: dict[str, object], count: int) -> memoryview:
    """PostgreSQL's binary COPY of the rows: an 11-byte signature and two 32-bit zeros (flags, header
    extension), per row a 16-bit column count and per column a 32-bit length and the big-endian value,
    then a 16-bit -1. Every row has the same layout (shared strings and times, fixed-width numbers), so
    the rows are one numpy record array. Timestamps go as microseconds since 2000-01-01 UTC."""
    layout: list[tuple[str, str]] = [("columns", ">i2")]
    values: dict[str, object] = {"columns": len(columns)}
    for i, (name, value) in enumerate(columns.items()):
        db_type = model._meta.get_field(name).db_type(connection)
        if isinstance(value, datetime):
            if db_type != "timestamp with time zone":
                raise TypeError(f"{name} is {db_type}, not a timestamp with time zone")
            kind, value = ">i8", (value - _POSTGRES_EPOCH) // timedelta(microseconds=1)
        elif isinstance(value, str):
            value = value.encode()
            kind = f"S{len(value)}" if value else ""
        else:
            kind = _BINARY_TYPES[db_type or ""]
        layout.append((f"length{i}", ">i4"))
        values[f"length{i}"] = np.dtype(kind).itemsize if kind else 0
        if kind:
            layout.append((f"value{i}", kind))
            values[f"value{i}"] = value
    rows = np.empty(count, dtype=np.dtype(layout))
    for field, value in values.items():
        rows[field] = value
    return memoryview(b"PGCOPY\n\xff\r\n\x00" + bytes(8) + rows.tobytes() + b"\xff\xff")


SAMPLE_NOTES = ("matching_exams", "sample_size", "sample_shortfall")


def _create_audit(
    actor: User, batch: ReviewBatch, request: DesignRequest, design: Design, readers: Sequence[Any]
) -> None:
    audit_record(
        actor=actor,
        action="batch.create",
        target=batch,
        after={
            "name": batch.name,
            "taxonomy": f"{batch.taxonomy.key} {batch.taxonomy.version}",
            "exams": len(request.exam_ids),
            "gold": len(set(request.gold_exam_ids)),
            "retest_fraction": request.retest_fraction,
            "retests_asked": design.retests_asked,
            "retests_unplaced": design.retests_unplaced,
            "min_pair_overlap": design.min_pair_overlap,
            "readers": sorted(r.get_username() for r in readers),
            "k": batch.readers_per_exam,
            "suggestion_mode": batch.suggestion_mode,
            "serial_comparison": batch.design["serial_comparison"],
            "device_measurements_shown": batch.design["device_measurements_shown"],
            "blind_measurements": batch.design["blind_measurements"],
            "seed": batch.seed,
            "exclude_seen": batch.design["exclude_seen"],
            "independence_off_reason": batch.design.get("independence_off_reason"),
            "kept_back": batch.design["kept_back"],
            "escalation": batch.design["escalation"],
            # A designed batch's sample: asked for, and how far the matching exams fell short of it.
            **{key: batch.design[key] for key in SAMPLE_NOTES if key in batch.design},
        },
    )


# Longer than most only by its keyword signature, which every caller (pages, API, commands, seeds, tests)
# names argument by argument; each step is a helper above.
def batch_create(
    *,
    name: str,
    taxonomy: Taxonomy,
    exams: Sequence[Exam | int],
    readers: Sequence[Any],
    readers_per_exam: int,
    actor: User,
    suggestion_mode: str = ReviewBatch.SuggestionMode.HIDDEN,
    seed: int = 0,
    start: bool = True,
    gold_exams: Sequence[Exam | int] = (),
    retest_fraction: float = 0.0,
    min_pair_overlap: int = 0,
    due_date: date | None = None,
    design_notes: dict[str, Any] | None = None,
    escalation: dict[str, Any] | None = None,
    exclude_seen: bool = True,
    independence_off_reason: str = "",
    serial_comparison: bool = False,
    device_measurements_shown: bool = False,
    blind_measurements: str | None = None,
    planned: tuple[DesignRequest, Design] | None = None,
    consensus: dict[str, Any] | None = None,
) -> ReviewBatch:
    """Create a batch with k readers per exam, each reader's queue in its own seeded random order.

    The design (lib.batch_design) is computed first; goals it cannot meet are refused here with its
    explanation, so a coordinator never starts a batch whose agreement cannot be estimated as asked.
    No reader is handed an exam whose dispute they saw (selectors.blinding); unless independence is
    turned off (exclude_seen False, refused without `independence_off_reason`), nor one they read, skipped
    or saw the suggestion of in another batch. Exams may be given as ids; `planned` is a
    preview's (request, design), stored as it is when nothing it was designed from changed since.
    """
    if not has_role(actor, Role.COORDINATOR):
        raise Forbidden(_("only coordinators create batches"))
    require_readers(readers)
    reason = independence_reason(exclude_seen, independence_off_reason)
    shown_measurements = blind_measurements_chosen(blind_measurements, device_measurements_shown)
    exam_ids, reader_ids = _pks(exams), [reader.pk for reader in readers]
    excluded, kept_back = independent_exclusions(readers, exam_ids, exclude_seen)
    request = DesignRequest(
        exam_ids=exam_ids,
        reader_ids=reader_ids,
        readers_per_exam=readers_per_exam,
        seed=seed,
        gold_exam_ids=_pks(gold_exams),
        retest_fraction=retest_fraction,
        min_pair_overlap=min_pair_overlap,
        excluded=excluded,
    )
    design = _designed(request, escalation, planned)
    escalation = escalation_rule(taxonomy.pk, escalation)  # refuses a trigger naming an unknown class
    notes = dict(design_notes or {})
    if consensus is not None:
        try:
            notes["consensus"] = consensus_rule(consensus)
        except AgreementConfigError as error:
            raise BatchDesignError(str(error)) from None
    now = timezone.now()
    with transaction.atomic():
        taxonomy_freeze(taxonomy, actor=actor)
        batch = ReviewBatch.objects.create(
            name=name,
            taxonomy=taxonomy,
            readers_per_exam=readers_per_exam,
            suggestion_mode=suggestion_mode,
            seed=seed,
            created_by=actor,
            status=ReviewBatch.Status.ACTIVE if start else ReviewBatch.Status.DRAFT,
            started_at=now if start else None,
            due_date=due_date,
            design=_design_notes(
                notes,
                escalation,
                request,
                design,
                (exclude_seen, reason, kept_back),
                serial_comparison,
                shown_measurements,
            ),
        )
        pseudonyms_keep(batch, reader_ids)
        _members_create(batch, request, design)
        _create_audit(actor, batch, request, design, readers)
        # After commit: the worker must see the batch's rows; a broker error is logged, never raised.
        transaction.on_commit(lambda: batch_suggestions_enqueue(batch.pk))
    return batch


def blind_measurements_chosen(setting: str | None, device_measurements_shown: bool) -> str:
    """The blind_measurements setting a batch is made with: the one asked for (refused unless one of
    SETTINGS), at least "cart" where the older device_measurements_shown option asks for the cart's."""
    if setting is not None and setting not in SETTINGS:
        raise BatchDesignError(
            _("unknown blind_measurements “%(value)s”; use %(settings)s")
            % {"value": setting, "settings": ", ".join(SETTINGS)}
        )
    setting = setting or "none"
    return "cart" if setting == "none" and device_measurements_shown else setting


def independence_reason(exclude_seen: bool, reason: str | None) -> str:
    """The reason given for turning independent reads off, stripped; refused when off without one (two
    reads of an exam by one person are not independent: whoever wants them says why, for the record)."""
    reason = (reason or "").strip()
    if not exclude_seen and not reason:
        raise BatchDesignError(
            _(
                "say why readers may be handed exams they already read, skipped or saw the suggestion of "
                "(independence_off_reason): two reads of an exam by one person are not independent"
            )
        )
    return reason[:500] if not exclude_seen else ""


def independent_exclusions(
    readers: Sequence[Any], exam_ids: list[int], exclude_seen: bool
) -> tuple[dict[int, set[int]], dict[str, Any]]:
    """(reader id -> exams kept from them, what the coordinator is told of it: selectors.blinding
    kept_back_summary), for a design of `exam_ids`."""
    reader_ids = [reader.pk for reader in readers]
    barred = reader_barred_pairs(reader_ids, exam_ids)
    seen = readers_seen_before(reader_ids, exam_ids) if exclude_seen else {}
    excluded = design_exclusions(reader_ids, exam_ids, exclude_seen=exclude_seen, barred=barred, seen=seen)
    reasons = kept_back_reasons(excluded, barred=barred, seen=seen)
    names = {reader.pk: reader.get_username() for reader in readers}
    return excluded, kept_back_summary(reasons, names, len(set().union(*excluded.values())))


def _pks(exams: Sequence[Exam | int]) -> list[int]:
    return [exam if isinstance(exam, int) else exam.pk for exam in exams]


def pseudonyms_keep(batch: ReviewBatch, reader_ids: Iterable[int]) -> None:
    """Fix the "Reader A, B, C" letters of the batch's readers so far, and deal the next letters to
    `reader_ids` not yet lettered: letters never move once an adjudicator may have seen them."""
    order = pseudonym_order(batch)
    fresh = [r for r in pseudonym_order(batch, extra=reader_ids) if r not in order]
    if (batch.design or {}).get("pseudonym_order") == order and not fresh:
        return
    batch.design = {**(batch.design or {}), "pseudonym_order": order + fresh}
    batch.save(update_fields=["design"])


def batch_close(*, batch: ReviewBatch, actor: User) -> ReviewBatch:
    """Close a batch: its unread exams are no longer handed out; what was read stays."""
    require_coordinator(actor)
    with transaction.atomic():
        batch = ReviewBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status == ReviewBatch.Status.CLOSED:
            return batch
        before = batch.status
        batch.status = ReviewBatch.Status.CLOSED
        batch.closed_at = timezone.now()
        batch.save(update_fields=["status", "closed_at"])
        unread = Assignment.objects.filter(batch=batch, status=Assignment.Status.PENDING).count()
        audit_record(
            actor=actor,
            action="batch.close",
            target=batch,
            before={"status": before},
            after={"status": batch.status, "unread_left": unread},
        )
        batch_completed_emit(batch)
    return batch


def _criteria_record(criteria: ExamCriteria) -> dict[str, Any]:
    """The designer's criteria as JSON data: lists as lists, dates as ISO dates, numbers as numbers, so the
    record reads back as the choice it was (exam_criteria takes it again)."""

    def value(v: object) -> object:
        if isinstance(v, date):
            return v.isoformat()
        if isinstance(v, list | tuple):
            return list(v)
        return v

    return {name: value(v) for name, v in vars(criteria).items()}


def batch_create_from_plan(*, plan: BatchPlan, actor: User, start: bool = True) -> ReviewBatch:
    """Create the batch a coordinator previewed (selectors.batch_plan), exactly as planned."""
    spec = plan.spec
    notes = {
        "matching_exams": plan.matching,
        "copies_left_out": plan.copies_left_out,
        "criteria": _criteria_record(spec.criteria),
        "sample_size": spec.sample_size,
        "sample_shortfall": plan.sample_shortfall,
        "stratified_by": f"{spec.stratify_provider}:{spec.stratify_code}" if plan.stratified else None,
        "strata_taken": plan.stratified.taken if plan.stratified else None,
    }
    return batch_create(
        name=spec.name,
        taxonomy=plan.taxonomy,
        exams=plan.exam_ids,
        readers=plan.readers,
        readers_per_exam=spec.readers_per_exam,
        actor=actor,
        suggestion_mode=spec.suggestion_mode,
        seed=spec.seed,
        start=start,
        gold_exams=plan.gold_exam_ids,
        retest_fraction=spec.retest_fraction,
        min_pair_overlap=spec.min_pair_overlap,
        due_date=spec.due_date,
        design_notes=notes,
        escalation=plan.escalation_rule,
        consensus={
            "method": spec.consensus_method,
            "threshold": spec.consensus_threshold,
            "latent_margin": spec.latent_margin,
        },
        exclude_seen=spec.exclude_seen,
        independence_off_reason=spec.independence_off_reason,
        serial_comparison=spec.serial_comparison,
        device_measurements_shown=spec.device_measurements_shown,
        blind_measurements=spec.blind_measurements,
        planned=(plan.request, plan.design) if plan.request else None,
    )
