"""Create the role groups, and make the audit table append-only in the database itself.

Triggers rather than application checks: a row written by the application must not be changeable by
the application, the admin, or a stray UPDATE typed into psql.
"""

from django.db import migrations

ROLES = ("reader", "adjudicator", "coordinator")

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION annotations_auditevent_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER annotations_auditevent_append_only
    BEFORE UPDATE OR DELETE ON annotations_auditevent
    FOR EACH ROW EXECUTE FUNCTION annotations_auditevent_refuse_change();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS annotations_auditevent_append_only ON annotations_auditevent;
DROP FUNCTION IF EXISTS annotations_auditevent_refuse_change();
"""
SQLITE_UP = [
    """CREATE TRIGGER annotations_auditevent_no_update BEFORE UPDATE ON annotations_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END;""",
    """CREATE TRIGGER annotations_auditevent_no_delete BEFORE DELETE ON annotations_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END;""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS annotations_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS annotations_auditevent_no_delete;",
]


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


def _run(schema_editor, postgres, sqlite):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": [postgres], "sqlite": sqlite}.get(vendor, [])
    for statement in statements:
        schema_editor.execute(statement, params=None)


def triggers_up(apps, schema_editor):
    _run(schema_editor, POSTGRES_UP, SQLITE_UP)


def triggers_down(apps, schema_editor):
    _run(schema_editor, POSTGRES_DOWN, SQLITE_DOWN)


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(create_groups, migrations.RunPython.noop),
        migrations.RunPython(triggers_up, triggers_down),
    ]
