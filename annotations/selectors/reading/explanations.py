"""What a reader is shown of the models besides their statements: scalar outputs and relevance bands.

Scalars (a regression model's potassium with its standard deviation, ECG age...) are model output like
scores, so they follow the batch's suggestion mode as scores do: on screen from the start in "shown"
batches, after the blind read in "two_stage" ones, never in "hidden" ones. Relevance bands say where in
the trace a class's score came from; drawn on the reader's own trace they would steer the first look,
so in every mode they come only once the reader has submitted a read of the assignment (the blind
read, or in "shown" batches their first read), and never in "hidden" batches.

Bands are sent for the classes the model suggests (score at or above its threshold), else for its
three best-scored classes, mapped to the batch's taxonomy as scores are (selectors.suggestions.scoring).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import get_language

from annotations.models import (
    Annotation,
    Assignment,
    DiagnosticClass,
    ReviewBatch,
    Suggestion,
    SuggestionRelevance,
)
from annotations.selectors.reading.assignments import assignment_for_reader
from annotations.selectors.suggestions.scoring import META, source_code
from annotations.selectors.suggestions.titles import provider_title

if TYPE_CHECKING:
    from django.contrib.auth.models import User

TOP_WHEN_NONE_SUGGESTED = 3
MAX_BANDS = 8  # per exam, whatever the number of models: a band is a strip under the trace, not a list


# The shapes annotations.api.reading.ExplanationsSerializer answers, attribute by attribute.
@dataclass(frozen=True, slots=True)
class ScalarOutput:
    provider: str
    title: str
    name: str
    value: float | None
    unit: str
    sd: float | None


@dataclass(frozen=True, slots=True)
class RelevanceBand:
    code: str
    name: str
    score: float
    provider: str
    method: str
    leads: int
    bins: int
    bin_ms: float
    data: str  # base64 of leads x bins bytes, lead-major


@dataclass(frozen=True, slots=True)
class Explanations:
    """Each None while not shown."""

    scalars: list[ScalarOutput] | None
    bands: list[RelevanceBand] | None


def _latest_per_provider(exam_id: int) -> list[Suggestion]:
    """The newest OK suggestion of each provider for the exam (an older version's output is history)."""
    latest: dict[str, Suggestion] = {}
    for suggestion in Suggestion.objects.filter(exam_id=exam_id, status=Suggestion.Status.OK).order_by(
        "-computed_at", "-id"
    ):
        latest.setdefault(suggestion.provider, suggestion)
    return list(latest.values())


def _scalars(suggestions: list[Suggestion]) -> tuple[list[ScalarOutput], list[Suggestion]]:
    rows: list[ScalarOutput] = []
    used: list[Suggestion] = []
    for suggestion in suggestions:
        scalars = (suggestion.measurements or {}).get("scalars") or {}
        if not isinstance(scalars, dict):
            continue
        found = [
            ScalarOutput(
                provider=suggestion.provider,
                title=str(provider_title(suggestion.provider)),
                name=name,
                value=item.get("value"),
                unit=item.get("unit", ""),
                sd=item.get("sd"),
            )
            for name, item in sorted(scalars.items())
            if isinstance(item, dict)
        ]
        if found:
            rows += found
            used.append(suggestion)
    return rows, used


def _chosen_codes(suggestion: Suggestion, with_bands: set[str]) -> list[tuple[str, float]]:
    """(provider code, score) of the classes whose bands a reader gets, best score first."""
    meta = (suggestion.measurements or {}).get(META) or {}
    scores = {code: s for code, s in (meta.get("scores") or {}).items() if code in with_bands}
    thresholds = meta.get("thresholds") or {}
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    suggested = [(code, s) for code, s in ranked if s >= thresholds.get(code, 0.5)]
    return suggested or ranked[:TOP_WHEN_NONE_SUGGESTED]


def _bands(suggestions: list[Suggestion], taxonomy_id: int) -> tuple[list[RelevanceBand], list[Suggestion]]:
    portuguese = (get_language() or "").lower().startswith("pt")
    classes: dict[str, DiagnosticClass] = {}
    for diagnostic_class in DiagnosticClass.objects.filter(taxonomy_id=taxonomy_id).order_by("position"):
        classes.setdefault(source_code(diagnostic_class), diagnostic_class)
    rows: list[RelevanceBand] = []
    used: list[Suggestion] = []
    for suggestion in suggestions:
        stored = {(r.code, r.method): r for r in SuggestionRelevance.objects.filter(suggestion=suggestion)}
        chosen = _chosen_codes(suggestion, {code for code, _ in stored if code in classes})
        for code, score in chosen:
            for method in SuggestionRelevance.Method.values:
                band = stored.get((code, method))
                if band is None or len(rows) >= MAX_BANDS:
                    continue
                diagnostic_class = classes[code]
                rows.append(
                    RelevanceBand(
                        code=diagnostic_class.code,
                        name=(diagnostic_class.name_pt if portuguese else "") or diagnostic_class.name,
                        score=round(score, 3),
                        provider=suggestion.provider,
                        method=method,
                        leads=band.leads,
                        bins=band.bins,
                        bin_ms=band.bin_ms,
                        data=base64.b64encode(bytes(band.data)).decode("ascii"),
                    )
                )
                if suggestion not in used:
                    used.append(suggestion)
    return rows, used


def _read_submitted(assignment: Assignment) -> bool:
    return assignment.annotations.filter(status=Annotation.Status.SUBMITTED).exists()


def reading_explanations(user: User, assignment_id: int) -> tuple[Explanations, list[Suggestion]]:
    """The scalars and bands this reader may see now on their own assignment (404 for any other), each
    None while not shown, and the suggestions they come from (the caller records their exposure)."""
    assignment = assignment_for_reader(user, assignment_id)
    mode = assignment.batch.suggestion_mode
    if mode == ReviewBatch.SuggestionMode.HIDDEN:
        return Explanations(scalars=None, bands=None), []
    submitted = _read_submitted(assignment)
    suggestions = _latest_per_provider(assignment.exam_id)
    scalars: list[ScalarOutput] | None = None
    bands: list[RelevanceBand] | None = None
    shown: list[Suggestion] = []
    if mode == ReviewBatch.SuggestionMode.SHOWN or submitted:
        scalars, shown = _scalars(suggestions)
    if submitted:
        bands, banded = _bands(suggestions, assignment.batch.taxonomy_id)
        shown += [s for s in banded if s not in shown]
    return Explanations(scalars=scalars, bands=bands), shown
