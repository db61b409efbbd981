"""A submitted slot carries its read's time on task, so the dashboard's quartiles read the slots alone.

Filled here from each submitted slot's current submitted read, as the dashboard counted it before. Reads
imported from files (their revisions recorded by the coordinator who imported them, not by the slot's
reader) had no measured time: their 0 ms is left out, as the importer now leaves it out."""

from django.db import migrations, models

FILL = """
UPDATE annotations_assignment SET time_on_task_ms = (
    SELECT an.time_on_task_ms FROM annotations_annotation an
    WHERE an.assignment_id = annotations_assignment.id AND an.is_current AND an.status = 'submitted'
      AND NOT EXISTS (
          SELECT 1 FROM annotations_annotationrevision rv
          WHERE rv.annotation_id = an.id AND rv.recorded_by_id <> annotations_assignment.reader_id
      )
)
WHERE status = 'submitted'
"""


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0033_dispute_reason_exclusive_words"),
    ]

    operations = [
        migrations.AddField(
            model_name="assignment",
            name="time_on_task_ms",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name="assignment",
            constraint=models.CheckConstraint(
                condition=models.Q(("status", "submitted"), ("time_on_task_ms__isnull", True), _connector="OR"),
                name="assignment_time_only_when_submitted",
            ),
        ),
    ]
