"""Batch progress for coordinators, computed by the database: counts, medians, reads per day.

Nothing here loads every annotation as a model into Python: per-reader figures are grouped aggregates,
the quartiles of time on task are numpy's over one integer column per reader (read by binary COPY on
PostgreSQL), and reads per day are grouped by date in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    SmallIntegerField,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, TruncDate
from django.utils.translation import gettext as _

from annotations.errors import Invalid
from annotations.models import (
    Adjudication,
    AgreementResult,
    Annotation,
    Assignment,
    BatchExam,
    Consensus,
    DisputedLabel,
    Exam,
    ReviewBatch,
)
from annotations.roles import Role, has_role
from annotations.selectors.agreement.tables import gold_truths
from annotations.selectors.batches.access import batch_reader_ids, require_coordinator
from annotations.selectors.batches.closures import closed_for_good, closed_without_read
from annotations.selectors.blinding import (
    batch_seen_elsewhere,
    exams_no_adjudicator_may_take,
    reader_barred_pairs,
    readers_seen_before,
)
from annotations.selectors.exams.selection import _copied
from annotations.selectors.reading.blind_measurements import blind_measurements_setting
from annotations.selectors.reading.skip_reasons import reader_skip_choices, skip_reason_shown

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# A skip is not a read: reads done are submitted ones; skipped slots are counted (and listed) apart.
SUBMITTED = Assignment.Status.SUBMITTED
SKIPPED = Assignment.Status.SKIPPED
OPEN = [Assignment.Status.PENDING, Assignment.Status.IN_PROGRESS]


@dataclass(frozen=True)
class ReaderProgress:
    reader_id: int
    username: str
    total: int
    done: int  # submitted reads only
    skipped: int
    drafts: int
    median_seconds: float | None
    q1_seconds: float | None
    q3_seconds: float | None
    last_activity: datetime | None
    gold_exact: int
    gold_read: int
    left: bool = False  # deactivated, or no longer a reader

    @property
    def remaining(self) -> int:
        return self.total - self.done - self.skipped


def _submitted_annotations(batch: ReviewBatch) -> QuerySet[Annotation]:
    return Annotation.objects.filter(
        assignment__batch=batch, is_current=True, status=Annotation.Status.SUBMITTED
    )


def _slot_reads(batch: ReviewBatch) -> np.ndarray:
    """PostgreSQL: each slot of the batch as (exam, reader, kind, ms) in one binary COPY, kind 1 for an
    open slot, 2 for a submitted first read, 0 otherwise, ms the time on task its submit copied onto it
    or -1. The coverage and the quartiles are counted from it in numpy: grouped per exam and sorted per
    reader in the database, the batch's 300k slots and reads were aggregated once per parallel worker and
    spilled to disk (0.5-0.9 s and 0.4-0.5 s), and joined to their reads for the times, 0.5 s."""
    kind = Case(
        When(status__in=OPEN, then=Value(1)),
        When(status=SUBMITTED, read_round=1, then=Value(2)),
        default=Value(0),
    )
    rows = (
        Assignment.objects.filter(batch=batch)
        .order_by()
        # Cast: binary COPY is read at exactly the declared widths.
        .values(
            "exam_id",
            "reader_id",
            kind=Cast(kind, SmallIntegerField()),
            ms=Cast(Coalesce("time_on_task_ms", Value(-1)), IntegerField()),
        )
    )
    sql, params = rows.query.sql_with_params()
    return _copied(sql, params, [("exam", ">i8"), ("reader", ">i4"), ("kind", ">i2"), ("ms", ">i4")])


def _reads_of(batch: ReviewBatch) -> np.ndarray | None:
    """The slot reads on PostgreSQL; None on SQLite (the single-laptop default), which computes the same
    figures in SQL and from one integer column per reader."""
    return _slot_reads(batch) if connection.vendor == "postgresql" else None


def _time_quartiles(
    batch: ReviewBatch, reads: np.ndarray | None
) -> dict[int, tuple[float | None, float | None, float | None]]:
    """Per reader: quartiles of time on task in seconds, interpolated between reads as PostgreSQL's
    percentile_cont and statistics.quantiles(method="inclusive") do."""
    if reads is not None:
        timed = reads[reads["ms"] >= 0]
        readers, ms = timed["reader"].astype(np.int64), timed["ms"].astype(np.float64)
    else:
        rows = Assignment.objects.filter(batch=batch, status=SUBMITTED, time_on_task_ms__isnull=False)
        pairs = np.array(list(rows.order_by().values_list("reader_id", "time_on_task_ms")), dtype=np.int64)
        pairs = pairs.reshape(-1, 2)
        readers, ms = pairs[:, 0], pairs[:, 1].astype(np.float64)
    out: dict[int, tuple[float | None, float | None, float | None]] = {}
    for reader_id in np.unique(readers):
        q1, q2, q3 = np.percentile(ms[readers == reader_id], [25, 50, 75]) / 1000
        out[int(reader_id)] = (float(q1), float(q2), float(q3))
    return out


def _gold_scores(batch: ReviewBatch) -> dict[int, tuple[int, int]]:
    """Per reader: (gold exams read right, gold exams read). Right: every known finding marked and none
    added among the classes the exam's reference speaks for (gold_truths), the rule of the agreement
    page's gold accuracy, so that both count the same exams; a class the reference is silent on is
    neither right nor wrong."""
    truths = {exam: truth for exam, truth in gold_truths(batch).items() if truth[0]}
    if not truths:
        return {}
    scores: dict[int, list[int]] = {}
    annotations = _submitted_annotations(batch).filter(
        assignment__exam_id__in=truths, assignment__read_round=1
    )
    for annotation in annotations.select_related("assignment").prefetch_related("labels"):
        covered, present = truths[annotation.assignment.exam_id]
        chosen = {label.diagnostic_class_id for label in annotation.labels.all()}
        right, read = scores.setdefault(annotation.assignment.reader_id, [0, 0])
        scores[annotation.assignment.reader_id] = [right + (chosen & covered == present), read + 1]
    return {reader: (right, read) for reader, (right, read) in scores.items()}


def _slot_counts(batch: ReviewBatch) -> list[dict[str, Any]]:
    """The batch's slots counted per reader and day of submission (None for slots not submitted), in
    one pass: the readers' table, the coverage totals and the reads per day are sums of these few rows,
    where three queries read the batch's 300k slots three times. Usernames come apart: joined here, the
    users table was joined to every slot before grouping (7x slower)."""
    return list(slot_count_rows(batch))


def slot_count_rows(batch: ReviewBatch) -> QuerySet[Assignment, Any]:
    """_slot_counts' query. PostgreSQL knows how few (reader, day) pairs there are from the statistics of
    migration 0035; without them it expected one group per slot, and so grouped in one process."""
    return (
        Assignment.objects.filter(batch=batch)
        .exclude(closed_without_read())  # nobody's slots any more: not a skip, not to do
        .values("reader_id", day=TruncDate("submitted_at"))
        .annotate(
            total=Count("id"),
            done=Count("id", filter=Q(status=SUBMITTED)),
            skipped=Count("id", filter=Q(status=SKIPPED)),
            drafts=Count("id", filter=Q(status=Assignment.Status.IN_PROGRESS)),
            last=Max("submitted_at"),
            # A skip is the reader's doing too: their last activity (a reader who only skipped had none).
            last_skip=Max("skipped_at"),
        )
        .order_by()
    )


def _still_reading(users: QuerySet[User]) -> set[int]:
    """Of these accounts, those active and holding the reader role: the others left the study, and what
    they have not read waits on the coordinator (services.batches.queues.batch_reassign)."""
    return set(users.filter(is_active=True, groups__name=Role.READER.value).values_list("pk", flat=True))


def _per_reader(slots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    users = get_user_model().objects.filter(pk__in={row["reader_id"] for row in slots})
    names = dict(users.values_list("pk", "username"))
    reading = _still_reading(users)
    readers: dict[int, dict[str, Any]] = {}
    for row in slots:
        reader = readers.setdefault(
            row["reader_id"],
            {
                "reader_id": row["reader_id"],
                "username": names[row["reader_id"]],
                "last": None,
                "left": row["reader_id"] not in reading,
            }
            | dict.fromkeys(("total", "done", "skipped", "drafts"), 0),
        )
        for name in ("total", "done", "skipped", "drafts"):
            reader[name] += row[name]
        for moment in (row["last"], row.get("last_skip")):
            if moment is not None and (reader["last"] is None or moment > reader["last"]):
                reader["last"] = moment
    return sorted(readers.values(), key=lambda reader: reader["username"])


def batch_reader_progress(
    user: User, batch: ReviewBatch, slots: list[dict[str, Any]] | None = None, reads: np.ndarray | None = None
) -> list[ReaderProgress]:
    require_coordinator(user)
    counts = _per_reader(_slot_counts(batch) if slots is None else slots)
    quartiles = _time_quartiles(batch, _reads_of(batch) if reads is None else reads)
    gold = _gold_scores(batch)
    return [
        ReaderProgress(
            reader_id=row["reader_id"],
            username=row["username"],
            total=row["total"],
            done=row["done"],
            skipped=row["skipped"],
            drafts=row["drafts"],
            q1_seconds=quartiles.get(row["reader_id"], (None,) * 3)[0],
            median_seconds=quartiles.get(row["reader_id"], (None,) * 3)[1],
            q3_seconds=quartiles.get(row["reader_id"], (None,) * 3)[2],
            last_activity=row["last"],
            gold_exact=gold.get(row["reader_id"], (0, 0))[0],
            gold_read=gold.get(row["reader_id"], (0, 0))[1],
            left=row["left"],
        )
        for row in counts
    ]


# Per exam of the batch: its open slots and submitted first reads, grouped once over the batch's own
# slots and joined to its exams by hash. Correlated subqueries per exam (two index probes for each of
# 100k exams) took 4 s; a join of exams and slots in every batch took 0.6 s at 30k exams. The ORM cannot
# join a grouped subquery, hence SQL; CASE rather than FILTER, for the SQLite default too.
_EXAMS_COMPLETE_SQL = """
SELECT COUNT(*), COALESCE(SUM(CASE WHEN COALESCE(s.open_slots, 0) = 0
                                    AND COALESCE(s.first_reads, 0) >= m.target_reads THEN 1 ELSE 0 END), 0)
FROM {members} m LEFT JOIN (
    SELECT exam_id,
           SUM(CASE WHEN status IN (%s, %s) THEN 1 ELSE 0 END) AS open_slots,
           SUM(CASE WHEN status = %s AND read_round = 1 THEN 1 ELSE 0 END) AS first_reads
    FROM {slots} WHERE batch_id = %s GROUP BY exam_id
) s ON s.exam_id = m.exam_id
WHERE m.batch_id = %s
"""


def _exams_complete(batch: ReviewBatch, reads: np.ndarray | None) -> tuple[int, int]:
    """(exams, exams fully read): nothing open, and as many submitted first reads as the exam needs."""
    if reads is not None:
        return _exams_complete_counted(batch, reads)
    sql = _EXAMS_COMPLETE_SQL.format(members=BatchExam._meta.db_table, slots=Assignment._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*OPEN, SUBMITTED, batch.pk, batch.pk])
        exams, complete = cursor.fetchone()
    return exams, complete


def _exams_complete_counted(batch: ReviewBatch, reads: np.ndarray) -> tuple[int, int]:
    """_exams_complete from the batch's members and its slot reads, counted in numpy."""
    members = BatchExam.objects.filter(batch=batch).order_by("exam_id").values("exam_id", "target_reads")
    sql, params = members.query.sql_with_params()
    exams = _copied(sql, params, [("exam", ">i8"), ("target", ">i2")])
    member_ids = exams["exam"].astype(np.int64)
    if not len(member_ids):
        return 0, 0
    slot_exams = reads["exam"].astype(np.int64)
    at = np.minimum(np.searchsorted(member_ids, slot_exams), len(member_ids) - 1)
    mine = member_ids[at] == slot_exams  # as the join: slots of exams no longer in the batch count for none
    open_slots = np.bincount(at[mine & (reads["kind"] == 1)], minlength=len(member_ids))
    first_reads = np.bincount(at[mine & (reads["kind"] == 2)], minlength=len(member_ids))
    return len(member_ids), int(np.count_nonzero((open_slots == 0) & (first_reads >= exams["target"])))


def batch_coverage(
    user: User, batch: ReviewBatch, slots: list[dict[str, Any]] | None = None, reads: np.ndarray | None = None
) -> dict[str, Any]:
    """Exams fully read (nothing open, and as many submitted first reads as the exam needs), reads
    submitted out of all slots, and skipped slots apart: a skip is not a read."""
    require_coordinator(user)
    slots = _slot_counts(batch) if slots is None else slots
    exams, complete = _exams_complete(batch, _reads_of(batch) if reads is None else reads)
    return {
        "exams": exams,
        "exams_complete": complete,
        "reads": sum(row["total"] for row in slots),
        "reads_done": sum(row["done"] for row in slots),
        "skipped": sum(row["skipped"] for row in slots),
    }


@dataclass(frozen=True)
class StuckDisputes:
    exams: list[str]  # dataset/external id of each
    adjudicators: int  # active accounts with the role: none at all is a different fix from all of them read


def batch_exams_without_adjudicator(user: User, batch: ReviewBatch) -> StuckDisputes:
    """The names (dataset/external id) of the batch's exams whose open dispute no adjudicator may take
    (selectors.blinding.exams_no_adjudicator_may_take), for the coordinator to act on."""
    require_coordinator(user)
    stuck = exams_no_adjudicator_may_take(batch.pk)
    if not stuck:
        return StuckDisputes(exams=[], adjudicators=0)
    named = Exam.objects.filter(pk__in=stuck).select_related("dataset").order_by("pk")
    adjudicators = get_user_model().objects.filter(is_active=True, groups__name=Role.ADJUDICATOR.value)
    return StuckDisputes(
        exams=[f"{exam.dataset.name}/{exam.external_id}" for exam in named], adjudicators=adjudicators.count()
    )


def batch_skips(user: User, batch: ReviewBatch) -> list[dict[str, Any]]:
    """Every skipped slot of the batch with its reason, oldest first, and whom it was handed on to."""
    require_coordinator(user)
    rows = list(
        Assignment.objects.filter(batch=batch, status=SKIPPED)
        .exclude(closed_for_good())
        .select_related("reader", "exam__dataset", "handed_on_as__reader")
        .order_by("skipped_at", "pk")
    )
    open_rows = [a for a in rows if _handed_to(a) is None and a.read_round == 1]
    candidates = skip_hand_on_candidates(batch, [a.exam_id for a in open_rows]) if open_rows else {}
    return [
        {
            "assignment_id": a.pk,
            "reader": a.reader.get_username(),
            "reader_id": a.reader_id,
            "exam_id": a.exam_id,
            "exam": f"{a.exam.dataset.name}/{a.exam.external_id}",
            "read_round": a.read_round,
            "code": a.skip_code,
            "reason": skip_reason_shown(a.skip_code, a.skip_reason),  # in the viewer's language
            "skipped_at": a.skipped_at.isoformat() if a.skipped_at else None,
            "handed_to": _handed_to(a),
            "candidates": candidates.get(a.exam_id, []),
        }
        for a in rows
    ]


def batch_skip_counts(user: User, batch: ReviewBatch) -> list[dict[str, Any]]:
    """The readers' skips of the batch per reason, every listed reason in the list's order (zero
    included), labelled in the viewer's language. The system's closures are nobody's skip: not counted."""
    require_coordinator(user)
    counts = dict(
        Assignment.objects.filter(batch=batch, status=SKIPPED, closed_by_system=False)
        .values_list("skip_code")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [
        {"code": code, "label": label, "count": counts.get(code, 0)} for code, label in reader_skip_choices()
    ]


def skip_hand_on_candidates(batch: ReviewBatch, exam_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Per exam: the batch's readers a skipped slot of it may be handed to, by the one rule of who may
    read an exam (selectors.blinding) and never to anyone who already holds a read of it anywhere."""
    readers = [
        r
        for r in get_user_model().objects.filter(pk__in=batch_reader_ids(batch)).order_by("username")
        if has_role(r, Role.READER)
    ]
    ids = [r.pk for r in readers]
    barred = reader_barred_pairs(ids, exam_ids)
    # A read of the exam, or of a copy of its waveform, anywhere; and what exclude_seen keeps away.
    seen = readers_seen_before(ids, exam_ids)
    elsewhere = batch_seen_elsewhere(batch, ids, exam_ids)
    kept = {r: barred.get(r, set()) | seen[r]["read"] | elsewhere.get(r, set()) for r in ids}
    return {
        exam_id: [{"id": r.pk, "username": r.get_username()} for r in readers if exam_id not in kept[r.pk]]
        for exam_id in exam_ids
    }


def _handed_to(assignment: Assignment) -> str | None:
    try:
        return assignment.handed_on_as.reader.get_username()
    except Assignment.DoesNotExist:
        return None


def batch_reads_per_day(
    user: User, batch: ReviewBatch, slots: list[dict[str, Any]] | None = None
) -> list[tuple[str, int]]:
    require_coordinator(user)
    days: dict[date, int] = {}
    for row in _slot_counts(batch) if slots is None else slots:
        if row["day"] is not None and row["done"]:
            days[row["day"]] = days.get(row["day"], 0) + row["done"]
    return [(day.isoformat(), reads) for day, reads in sorted(days.items())]


def batch_progress(user: User, batch: ReviewBatch) -> dict[str, Any]:
    """Everything the dashboard shows, as JSON-ready data."""
    slots, reads = _slot_counts(batch), _reads_of(batch)
    readers = batch_reader_progress(user, batch, slots, reads)
    coverage = batch_coverage(user, batch, slots, reads)
    return {
        "batch": {
            "id": batch.pk,
            "name": batch.name,
            "status": batch.status,
            "serial_comparison": bool((batch.design or {}).get("serial_comparison")),
            "device_measurements_shown": bool((batch.design or {}).get("device_measurements_shown")),
            "blind_measurements": blind_measurements_setting(batch),
        },
        "reads_done": coverage["reads_done"],
        "skipped": coverage["skipped"],
        "coverage": coverage,
        "readers": [
            {
                **vars(r),
                "remaining": r.remaining,
                "last_activity": r.last_activity.isoformat() if r.last_activity else None,
            }
            for r in readers
        ],
        "reads_per_day": batch_reads_per_day(user, batch, slots),
        "skips": batch_skips(user, batch),
        "skip_counts": batch_skip_counts(user, batch),
        # Readers who left with exams still theirs to read: nobody will, until the coordinator moves them.
        "waiting_on_departed": [
            {"username": r.username, "unread": r.remaining}
            for r in readers
            if r.left and r.remaining and batch.status != ReviewBatch.Status.CLOSED
        ],
    }


# --- Per-exam status table -------------------------------------------------------------------------------
# A batch can hold 100k exams: the table is one keyset page at a time, every figure computed by the
# database as a correlated subquery over one page of BatchExam rows.
EXAM_STATES = ("reading", "short", "awaiting_agreement", "disputed", "consensus")
EXAM_PAGE_SIZE = 50
EXAM_PAGE_SIZE_MAX = 200


class ExamTableError(Invalid):
    """A filter or page argument the table does not understand."""


def _count_of(queryset: QuerySet[Any, Any]) -> Coalesce:
    # order_by() first: a model's default ordering would join its ordering columns into the grouping
    # (Assignment's joined the batch table into every count).
    counted = queryset.order_by().values("exam_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _covered_by_agreement(batch: ReviewBatch) -> tuple[dict[str, Any], Q]:
    """(annotations, condition) telling the exams whose last read the stored agreement was computed from.
    Consensus rows are stored only for classes some read marked: an exam every read left blank (a
    taxonomy with "none of these") has its consensus, "nothing present", once the stored agreement was
    computed from its last read."""
    computed_up_to = (
        AgreementResult.objects.filter(batch=batch).values_list("latest_submission_at", flat=True).first()
    )
    if computed_up_to is None:
        return {}, Q(pk__in=[])  # never
    last_read = Subquery(
        Annotation.objects.filter(
            assignment__batch=batch,
            assignment__exam_id=OuterRef("exam_id"),
            assignment__read_round=1,
            assignment__status=SUBMITTED,
            is_current=True,
            status=Annotation.Status.SUBMITTED,
        )
        .order_by("-submitted_at")
        .values("submitted_at")[:1]
    )
    return {"last_read": last_read}, Q(last_read__lte=computed_up_to)


def _exam_status_rows(batch: ReviewBatch) -> QuerySet[Any, Any]:
    slots = Assignment.objects.filter(batch=batch, exam_id=OuterRef("exam_id"))
    adjudicated = Adjudication.objects.filter(
        batch=batch, exam_id=OuterRef("exam_id"), diagnostic_class_id=OuterRef("diagnostic_class_id")
    )
    open_disputes = DisputedLabel.objects.filter(batch=batch, exam_id=OuterRef("exam_id")).exclude(
        Exists(adjudicated)
    )
    extra, covered = _covered_by_agreement(batch)
    return (
        BatchExam.objects.filter(batch=batch)
        .annotate(
            submitted=_count_of(slots.filter(status=SUBMITTED, read_round=1)),
            # A retest re-read is no first read: the exam's state does not wait for it.
            open_reads=_count_of(slots.filter(status__in=OPEN, read_round=1)),
            skips=_count_of(slots.filter(status=SKIPPED).exclude(closed_for_good())),
            disputes=_count_of(open_disputes),
            # A scalar subquery with LIMIT 1, probed per row of the page: as EXISTS, PostgreSQL may hash
            # every consensus row of the batch first (227k at 100k exams: 0.8 s for a 50-row page).
            consensus_row=Subquery(
                Consensus.objects.filter(batch=batch, exam_id=OuterRef("exam_id")).values("pk")[:1]
            ),
            **extra,
        )
        .annotate(
            state=Case(
                When(open_reads__gt=0, then=Value("reading")),
                # Nobody holds an open read and a skip left it short: it waits on the coordinator (a hand-on
                # or another reader), not on a reader.
                When(Q(submitted__lt=F("target_reads")) & Q(skips__gt=0), then=Value("short")),
                When(submitted__lt=F("target_reads"), then=Value("reading")),
                When(disputes__gt=0, then=Value("disputed")),
                When(Q(consensus_row__isnull=False) | covered, then=Value("consensus")),
                default=Value("awaiting_agreement"),
                output_field=CharField(),
            )
        )
    )


def batch_exam_table(
    user: User,
    batch: ReviewBatch,
    *,
    state: str | None = None,
    after: int | None = None,
    size: int = EXAM_PAGE_SIZE,
) -> dict[str, Any]:
    """One page of the batch's exams in BatchExam order after `after`, optionally of one state, with
    the key of the next page (None on the last one)."""
    require_coordinator(user)
    if state and state not in EXAM_STATES:
        raise ExamTableError(
            _("unknown exam status “%(state)s”; one of %(states)s")
            % {"state": state, "states": ", ".join(EXAM_STATES)}
        )
    if not 1 <= size <= EXAM_PAGE_SIZE_MAX:
        raise ExamTableError(_("page size must be between 1 and %(most)s") % {"most": EXAM_PAGE_SIZE_MAX})
    rows = _exam_status_rows(batch)
    if state == "disputed":
        # A cheap necessary condition first, so the per-exam counts run on the few disputed exams only.
        rows = rows.filter(Exists(DisputedLabel.objects.filter(batch=batch, exam_id=OuterRef("exam_id"))))
    if state:
        rows = rows.filter(state=state)
    if after is not None:
        rows = rows.filter(pk__gt=after)
    page = list(rows.select_related("exam__dataset").order_by("pk")[: size + 1])
    more = len(page) > size
    page = page[:size]
    return {
        "rows": [
            {
                "exam_id": row.exam_id,
                "exam": f"{row.exam.dataset.name}/{row.exam.external_id}",
                "is_gold": row.is_gold,
                "submitted": row.submitted,
                "target": row.target_reads,
                "skips": row.skips,
                "disputes": row.disputes,
                "state": row.state,
            }
            for row in page
        ],
        "next_after": page[-1].pk if more else None,
        "state": state or "",
        "size": size,
    }


def batch_reader_candidates(batch: ReviewBatch) -> QuerySet[User]:
    """Active readers not yet in the batch: whom "add readers" may offer."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name=Role.READER.value)
        .exclude(pk__in=batch_reader_ids(batch))
        .order_by("username")
    )
