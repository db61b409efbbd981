"""What a reader sees while reading: only their own assignments and their own reads.

Blinding is enforced here, on the server: every query is filtered by the requesting reader, and the
reading context carries nothing about other readers (not their labels, not how many read the exam, not
consensus, not the labels that came with the import, not the gold flag). An assignment that is not the
reader's answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import storages
from django.db import router
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import get_language, gettext

from annotations.errors import Conflict, Invalid, NotFound
from annotations.lib.ecg import waveform as waveform_codec
from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.ecg.measurement_tolerance import TOLERANCES, compared
from annotations.lib.ecg.median_beat import fiducial_marks, median_beat
from annotations.lib.qualifiers import label_snapshot
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
from annotations.selectors.reading.blind_measurements import (
    blind_measurements_panel,
    blind_measurements_setting,
)
from annotations.selectors.reading.prepared import PreparedQuery
from annotations.selectors.reading.refs import assignment_ref, assignment_ref_or_none
from annotations.selectors.reading.skip_reasons import skip_reason_shown
from annotations.selectors.suggestions.scoring import META, class_rationale, source_code, stored_rationale
from annotations.selectors.suggestions.titles import provider_title
from annotations.selectors.taxonomy import group_label, qualifier_label

logger = logging.getLogger(__name__)
OPEN = (Assignment.Status.PENDING, Assignment.Status.IN_PROGRESS)


def waveform_etag(scope: str, exam) -> str:
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


def _reader_assignments(user) -> QuerySet[Assignment]:
    if not has_role(user, Role.READER):
        return Assignment.objects.none()
    # A slot the system closed (a retest withdrawn, a draft set aside) is no longer the reader's.
    return Assignment.objects.filter(reader=user, batch__status=ReviewBatch.Status.ACTIVE).exclude(
        closed_without_read()
    )


def assignment_for_reader(user, assignment_id: int) -> Assignment:
    """The reader's own assignment in an active batch; 404 for anything else."""
    try:
        return (
            _reader_assignments(user).select_related("exam", "batch", "batch__taxonomy").get(pk=assignment_id)
        )
    except Assignment.DoesNotExist:
        raise NotFound(gettext("no such assignment")) from None


# The largest id a bigint column holds: a longer number is no batch (SQLite's driver overflows on it).
_MAX_ID = 2**63 - 1


def reader_batch_named(user, raw: str | None) -> int | None:
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


def _refused_as_closed(user, assignment_id: int) -> BatchClosed | None:
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


def _fields(model) -> list[str]:
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


def assignment_for_reader_locked(user, assignment_id: int) -> Assignment:
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
    assignment, batch, taxonomy = instances
    batch.taxonomy = taxonomy
    assignment.batch = batch
    assignment.first_shown_at = row[-1]
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
    user, *, batch_id: int | None = None, after: Assignment | None = None, skip_ids: tuple[int, ...] = ()
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
            return rows[0][0]
    return None


def assignment_left_off_id_for_reader(user, *, batch_id: int | None = None) -> int | None:
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
    user, *, batch_id: int | None = None, after: Assignment | None = None, skip_ids: tuple[int, ...] = ()
) -> Assignment | None:
    """assignment_next_id_for_reader's assignment itself."""
    pk = assignment_next_id_for_reader(user, batch_id=batch_id, after=after, skip_ids=skip_ids)
    return None if pk is None else Assignment.objects.get(pk=pk)


def _current_annotation(assignment: Assignment) -> Annotation | None:
    return assignment.annotations.filter(is_current=True).prefetch_related("labels__diagnostic_class").first()


def _labels(annotation: Annotation | None) -> list[dict[str, Any]]:
    if annotation is None:
        return []
    return [
        label_snapshot(label.diagnostic_class.code, label.uncertain, label.qualifiers)
        for label in annotation.labels.all()
    ]


def suggestion_visible(assignment: Assignment, annotation: Annotation | None) -> Suggestion | None:
    """The model suggestion this reader may see now, by the batch's mode."""
    mode = assignment.batch.suggestion_mode
    if mode == ReviewBatch.SuggestionMode.SHOWN:
        return suggestion_for_exam(assignment.exam_id)
    if mode == ReviewBatch.SuggestionMode.TWO_STAGE and annotation is not None:
        if annotation.stage == Annotation.Stage.REVISED:
            exposure = (
                SuggestionExposure.objects.filter(assignment=assignment, reader_id=assignment.reader_id)
                .select_related("suggestion")
                .first()
            )
            return exposure.suggestion if exposure else None
    return None


def suggestion_shown_on_open(assignment: Assignment) -> Suggestion | None:
    """In "shown" batches the suggestion is on screen from the start; the caller records that."""
    if assignment.batch.suggestion_mode != ReviewBatch.SuggestionMode.SHOWN:
        return None
    return suggestion_for_exam(assignment.exam_id)


# Measurements a reader is shown beside the suggested statements (the rest stay for the evidence).
READER_MEASUREMENTS = (
    "heart_rate_bpm",
    "pr_ms",
    "qrs_ms",
    "qt_ms",
    "qtc_bazett_ms",
    "qtc_fridericia_ms",
    "qrs_axis_deg",
)


def _suggestion_json(
    suggestion: Suggestion | None, portuguese: bool, taxonomy_id: int
) -> dict[str, Any] | None:
    if suggestion is None:
        return None
    # Only this batch's statements: the same suggestion also carries scores for other taxonomies.
    scores = (
        suggestion.scores.filter(diagnostic_class__taxonomy_id=taxonomy_id)
        .select_related("diagnostic_class")
        .order_by("-score")
    )
    stored = suggestion.measurements or {}
    thresholds = (stored.get(META) or {}).get("thresholds", {})
    rationale = stored_rationale(stored)
    return {
        "provider": suggestion.provider,
        "title": provider_title(suggestion.provider),
        "version": suggestion.provider_version,
        "scores": [
            {
                "code": s.diagnostic_class.code,
                "name": (s.diagnostic_class.name_pt if portuguese else "") or s.diagnostic_class.name,
                "score": round(s.score, 3),
                "suggested": s.score >= thresholds.get(source_code(s.diagnostic_class), 0.5),
                # Why a rule scored it (criterion, source, finding): it goes with the score, so it is seen
                # exactly where and when the score is.
                "rationale": class_rationale(s.diagnostic_class, rationale),
            }
            for s in scores
        ],
        "measurements": {key: stored.get(key) for key in READER_MEASUREMENTS if key in stored},
    }


# The measurements table beside the median beat: the shown provider's global measurements.
PANEL_MEASUREMENTS = (
    "heart_rate_bpm",
    "pr_ms",
    "qrs_ms",
    "qt_ms",
    "qtc_bazett_ms",
    "qtc_fridericia_ms",
    "p_axis_deg",
    "qrs_axis_deg",
    "t_axis_deg",
)
MEDIAN_CACHE_S = 7 * 24 * 3600  # keyed by content, so never stale: the timeout only bounds the memory


def standard_leads_mv(exam) -> np.ndarray | None:
    """The exam's 12 standard leads in millivolts, in STANDARD_LEADS order; None when one is missing or
    the blob cannot be read. What the median beat and the blind measurements are computed from."""
    if any(lead not in exam.lead_names for lead in STANDARD_LEADS):
        return None
    try:
        with storages["waveforms"].open(exam.waveform_key, "rb") as handle:
            samples = waveform_codec.decode(handle.read())
    except (OSError, ValueError):
        logger.warning("waveform of exam %s unreadable", exam.pk)
        return None
    order = [exam.lead_names.index(lead) for lead in STANDARD_LEADS]
    return samples[order].astype(np.float64) * (exam.gain_uv / 1000.0)


def _median_beat_compute(exam) -> dict[str, Any] | None:
    """The exam's median beat, or None when its blob cannot be read or holds no usable R-peak series."""
    leads = standard_leads_mv(exam)
    if leads is None:
        return None
    beat = median_beat(leads, exam.sampling_rate)
    return None if beat is None else beat.as_json(list(STANDARD_LEADS))


def _median_beat_cached(exam) -> dict[str, Any] | None:
    """Computed on demand (7-17 ms for 10-43 s strips, tests/exams/test_median_beat.py), under the 30 ms
    that would call for storing it with the suggestions; cached by waveform content in the shared cache
    ({} for "no beat"), which is optional: a cache that is down costs the computation, never the page."""
    key = f"median-beat:v1:{exam.waveform_sha256}"
    try:
        cached = cache.get(key)
    except Exception:
        logger.warning("median beat: the cache is down")
        cached = None
    if cached is not None:
        return cached or None
    computed = _median_beat_compute(exam)
    try:
        cache.set(key, computed or {}, timeout=MEDIAN_CACHE_S)
    except Exception:
        logger.warning("median beat: the cache is down")
    return computed


def median_panel(exam, suggestion: Suggestion | None, *, device_shown: bool = False) -> dict[str, Any] | None:
    """The median beat with fiducial marks and the measurements table, only with a suggestion the viewer
    may see now: the marks and numbers are the model's, so they are blinded exactly like its statements
    (a reader's shown suggestion; the suggestion an adjudicator's case shows).

    device_shown: the viewer may see the recording cart's own measurements (a batch designed to show them);
    the table then gives the cart's value beside the model's, and how far apart they are against the
    tolerances of lib.ecg.measurement_tolerance. Otherwise `device` is None, as the exam's is."""
    if suggestion is None:
        return None
    stored = suggestion.measurements or {}
    beat = _median_beat_cached(exam)
    if beat is not None:
        intervals = {key: stored.get(key) for key in ("pr_ms", "qrs_ms", "qt_ms")}
        beat = {**beat, "marks": fiducial_marks(beat["qrs_onset_ms"], **intervals)}
    measurements = {key: stored[key] for key in PANEL_MEASUREMENTS if key in stored}
    given = (exam.device_measurements or {}) if device_shown else {}
    device = {key: given[key] for key in PANEL_MEASUREMENTS if key in given} if device_shown else None
    return {
        "provider": suggestion.provider,
        "title": provider_title(suggestion.provider),
        "measurements": measurements,
        "beat": beat,
        "device": device,
        "differences": compared(device, measurements) if device else {},
        "tolerances": dict(TOLERANCES),
    }


# The statement list of frozen taxonomies, by (taxonomy id, frozen_at, language). A batch's taxonomy is
# frozen when the batch is made and a change is a new version (services.taxonomy), so the list every
# exam's context carries is built once per process and language instead of on every exam opened or
# prefetched (a sixth of the context's time on the server).
_FROZEN_TAXONOMY_JSON: dict[tuple[Any, ...], dict[str, Any]] = {}


def _taxonomy_json(assignment: Assignment, portuguese: bool) -> dict[str, Any]:
    """The batch's statements by group, named in the reader's language. Shared between requests once the
    taxonomy is frozen: callers serialise it and never change it."""
    taxonomy = assignment.batch.taxonomy
    if taxonomy.frozen_at is None:
        return _taxonomy_json_built(taxonomy, portuguese)
    key = (taxonomy.pk, taxonomy.frozen_at, get_language(), portuguese)
    built = _FROZEN_TAXONOMY_JSON.get(key)
    if built is None:
        if len(_FROZEN_TAXONOMY_JSON) >= 64:  # a handful of taxonomies and languages; never unbounded
            _FROZEN_TAXONOMY_JSON.clear()
        built = _FROZEN_TAXONOMY_JSON[key] = _taxonomy_json_built(taxonomy, portuguese)
    return built


def _taxonomy_json_built(taxonomy, portuguese: bool) -> dict[str, Any]:
    classes = list(taxonomy.classes.order_by("position"))
    groups = []
    for group in taxonomy.groups:
        members = [c for c in classes if c.group == group]
        groups.append(
            {
                "key": group,
                "label": str(group_label(group)),
                "classes": [
                    {
                        "code": c.code,
                        "label": (c.name_pt if portuguese else "") or c.name,
                        "name": c.name,
                        "name_pt": c.name_pt,
                        "synonyms": c.synonyms,
                        "kind": c.kind,
                        "qualifiers": [{"key": q, "label": qualifier_label(q)} for q in c.qualifiers],
                    }
                    for c in members
                ],
            }
        )
    return {"groups": groups, "exclusive_sets": taxonomy.exclusive_sets}


def _queue_counts(user, assignment: Assignment, about_to_close: int | None = None) -> dict[str, Any]:
    """about_to_close: the exam on screen while this one is prefetched; the page shows these counts
    only after that exam is submitted or skipped, so it no longer counts as open.

    The assignment was found in an active batch of the reader's, so its slots are counted without the
    batch's row: joined to it, PostgreSQL scanned the whole assignment table for a reader of a 100 k-exam
    batch; counted by status, the (reader, batch, status, position) index answers alone (bench/scale.py)."""
    by_status = dict(
        Assignment.objects.filter(reader=user, batch_id=assignment.batch_id)
        .values_list("status")
        .annotate(slots=Count("pk"))
        .order_by()
    )
    still_open = sum(by_status.get(status, 0) for status in OPEN)
    if about_to_close and still_open:
        leaving = Assignment.objects.filter(
            pk=about_to_close, reader=user, batch_id=assignment.batch_id, status__in=OPEN
        )
        still_open -= leaving.exists()
    return {"total": sum(by_status.values()), "open": still_open}


def _assignment_json(user, assignment: Assignment, coming_from: int | None) -> dict[str, Any]:
    return {
        "id": assignment_ref(assignment.pk),  # never the database id (selectors.reading.refs)
        "status": assignment.status,
        "skip_code": assignment.skip_code,
        # The reader's own, shown when they reopen the skip: a listed reason in the page's language.
        "skip_reason": skip_reason_shown(assignment.skip_code, assignment.skip_reason),
        "position": assignment.position + 1,
        "batch": assignment.batch.name,
        "batch_id": assignment.batch_id,
        "suggestion_mode": assignment.batch.suggestion_mode,
        "queue": _queue_counts(user, assignment, coming_from),
        "page_url": reverse("reader", args=[assignment.pk]),
    }


def device_measurements_shown(batch) -> bool:
    """Whether the batch's readers see the recording cart's own measurements: its blind_measurements
    setting is "cart" or "cart_and_computed" (selectors.reading.blind_measurements)."""
    return blind_measurements_setting(batch) != "none"


def _moment(value) -> str | None:
    """An aware moment as the API writes times (ISO 8601, "Z" for UTC), in the server's time zone."""
    if value is None:
        return None
    return localtime(value).isoformat().replace("+00:00", "Z")


def _exam_json(assignment: Assignment) -> dict[str, Any]:
    """The patient's context: when the exam was acquired, age and sex (None where not recorded), so that
    the interval to an earlier ECG can be judged; no dataset, no external id, no patient id. The cart's
    measurements only in a batch designed to show them (they are the exam's, never anybody's labels)."""
    exam = assignment.exam
    shown = device_measurements_shown(assignment.batch)
    return {
        "acquired_at": _moment(exam.acquired_at),
        "age": exam.age,
        "sex": exam.sex,
        "sampling_rate": exam.sampling_rate,
        "n_samples": exam.n_samples,
        "lead_names": exam.lead_names,
        "gain_uv": exam.gain_uv,
        "waveform_url": reverse("api-reading-waveform", args=[assignment.pk]),
        "waveform_etag": waveform_etag(f"assignment:{assignment.pk}", exam),
        # None where the batch does not show them; {} where it does and the exam's file gave none.
        "device_measurements": dict(exam.device_measurements or {}) if shown else None,
    }


def _annotation_json(assignment: Assignment, annotation: Annotation | None) -> dict[str, Any]:
    """The reader's current read; a revised read carries the reader's own blind read beside it."""
    blind = None
    if annotation is not None and annotation.stage == Annotation.Stage.REVISED:
        blind_read = assignment.annotations.filter(stage=Annotation.Stage.BLIND).first()
        blind = {"labels": _labels(blind_read)} if blind_read else None
    return {
        "stage": annotation.stage if annotation else None,
        "status": annotation.status if annotation else None,
        "revision": annotation.revision if annotation else 0,
        "labels": _labels(annotation),
        "comment": annotation.comment if annotation else "",
        "time_on_task_ms": annotation.time_on_task_ms if annotation else 0,
        "blind": blind,
    }


def reading_context(
    user,
    assignment: Assignment,
    *,
    prefetch: bool = False,
    coming_from: int | None = None,
    shown: Suggestion | None = None,
) -> dict[str, Any]:
    """Everything the reader page needs for one of the reader's assignments, and nothing more.

    prefetch: the page is fetching the next exam ahead of time; the suggestion (and the median beat
    panel, which goes with it) is left out, because it is not on the reader's screen yet (it is
    fetched again, and recorded, when the exam opens).
    coming_from: the exam the reader is on while prefetching; it is about to be submitted, so the exam
    after the prefetched one must not be it.
    shown: the suggestion suggestion_shown_on_open found (the caller recorded it), not looked up again.
    """
    portuguese = (get_language() or "").lower().startswith("pt")
    annotation = _current_annotation(assignment)
    annotation_json = _annotation_json(assignment, annotation)
    skip = (coming_from,) if coming_from else ()
    following = assignment_next_id_for_reader(
        user, batch_id=assignment.batch_id, after=assignment, skip_ids=skip
    )
    suggestion = None if prefetch else shown or suggestion_visible(assignment, annotation)
    # Imported here: the priors module builds on this one's assignment lookup and cache tokens.
    from annotations.selectors.reading.corrections import reading_correction
    from annotations.selectors.reading.priors import prior_exams

    return {
        "assignment": _assignment_json(user, assignment, coming_from),
        "exam": _exam_json(assignment),
        "taxonomy": _taxonomy_json(assignment, portuguese),
        "annotation": annotation_json,
        "suggestion": _suggestion_json(suggestion, portuguese, assignment.batch.taxonomy_id),
        "median": median_panel(
            assignment.exam, suggestion, device_shown=device_measurements_shown(assignment.batch)
        ),
        # The exam's measurements by the batch's setting, blind reads included: never a statement or score.
        "measurements": blind_measurements_panel(
            assignment.exam, blind_measurements_setting(assignment.batch)
        ),
        "priors": prior_exams(assignment),
        "next_assignment_id": assignment_ref_or_none(following),
        "correction": reading_correction(assignment, annotation),
    }
