"""What the reader's print sheet carries: their own assignment, the exam as the reader page shows it (age,
sex, duration, sampling rate; no dataset, exam id or date; the cart's measurements where the batch shows
them) and their own current statements. Nothing of another reader's, nothing else that came with the
import: the sheet is for the reader's own use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils.translation import get_language

from annotations.models import Annotation, Assignment
from annotations.selectors.exams.browse import device_measurement_items
from annotations.selectors.reading.assignments import assignment_for_reader
from annotations.selectors.reading.context import device_measurements_shown
from annotations.selectors.reading.preferences import reader_preferences
from annotations.selectors.reading.skip_reasons import skip_reason_shown

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass(frozen=True)
class PrintedStatement:
    code: str
    name: str
    uncertain: bool


@dataclass(frozen=True)
class Printout:
    assignment: Assignment
    status: str  # "draft", "submitted", "skipped", or "" before anything is saved
    statements: list[PrintedStatement] = field(default_factory=list)
    comment: str = ""
    layout: str = "3x4"  # the reader's saved layout, as on their screen (speed and gain stay standard)
    lead_names: str = "I"  # "DI": limb leads written DI, DII, DIII, as the reader chose on screen
    # The cart's measurements, as the reader page shows them: only in a batch designed to show them.
    device_measurements: list[dict[str, Any]] = field(default_factory=list)
    skip_reason: str = ""  # the reader's reason, when they skipped the exam
    rhythm_lead: str = "II"  # the rhythm strip's lead, as the reader had it on screen


def _status(assignment: Assignment, annotation: Annotation | None) -> str:
    if assignment.status == Assignment.Status.SKIPPED:
        return "skipped"
    return annotation.status if annotation is not None else ""


def reader_printout(user: User, assignment_id: int, *, rhythm_lead: str = "") -> Printout:
    """The reader's own assignment (404 for anything else, as on the reader page) with their current
    read, its statements named in the interface's language, laid out and its leads named as the reader
    chose on screen; `rhythm_lead`, the rhythm strip's lead the reader page had (II for any name the exam
    has no lead of)."""
    assignment = assignment_for_reader(user, assignment_id)
    annotation = Annotation.objects.filter(assignment=assignment, is_current=True).first()
    portuguese = (get_language() or "").lower().startswith("pt")
    preferences = reader_preferences(user)
    statements = []
    if annotation is not None:
        # In the order the reader chose them, as the reader page lists them.
        for label in annotation.labels.select_related("diagnostic_class").order_by("pk"):
            statement = label.diagnostic_class
            name = (statement.name_pt if portuguese else "") or statement.name
            statements.append(PrintedStatement(statement.code, name, label.uncertain))
    return Printout(
        assignment=assignment,
        status=_status(assignment, annotation),
        statements=statements,
        comment=annotation.comment if annotation is not None else "",
        layout=str(preferences["layout"]),
        lead_names=str(preferences["lead_names"]),
        device_measurements=device_measurement_items(assignment.exam.device_measurements)
        if device_measurements_shown(assignment.batch)
        else [],
        skip_reason=skip_reason_shown(assignment.skip_code, assignment.skip_reason)
        if assignment.status == Assignment.Status.SKIPPED
        else "",
        rhythm_lead=rhythm_lead if rhythm_lead in (assignment.exam.lead_names or []) else "II",
    )
