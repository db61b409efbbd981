"""Querysets whose SQL Django builds once per process, then runs again with each call's values.

Django builds a query's SQL anew every time it runs it. On a reader's submit, building the query that
checks and locks the assignment and the one that finds the next exam cost the web process more CPU
than PostgreSQL spent on the whole request (bench/load_reads.py, bench/submit_parts.py). A
PreparedQuery keeps such a rule written with the ORM, where it is read and reviewed like any other
selector, and caches only the building: the first call builds the queryset with marker values in
place of the call's values, keeps the SQL with the places those markers landed in, and every later
call runs that SQL with its own values there, converting the columns as Django would.

On PostgreSQL the SQL also runs as a server-side prepared statement, so that PostgreSQL plans it a few
times per connection rather than on every call: the lock query's joins and subquery took longer to plan
than to run (bench/submit_parts.py). Its filters are equalities on keys, which a kept (generic) plan
serves as well as a fresh one. DATABASE_PREPARED_STATEMENTS=0 turns this off (ecgreview/settings.py).

Only values_list() querysets of integer values: the markers are integers far beyond any id, found by
equality among the query's parameters, so a value that never reaches them (folded into the SQL text,
as a slice's bound is) refuses to build (ImproperlyConfigured), before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

import psycopg
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.models import QuerySet
from django.db.transaction import TransactionManagementError

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.utils import CursorWrapper

# Far beyond any id or count the tables hold (a bigint stops at 2**63), and unlike any constant of a
# query; positive, so a builder that checks its values (a slice's bounds) takes them as it takes ids.
_MARKER_BASE = 2**62 - 7_919


@dataclass(frozen=True)
class _Plan:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, str], ...]  # (place among the parameters, the value's name)
    converters: dict[int, tuple[list[Callable[..., Any]], Any]]  # the compiler's own, by column
    locks: bool  # select_for_update: must run inside a transaction, as Django requires
    alias: str  # the database the queryset chose


def _converted(
    rows: list[tuple[Any, ...]], plan: _Plan, connection: BaseDatabaseWrapper
) -> Iterator[tuple[Any, ...]]:
    """The rows as the queryset would give them (SQLite's datetimes parsed, JSON decoded, ...)."""
    if not plan.converters:
        yield from rows
        return
    for row in rows:
        values = list(row)
        for place, (functions, expression) in plan.converters.items():
            value = values[place]
            for convert in functions:
                value = convert(value, expression, connection)
            values[place] = value
        yield tuple(values)


class _ServerPreparedCursor(psycopg.Cursor):
    """A cursor that binds on the server and prepares every statement it runs: Django's own cursors
    bind on the client, where psycopg never prepares."""

    def execute(  # the binding default differs from psycopg's: prepare unless told not to
        self, query: Any, params: Any = None, *, prepare: bool | None = True, binary: bool | None = None
    ) -> Self:
        return super().execute(query, params, prepare=prepare, binary=binary)


def _statement_cursor(connection: BaseDatabaseWrapper) -> CursorWrapper:
    """Django's cursor for the connection; on PostgreSQL with prepared statements allowed, the same
    wrapper (execute wrappers, the query log, Django's errors) around a preparing cursor. The driver's
    connection carries Django's loaders and time zone, which its cursors inherit."""
    cursor = connection.cursor()
    driver = getattr(cursor.cursor, "connection", None)
    if (
        connection.vendor != "postgresql"
        or driver is None
        or getattr(driver, "prepare_threshold", None) is None
    ):
        return cursor
    cursor.close()
    return type(cursor)(_ServerPreparedCursor(driver), connection)


class PreparedQuery:
    """`build(**values)` returns the values_list() queryset; call rows(**values) to run it.

    `shape` separates queries whose SQL differs with the call, not only its values (how many ids an IN
    list holds, which of two filters applies): one plan is kept per shape and database alias."""

    def __init__(self, build: Callable[..., QuerySet[Any]]):
        self._build = build
        self._plans: dict[Hashable, _Plan] = {}

    def rows(self, *, shape: Hashable = (), **values: int) -> list[tuple[Any, ...]]:
        key = (shape, tuple(values))
        plan = self._plans.get(key)
        if plan is None:  # two threads may both build it: the same plan, kept once
            queryset = self._build(shape=shape, **self._markers(values))
            plan = self._plans[key] = self._plan(queryset, values)
        connection = connections[plan.alias]
        if plan.locks and connection.get_autocommit():
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        params = list(plan.params)
        for place, name in plan.slots:
            params[place] = values[name]
        with _statement_cursor(connection) as cursor:
            cursor.execute(plan.sql, params)
            fetched = cursor.fetchall()
        return list(_converted(fetched, plan, connection))

    @staticmethod
    def _markers(values: dict[str, int]) -> dict[str, int]:
        return {name: _MARKER_BASE - index for index, name in enumerate(values)}

    def _plan(self, queryset: QuerySet[Any], values: dict[str, int]) -> _Plan:
        markers = self._markers(values)
        compiler = queryset.query.get_compiler(queryset.db)
        sql, params = compiler.as_sql()
        by_marker = {marker: name for name, marker in markers.items()}
        slots = tuple(
            (place, by_marker[param])
            for place, param in enumerate(params)
            if type(param) is int and param in by_marker
        )
        missing = set(values) - {name for _, name in slots}
        if missing:
            raise ImproperlyConfigured(f"prepared query: {sorted(missing)} not among the query's parameters")
        if compiler.has_extra_select:  # columns only for ordering, which Django would cut off each row
            raise ImproperlyConfigured("prepared query: the SQL selects more columns than asked for")
        columns = [expression for expression, _, _ in compiler.select[: compiler.col_count]]
        return _Plan(
            sql=sql,
            params=tuple(params),
            slots=slots,
            converters=compiler.get_converters(columns),
            locks=bool(queryset.query.select_for_update),
            alias=queryset.db,
        )
