"""The model suggestions a release gives (suggestions.csv): per exported exam, the suggestions that matter
for its provenance, with the statements of the batches' taxonomy each suggested (score at or above its
threshold, as readers' screens show them), rationales and how many of the release's readers were shown
each. A score below its threshold is not given: readers were not pointed at it, and every score stays in
the database and the coordinators' exam API; a release with all of them would hold some 80 rows per
exam, 65 GB for the 2.7M exams of CODE-II (bench/release_suggestions.py).

Which suggestions: every computed (OK) suggestion of a provider that was shown to a reader on the exam in
one of the release's batches (all its versions: readers may have seen an older one, and a newer one
says what the provider now says), the suggestions shown there themselves (one computed for a copy of the
same waveform is shown in its place when the exam has none), and of every other provider only its newest
computed suggestion. Exposures in batches outside the release neither count nor make a provider shown.

Exams are streamed in the release's order (selectors.releases.export.exam_key_rows); their suggestions
are looked up CHUNK_EXAMS exams at a time with a few indexed queries, so memory holds one chunk whatever
the size of the release, and no query sorts every suggestion of it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import batched
from typing import Any

from django.db.models import Count, Q
from django.db.models.fields.json import KeyTransform

from annotations.lib.providers.base import DEFAULT_THRESHOLD
from annotations.models import DiagnosticClass, Suggestion, SuggestionExposure, SuggestionScore
from annotations.selectors.releases.export import exam_key_rows
from annotations.selectors.suggestions.scoring import META, source_code

# Exams looked up together: 200 exams with three suggestions each peak at about 30 MB in the writer, most
# of it a rule provider's rationale for each of some 70 statements (500 took 70 MB, no faster), whatever
# the size of the release (bench/release_suggestions.py).
CHUNK_EXAMS = 200


@dataclass
class ExamSuggestion:
    """One suggestion as the release gives it: the statements it suggested as (class id, score,
    threshold) in the taxonomy's order, thresholds and rationale by the provider's (TNMG) code, and the
    readers shown it on the exam. `scored`: it scored a statement of the taxonomy, suggested or not."""

    pk: int
    provider: str
    provider_version: str
    computed_at: datetime
    shown_to_readers: int = 0
    thresholds: dict[str, Any] = field(default_factory=dict)
    rationale: dict[str, Any] = field(default_factory=dict)
    scored: bool = False
    suggested: list[tuple[int, float, float]] = field(default_factory=list)

    def order(self) -> tuple[Any, ...]:
        # By provider, then oldest first; the version breaks a tie of computed_at (unique per provider).
        return (self.provider, self.computed_at, self.provider_version)

    def threshold(self, code: str) -> float:
        """The stored threshold of a provider code, or the default readers' screens apply where the
        provider gave none."""
        stored = self.thresholds.get(code)
        if isinstance(stored, int | float) and not isinstance(stored, bool):
            return float(stored)
        return DEFAULT_THRESHOLD

    def floor(self) -> float:
        """A score under this reaches none of the suggestion's thresholds. The numbers threshold() keeps,
        picked by type: JSON gives no other int or float subclass than bool, and a call per code cost
        an eighth of the writer's time (bench/release_suggestions.py)."""
        return float(
            min([DEFAULT_THRESHOLD, *(v for v in self.thresholds.values() if type(v) in (int, float))])
        )


def exam_suggestion_rows(
    batch_ids: Sequence[int], taxonomy_id: int
) -> Iterator[tuple[int, str, str, list[ExamSuggestion]]]:
    """Per exported exam with any suggestion scoring the taxonomy, in the release's order: (row of
    consensus.csv, dataset, external id, its suggestions by provider and then computed_at), a suggestion
    that suggested nothing included with no statement. Run inside the export's transaction."""
    sources = {
        klass.pk: source_code(klass) for klass in DiagnosticClass.objects.filter(taxonomy_id=taxonomy_id)
    }
    exams = enumerate(exam_key_rows(batch_ids))
    for chunk in batched(exams, CHUNK_EXAMS):
        found = _chunk_suggestions(batch_ids, sources, [exam_id for _, (_, _, exam_id) in chunk])
        for row, (dataset, external_id, exam_id) in chunk:
            if found.get(exam_id):
                yield row, dataset, external_id, found[exam_id]


def _chunk_suggestions(
    batch_ids: Sequence[int], sources: dict[int, str], exam_ids: list[int]
) -> dict[int, list[ExamSuggestion]]:
    shown = _shown_counts(batch_ids, exam_ids)
    chosen = _chosen(exam_ids, shown)
    # By id, each with every exam it is given for (one, but for a copy's shown on several).
    by_pk: dict[int, list[ExamSuggestion]] = defaultdict(list)
    for items in chosen.values():
        for item in items:
            by_pk[item.pk].append(item)
    _add_meta(by_pk)
    _mark_scored(by_pk, list(sources))
    _add_suggested(by_pk, sources)
    return {exam_id: [item for item in items if item.scored] for exam_id, items in chosen.items()}


def _shown_counts(batch_ids: Sequence[int], exam_ids: list[int]) -> dict[int, dict[int, int]]:
    """exam id -> {suggestion id: distinct readers of the release's batches shown it on that exam}."""
    rows = (
        SuggestionExposure.objects.filter(
            assignment__batch_id__in=list(batch_ids), assignment__exam_id__in=exam_ids
        )
        .values("assignment__exam_id", "suggestion_id")
        .annotate(readers=Count("reader_id", distinct=True))
        .order_by()
    )
    shown: dict[int, dict[int, int]] = defaultdict(dict)
    for row in rows:
        shown[row["assignment__exam_id"]][row["suggestion_id"]] = row["readers"]
    return shown


def _chosen(exam_ids: list[int], shown: dict[int, dict[int, int]]) -> dict[int, list[ExamSuggestion]]:
    """Per exam, the suggestions the release gives (the module's rule), in the file's order."""
    shown_ids = sorted({pk for counts in shown.values() for pk in counts})
    rows = (
        Suggestion.objects.filter(status=Suggestion.Status.OK)
        .filter(Q(exam_id__in=exam_ids) | Q(pk__in=shown_ids))
        .order_by()
        .values_list("pk", "exam_id", "provider", "provider_version", "computed_at")
    )
    own: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    by_pk: dict[int, tuple[Any, ...]] = {}
    for row in rows:
        own[row[1]].append(row)
        by_pk[row[0]] = row
    chosen = {}
    for exam_id in exam_ids:
        counts = shown.get(exam_id, {})
        candidates = {row[0]: row for row in own.get(exam_id, [])}
        candidates.update({pk: by_pk[pk] for pk in counts if pk in by_pk})  # a copy's, shown here
        if candidates:
            chosen[exam_id] = _provenance_pick(list(candidates.values()), counts)
    return chosen


def _provenance_pick(candidates: list[tuple[Any, ...]], counts: dict[int, int]) -> list[ExamSuggestion]:
    """Of one exam's computed suggestions (pk, exam, provider, version, computed_at): all of each provider
    shown on it, the newest of each other provider."""
    shown_providers = {row[2] for row in candidates if counts.get(row[0])}
    newest: dict[str, tuple[Any, ...]] = {}
    for row in candidates:
        best = newest.get(row[2])
        if best is None or (row[4], row[0]) > (best[4], best[0]):
            newest[row[2]] = row
    kept = [row for row in candidates if row[2] in shown_providers or newest[row[2]] is row]
    items = [
        ExamSuggestion(pk, provider, version, at, shown_to_readers=counts.get(pk, 0))
        for pk, _, provider, version, at in kept
    ]
    return sorted(items, key=ExamSuggestion.order)


def _add_meta(by_pk: dict[int, list[ExamSuggestion]]) -> None:
    """Thresholds and rationale out of the stored JSON, not the measurements beside them."""
    scoring = KeyTransform(META, "measurements")
    rows = (
        Suggestion.objects.filter(pk__in=list(by_pk))
        .order_by()
        .annotate(
            thresholds=KeyTransform("thresholds", scoring), rationale=KeyTransform("rationale", scoring)
        )
        .values_list("pk", "thresholds", "rationale")
    )
    for pk, thresholds, rationale in rows:
        for item in by_pk[pk]:
            item.thresholds = thresholds if isinstance(thresholds, dict) else {}
            item.rationale = rationale if isinstance(rationale, dict) else {}


def _mark_scored(by_pk: dict[int, list[ExamSuggestion]], class_ids: list[int]) -> None:
    """Which suggestions scored the batches' taxonomy at all (one mapped afterwards may not have)."""
    scored = (
        SuggestionScore.objects.filter(suggestion_id__in=list(by_pk), diagnostic_class_id__in=class_ids)
        .order_by()
        .values_list("suggestion_id", flat=True)
        .distinct()
    )
    for pk in scored:
        for item in by_pk[pk]:
            item.scored = True


def _add_suggested(by_pk: dict[int, list[ExamSuggestion]], sources: dict[int, str]) -> None:
    """Each suggestion's statements of the batches' taxonomy at or above their thresholds, in its order.
    The thresholds are JSON keyed by the provider's code, which the database cannot compare portably
    (SQLite runs the embedded default): it drops the scores under each suggestion's lowest threshold,
    most of them, and the exact comparison is made here."""
    if not by_pk:
        return  # an empty Q() below would read every score
    by_floor: dict[float, list[int]] = defaultdict(list)
    for pk, items in by_pk.items():
        by_floor[items[0].floor()].append(pk)
    reachable = Q()
    for floor, pks in sorted(by_floor.items()):
        reachable |= Q(suggestion_id__in=pks, score__gte=floor)
    rows = (
        SuggestionScore.objects.filter(reachable, diagnostic_class_id__in=list(sources))
        .order_by("suggestion_id", "diagnostic_class__position")
        .values_list("suggestion_id", "diagnostic_class_id", "score")
    )
    for pk, class_id, score in rows:
        threshold = by_pk[pk][0].threshold(sources[class_id])
        if score >= threshold:
            for item in by_pk[pk]:
                item.suggested.append((class_id, score, threshold))
