from django.db import migrations, models

from annotations.migrations._concurrent import AddIndexConcurrently, RemoveIndexConcurrently


class Migration(migrations.Migration):
    # Concurrently on PostgreSQL: the kept scores hold a row per exam and class scored (millions at
    # CODE-II size), and a plain CREATE INDEX would block the suggestion workers' upserts for the minutes
    # it takes; CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ('annotations', '0020_latest_suggestion_score'),
    ]

    # The designer's score window (suggestion_min/max) now holds the exams whose newest score lies in
    # it, read from the kept newest scores: a range of this index, exams and all. The (class, score) index
    # of every score is dropped once the new one is built: the window and the strata were all that read
    # it (the strata read the kept scores since 0020; everything else reads scores by suggestion).
    operations = [
        AddIndexConcurrently(
            model_name='latestsuggestionscore',
            index=models.Index(fields=['provider', 'diagnostic_class', 'score'], include=('exam',), name='latest_score_window_idx'),
        ),
        RemoveIndexConcurrently(
            model_name='suggestionscore',
            name='suggestion_score_window_idx',
        ),
    ]
