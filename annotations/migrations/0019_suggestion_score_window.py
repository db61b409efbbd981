from django.db import migrations, models

from annotations.migrations._concurrent import AddIndexConcurrently, RemoveIndexConcurrently


class Migration(migrations.Migration):
    # Concurrently on PostgreSQL: CODE-II holds 11M scores, and a plain CREATE INDEX would block the
    # suggestion workers' writes for the minutes it takes; CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ('annotations', '0018_design_pool_indexes'),
    ]

    # The score leads where the suggestion followed: a class's scores in a window (the designer's
    # suggestion_min/max) are a range of the index instead of a filter over all of them, and the scores
    # of one class (its strata) still come from the index alone. The old index is dropped once the new
    # one is built: it served only the second.
    operations = [
        AddIndexConcurrently(
            model_name='suggestionscore',
            index=models.Index(fields=['diagnostic_class', 'score'], include=('suggestion',), name='suggestion_score_window_idx'),
        ),
        RemoveIndexConcurrently(
            model_name='suggestionscore',
            name='suggestion_score_class_idx',
        ),
    ]
