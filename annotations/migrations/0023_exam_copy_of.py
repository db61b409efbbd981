from django.db import migrations, models
from django.db.models import Q

from annotations.migrations._concurrent import AddIndexConcurrently

# Every exam whose waveform an earlier exam (a lower id) already holds points at the first of them. One
# statement, portable: the waveform index answers both subqueries.
BACKFILL = """
UPDATE annotations_exam SET copy_of_id = (
    SELECT min(first.id) FROM annotations_exam AS first
    WHERE first.waveform_sha256 = annotations_exam.waveform_sha256
)
WHERE EXISTS (
    SELECT 1 FROM annotations_exam AS earlier
    WHERE earlier.waveform_sha256 = annotations_exam.waveform_sha256 AND earlier.id < annotations_exam.id
)
"""


class Migration(migrations.Migration):
    # The index is built CONCURRENTLY on PostgreSQL (imports go on meanwhile), outside a transaction.
    atomic = False

    dependencies = [
        ("annotations", "0022_exam_reference_codes"),
    ]

    operations = [
        migrations.AddField(
            model_name="exam",
            name="copy_of",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=models.deletion.PROTECT,
                related_name="copies",
                to="annotations.exam",
            ),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop, elidable=False),
        AddIndexConcurrently(
            model_name="exam",
            index=models.Index(condition=Q(copy_of__isnull=False), fields=["copy_of"], name="exam_copy_of_idx"),
        ),
    ]
