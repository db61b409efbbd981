from django.db import migrations, models
from django.db.models import Q

from annotations.lib.reference_codes import MAX_BYTES, OVERFLOW, SEPARATOR, reference_codes_text
from annotations.migrations._concurrent import AddIndexConcurrently, RemoveIndexConcurrently

# Each exam's codes, built in one statement as lib.reference_codes builds them: distinct "system:code"
# entries in code-point order (COLLATE "C"), between newlines, OVERFLOW when too long or holding one.
POSTGRES_BACKFILL = f"""
UPDATE annotations_exam AS exam SET reference_codes = CASE
    WHEN codes.newline OR octet_length(codes.text) > {MAX_BYTES} THEN '{OVERFLOW}' ELSE codes.text END
FROM (
    SELECT exam_id,
           bool_or(strpos(code_system || ':' || code, E'{SEPARATOR}') > 0) AS newline,
           E'{SEPARATOR}' || string_agg(DISTINCT (code_system || ':' || code) COLLATE "C", E'{SEPARATOR}'
               ORDER BY (code_system || ':' || code) COLLATE "C") || E'{SEPARATOR}' AS text
    FROM annotations_referencelabel GROUP BY exam_id
) AS codes
WHERE exam.id = codes.exam_id
"""


def backfill(apps, schema_editor) -> None:
    """Every exam's codes from its reference labels. On PostgreSQL one UPDATE (CODE-II's 2.7M exams are
    rewritten once; the table is vacuumed at the end so that the designer's scans stay index-only); on
    the embedded SQLite default, in Python with the importer's own function."""
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(POSTGRES_BACKFILL)
        return
    Exam = apps.get_model("annotations", "Exam")
    ReferenceLabel = apps.get_model("annotations", "ReferenceLabel")
    labels: dict[int, list[tuple[str, str]]] = {}
    for exam_id, system, code in ReferenceLabel.objects.values_list("exam_id", "code_system", "code"):
        labels.setdefault(exam_id, []).append((system, code))
    for exam_id, pairs in labels.items():
        Exam.objects.filter(pk=exam_id).update(reference_codes=reference_codes_text(pairs))


def reindex(apps, schema_editor) -> None:
    """The backfill wrote a new version of every exam row, and of its entry in every index (a table
    filled by COPY has no room for in-page updates): at 2.7M exams each index doubled, and scans of the
    primary key slowed by half. Rebuilt concurrently: 78 s at that size on 2 cores."""
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("REINDEX TABLE CONCURRENTLY annotations_exam")


def vacuum(apps, schema_editor) -> None:
    """The backfill left every exam row's old version behind and the visibility map unset: without
    VACUUM, the designer's index-only scans read the heap for each row until autovacuum comes round."""
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) annotations_exam")


class Migration(migrations.Migration):
    # Not atomic: the indexes are built and dropped concurrently on PostgreSQL (the exam table holds
    # millions of rows at CODE-II size, and a plain CREATE INDEX would block imports for minutes), and
    # VACUUM cannot run inside a transaction. Stop imports while it runs (docs/scaling.md).
    atomic = False

    dependencies = [
        ("annotations", "0021_latest_score_window"),
    ]

    operations = [
        migrations.AddField(
            model_name="exam",
            name="reference_codes",
            field=models.TextField(blank=True, default="", db_default="", editable=False),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=False),
        migrations.RunPython(reindex, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name="exam",
            constraint=models.CheckConstraint(
                condition=Q(reference_codes__in=["", "*"])
                | Q(reference_codes__startswith="\n", reference_codes__endswith="\n"),
                name="exam_reference_codes_form",
            ),
        ),
        AddIndexConcurrently(
            model_name="exam",
            index=models.Index(
                fields=["id"],
                include=(
                    "dataset",
                    "age",
                    "sex",
                    "quality_grade",
                    "acquired_at",
                    "imported_at",
                    "reference_codes",
                ),
                name="exam_design_pool_codes_idx",
            ),
        ),
        RemoveIndexConcurrently(model_name="exam", name="exam_design_pool_idx"),
        AddIndexConcurrently(
            model_name="exam",
            index=models.Index(
                condition=Q(reference_codes="*"), fields=["id"], name="exam_reference_codes_over_idx"
            ),
        ),
        migrations.RunPython(vacuum, migrations.RunPython.noop, elidable=False),
    ]
