"""A system closure is marked on its slot instead of being told by its reason's words.

The slots closed before the mark existed are found by the reasons the system wrote then, frozen here:
a migration must not follow the code's constants as they change."""

from django.db import migrations, models

SYSTEM_REASONS_BEFORE_THE_MARK = (
    "set aside: the reader left the study before submitting; the exam went to another reader",
    "withdrawn: a retest re-read measures its own reader, who left the study",
    "withdrawn: its first read was skipped, and a retest re-reads the reader's own first read",
    "withdrawn: after a reassign, too few of the reader's exams were left between it and its first read "
    "to re-read it blind",
    "set aside: the reader left the study, and no reader of the batch may read the exam yet; "
    "hand it on once one may",
)


def mark_system_closures(apps, schema_editor):
    Assignment = apps.get_model("annotations", "Assignment")
    Assignment.objects.filter(status="skipped", skip_reason__in=SYSTEM_REASONS_BEFORE_THE_MARK).update(
        closed_by_system=True
    )


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0031_exam_device_measurements"),
    ]

    operations = [
        migrations.AddField(
            model_name="assignment",
            name="closed_by_system",
            field=models.BooleanField(
                db_default=False,
                default=False,
                help_text="Closed by the system, not skipped by its reader: nobody's skip, and no read.",
            ),
        ),
        migrations.RunPython(mark_system_closures, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="assignment",
            constraint=models.CheckConstraint(
                condition=models.Q(("closed_by_system", False), ("status", "skipped"), _connector="OR"),
                name="assignment_system_closure_is_skip",
            ),
        ),
    ]
