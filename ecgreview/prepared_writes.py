"""Row writes whose SQL Django builds once per process: the reader's submit path and the audit trail.

Model.save() and bulk_create() build their INSERT or UPDATE anew on every call: the query object, its
compiler, the SQL text. On a reader's submit that is five statements (the read, its labels, its revision,
the audit row, the assignment closed), and building them cost the web process about as much CPU as
running them (bench/submit_parts.py). These two functions write the same rows with the same values: the
SQL comes from Django's own compiler, built the first time a shape is written and kept; each call only
prepares its values, as the compiler would (each field's pre_save, for auto_now, and get_db_prep_save,
for JSON and datetimes), and runs the kept SQL with them.

Inside writes_sent_together(), PostgreSQL gets several of these writes in one round trip (psycopg's
pipeline mode), for the rows of one write that need nothing from each other.

Like bulk_create, they send no pre_save/post_save signals; the models here have no receivers (models are
declarative in this project), and a model that gains one is refused the first time, not skipped silently.
A value that is an expression (F(), a subquery) is refused too: write such a row with the ORM.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import cast

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, router
from django.db.models import AutoField, Field, Model, signals
from django.db.models.sql import InsertQuery, UpdateQuery


@dataclass(frozen=True)
class _Statement:
    sql: str
    fields: tuple[Field, ...]  # whose values fill the parameters, in order (then the key, for an update)
    by_column: bool = False  # an insert's parameters: a list per field, of every row's value


_INSERTS: dict[tuple, _Statement] = {}
_UPDATES: dict[tuple, _Statement] = {}

# Per thread: the database alias whose writes are being sent together, and what to do with each one's
# answer once they have all come (writes_sent_together).
_together = threading.local()


@contextmanager
def writes_sent_together(alias: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """rows_insert and row_update inside the block send their statements to PostgreSQL without waiting for
    each one's answer (psycopg's pipeline mode), and the answers come back together when the block ends:
    one round trip for the writes instead of one each. A submit writes four rows that need nothing from
    each other (its labels, its revision, its audit row, the assignment closed), and under load each
    round trip costs the web process and the server CPU of their own (bench/load_reads.py).

    So the keys of the rows inserted inside are set, and an update that found no row fails, when the block
    ends; a statement the database refuses fails there too, as the Django error it would have been. A read
    inside the block (any ORM query) first waits for what was sent before it. Any other write is refused
    inside: the ORM's writes read their row count at once, before the answer has come (save() with
    update_fields would then fail, and a count be wrong). Elsewhere (the embedded SQLite, another
    backend, or a block already sending together) the statements run one by one as outside the block."""
    connection = connections[alias]
    if connection.vendor != "postgresql" or getattr(_together, "alias", None) is not None:
        yield
        return
    connection.ensure_connection()
    answers: list[Callable[[], None]] = []
    _together.alias, _together.answers, _together.ours = alias, answers, False
    try:
        with (
            connection.execute_wrapper(_only_reads_besides_ours),
            connection.wrap_database_errors,
            connection.connection.pipeline(),
        ):
            yield
    finally:
        _together.alias = _together.answers = None
    for answer in answers:
        answer()


def _only_reads_besides_ours(execute, sql, params, many, context):
    if not _together.ours and not sql.lstrip()[:6].upper() == "SELECT":
        raise ImproperlyConfigured(
            f"only rows_insert, row_update and reads may run while writes are sent together: {sql[:60]}"
        )
    return execute(sql, params, many, context)


def _sending_together(alias: str) -> list[Callable[[], None]] | None:
    return _together.answers if getattr(_together, "alias", None) == alias else None


def _refuse_receivers(model: type[Model]) -> None:
    for signal in (signals.pre_save, signals.post_save):
        if signal.has_listeners(model):
            raise ImproperlyConfigured(
                f"{model._meta.label} has save signal receivers, which a prepared write would skip"
            )


def _value(field: Field, value, connection):
    if hasattr(value, "resolve_expression"):
        raise TypeError(f"{field.name}: an expression cannot be written by a prepared write")
    return field.get_db_prep_save(value, connection=connection)


def _insert_statement(objs: Sequence[Model], alias: str) -> _Statement:
    """The INSERT of len(objs) new rows with a database-made primary key, as bulk_create writes them,
    compiled by Django from these rows (their values only fill its parameters)."""
    model, rows = type(objs[0]), len(objs)
    _refuse_receivers(model)
    opts = model._meta
    fields = tuple(f for f in opts.concrete_fields if not f.generated and not isinstance(f, AutoField))
    if not isinstance(opts.pk, AutoField) or any(f.has_db_default() for f in fields):
        raise ImproperlyConfigured(f"{opts.label}: needs a database-made key and no db_default")
    connection = connections[alias]
    features = connection.features
    returns_pk = features.can_return_rows_from_bulk_insert or (
        rows == 1 and features.can_return_columns_from_insert
    )
    if not returns_pk or connection.ops.bulk_batch_size(fields, objs) < rows:
        raise ImproperlyConfigured(f"{connection.vendor}: {rows} rows need bulk_create's own batching")
    query = InsertQuery(model)
    query.insert_values(fields, list(objs))
    compiler = query.get_compiler(alias)
    compiler.returning_fields = [opts.pk]
    ((sql, params),) = compiler.as_sql()
    # PostgreSQL's rows go in as one array per column (INSERT ... SELECT * FROM UNNEST), so planning does
    # not grow with the rows; elsewhere one parameter per value.
    by_column = rows > 1 and len(params) == len(fields) and all(len(p) == rows for p in params)
    if (not by_column and len(params) != rows * len(fields)) or sql.count("%s") != len(params):
        raise ImproperlyConfigured(f"{opts.label}: the insert does not take one parameter per value")
    if compiler.returning_params:
        raise ImproperlyConfigured(f"{connection.vendor}: returning parameters are not supported")
    return _Statement(sql=sql, fields=fields, by_column=by_column)


def rows_insert(objs: Sequence[Model]) -> None:
    """Insert new instances of one model, setting their primary keys, as bulk_create(objs) would."""
    if not objs:
        return
    model = type(objs[0])
    alias = router.db_for_write(model)
    key = (model, len(objs), alias)
    statement = _INSERTS.get(key)
    if statement is None:
        statement = _INSERTS[key] = _insert_statement(objs, alias)
    connection = connections[alias]
    rows = [[_value(f, f.pre_save(obj, add=True), connection) for f in statement.fields] for obj in objs]
    params = (
        [list(column) for column in zip(*rows, strict=True)]
        if statement.by_column
        else [v for row in rows for v in row]
    )
    cursor = _sent(connection, statement.sql, params)

    def keys_set() -> None:
        with cursor:
            keys = cursor.fetchall()
        if len(keys) != len(objs):  # every row comes back; a short answer is a driver we do not know
            raise DatabaseError(f"{len(objs)} rows inserted, {len(keys)} keys returned")
        attname = model._meta.pk.attname
        for obj, (pk,) in zip(objs, keys, strict=True):
            setattr(obj, attname, pk)
            obj._state.adding = False
            obj._state.db = alias

    _answered(alias, keys_set)


def _update_statement(obj: Model, fields: tuple[Field, ...], alias: str) -> _Statement:
    """UPDATE ... SET the fields WHERE pk, compiled by Django from this row as save(update_fields) does."""
    model = type(obj)
    _refuse_receivers(model)
    query = model._base_manager.using(alias).filter(pk=obj.pk).query.chain(UpdateQuery)
    # UpdateQuery.add_update_fields is Django's (what save(update_fields) calls); django-stubs omits it.
    query.add_update_fields(  # type: ignore[attr-defined]
        [(field, None, field.pre_save(obj, add=False)) for field in fields]
    )
    sql, params = query.get_compiler(alias).as_sql()
    if len(params) != len(fields) + 1 or sql.count("%s") != len(params) or params[-1] != obj.pk:
        raise ImproperlyConfigured(f"{model._meta.label}: the update does not take one parameter per value")
    return _Statement(sql=sql, fields=fields)


def row_update(obj: Model, names: Sequence[str]) -> None:
    """obj.save(update_fields=names): the named columns of an existing row, by primary key."""
    model = type(obj)
    alias = obj._state.db or router.db_for_write(model)
    key = (model, tuple(names), alias)
    statement = _UPDATES.get(key)
    if statement is None:
        # update_fields names concrete fields, never reverse relations.
        fields = tuple(cast(Field, model._meta.get_field(name)) for name in names)
        statement = _UPDATES[key] = _update_statement(obj, fields, alias)
    connection = connections[alias]
    params = [_value(field, field.pre_save(obj, add=False), connection) for field in statement.fields]
    params.append(obj.pk)
    cursor = _sent(connection, statement.sql, params)

    def row_found() -> None:
        with cursor:
            if cursor.rowcount != 1:
                raise DatabaseError(f"{model._meta.label} {obj.pk}: the update found no row")

    _answered(alias, row_found)


def _sent(connection, sql: str, params: list):
    cursor = connection.cursor()
    _together.ours = True
    try:
        cursor.execute(sql, params)
    except BaseException:
        cursor.close()
        raise
    finally:
        _together.ours = False
    return cursor


def _answered(alias: str, answer: Callable[[], None]) -> None:
    """Read a statement's answer now, or once the writes sent together have all been answered."""
    waiting = _sending_together(alias)
    if waiting is None:
        answer()
    else:
        waiting.append(answer)
