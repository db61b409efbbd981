"""The dataset card's audit section in Markdown, from the card's ``audit`` (selectors.batches.audits)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _interval(pair: Sequence[float | None] | None) -> str:
    low, high = pair or (None, None)
    return f"{_cell(low)} to {_cell(high)}"


def _class_line(row: dict[str, Any]) -> str:
    return (
        f"| {row['code']} | {row['errors']} of {row['compared']} | {_cell(row['error_rate'])} "
        f"| {_interval(row['error_ci'])} | {row['false_positives']} of {row['audit_negatives']} "
        f"| {row['false_negatives']} of {row['audit_positives']} "
        f"| {row['released_undecided']} | {row['audit_ties']} |"
    )


def _adjudicators_line(figures: dict[str, Any]) -> str:
    if not figures["cells"]:
        return "No adjudicated cell of the sample was re-read by another adjudicator."
    return (
        f"Adjudicator against another adjudicator, on {figures['cells']} adjudicated cells of "
        f"{figures['exams']} exams: {figures['agreements']} agreed ({_cell(figures['agreement'])}, "
        f"95% {_interval(figures['agreement_ci'])}); Cohen's κ {_cell(figures['kappa'])} "
        f"(95% bootstrap over exams {_interval(figures['kappa_ci'])})."
    )


def audit_markdown(card: dict[str, Any]) -> list[str]:
    """The lines of the card's audit section, or none for a release nobody audited."""
    lines: list[str] = []
    for audit in card.get("audit") or []:
        sources = ", ".join(map(str, audit["audit_of"]))
        lines += [
            "",
            f"## Error rate of the released labels: audit batch {audit['audit_batch']}",
            "",
            f"A blinded re-read of a simple random sample of {audit['sample']} of the {audit['population']} "
            f"exams with a consensus in batches {sources} (seed {audit['seed']}; "
            f"{audit['exams_read']} read so far). An error is a released label the majority of the audit's "
            "reads contradicts; Wilson 95% intervals, which ignore the finite population (correction factor "
            f"{_cell(audit['finite_population_correction'])}), so they are conservative. Statements "
            f"neither released nor audited as present in the sample: {audit['classes_never_marked']}.",
            "",
            "| Statement | Errors | Error rate | 95% interval | False positives (of audit negatives) "
            "| False negatives (of audit positives) "
            "| Undecided in release | Audit ties |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [_class_line(row) for row in audit["classes"]]
        lines += ["", _adjudicators_line(audit["adjudicators"])]
    return lines
