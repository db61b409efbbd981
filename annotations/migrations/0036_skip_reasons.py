"""Skip reasons become a code from a short list (free text only with "other"). The reasons typed before
the list existed are kept word for word as "other" with their text; the system's closures take the
"system" code and keep their reason."""

from django.db import migrations, models
from django.db.models import Q

SKIP_CODES = ["unreadable", "wrong_patient", "not_12_leads", "duplicate", "other", "system"]
# A skip stored with no reason at all (none should exist: the service always asked for one).
NO_REASON = "no reason recorded"
# Back to free text, the codes read as the English list did.
LABELS = {
    "unreadable": "Tracing unreadable",
    "wrong_patient": "Wrong patient or lead placement suspected",
    "not_12_leads": "Not a 12-lead ECG",
    "duplicate": "Duplicate exam",
}


def codes_from_reasons(apps, schema_editor):
    slots = apps.get_model("annotations", "Assignment").objects
    slots.filter(status="skipped", closed_by_system=True).update(skip_code="system")
    readers = slots.filter(status="skipped", closed_by_system=False)
    readers.filter(skip_reason="").update(skip_reason=NO_REASON)
    readers.update(skip_code="other")
    slots.exclude(status="skipped").exclude(skip_reason="").update(skip_reason="")
    _checks_now(schema_editor)


def _checks_now(schema_editor) -> None:
    """PostgreSQL: run the deferred foreign key checks the updates queued, so that the constraints can be
    added in the same transaction (ALTER TABLE refuses a table with pending trigger events)."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def reasons_from_codes(apps, schema_editor):
    slots = apps.get_model("annotations", "Assignment").objects
    for code, label in LABELS.items():
        slots.filter(skip_code=code).update(skip_reason=label)
    _checks_now(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("annotations", "0035_assignment_reader_day_statistics")]

    operations = [
        migrations.AddField(
            model_name="assignment",
            name="skip_code",
            field=models.CharField(
                blank=True,
                choices=[
                    ("unreadable", "Tracing unreadable"),
                    ("wrong_patient", "Wrong patient or lead placement suspected"),
                    ("not_12_leads", "Not a 12-lead ECG"),
                    ("duplicate", "Duplicate exam"),
                    ("other", "Other (say why)"),
                    ("system", "Closed by the system"),
                ],
                db_default="",
                default="",
                max_length=16,
            ),
        ),
        migrations.RunPython(codes_from_reasons, reasons_from_codes),
        migrations.AddConstraint(
            model_name="assignment",
            constraint=models.CheckConstraint(
                condition=Q(status="skipped", skip_code__in=SKIP_CODES)
                | (~Q(status="skipped") & Q(skip_code="")),
                name="assignment_skip_code_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="assignment",
            constraint=models.CheckConstraint(
                condition=Q(skip_code="other", skip_reason__gt="")
                | Q(skip_code="system", closed_by_system=True)
                | (~Q(skip_code__in=["other", "system"]) & Q(skip_reason="") & Q(closed_by_system=False)),
                name="assignment_skip_text_only_other_or_system",
            ),
        ),
    ]
