"""How far a batch's suggestions are: counted from the stored rows, so it is right whatever the queue did."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import BooleanField, Count, F, Func, Max, Q, QuerySet, Subquery

from annotations.models import AuditEvent, BatchExam, ReviewBatch, Suggestion
from annotations.selectors.suggestions.scoring import META, stored_rationale

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler

MAX_FAILURES_LISTED = 20


def batch_suggestion_progress(batch: ReviewBatch) -> dict[str, Any]:
    """{"exams": n, "providers": [{provider, version, ok, failed, missing, unmapped_codes, failures}]}.

    One entry per provider name, for its newest version among the batch's exams (a version being
    rolled out shows as partly done; older versions' rows stay stored, they are just not counted).
    The caller has checked that the user may see the batch.
    """
    exam_ids = BatchExam.objects.filter(batch=batch).values("exam_id")
    total = BatchExam.objects.filter(batch=batch).count()
    rows = Suggestion.objects.filter(exam_id__in=exam_ids)
    if connection.vendor == "postgresql":
        # As an array, the batch's exams are probed in the exam index: as IN (subquery), PostgreSQL
        # hashed them and read all 2.7M suggestions (0.8 s for a 100k-exam batch, 0.3 s probed).
        rows = Suggestion.objects.filter(_InArray(F("exam_id"), Subquery(exam_ids)))
    # One pass over the batch's rows (a 100k-exam batch's, among millions): the failures and the sample
    # below read a handful of rows each, and the failures only when some failed.
    versions = (
        rows.values("provider", "provider_version")
        .annotate(
            ok=Count("id", filter=Q(status=Suggestion.Status.OK)),
            failed=Count("id", filter=Q(status=Suggestion.Status.FAILED)),
            latest=Max("computed_at"),
        )
        .order_by("provider", "-latest")
    )
    asked = _with_providers_asked(batch, [dict(row) for row in versions])
    providers = []
    seen: set[str] = set()
    for version in asked:
        if version["provider"] in seen:
            continue
        seen.add(version["provider"])
        mine = rows.filter(provider=version["provider"], provider_version=version["provider_version"])
        providers.append(
            {
                "provider": version["provider"],
                "version": version["provider_version"],
                "ok": version["ok"],
                "failed": version["failed"],
                "missing": max(0, total - version["ok"] - version["failed"]),
                # Provider codes this batch's taxonomy has no class for: scored, never shown.
                "unmapped_codes": _unmapped_codes(mine, batch) if version["ok"] else [],
                "failures": _failures(mine) if version["failed"] else [],
            }
        )
    return {"exams": total, "providers": providers}


def _with_providers_asked(batch: ReviewBatch, versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The providers the batch's suggestions were queued for (the fan-out names them) come first, each at
    that version, computed or not, so a provider readers wait on never hides behind another's rows."""
    asked = _providers_asked(batch)
    counts = {(v["provider"], v["provider_version"]): v for v in versions}
    return [
        counts.get((name, version))
        or {"provider": name, "provider_version": version, "ok": 0, "failed": 0, "latest": None}
        for name, version in asked.items()
    ] + [v for v in versions if v["provider"] not in asked]


def _providers_asked(batch: ReviewBatch) -> dict[str, str]:
    """name -> version of the providers the batch's latest suggestion fan-out queued (its audit row)."""
    after = (
        AuditEvent.objects.filter(
            action="suggestions.batch_run", target_type=ReviewBatch._meta.label_lower, target_id=str(batch.pk)
        )
        .order_by("-pk")
        .values_list("after", flat=True)
        .first()
    )
    return dict((after or {}).get("providers") or {})


class _InArray(Func):
    """column = ANY(ARRAY(subquery)): PostgreSQL plans it as index probes, whatever the subquery's size."""

    output_field = BooleanField()

    def as_sql(  # type: ignore[override]  # Func's stub adds function/template arguments this never takes
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, tuple[Any, ...]]:
        column, values = (compiler.compile(expression) for expression in self.get_source_expressions())
        return f"{column[0]} = ANY(ARRAY{values[0]})", (*column[1], *values[1])


def _unmapped_codes(rows: QuerySet[Suggestion], batch: ReviewBatch) -> list[str]:
    """From one OK row, the first by exam id (an index walk that stops at once, where the newest one
    sorted every row): every row of a version carries the batch taxonomy's unmapped codes, added when its
    exam joined the batch."""
    sample = rows.filter(status=Suggestion.Status.OK).order_by("exam_id").first()
    unmapped = ((sample.measurements or {}).get(META) or {}).get("unmapped", {}) if sample else {}
    codes: list[str] = unmapped.get(str(batch.taxonomy_id), [])
    return codes


def _failures(rows: QuerySet[Suggestion]) -> list[dict[str, Any]]:
    failures = (
        rows.filter(status=Suggestion.Status.FAILED).select_related("exam__dataset").order_by("exam_id")
    )
    return [
        {"exam_id": f.exam_id, "exam": str(f.exam), "error": f.error} for f in failures[:MAX_FAILURES_LISTED]
    ]


def suggestion_summary(row: Suggestion) -> dict[str, Any]:
    """One stored suggestion as operators read it: scores by TNMG code, the codes at or above their
    threshold (highest score first), why a rule scored a code (rationale: code -> {criterion, source,
    finding}; {} where the provider gave none) and the measurements without the bookkeeping key."""
    meta = (row.measurements or {}).get(META) or {}
    scores: dict[str, float] = meta.get("scores", {})
    thresholds: dict[str, float] = meta.get("thresholds", {})
    suggested = sorted(
        (code for code, score in scores.items() if score >= thresholds.get(code, 0.5)),
        key=lambda code: -scores[code],
    )
    return {
        "exam": row.exam_id,
        "provider": row.provider,
        "version": row.provider_version,
        "status": row.status,
        "computed_at": row.computed_at.isoformat(),
        "scores": scores,
        "thresholds": thresholds,
        "suggested": suggested,
        "rationale": stored_rationale(row.measurements),
        "measurements": {key: value for key, value in (row.measurements or {}).items() if key != META},
        "error": row.error,
    }


def exam_suggestions(exam_id: int, provider: str | None = None) -> list[Suggestion]:
    """The newest stored row per provider for one exam (OK rows before failed ones), for operators."""
    rows = Suggestion.objects.filter(exam_id=exam_id)
    if provider:
        rows = rows.filter(provider=provider)
    newest: dict[str, Suggestion] = {}
    for row in rows.order_by("provider", "-computed_at", "-id"):
        current = newest.get(row.provider)
        if current is None or (current.status != Suggestion.Status.OK and row.status == Suggestion.Status.OK):
            newest[row.provider] = row
    return list(newest.values())
