"""Machine suggestions in the database: run the configured providers on exams and store their output.

Results are stored per (exam, provider name, provider version): computing again is an upsert, so a
redelivered Celery task (acks late, worker killed mid-way) never leaves a duplicate, and a new provider
version adds rows beside the old ones instead of replacing them.

Providers speak TNMG codes. Scores are written for every taxonomy that can show them (the default
taxonomy, for batch planning, and the taxonomy of each batch holding the exam), class by class: a class
takes the score of the provider code in its maps["tnmg"], or of its own code when it has no TNMG map.
Provider codes that a taxonomy lacks are skipped and listed in the row (see META, in
selectors.suggestions.scoring).

Audit: one row per batch run and per sweep that queued work, not one per exam: a 10,000-exam batch with
two providers would add 20,000 rows saying "the system computed a suggestion", and each Suggestion row
already records what was computed, by which version, when, and why it failed.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from annotations.errors import Conflict, Forbidden, NotFound
from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.providers.base import (
    Patient,
    Provider,
    ProviderConfigError,
    build_providers,
    provider_class,
)
from annotations.lib.providers.relevance import band_encode
from annotations.models import (
    BatchExam,
    DiagnosticClass,
    Exam,
    LatestSuggestionScore,
    ReviewBatch,
    Suggestion,
    SuggestionRelevance,
    SuggestionScore,
    Taxonomy,
)
from annotations.roles import Role, has_role
from annotations.selectors.suggestions.evidence import evidence_agreement
from annotations.selectors.suggestions.scoring import META, source_code
from annotations.services.audit import audit_record
from annotations.services.exams.waveforms import waveform_load
from annotations.services.jobs.dispatch import (
    CATCH_UP_PRIORITY,
    task_enqueue,
    task_enqueue_on_commit,
    task_started,
    tasks_waiting,
)
from ecgreview.inprocess import background

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:suggestions"
MAX_ERROR = 2000
# Both CharFields, so both have a max_length.
VERSION_MAX = cast(int, Suggestion._meta.get_field("provider_version").max_length)
NAME_MAX = cast(int, Suggestion._meta.get_field("provider").max_length)


# --- Providers --------------------------------------------------------------------------------------
def provider_entries(config: Iterable[Any]) -> list[Any]:
    """SUGGESTION_PROVIDERS with SUGGESTION_MODELS_DIR filled in for providers that take a models_dir
    and were not given one (so a model entry names only its file, hash and mapping)."""
    entries = []
    for entry in config:
        if isinstance(entry, dict):
            cls = provider_class(entry["class"])
            options = dict(entry.get("options") or {})
            if "models_dir" in inspect.signature(cls.__init__).parameters:
                options.setdefault("models_dir", str(settings.SUGGESTION_MODELS_DIR))
            entry = {"class": entry["class"], "options": options}
        entries.append(entry)
    return entries


@lru_cache(maxsize=1)
def suggestion_providers() -> dict[str, Provider]:
    """The configured providers, built once per process (a model is loaded once per worker)."""
    providers = build_providers(provider_entries(settings.SUGGESTION_PROVIDERS))
    for provider in providers.values():
        if len(provider.name) > NAME_MAX or len(provider.version) > VERSION_MAX:
            raise ProviderConfigError(
                f"{provider!r}: name or version longer than the database keeps ({NAME_MAX}/{VERSION_MAX})"
            )
    return providers


# --- Codes to taxonomy classes ---------------------------------------------------------------------
def taxonomy_classes_by_source_code(taxonomy_id: int) -> dict[str, list[DiagnosticClass]]:
    """TNMG code -> the taxonomy's classes standing for it (a finer taxonomy may have several)."""
    mapping: dict[str, list[DiagnosticClass]] = {}
    for diagnostic_class in DiagnosticClass.objects.filter(taxonomy_id=taxonomy_id).order_by("position"):
        mapping.setdefault(source_code(diagnostic_class), []).append(diagnostic_class)
    return mapping


def exam_taxonomy_ids(exam_id: int) -> list[int]:
    """Taxonomies that show this exam's suggestions: the default one and those of its batches."""
    ids = set(Taxonomy.objects.filter(batches__batch_exams__exam_id=exam_id).values_list("pk", flat=True))
    ids |= set(Taxonomy.objects.filter(is_default=True).values_list("pk", flat=True))
    return sorted(ids)


def _scores_write(suggestion: Suggestion, taxonomy_ids: Iterable[int]) -> None:
    """Map the stored raw scores onto taxonomies not scored yet; caller holds the row lock."""
    meta = suggestion.measurements.setdefault(META, {})
    raw: dict[str, float] = meta.get("scores", {})
    done = set(meta.setdefault("taxonomies", []))
    unmapped = meta.setdefault("unmapped", {})
    rows = []
    for taxonomy_id in taxonomy_ids:
        if taxonomy_id in done:
            continue
        classes = taxonomy_classes_by_source_code(taxonomy_id)
        rows += [
            SuggestionScore(suggestion=suggestion, diagnostic_class=c, score=score)
            for code, score in raw.items()
            for c in classes.get(code, [])
        ]
        missing = sorted(code for code in raw if code not in classes)
        if missing:
            unmapped[str(taxonomy_id)] = missing
        meta["taxonomies"].append(taxonomy_id)
    SuggestionScore.objects.bulk_create(rows, ignore_conflicts=True)


def latest_scores_upsert(suggestions: QuerySet[Suggestion]) -> None:
    """Keep each exam's newest OK score per (provider, class) up to date with the stored scores of
    `suggestions` (LatestSuggestionScore); every service that stores scores calls it in its transaction,
    after the suggestion's status and computed_at are saved. A kept row is replaced only by a suggestion
    computed later (computed_at, then id): a version re-run or imported out of order keeps the newest,
    and a failed suggestion, which has no score, replaces nothing. Among `suggestions`, only each key's
    newest is offered (one statement may not update a row twice), in key order: an import and the
    workers then lock the rows they share in the same order, never each waiting for the other."""
    quote = connection.ops.quote_name
    latest = quote(LatestSuggestionScore._meta.db_table)
    ids_sql, ids_params = suggestions.order_by().values("pk").query.sql_with_params()
    sql = f"""
        INSERT INTO {latest} (exam_id, provider, diagnostic_class_id, suggestion_id, computed_at, score)
        SELECT exam_id, provider, diagnostic_class_id, suggestion_id, computed_at, score FROM (
            SELECT s.exam_id, s.provider, sc.diagnostic_class_id, s.id AS suggestion_id, s.computed_at,
                sc.score, ROW_NUMBER() OVER (
                    PARTITION BY s.provider, sc.diagnostic_class_id, s.exam_id
                    ORDER BY s.computed_at DESC, s.id DESC
                ) AS newest
            FROM {quote(SuggestionScore._meta.db_table)} sc
            JOIN {quote(Suggestion._meta.db_table)} s ON s.id = sc.suggestion_id
            WHERE s.status = %s AND s.id IN ({ids_sql})
        ) offered WHERE newest = 1 ORDER BY provider, diagnostic_class_id, exam_id
        ON CONFLICT (provider, diagnostic_class_id, exam_id) DO UPDATE SET
            suggestion_id = excluded.suggestion_id, computed_at = excluded.computed_at, score = excluded.score
        WHERE (excluded.computed_at, excluded.suggestion_id) > ({latest}.computed_at, {latest}.suggestion_id)
    """  # noqa: S608 - table names from the models, values as parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [Suggestion.Status.OK.value, *ids_params])


# --- Computing ---------------------------------------------------------------------------------------
def exam_signals_mv(exam: Exam) -> np.ndarray:
    """The exam's 12 standard leads in millivolts, in STANDARD_LEADS order."""
    samples = waveform_load(exam.waveform_key)
    missing = [lead for lead in STANDARD_LEADS if lead not in exam.lead_names]
    if missing:
        raise ValueError(f"exam lacks leads {', '.join(missing)}")
    order = [exam.lead_names.index(lead) for lead in STANDARD_LEADS]
    return samples[order].astype(np.float64) * (exam.gain_uv / 1000.0)


def exam_patient(exam: Exam) -> Patient:
    """What the criteria may know of the patient: sex when recorded, age in years."""
    sex = exam.sex if exam.sex in (Exam.Sex.MALE, Exam.Sex.FEMALE) else None
    return Patient(sex=sex, age_years=float(exam.age) if exam.age is not None else None)


def _evaluated(provider: Provider, exam: Exam) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The suggestion's fields from the provider's run on the exam, and its relevance maps; a failure of
    the exam's data is a failed suggestion carrying the error, never an exception."""
    try:
        result = provider.evaluate(exam_signals_mv(exam), exam.sampling_rate, exam_patient(exam))
    except DatabaseError:
        raise
    except Exception as error:  # anything about this exam's data: store it, never stop the batch
        message = f"{type(error).__name__}: {error}"[:MAX_ERROR]
        logger.warning("%r failed on exam %s: %s", provider, exam.pk, message)
        return {"status": Suggestion.Status.FAILED, "measurements": {}, "error": message}, {}
    measurements = dict(result.measurements)
    measurements[META] = {
        "scores": result.scores,
        "thresholds": {code: provider.threshold(code) for code in result.scores},
        "taxonomies": [],
        "unmapped": {},
        # Kept with the scores it explains: plain text per provider code, read with them and never queried.
        "rationale": {code: reason.as_json() for code, reason in result.rationale.items()},
    }
    return {"status": Suggestion.Status.OK, "measurements": measurements, "error": ""}, result.relevance


def suggestion_compute(exam_id: int, provider: Provider, *, retry_failed: bool = True) -> Suggestion | None:
    """Compute and store one provider's suggestion for one exam; idempotent.

    An existing OK row is kept (only scores for taxonomies added since are written). A failed row is
    computed again when retry_failed. Any failure of the exam itself (missing blob, too short, a
    provider that cannot make sense of it) is stored as status=failed with the error, so one bad exam
    fails alone; database errors are not the exam's fault and propagate, so the task is redelivered.
    """
    key = {"exam_id": exam_id, "provider": provider.name, "provider_version": provider.version}
    existing = Suggestion.objects.filter(**key).first()
    if existing is not None and (existing.status == Suggestion.Status.OK or not retry_failed):
        _scores_complete(existing.pk)
        return existing
    exam = Exam.objects.filter(pk=exam_id).first()
    if exam is None:
        return None
    fields, relevance = _evaluated(provider, exam)
    with transaction.atomic():
        row, created = Suggestion.objects.select_for_update().get_or_create(**key, defaults=fields)
        if not created and row.status == Suggestion.Status.OK:
            return row  # another worker stored a good result meanwhile: never replace it with ours
        if not created:
            for name, value in fields.items():
                setattr(row, name, value)
            row.computed_at = timezone.now()
            SuggestionScore.objects.filter(suggestion=row).delete()
        if row.status == Suggestion.Status.OK:
            _scores_write(row, exam_taxonomy_ids(exam_id))
            _relevance_write(row, relevance, exam.sampling_rate, SuggestionRelevance.Method.PROVIDER)
        row.save()
        if row.status == Suggestion.Status.OK:
            latest_scores_upsert(Suggestion.objects.filter(pk=row.pk))
    return row


def _relevance_write(
    suggestion: Suggestion, relevance: dict[str, Any], sampling_rate: float, method: str
) -> int:
    """Store relevance maps (code -> (leads, n) on the exam's axis) as bands; existing ones are kept."""
    rows = []
    for code, values in relevance.items():
        band = band_encode(values, sampling_rate)
        rows.append(
            SuggestionRelevance(
                suggestion=suggestion,
                code=code,
                method=method,
                leads=band.leads,
                bins=band.bins,
                bin_ms=band.bin_ms,
                peak=band.peak,
                data=band.data,
            )
        )
    return len(SuggestionRelevance.objects.bulk_create(rows, ignore_conflicts=True))


def _scores_complete(suggestion_id: int) -> None:
    """Scores of an OK row for taxonomies of batches the exam joined after it was computed."""
    with transaction.atomic():
        row = Suggestion.objects.select_for_update().get(pk=suggestion_id)
        if row.status != Suggestion.Status.OK or META not in row.measurements:
            return
        wanted = [t for t in exam_taxonomy_ids(row.exam_id) if t not in row.measurements[META]["taxonomies"]]
        if wanted:
            _scores_write(row, wanted)
            row.save(update_fields=["measurements"])
            latest_scores_upsert(Suggestion.objects.filter(pk=row.pk))


def suggestions_exam_compute(exam_id: int, *, retry_failed: bool = True) -> dict[str, str]:
    """Every configured provider on one exam; provider name -> stored status. Stored rows of other
    providers (imported predictions, retired providers) get scores for taxonomies added since too."""
    task_started("annotations.tasks.suggestions_exam", exam_id)
    outcome = {}
    done: set[int] = set()
    for name, provider in suggestion_providers().items():
        row = suggestion_compute(exam_id, provider, retry_failed=retry_failed)
        outcome[name] = row.status if row is not None else "no exam"
        if row is not None:
            done.add(row.pk)
    others = Suggestion.objects.filter(exam_id=exam_id, status=Suggestion.Status.OK).exclude(pk__in=done)
    for suggestion_id in others.values_list("pk", flat=True):
        _scores_complete(suggestion_id)
    return outcome


# --- Queueing ----------------------------------------------------------------------------------------
def batch_suggestions_enqueue(batch_id: int) -> bool:
    """Queue the suggestions of a batch's exams (one small message; the fan-out runs on the models
    queue). Called after the batch's transaction commits. A broker that is down must never undo or
    fail a batch creation: the error is logged and the periodic sweep queues the exams later."""

    return task_enqueue("annotations.tasks.suggestions_batch", batch_id)


def suggestions_batch_run(batch_id: int) -> int:
    """Queue one task per exam of the batch (a chunk per exam: one bad or slow exam delays no other)."""

    batch = ReviewBatch.objects.filter(pk=batch_id).first()
    if batch is None:
        return 0
    providers = suggestion_providers()
    exam_ids = list(
        BatchExam.objects.filter(batch=batch).order_by("exam_id").values_list("exam_id", flat=True)
    )
    with transaction.atomic():
        audit_record(
            actor=None,
            actor_username=SYSTEM_ACTOR,
            action="suggestions.batch_run",
            target=batch,
            after={"exams": len(exam_ids), "providers": {p.name: p.version for p in providers.values()}},
        )
    if providers or Suggestion.objects.filter(exam_id__in=exam_ids).exists():  # imported rows too
        for exam_id in exam_ids:
            task_enqueue("annotations.tasks.suggestions_exam", exam_id)
    return len(exam_ids)


def exams_missing_suggestions(limit: int) -> list[int]:
    """Exams of active batches lacking a row (OK or failed) for some configured provider version.

    Failed rows are not "missing": a broken exam is retried when a batch is (re)queued, not every
    few minutes forever.
    """
    members = BatchExam.objects.filter(batch__status=ReviewBatch.Status.ACTIVE)
    missing: list[int] = []
    for provider in suggestion_providers().values():
        has_row = Suggestion.objects.filter(
            exam_id=OuterRef("exam_id"), provider=provider.name, provider_version=provider.version
        )
        ids = (
            members.filter(~Exists(has_row))
            .order_by("exam_id")
            .values_list("exam_id", flat=True)
            .distinct()[: limit - len(missing)]
        )
        missing += [exam_id for exam_id in ids if exam_id not in missing]
        if len(missing) >= limit:
            break
    return missing[:limit]


def suggestions_sweep_run(limit: int | None = None) -> int:
    """Queue exams that should have suggestions and have none (enqueue lost, new provider version)."""

    exam_ids = exams_missing_suggestions(limit or settings.SUGGESTION_SWEEP_LIMIT)
    if exam_ids and not settings.CELERY_TASK_ALWAYS_EAGER:
        try:  # not again what still waits in the queue: a backlog would be queued once more each sweep
            waiting = tasks_waiting("annotations.tasks.suggestions_exam", exam_ids)
            exam_ids = [pk for pk in exam_ids if pk not in waiting]
        except Exception:
            logger.warning("suggestions sweep: the cache is down; queueing every missing exam")
    if not exam_ids:
        return 0
    with transaction.atomic():
        audit_record(
            actor=None,
            actor_username=SYSTEM_ACTOR,
            action="suggestions.sweep",
            after={"exams": len(exam_ids)},
        )
    for exam_id in exam_ids:  # behind any batch's own exams, which readers may be waiting for
        task_enqueue("annotations.tasks.suggestions_exam", exam_id, priority=CATCH_UP_PRIORITY)
    return len(exam_ids)


# --- Occlusion sensitivity ---------------------------------------------------------------------------
class _Occluding(Protocol):
    def occlusion(self, signals_mv: np.ndarray, sampling_rate: float) -> dict[str, np.ndarray]: ...


def occlusion_providers() -> dict[str, Provider]:
    """The configured providers whose class offers occlusion sensitivity, built without the others.
    The exam page asks in web processes, which need not be able to build every provider: a codec set to
    run on a GPU that only the models workers have would fail there, and loading it would cost the page
    a model it cannot use anyway."""
    config = json.dumps([settings.SUGGESTION_PROVIDERS, str(settings.SUGGESTION_MODELS_DIR)], sort_keys=True)
    return _occlusion_providers(config)


@lru_cache(maxsize=2)  # keyed by the configuration: a changed setting builds afresh
def _occlusion_providers(config: str) -> dict[str, Provider]:
    def offers(entry: str | dict[str, Any]) -> bool:
        return callable(
            getattr(provider_class(entry if isinstance(entry, str) else entry["class"]), "occlusion", None)
        )

    return build_providers([e for e in provider_entries(settings.SUGGESTION_PROVIDERS) if offers(e)])


def occlusion_provider(suggestion: Suggestion) -> Provider | None:
    """The configured provider that computed this suggestion, when it offers occlusion sensitivity
    (ONNX models that score classes); occlusion with other weights would explain another model."""
    provider = occlusion_providers().get(suggestion.provider)
    if provider is None or provider.version != suggestion.provider_version:
        return None
    return provider if callable(getattr(provider, "occlusion", None)) and provider.codes else None


def occlusion_suggestions(exam: Exam) -> list[int]:
    """The suggestions of `exam` occlusion can explain: the newest OK one of each configured provider that
    offers it. The exam page offers the request only when there is one."""
    found = []
    for name in occlusion_providers():
        newest = (
            Suggestion.objects.filter(exam=exam, provider=name, status=Suggestion.Status.OK)
            .order_by("-computed_at", "-id")
            .first()
        )
        if newest is not None and occlusion_provider(newest) is not None:
            found.append(newest.pk)
    return found


def exam_occlusion_request(*, actor: User, exam_id: int) -> list[int]:
    """A coordinator asks for occlusion bands of an exam: one models-queue task per suggestion (the
    newest OK one of each configured provider that offers occlusion). Returns the suggestions queued."""
    if not has_role(actor, Role.COORDINATOR):
        raise Forbidden(_("only coordinators request occlusion sensitivity"))
    exam = Exam.objects.filter(pk=exam_id).first()
    if exam is None:
        raise NotFound(_("no such exam"))
    queued = occlusion_suggestions(exam)
    if not queued:
        raise Conflict(_("no model configured here can explain this exam's suggestions by occlusion"))
    with transaction.atomic():
        audit_record(
            actor=actor, action="suggestion.occlusion_requested", target=exam, after={"suggestions": queued}
        )
        for suggestion_id in queued:
            task_enqueue_on_commit("annotations.tasks.suggestions_occlusion", suggestion_id)
    return queued


def suggestion_occlusion_compute(suggestion_id: int, provider: Provider | None = None) -> int:
    """Compute and store one suggestion's occlusion bands; idempotent (a suggestion that has them is
    left alone). Returns how many bands were stored. An exam the model cannot take is logged, never
    retried: the coordinator sees no band and may ask again."""
    suggestion = Suggestion.objects.filter(pk=suggestion_id, status=Suggestion.Status.OK).first()
    if (
        suggestion is None
        or suggestion.relevances.filter(method=SuggestionRelevance.Method.OCCLUSION).exists()
    ):
        return 0
    provider = provider or occlusion_provider(suggestion)
    if provider is None:
        logger.warning("occlusion: no configured provider for suggestion %s", suggestion_id)
        return 0
    exam = suggestion.exam
    try:
        # occlusion_provider hands only providers that offer it (Provider does not declare it).
        relevance = cast(_Occluding, provider).occlusion(exam_signals_mv(exam), exam.sampling_rate)
    except DatabaseError:
        raise
    except Exception as error:  # the exam's data or the model: logged, the task does not loop on it
        logger.warning(
            "occlusion of suggestion %s failed: %s: %s", suggestion_id, type(error).__name__, error
        )
        return 0
    with transaction.atomic():
        Suggestion.objects.select_for_update().get(pk=suggestion.pk)
        stored = _relevance_write(
            suggestion, relevance, exam.sampling_rate, SuggestionRelevance.Method.OCCLUSION
        )
        audit_record(
            actor=None,
            actor_username=SYSTEM_ACTOR,
            action="suggestion.occlusion",
            target=suggestion,
            after={"bands": stored},
        )
    return stored


# How long a request for the evidence counts as queued: a worker that died with it leaves the next
# visit after this to ask again.
EVIDENCE_REQUEST_GRACE_S = 120


def suggestion_evidence_request(batch_id: int) -> bool:
    """Ask for the agreement part of a batch's evidence to be computed for its current state, unless
    that is already asked for; never raises. A page or API request that found it missing answers at
    once with the last figures and asks here: the worker computes it (seconds at 100k exams), and the
    page follows with the API. Without a broker (the embedded default) the web process's background
    thread stands in for the worker. Returns whether work was queued."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return background.submit(("evidence", batch_id), lambda: suggestion_evidence_warm(batch_id))
    pending = f"suggestion-evidence:requested:{batch_id}"
    try:
        if not cache.add(pending, 1, timeout=EVIDENCE_REQUEST_GRACE_S):
            return False
    except Exception:  # the cache is down: the request computed the figures itself
        logger.warning("suggestion evidence: the cache is down")
        return False
    if task_enqueue("annotations.tasks.evidence_warm", batch_id):
        return True
    try:
        cache.delete(pending)  # not queued: the next visit asks again
    except Exception:
        logger.warning("suggestion evidence: the cache is down")
    return False


def suggestion_evidence_warm(batch_id: int) -> None:
    """Compute the agreement part of a batch's suggestion evidence for the batch's current state into
    its cache (the worker, after a recomputation): the first coordinator to open the page reads it."""
    batch = ReviewBatch.objects.filter(pk=batch_id).first()
    if batch is not None:
        evidence_agreement(batch)
    try:  # the figures are in: a later change of the batch may ask again at once
        cache.delete(f"suggestion-evidence:requested:{batch_id}")
    except Exception:
        logger.warning("suggestion evidence: the cache is down")
