"""A skip's reason as people read it: a listed reason in the viewer's language, or the words typed with
"other" (and a system closure's own reason) as they were written."""

from __future__ import annotations

from annotations.models import Assignment

FREE_TEXT_CODES = (Assignment.SkipCode.OTHER, Assignment.SkipCode.SYSTEM)


def skip_reason_shown(code: str, reason: str) -> str:
    """The reason in the active language: call it where the request's language is active."""
    if not code or code in FREE_TEXT_CODES:
        return reason
    return str(Assignment.SkipCode(code).label)


def reader_skip_choices() -> list[tuple[str, str]]:
    """(code, label) of the reasons a reader chooses from, in the list's order, "other" last."""
    return [(c.value, str(c.label)) for c in Assignment.SkipCode if c != Assignment.SkipCode.SYSTEM]
