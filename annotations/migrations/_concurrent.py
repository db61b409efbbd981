"""Index operations the migrations share (the loader skips modules whose name starts with "_")."""

from django.contrib.postgres.operations import AddIndexConcurrently as _Concurrently
from django.contrib.postgres.operations import RemoveIndexConcurrently as _RemoveConcurrently
from django.db import migrations


class AddIndexConcurrently(_Concurrently):
    """CONCURRENTLY on PostgreSQL; a plain index elsewhere (the embedded SQLite default has no such
    keyword, and no concurrent writers to protect)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class RemoveIndexConcurrently(_RemoveConcurrently):
    """DROP INDEX CONCURRENTLY on PostgreSQL; a plain removal elsewhere (as AddIndexConcurrently)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return migrations.RemoveIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return migrations.RemoveIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
