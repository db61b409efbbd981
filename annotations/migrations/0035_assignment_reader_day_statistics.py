"""PostgreSQL learns how many days each reader submits on.

The dashboards count a batch's slots per reader and day of submission (the day in the site's TIME_ZONE,
as Django's TruncDate writes it). With no statistics on that day, PostgreSQL expected one group per slot
(300k for a 100k-exam batch) and grouped them all in one process; with these it expects the few
(reader, day) pairs there are and groups in parallel: 166 against 102 ms at CODE-II size.

The statistics are of the expression Django sends for the TIME_ZONE set when this migration ran; a site
that changes TIME_ZONE later rebuilds them with `manage.py migrate annotations 0034` and then `migrate`
(the dashboards are right either way, only slower). Nothing to do on SQLite, which plans without them."""

from django.db import migrations
from django.utils import timezone

NAME = "assignment_reader_day_stats"
TABLE = "annotations_assignment"


def statistics_create(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    column = schema_editor.quote_name("submitted_at")
    day, params = connection.ops.datetime_cast_date_sql(column, (), timezone.get_current_timezone_name())
    schema_editor.execute(
        f"CREATE STATISTICS IF NOT EXISTS {NAME} (ndistinct) ON reader_id, ({day}) FROM {TABLE}", params
    )
    schema_editor.execute(f"ANALYZE {TABLE}")  # the counts now, not at autovacuum's next pass


def statistics_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {NAME}")


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0034_assignment_time_on_task"),
    ]

    operations = [migrations.RunPython(statistics_create, statistics_drop, elidable=False)]
