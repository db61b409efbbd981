"""The audit table refuses TRUNCATE too, not only UPDATE and DELETE.

TRUNCATE fires no row trigger, so the append-only rule of 0002 let one statement empty the whole trail.
A statement trigger refuses it unless the session says, on purpose, that it is emptying a database it
owns: `SET ecgreview.audit_truncate = 'allowed'` (the test suite sets it on its throwaway databases,
whose flush between tests is a TRUNCATE). Nothing in the application sets it. SQLite has no TRUNCATE:
its DELETE trigger of 0002 already covers a DELETE without WHERE."""

from django.db import migrations

UP = """
CREATE OR REPLACE FUNCTION annotations_auditevent_refuse_truncate() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('ecgreview.audit_truncate', true), '') <> 'allowed' THEN
        RAISE EXCEPTION 'audit events are append-only: TRUNCATE refused'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER annotations_auditevent_no_truncate
    BEFORE TRUNCATE ON annotations_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION annotations_auditevent_refuse_truncate();
"""
DOWN = """
DROP TRIGGER IF EXISTS annotations_auditevent_no_truncate ON annotations_auditevent;
DROP FUNCTION IF EXISTS annotations_auditevent_refuse_truncate();
"""


def trigger_up(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UP, params=None)


def trigger_down(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DOWN, params=None)


class Migration(migrations.Migration):
    dependencies = [("annotations", "0039_statement_qualifiers")]

    operations = [migrations.RunPython(trigger_up, trigger_down)]
