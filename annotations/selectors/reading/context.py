"""The reader's payload: everything the reading page draws for one assignment, built for the reader who
asks (selectors.reading.assignments finds the assignment; this module says what of it they may see).

Blinding holds here as there: the context carries nothing about other readers (not their labels, not how
many read the exam, not consensus, not the labels that came with the import, not the gold flag), and a
suggestion only where the batch shows one to this reader.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Count
from django.urls import reverse
from django.utils.translation import get_language

from annotations.lib.qualifiers import label_snapshot
from annotations.models import (
    Annotation,
    Assignment,
    ReviewBatch,
    Suggestion,
    SuggestionExposure,
)
from annotations.selectors.reading.assignments import (
    OPEN,
    assignment_next_id_for_reader,
    suggestion_for_exam,
    waveform_etag,
)
from annotations.selectors.reading.blind_measurements import (
    blind_measurements_panel,
    blind_measurements_setting,
)
from annotations.selectors.reading.corrections import Correction, reading_correction
from annotations.selectors.reading.median_beat import median_panel
from annotations.selectors.reading.priors import prior_exams
from annotations.selectors.reading.refs import assignment_ref, assignment_ref_or_none
from annotations.selectors.reading.skip_reasons import skip_reason_shown
from annotations.selectors.suggestions.scoring import META, class_rationale, source_code, stored_rationale
from annotations.selectors.suggestions.titles import provider_title
from annotations.selectors.taxonomy import group_label, qualifier_label

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from annotations.models import ReviewBatch, Taxonomy

logger = logging.getLogger(__name__)
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


# The statement list of frozen taxonomies, by (taxonomy id, frozen_at, language). A batch's taxonomy is
# frozen when the batch is made and a change is a new version (services.taxonomy), so the list every
# exam's context carries is built once per process and language instead of on every exam opened or
# prefetched (a sixth of the context's time on the server).
_FROZEN_TAXONOMY_JSON: dict[tuple[Any, ...], dict[str, Any]] = {}


# What the context is made of: one typed shape per part, which the API's serializers
# (annotations.api.reading.ReadingContextSerializer) read attribute by attribute, so the answer and its
# published schema cannot part. The statement list, the median and blind-measurement panels and the priors
# stay the dicts their own modules build (the statement list is cached as one; the adjudication case page
# carries the priors into its script as they are).
@dataclass(frozen=True, slots=True)
class QueueCounts:
    total: int
    open: int


@dataclass(frozen=True, slots=True)
class ContextAssignment:
    id: str  # never the database id (selectors.reading.refs)
    status: str
    skip_code: str
    skip_reason: str
    position: int
    batch: str
    batch_id: int
    suggestion_mode: str
    queue: QueueCounts
    page_url: str


@dataclass(frozen=True, slots=True)
class ContextExam:
    acquired_at: datetime | None
    age: int | None
    sex: str
    sampling_rate: float
    n_samples: int
    lead_names: list[str]
    gain_uv: float
    waveform_url: str
    waveform_etag: str
    device_measurements: dict[str, float] | None


@dataclass(frozen=True, slots=True)
class BlindRead:
    labels: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ContextAnnotation:
    stage: str | None
    status: str | None
    revision: int
    labels: list[dict[str, Any]]
    comment: str
    time_on_task_ms: int
    blind: BlindRead | None


@dataclass(frozen=True, slots=True)
class SuggestedScore:
    code: str
    name: str
    score: float
    suggested: bool
    rationale: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class ContextSuggestion:
    provider: str
    title: str
    version: str
    scores: list[SuggestedScore]
    measurements: dict[str, float | None]


@dataclass(frozen=True, slots=True)
class ReadingContext:
    assignment: ContextAssignment
    exam: ContextExam
    taxonomy: dict[str, Any]
    annotation: ContextAnnotation
    suggestion: ContextSuggestion | None
    median: dict[str, Any] | None
    measurements: dict[str, Any]
    priors: list[dict[str, Any]]
    next_assignment_id: str | None
    correction: Correction


def current_annotation(assignment: Assignment) -> Annotation | None:
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


def _suggestion_shown(
    suggestion: Suggestion | None, portuguese: bool, taxonomy_id: int
) -> ContextSuggestion | None:
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
    return ContextSuggestion(
        provider=suggestion.provider,
        title=str(provider_title(suggestion.provider)),
        version=suggestion.provider_version,
        scores=[
            SuggestedScore(
                code=s.diagnostic_class.code,
                name=(s.diagnostic_class.name_pt if portuguese else "") or s.diagnostic_class.name,
                score=round(s.score, 3),
                suggested=s.score >= thresholds.get(source_code(s.diagnostic_class), 0.5),
                # Why a rule scored it (criterion, source, finding): it goes with the score, so it is seen
                # exactly where and when the score is.
                rationale=class_rationale(s.diagnostic_class, rationale),
            )
            for s in scores
        ],
        measurements={key: stored.get(key) for key in READER_MEASUREMENTS if key in stored},
    )


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


def _taxonomy_json_built(taxonomy: Taxonomy, portuguese: bool) -> dict[str, Any]:
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


def _queue_counts(user: User, assignment: Assignment, about_to_close: int | None = None) -> QueueCounts:
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
    return QueueCounts(total=sum(by_status.values()), open=still_open)


def _assignment_shown(user: User, assignment: Assignment, coming_from: int | None) -> ContextAssignment:
    return ContextAssignment(
        id=assignment_ref(assignment.pk),
        status=assignment.status,
        skip_code=assignment.skip_code,
        # The reader's own, shown when they reopen the skip: a listed reason in the page's language.
        skip_reason=skip_reason_shown(assignment.skip_code, assignment.skip_reason),
        position=assignment.position + 1,
        batch=assignment.batch.name,
        batch_id=assignment.batch_id,
        suggestion_mode=assignment.batch.suggestion_mode,
        queue=_queue_counts(user, assignment, coming_from),
        page_url=reverse("reader", args=[assignment.pk]),
    )


def device_measurements_shown(batch: ReviewBatch) -> bool:
    """Whether the batch's readers see the recording cart's own measurements: its blind_measurements
    setting is "cart" or "cart_and_computed" (selectors.reading.blind_measurements)."""
    return blind_measurements_setting(batch) != "none"


def _exam_shown(assignment: Assignment) -> ContextExam:
    """The patient's context: when the exam was acquired, age and sex (None where not recorded), so that
    the interval to an earlier ECG can be judged; no dataset, no external id, no patient id. The cart's
    measurements only in a batch designed to show them (they are the exam's, never anybody's labels)."""
    exam = assignment.exam
    shown = device_measurements_shown(assignment.batch)
    return ContextExam(
        acquired_at=exam.acquired_at,
        age=exam.age,
        sex=exam.sex,
        sampling_rate=exam.sampling_rate,
        n_samples=exam.n_samples,
        lead_names=exam.lead_names,
        gain_uv=exam.gain_uv,
        waveform_url=reverse("api-reading-waveform", args=[assignment.pk]),
        waveform_etag=waveform_etag(f"assignment:{assignment.pk}", exam),
        # None where the batch does not show them; {} where it does and the exam's file gave none.
        device_measurements=dict(exam.device_measurements or {}) if shown else None,
    )


def _annotation_shown(assignment: Assignment, annotation: Annotation | None) -> ContextAnnotation:
    """The reader's current read; a revised read carries the reader's own blind read beside it."""
    blind = None
    if annotation is not None and annotation.stage == Annotation.Stage.REVISED:
        blind_read = assignment.annotations.filter(stage=Annotation.Stage.BLIND).first()
        blind = BlindRead(labels=_labels(blind_read)) if blind_read else None
    return ContextAnnotation(
        stage=annotation.stage if annotation else None,
        status=annotation.status if annotation else None,
        revision=annotation.revision if annotation else 0,
        labels=_labels(annotation),
        comment=annotation.comment if annotation else "",
        time_on_task_ms=annotation.time_on_task_ms if annotation else 0,
        blind=blind,
    )


def reading_context(
    user: User,
    assignment: Assignment,
    *,
    prefetch: bool = False,
    coming_from: int | None = None,
    shown: Suggestion | None = None,
) -> ReadingContext:
    """Everything the reader page needs for one of the reader's assignments, and nothing more.

    prefetch: the page is fetching the next exam ahead of time; the suggestion (and the median beat
    panel, which goes with it) is left out, because it is not on the reader's screen yet (it is
    fetched again, and recorded, when the exam opens).
    coming_from: the exam the reader is on while prefetching; it is about to be submitted, so the exam
    after the prefetched one must not be it.
    shown: the suggestion suggestion_shown_on_open found (the caller recorded it), not looked up again.
    """
    portuguese = (get_language() or "").lower().startswith("pt")
    annotation = current_annotation(assignment)
    annotation_shown = _annotation_shown(assignment, annotation)
    skip = (coming_from,) if coming_from else ()
    following = assignment_next_id_for_reader(
        user, batch_id=assignment.batch_id, after=assignment, skip_ids=skip
    )
    suggestion = None if prefetch else shown or suggestion_visible(assignment, annotation)
    # Imported here: the priors module builds on this one's assignment lookup and cache tokens.
    return ReadingContext(
        assignment=_assignment_shown(user, assignment, coming_from),
        exam=_exam_shown(assignment),
        taxonomy=_taxonomy_json(assignment, portuguese),
        annotation=annotation_shown,
        suggestion=_suggestion_shown(suggestion, portuguese, assignment.batch.taxonomy_id),
        median=median_panel(
            assignment.exam, suggestion, device_shown=device_measurements_shown(assignment.batch)
        ),
        # The exam's measurements by the batch's setting, blind reads included: never a statement or score.
        measurements=blind_measurements_panel(assignment.exam, blind_measurements_setting(assignment.batch)),
        priors=prior_exams(assignment),
        next_assignment_id=assignment_ref_or_none(following),
        correction=reading_correction(assignment, annotation),
    )
