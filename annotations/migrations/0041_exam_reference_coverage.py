from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("annotations", "0040_audit_refuses_truncate")]

    operations = [
        migrations.AddField(
            model_name="exam",
            name="reference_coverage",
            field=models.CharField(blank=True, db_default="", default="", editable=False, max_length=500),
        ),
    ]
