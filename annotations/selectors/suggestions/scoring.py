"""How a stored suggestion's scores are read: the reserved measurements key and the code a class stands
for. The suggestion service writes by these rules and every reader of suggestions reads by them."""

from __future__ import annotations

from typing import Any

from annotations.models import DiagnosticClass

# Reserved key of Suggestion.measurements holding what the caller needs besides the measurements: the
# provider's raw scores by TNMG code (so a taxonomy added later needs no recomputation), the thresholds
# at which a score counts as suggested (part of the provider version, so kept with its output), the
# taxonomies already scored, per taxonomy the codes it could not take, and per TNMG code the rationale a
# rule-based provider gave for its score ({criterion, source, finding}; absent from imported rows).
META = "_scoring"
SOURCE_CODE_SYSTEM = "tnmg"


def source_code(diagnostic_class: DiagnosticClass) -> str:
    """The TNMG code a class stands for: its explicit map, else its own code."""
    return (diagnostic_class.maps or {}).get(SOURCE_CODE_SYSTEM) or diagnostic_class.code


def stored_rationale(measurements: dict[str, Any] | None) -> dict[str, dict[str, str]]:
    """TNMG code -> {criterion, source, finding} a provider stored beside its scores; {} for a row with
    none (imported predictions, models, rows computed before providers said why)."""
    return dict(((measurements or {}).get(META) or {}).get("rationale") or {})


def class_rationale(
    diagnostic_class: DiagnosticClass, rationale: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    """The rationale of the provider code a taxonomy class stands for, as its score is mapped."""
    return rationale.get(source_code(diagnostic_class))
