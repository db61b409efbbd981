"""Query results as numpy arrays, one binary value per column instead of a Python tuple per row (the
designer's pool of exams, and any selector reading a large batch: the suggestion evidence).

A million rows read through the driver cost seconds of Python (a tuple and its objects per row); each
column aggregated into one value costs a single read and a numpy view. The value is the column's
values packed end to end, each in its type's binary form (int8send and the like: big-endian, fixed
width), concatenated by string_agg. array_send's format, used before, carried a 32-bit length beside
every element (12 bytes for an 8-byte id); and the driver receives a bytea as hexadecimal text, so every
byte sent is two on the wire. At 2.7M exams the designer's pool of 2.3M ids took 440 ms to read as
arrays, 377 ms packed, and 309 ms packed at 4 bytes an id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from django.db import connection, transaction

if TYPE_CHECKING:
    from django.db.backends.utils import CursorWrapper


def sent(column: str, sql_type: str) -> str:
    """The SQL of one column packed into one bytea (empty for no rows): its values without NULLs, each in
    `sql_type`'s binary form, in the order the rows come."""
    return f"COALESCE(string_agg({sql_type}send(({column})::{sql_type}), ''::bytea), ''::bytea)"


def unpacked(value: bytes | memoryview, kind: str) -> np.ndarray:
    """A value `sent` packed as a numpy array of `kind` (">i8", ">i4", ">i2", ">f8")."""
    return np.frombuffer(value, dtype=kind)


def large_read_settings(cursor: CursorWrapper) -> None:
    """Inside a transaction: settings for one query that reads a large part of a table."""
    # JIT-compiling a one-off scan of millions of rows took 1.3 s of a 3.9 s query at 2.7M exams.
    cursor.execute("SET LOCAL jit = off")
    # Every row goes to one aggregate in the leader, so PostgreSQL's default charge for passing a row
    # from a parallel worker (0.1) rules out scanning in parallel; the scan and its filters are the
    # cost. Measured at 2.7M exams on 2 cores, the designer's pool of 982k: 1.7-2.1 s serial,
    # 1.2-1.4 s in parallel.
    cursor.execute("SET LOCAL parallel_tuple_cost = 0.001")


def query_arrays(sql: str, params: Sequence[Any], columns: list[tuple[str, str, str]]) -> list[np.ndarray]:
    """Columns (name, SQL type, numpy type) of a query with no NULLs, as numpy arrays. The order of the
    rows is not promised (an aggregate over an ordered subquery keeps it only in practice): callers sort
    in numpy."""
    if connection.vendor != "postgresql":
        return _rows_as_arrays(sql, params, columns)
    aggregates = ", ".join(sent(f'q."{name}"', kind) for name, kind, _ in columns)
    with transaction.atomic(), connection.cursor() as cursor:
        large_read_settings(cursor)
        cursor.execute(f"SELECT {aggregates} FROM ({sql}) q", params)  # noqa: S608
        row = cursor.fetchone()
    return [unpacked(value, kind) for value, (_, _, kind) in zip(row, columns, strict=True)]


def _rows_as_arrays(sql: str, params: Sequence[Any], columns: list[tuple[str, str, str]]) -> list[np.ndarray]:
    """query_arrays on the embedded default (SQLite: no array_send, no SET): the rows as the driver gives
    them, one array per column. A laptop's study is thousands of rows, where a tuple each costs nothing."""
    names = ", ".join(f'q."{name}"' for name, _, _ in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {names} FROM ({sql}) q", params)  # noqa: S608
        rows = cursor.fetchall()
    return [
        np.array([row[index] for row in rows], dtype=np.dtype(kind).newbyteorder("="))
        for index, (_, _, kind) in enumerate(columns)
    ]


def parallel_aggregates() -> int:
    """How many processes PostgreSQL may give one query: the leader and its parallel workers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('max_parallel_workers_per_gather')::int")
        workers: int = cursor.fetchone()[0]
        return 1 + workers


def query_array_in_parts(
    parts: list[tuple[str, tuple[Any, ...]]], column: str, sql_type: str, kind: str
) -> np.ndarray:
    """One column of several queries (SQL, parameters), each aggregated into an array of its own, the
    arrays joined in the order of `parts`.

    PostgreSQL 15 cannot aggregate an array in its parallel workers: in one array, every row crosses
    from the workers to the leader, which then appends them one by one (at 2.7M rows, most of the
    query). A UNION ALL of one aggregate per part is planned as a Parallel Append, where each process
    aggregates whole parts of its own and only their arrays cross."""
    branches = " UNION ALL ".join(
        f"SELECT {index} AS part, {sent(f'q.{column}', sql_type)} AS sent FROM ({sql}) q"  # noqa: S608
        for index, (sql, _) in enumerate(parts)
    )
    params = [value for _, part_params in parts for value in part_params]
    with transaction.atomic(), connection.cursor() as cursor:
        large_read_settings(cursor)
        cursor.execute(branches, params)
        rows = sorted(cursor.fetchall())
    arrays = [unpacked(value, kind) for _, value in rows]
    return np.concatenate(arrays) if arrays else np.empty(0, dtype=kind)
