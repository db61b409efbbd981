import django.db.models.deletion
from django.db import migrations, models

TABLE = "annotations_latestsuggestionscore"
COLUMNS = "exam_id, provider, diagnostic_class_id, suggestion_id, computed_at, score"
NEWEST = (
    "SELECT DISTINCT ON (s.provider, sc.diagnostic_class_id, s.exam_id) "
    "s.exam_id, s.provider, sc.diagnostic_class_id, s.id, s.computed_at, sc.score "
    "FROM annotations_suggestionscore sc JOIN annotations_suggestion s ON s.id = sc.suggestion_id "
    "WHERE s.status = 'ok' "
    "ORDER BY s.provider, sc.diagnostic_class_id, s.exam_id, s.computed_at DESC, s.id DESC"
)
# SQLite has no DISTINCT ON: the same pick by a window.
NEWEST_BY_WINDOW = (
    f"SELECT {COLUMNS} FROM ("
    "SELECT s.exam_id, s.provider, sc.diagnostic_class_id, s.id AS suggestion_id, s.computed_at, sc.score, "
    "ROW_NUMBER() OVER (PARTITION BY s.provider, sc.diagnostic_class_id, s.exam_id "
    "ORDER BY s.computed_at DESC, s.id DESC) AS newest "
    "FROM annotations_suggestionscore sc JOIN annotations_suggestion s ON s.id = sc.suggestion_id "
    "WHERE s.status = 'ok') offered WHERE newest = 1"
)


def keep_the_newest(apps, schema_editor):
    """Each exam's newest OK score per (provider, class) from the scores already stored."""
    postgres = schema_editor.connection.vendor == "postgresql"
    with schema_editor.connection.cursor() as cursor:
        if not postgres:
            # Django creates no unique constraint with INCLUDE on SQLite; the services' upsert
            # (ON CONFLICT) needs one, so it gets the same unique index without the score.
            cursor.execute(
                f"CREATE UNIQUE INDEX latest_score_unique ON {TABLE} (provider, diagnostic_class_id, exam_id)"
            )
        cursor.execute(f"INSERT INTO {TABLE} ({COLUMNS}) {NEWEST if postgres else NEWEST_BY_WINDOW}")


class Migration(migrations.Migration):
    # One transaction, no CONCURRENTLY: the table is new, so no one else reads or writes it until this
    # commits, and on PostgreSQL its indexes and foreign keys (Django defers them to the migration's end)
    # are built once over the filled table rather than kept up row by row. The backfill only reads the
    # suggestions and scores: writers go on meanwhile (what they store before the code that keeps the
    # table runs is not in it; see docs/scaling.md).
    dependencies = [
        ('annotations', '0019_suggestion_score_window'),
    ]

    operations = [
        migrations.CreateModel(
            name='LatestSuggestionScore',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('provider', models.CharField(max_length=100)),
                ('computed_at', models.DateTimeField(help_text="The suggestion's, to keep the newest on each write.")),
                ('score', models.FloatField()),
                ('diagnostic_class', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='annotations.diagnosticclass')),
                ('exam', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='annotations.exam')),
                ('suggestion', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='annotations.suggestion')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('provider', 'diagnostic_class', 'exam'), include=('score',), name='latest_score_unique'), models.CheckConstraint(condition=models.Q(('score__gte', 0), ('score__lte', 1)), name='latest_score_in_unit_range')],
            },
        ),
        migrations.RunPython(keep_the_newest, migrations.RunPython.noop, elidable=False),
    ]
