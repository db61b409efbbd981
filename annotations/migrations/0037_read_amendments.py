"""A revision says what made it (a draft save, a submit, an amendment, a return) and, for a correction,
why: a submitted read may be amended by its reader or returned by a coordinator, and the trail keeps
every earlier revision."""

from django.db import migrations, models


def kinds_of_earlier_revisions(apps, schema_editor):
    # Before corrections a submitted revision could only come from a submit.
    revision = apps.get_model("annotations", "AnnotationRevision")
    revision.objects.filter(status="submitted").update(kind="submit")


class Migration(migrations.Migration):
    dependencies = [("annotations", "0036_skip_reasons")]

    operations = [
        migrations.AddField(
            model_name="annotationrevision",
            name="kind",
            field=models.CharField(
                choices=[
                    ("save", "Draft saved"),
                    ("submit", "Submitted"),
                    ("amend", "Amended by its reader"),
                    ("returned", "Returned to its reader"),
                ],
                default="save",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="annotationrevision",
            name="reason",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(kinds_of_earlier_revisions, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="annotationrevision",
            constraint=models.CheckConstraint(
                condition=models.Q(("kind__in", ["save", "submit", "amend", "returned"])),
                name="annotation_revision_kind_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="annotationrevision",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("kind__in", ["save", "submit"]), models.Q(("reason", ""), _negated=True), _connector="OR"
                ),
                name="annotation_revision_correction_has_reason",
            ),
        ),
    ]
