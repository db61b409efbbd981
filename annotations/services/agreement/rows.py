"""Writing a recomputation's Consensus and DisputedLabel rows set-wise.

A 100,000-exam batch stores a few hundred thousand cells. Built as model instances and upserted with
bulk_create they cost about a minute of per-row Python (instance set-up and per-value field
preparation were 80 of 85 s in a profile at CODE-II size), against a second or two when the rows go
straight from the decision arrays into a temporary table and one INSERT ... SELECT ... ON CONFLICT
merges them. PostgreSQL fills the temporary table with COPY; the embedded default (SQLite) with
executemany; the merge and the deletes are the same SQL on both.

Run inside the caller's transaction (services.agreement.compute._store holds the batch lock).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection

from annotations.models import Consensus, DisputedLabel

if TYPE_CHECKING:
    from django.db.backends.utils import CursorWrapper
    from django.db.models import Model

_NEW = "agreement_consensus_new"
_CELL = ("exam_id", "diagnostic_class_id", "positive_votes", "total_votes", "probability")
_CONSENSUS_NEW = (*_CELL, "value", "method")
_MACHINE_FIELDS = ("value", "method", "positive_votes", "total_votes", "probability")


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _fill(table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    names = ", ".join(columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(rows))  # noqa: S608


def _create_new_table(cursor: CursorWrapper) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {_NEW}")
    cursor.execute(
        f"""CREATE TEMPORARY TABLE {_NEW} (
            exam_id bigint NOT NULL, diagnostic_class_id bigint NOT NULL,
            positive_votes integer NOT NULL, total_votes integer NOT NULL,
            probability double precision NULL, value boolean NOT NULL, method varchar(12) NOT NULL)"""
    )


def consensus_rows_replace(batch_id: int, rows: list[tuple[Any, ...]], version: str, now: datetime) -> None:
    """The batch's machine Consensus rows become `rows` (tuples in the order of _CONSENSUS_NEW): each
    upserted, and every machine row not among them deleted. Adjudicated rows are the caller's to leave
    out of `rows`; the delete never touches one."""
    consensus = _table(Consensus)
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        _create_new_table(cursor)
    _fill(_NEW, _CONSENSUS_NEW, rows)
    updates = ", ".join(f"{name} = excluded.{name}" for name in (*_MACHINE_FIELDS, "algorithm_version"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""DELETE FROM {consensus} WHERE batch_id = %s AND method <> %s AND NOT EXISTS (
                    SELECT 1 FROM {_NEW} n WHERE n.exam_id = {consensus}.exam_id
                    AND n.diagnostic_class_id = {consensus}.diagnostic_class_id)""",  # noqa: S608
            [batch_id, Consensus.Method.ADJUDICATED],
        )
        # "WHERE true": SQLite reads ON CONFLICT after a bare SELECT ... FROM as a join constraint.
        cursor.execute(
            f"""INSERT INTO {consensus} (batch_id, {", ".join(_CONSENSUS_NEW)}, algorithm_version,
                    computed_at)
                SELECT %s, {", ".join(_CONSENSUS_NEW)}, %s, %s FROM {_NEW} WHERE true
                ON CONFLICT (batch_id, exam_id, diagnostic_class_id)
                DO UPDATE SET {updates}, computed_at = excluded.computed_at""",  # noqa: S608
            [batch_id, version, stamp],
        )
        cursor.execute(f"DROP TABLE {_NEW}")


def disputes_replace(batch_id: int, rows: list[tuple[Any, ...]], now: datetime) -> None:
    """The batch's DisputedLabel rows become `rows` (tuples: the cell's fields, then the reason)."""
    stamp = connection.ops.adapt_datetimefield_value(now)
    DisputedLabel.objects.filter(batch_id=batch_id).delete()
    _fill(
        _table(DisputedLabel),
        ("batch_id", *_CELL, "reason", "computed_at"),
        ((batch_id, *row, stamp) for row in rows),
    )
