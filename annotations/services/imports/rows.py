"""Inserting an import batch's exam and reference-label rows, inside the import unit's transaction (its
audit row covers them): COPY on PostgreSQL, bulk_create on any other database (the embedded SQLite).

COPY because the ORM's share of a CODE-15% import was the largest single cost: a model instance per
exam, each value prepared and then quoted into one large INSERT ... UNNEST statement, about 3x the time
COPY takes for the same rows. The rows are the same either way: every concrete field of the model is
written, fields the caller leaves out get the model's default (evaluated per row, like the ORM does),
values are coerced as the fields' own get_prep_value would, and constraints are the table's, so a bad
row fails the unit just as the ORM's INSERT would (as Django's IntegrityError and friends).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connections, models, router

from annotations.models import Exam, ReferenceLabel

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper


@dataclass(frozen=True)
class Inserted:
    """What the import needs of a row it inserted (not a model instance: building those cost as much as
    the insert)."""

    pk: int
    external_id: str
    waveform_sha256: str


def exam_rows_insert(rows: list[dict[str, Any]]) -> list[Inserted]:
    """Insert Exam rows given as {attname: value} (dataset_id, not dataset); return them, in order, with
    their primary keys, ascending like bulk_create's."""
    if not rows:
        return []
    connection = connections[router.db_for_write(Exam)]
    if not _copies(connection):
        created = Exam.objects.bulk_create([Exam(**row) for row in rows])
        return [Inserted(exam.pk, exam.external_id, exam.waveform_sha256) for exam in created]
    pks = _next_ids(connection, Exam, len(rows))
    _copy(connection, Exam, [{**row, "id": pk} for row, pk in zip(rows, pks, strict=True)])
    return [
        Inserted(pk, row["external_id"], row["waveform_sha256"]) for row, pk in zip(rows, pks, strict=True)
    ]


def label_rows_insert(rows: list[dict[str, Any]]) -> None:
    """Insert ReferenceLabel rows given as {attname: value}; their ids come from the table's default."""
    if not rows:
        return
    connection = connections[router.db_for_write(ReferenceLabel)]
    if not _copies(connection):
        ReferenceLabel.objects.bulk_create([ReferenceLabel(**row) for row in rows])
        return
    _copy(connection, ReferenceLabel, rows, with_pk=False)


def _copies(connection: BaseDatabaseWrapper) -> bool:
    return connection.vendor == "postgresql"


def _next_ids(connection: BaseDatabaseWrapper, model: type[models.Model], n: int) -> list[int]:
    """n ids from the table's own sequence (identity column), ascending, reserved in one round trip."""
    table, pk = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s) ORDER BY 1",
            [table, pk, n],
        )
        return [row[0] for row in cursor.fetchall()]


def _copy(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    rows: list[dict[str, Any]],
    *,
    with_pk: bool = True,
) -> None:
    fields = [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column or f.attname) for f in fields)
    converters = [(f.attname, f, _converter(f)) for f in fields]
    statement = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(
                    [
                        convert(row[name] if name in row else field.get_default())
                        for name, field, convert in converters
                    ]
                )


def _converter(field: models.Field[Any, Any]) -> Callable[[Any], Any]:
    """The value as the ORM would send it for this field, in a form text COPY takes (JSON as its text)."""
    if field.has_db_default() and not field.has_default():
        # A default kept only in the database: COPY would have to leave the column out. One the model
        # has too (a database default kept for raw inserts) is written like any other.
        raise NotImplementedError(f"{field} has a database default; COPY would have to leave it out")
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        return lambda value: None if value is None else json.dumps(value, cls=encoder)
    if isinstance(field, models.ForeignKey):
        return _converter(field.target_field)
    if isinstance(field, models.FloatField):
        return lambda value: None if value is None else float(value)
    if isinstance(field, models.IntegerField):
        return lambda value: None if value is None else int(value)
    if isinstance(field, (models.CharField, models.TextField)):
        return lambda value: None if value is None else str(value)
    if isinstance(field, models.DateTimeField):
        return lambda value: value
    raise NotImplementedError(f"no COPY conversion for {type(field).__name__} {field}")
