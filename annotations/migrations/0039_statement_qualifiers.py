"""Statement qualifiers: those a taxonomy declares for a statement, and those a read chose."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("annotations", "0038_independence")]

    operations = [
        migrations.AddField(
            model_name="diagnosticclass",
            name="qualifiers",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Qualifiers a read may add to this statement, in display order: walls or "
                "territories (inferior, anterior, septal, lateral, posterior, extensive) and acute/old.",
            ),
        ),
        migrations.AddField(
            model_name="annotationlabel",
            name="qualifiers",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AlterField(
            model_name="annotationrevision",
            name="labels",
            field=models.JSONField(default=list, help_text="[{code, uncertain, qualifiers}] as saved."),
        ),
    ]
