"""The statistics that tell PostgreSQL how many days each reader submits on are of the day Django groups
by, in the site's TIME_ZONE; the migration takes them away again when undone."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.migrating import apps_at, apps_at_latest

BEFORE = [("annotations", "0034_assignment_time_on_task")]
AFTER = [("annotations", "0035_assignment_reader_day_statistics")]
DEFINITION = "SELECT pg_get_statisticsobjdef(oid) FROM pg_statistic_ext WHERE stxname = %s"


def _definition() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(DEFINITION, ["assignment_reader_day_stats"])
        row = cursor.fetchone()
    return row[0] if row else None


@pytest.mark.django_db(transaction=True)
def test_the_statistics_are_of_the_day_in_the_sites_time_zone_and_go_when_undone(settings):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL statistics")
    try:
        apps_at(BEFORE)
        assert _definition() is None
        apps_at(AFTER)
        made = _definition()
        assert made is not None and "reader_id" in made, made
        assert f"(submitted_at AT TIME ZONE '{settings.TIME_ZONE}'::text)::date" in made, made
    finally:
        apps_at_latest()
