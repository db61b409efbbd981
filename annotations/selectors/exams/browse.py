"""Exam listings for coordinators: metadata only, never the waveform, never identifiers by default."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from annotations.errors import Forbidden, NotFound
from annotations.models import BatchExam, Dataset, Exam, ReferenceLabel, Suggestion, SuggestionScore
from annotations.roles import Role, has_role
from annotations.selectors.suggestions.scoring import META, class_rationale, source_code, stored_rationale
from annotations.selectors.taxonomy import statement_name

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _require_coordinator(user: User) -> None:
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden


# Alphabetical whatever the case, as a coordinator reads a list ("demo" before "QA2"); names differ in
# more than case (the any-case unique constraint), so the order is total.
DATASET_ORDER = (Lower("name"),)


def dataset_list(user: User) -> QuerySet[Dataset]:
    _require_coordinator(user)
    return Dataset.objects.order_by(*DATASET_ORDER)


def dataset_ids_named(names: Iterable[str]) -> list[int]:
    """The datasets called any of `names`, in any case ("CODE15" is "code15", as imports file them): the
    comparison the any-case unique constraint's index on LOWER(name) serves, exact otherwise (no pattern)."""
    wanted = sorted({name.lower() for name in names if name})
    if not wanted:
        return []
    return list(
        Dataset.objects.annotate(lowered=Lower("name"))
        .filter(lowered__in=wanted)
        .values_list("pk", flat=True)
    )


def dataset_names() -> list[str]:
    """Every dataset's name, for the choice lists of the coordinators' forms."""
    return list(Dataset.objects.order_by(*DATASET_ORDER).values_list("name", flat=True))


def exam_for_coordinator(user: User, exam_id: int) -> tuple[Exam, list[Any]]:
    """One exam with its quality report and the batches holding it. Anyone but a coordinator gets 404:
    an exam page says which batches hold an exam, which readers must not learn."""
    if not has_role(user, Role.COORDINATOR):
        raise NotFound
    exam = Exam.objects.select_related("dataset").defer("identifiers").filter(pk=exam_id).first()
    if exam is None:
        raise NotFound
    memberships = (
        BatchExam.objects.filter(exam=exam).select_related("batch").order_by("batch__created_at", "batch_id")
    )
    return exam, [membership.batch for membership in memberships]


def exams_same_waveform(user: User, exam: Exam, *, limit: int = 50) -> list[Exam]:
    """Other exams holding the very same samples (one waveform imported under another dataset or
    external id): the exam page links them. Coordinators only, as the exam page itself."""
    if not has_role(user, Role.COORDINATOR):
        raise NotFound
    copies = Exam.objects.filter(waveform_sha256=exam.waveform_sha256).exclude(pk=exam.pk)
    return list(
        copies.select_related("dataset").only("id", "external_id", "dataset__name").order_by("pk")[:limit]
    )


def exam_reference_labels(user: User, exam: Exam) -> list[ReferenceLabel]:
    """The labels that came with the exam (dataset metadata, device statements), for the exam page:
    coordinators only, as readers must never see them."""
    if not has_role(user, Role.COORDINATOR):
        raise NotFound
    return list(ReferenceLabel.objects.filter(exam=exam).order_by("code_system", "code"))


def exam_for_waveform(user: User, exam_id: int) -> Exam:
    """The exam whose samples the exam page draws; coordinators only (404 to anyone else, who has no
    route to an exam but through their own assignment or case)."""
    if not has_role(user, Role.COORDINATOR):
        raise NotFound
    exam = Exam.objects.defer("identifiers", "quality_report").filter(pk=exam_id).first()
    if exam is None:
        raise NotFound
    return exam


def exam_model_outputs(user: User, exam: Exam) -> list[dict[str, Any]]:
    """The scalar outputs models computed for the exam (a regression model's potassium, ECG age...), per
    provider version, newest first; each {name, value, unit, sd}. For coordinators: a reader sees model
    output only as their batch's suggestion mode allows, through the reading selectors."""
    _require_coordinator(user)
    out = []
    for suggestion in Suggestion.objects.filter(exam=exam, status=Suggestion.Status.OK).order_by(
        "-computed_at", "pk"
    ):
        scalars = (suggestion.measurements or {}).get("scalars") or {}
        if not isinstance(scalars, dict) or not scalars:
            continue
        rows = [
            {"name": name, "value": item.get("value"), "unit": item.get("unit", ""), "sd": item.get("sd")}
            for name, item in sorted(scalars.items())
            if isinstance(item, dict)
        ]
        out.append({"provider": suggestion.provider, "version": suggestion.provider_version, "scalars": rows})
    return out


# The global measurements of a suggestion, as the reader's measurements table shows them: key, label, unit.
GLOBAL_MEASUREMENTS = (
    ("heart_rate_bpm", _("Heart rate"), "bpm"),
    ("pr_ms", "PR", "ms"),
    ("qrs_ms", "QRS", "ms"),
    ("qt_ms", "QT", "ms"),
    ("qtc_bazett_ms", _("QTc (Bazett)"), "ms"),
    ("qtc_fridericia_ms", _("QTc (Fridericia)"), "ms"),
    ("p_axis_deg", _("P axis"), "°"),
    ("qrs_axis_deg", _("QRS axis"), "°"),
    ("t_axis_deg", _("T axis"), "°"),
)


# The device's measurements as the comparison table lists them: the global ones above, with the device's
# RR, atrial rate and QTc by its own formula where its file gave them.
DEVICE_MEASUREMENT_ROWS = (
    *GLOBAL_MEASUREMENTS[:1],
    ("atrial_rate_bpm", _("Atrial rate"), "bpm"),
    ("rr_ms", "RR", "ms"),
    *GLOBAL_MEASUREMENTS[1:4],
    ("qtc_ms", _("QTc (the device's formula)"), "ms"),
    *GLOBAL_MEASUREMENTS[4:],
)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def device_measurement_items(measurements: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The cart's measurements as one line of a page lists them, in the comparison table's order: key,
    label, unit and value, for what the file gave."""
    given = measurements or {}
    return [
        {"key": key, "label": label, "unit": unit, "value": given[key]}
        for key, label, unit in DEVICE_MEASUREMENT_ROWS
        if _number(given.get(key))
    ]


def exam_measurements_compared(user: User, exam: Exam) -> dict[str, Any]:
    """The recording device's global measurements beside each provider's newest successful ones, a row per
    measurement either side has: {"columns": ["device", "provider version"...], "rows": [{label, unit,
    values}]}; no rows when neither has any. Coordinators only, like the suggestions they come from."""
    if not has_role(user, Role.COORDINATOR):
        raise NotFound
    newest: dict[str, Suggestion] = {}
    for suggestion in Suggestion.objects.filter(exam=exam, status="ok").order_by("-computed_at", "-pk"):
        if any(_number((suggestion.measurements or {}).get(key)) for key, _, _ in GLOBAL_MEASUREMENTS):
            newest.setdefault(suggestion.provider, suggestion)
    sources = [exam.device_measurements or {}] + [s.measurements or {} for s in newest.values()]
    rows = []
    for key, label, unit in DEVICE_MEASUREMENT_ROWS:
        values = [source.get(key) if _number(source.get(key)) else None for source in sources]
        if any(value is not None for value in values):
            rows.append({"key": key, "label": label, "unit": unit, "values": values})
    columns = ["device"] + [f"{s.provider} {s.provider_version}" for s in newest.values()]
    return {"columns": columns, "rows": rows, "device": bool(exam.device_measurements)}


def _scores_by_code(suggestion: Suggestion, scores: list[SuggestionScore]) -> list[dict[str, Any]]:
    """One row per statement code, highest score first: a provider's score for a code is stored once per
    taxonomy holding the code, the same value, named here as the default taxonomy names it."""
    thresholds = ((suggestion.measurements or {}).get(META) or {}).get("thresholds", {})
    rationale = stored_rationale(suggestion.measurements)
    rows: dict[str, dict[str, Any]] = {}
    for score in sorted(scores, key=lambda s: (not s.diagnostic_class.taxonomy.is_default, s.pk)):
        klass = score.diagnostic_class
        rows.setdefault(
            klass.code,
            {
                "code": klass.code,
                "name": statement_name(klass.name, klass.name_pt),
                "score": score.score,
                "suggested": score.score >= thresholds.get(source_code(klass), 0.5),
                "rationale": class_rationale(klass, rationale),
            },
        )
    return sorted(rows.values(), key=lambda row: (-row["score"], row["code"]))


def exam_suggestions(user: User, exam: Exam) -> list[dict[str, Any]]:
    """Every provider version's suggestion for the exam, newest first: its status (and error), its scores
    per statement with those at or over the provider's threshold marked, and its global measurements. For
    the exam page, coordinators only: readers see suggestions only as their batch's mode allows."""
    if not has_role(user, Role.COORDINATOR):
        raise NotFound
    suggestions = list(Suggestion.objects.filter(exam=exam).order_by("-computed_at", "-pk"))
    scores: dict[int, list[SuggestionScore]] = {s.pk: [] for s in suggestions}
    stored = SuggestionScore.objects.filter(suggestion__in=suggestions).select_related(
        "diagnostic_class__taxonomy"
    )
    for score in stored:
        scores[score.suggestion_id].append(score)
    shown, providers = [], set()
    for suggestion in suggestions:
        measured = suggestion.measurements or {}
        shown.append(
            {
                "suggestion": suggestion,
                # Each provider's newest version is shown open, the older ones folded under it.
                "newest": suggestion.provider not in providers,
                "scores": _scores_by_code(suggestion, scores[suggestion.pk]),
                "measurements": [
                    {"key": key, "label": label, "value": measured[key], "unit": unit}
                    for key, label, unit in GLOBAL_MEASUREMENTS
                    if isinstance(measured.get(key), int | float) and not isinstance(measured.get(key), bool)
                ],
            }
        )
        providers.add(suggestion.provider)
    return shown
