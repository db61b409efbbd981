"""What an export contains, read straight from the database in the export's order.

Rows are ordered by (dataset name, external id) under the "C" collation, so the order is the same on
every server whatever its locale. The big result sets are read through server-side cursors in chunks
(``_stream``): an export of a million exams holds one chunk in memory, never the result.

PostgreSQL is the reference dialect. On the embedded default (SQLite) the few constructs it lacks are
written with SQLite's equivalents (``_dialect``): a JSON array of ids for ``= ANY(array)``, JSON arrays
for ARRAY()/array_agg/json_agg, and the BINARY collation, which orders UTF-8 text by code point exactly
as "C" does; a plain cursor read a chunk at a time stands in for the server-side one.

Which exams: those of the batches with at least one submitted first read (the reads consensus is
computed from). Which value per class: the stored Consensus row if there is one; else undecided if the
class is disputed (a tie or an uncertain latent estimate nobody has adjudicated yet); else absent (0),
since the agreement service stores no row for a class no reader marked.

A disputed cell stays undecided until it is adjudicated, even where the rule made a value for it (an
escalated exam's majority).

Which batches may be exported together, and the columns, are in selectors.releases.plan; the few
reads small enough to read whole through the ORM are in selectors.releases.facts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from annotations.models import (
    Annotation,
    AnnotationLabel,
    Assignment,
    BatchExam,
    Consensus,
    Dataset,
    DiagnosticClass,
    DisputedLabel,
    Exam,
    SuggestionExposure,
)

CHUNK_ROWS = 5000


def _t() -> dict[str, str]:
    """Quoted table names for the raw SQL below (the queries are built from these and constants only;
    every value is a bound parameter, hence the noqa: S608 on them)."""
    models = {
        "exam": Exam,
        "dataset": Dataset,
        "batchexam": BatchExam,
        "assignment": Assignment,
        "annotation": Annotation,
        "label": AnnotationLabel,
        "klass": DiagnosticClass,
        "consensus": Consensus,
        "disputed": DisputedLabel,
        "exposure": SuggestionExposure,
    }
    names = {name: connection.ops.quote_name(model._meta.db_table) for name, model in models.items()}
    return {**names, **_dialect()}


def _sqlite() -> bool:
    return connection.vendor == "sqlite"


def _dialect() -> dict[str, str]:
    """The SQL fragments that differ between PostgreSQL and SQLite, by name, for the queries below."""
    if _sqlite():
        return {
            "in_batches": "IN (SELECT value FROM json_each(%(batches)s))",
            "collate": "COLLATE BINARY",
            "ids": "json_group_array",
            "rows": "json_group_array",
            "row": "json_array",
            "distinct_values": "json_group_array",
        }
    return {
        "in_batches": "= ANY(%(batches)s)",
        "collate": 'COLLATE "C"',
        "ids": "ARRAY",
        "rows": "json_agg",
        "row": "json_build_array",
        "distinct_values": "array_agg",
    }


def _batches_param(batch_ids: Sequence[int]) -> str | list[int]:
    """The bound value of %(batches)s: an array on PostgreSQL, a JSON array on SQLite."""
    ids = [int(i) for i in batch_ids]
    return json.dumps(ids) if _sqlite() else ids


def _array(value: Any) -> list[Any]:
    """An ARRAY()/array_agg column: a list on PostgreSQL, JSON text on SQLite."""
    if isinstance(value, str):
        decoded: list[Any] = json.loads(value)
        return decoded
    return list(value or [])


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands raw SQL its stored UTC times back naive; PostgreSQL's are aware already."""
    if isinstance(moment, datetime) and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


# --- Streaming ------------------------------------------------------------------------------------------
@contextmanager
def read_snapshot() -> Iterator[None]:
    """One read-only snapshot for every pass: the files agree with each other whatever is submitted
    meanwhile, on either database.

    PostgreSQL: a REPEATABLE READ READ ONLY transaction. SQLite (the embedded default, in WAL mode): any
    transaction reads one snapshot from its first SELECT to its end, but it must begin DEFERRED; the
    settings' IMMEDIATE mode would hold the write lock for the whole export and lock every reader's
    submit out of the database meanwhile."""
    if connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield
        return
    # SQLite's DatabaseWrapper.transaction_mode (Django 5.1) is missing from django-stubs: the ignores below.
    mode = getattr(connection, "transaction_mode", None)
    connection.ensure_connection()
    connection.transaction_mode = "DEFERRED" if mode is not None else None  # type: ignore[attr-defined]
    try:
        with transaction.atomic():
            # Only the BEGIN of this transaction is deferred.
            connection.transaction_mode = mode  # type: ignore[attr-defined]
            yield
    finally:
        connection.transaction_mode = mode  # type: ignore[attr-defined]


def _stream(sql: str, params: dict[str, Any], name: str) -> Iterator[tuple[Any, ...]]:
    """Rows of a query through a server-side cursor, CHUNK_ROWS at a time. Run inside a transaction
    (the cursor lives as long as it)."""
    if not connection.in_atomic_block:
        raise RuntimeError("export queries must run inside a transaction")
    if _sqlite():  # sqlite3 steps through a result as it is fetched: no server-side cursor to ask for
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(CHUNK_ROWS):
                yield from rows
        return
    connection.ensure_connection()
    with connection.connection.cursor(name=name) as cursor:
        cursor.itersize = CHUNK_ROWS
        cursor.execute(sql, params)
        yield from cursor


_READS_CTE = """
    WITH reads AS (
        SELECT a.batch_id, a.exam_id, count(*) AS n
        FROM {assignment} a JOIN {annotation} an ON an.assignment_id = a.id
        WHERE a.batch_id {in_batches} AND a.read_round = 1 AND a.status = 'submitted'
          AND an.is_current AND an.status = 'submitted'
        GROUP BY a.batch_id, a.exam_id
    )
"""

_ORDER = " ORDER BY d.name {collate}, e.external_id {collate}"


def exam_label_sql() -> str:
    """One row per exported exam: (dataset, external id, age, sex, batch, reads, positive class ids,
    undecided class ids). The benchmark copies exactly this query to compare with COPY."""
    return (
        _READS_CTE  # noqa: S608
        + """
        SELECT d.name, e.external_id, e.age, e.sex, r.batch_id, r.n,
            {ids_open}c.diagnostic_class_id{ids_mid} FROM {consensus} c
                  WHERE c.batch_id = r.batch_id AND c.exam_id = r.exam_id AND c.value
                    AND {settled_c}) AS positive,
            {ids_open}dl.diagnostic_class_id{ids_mid} FROM {disputed} dl
                  WHERE dl.batch_id = r.batch_id AND dl.exam_id = r.exam_id AND {open_dl}) AS undecided
        FROM reads r JOIN {exam} e ON e.id = r.exam_id JOIN {dataset} d ON d.id = e.dataset_id
        """
        + _ORDER
    ).format(**_t(), **_ids_fragments(), **_settled())


def _settled() -> dict[str, str]:
    """A disputed cell is open until an adjudicator decides it. The rule's value for it, where it made one
    (an escalated exam keeps its majority), stays out of the release meanwhile: the batch sent the cell
    to a person, and an adjudicator may still overturn it."""
    return {
        # a consensus cell the release gives: adjudicated, or not disputed
        "settled_c": """(c.method = 'adjudicated' OR NOT EXISTS (SELECT 1 FROM {disputed} d0
                          WHERE d0.batch_id = c.batch_id AND d0.exam_id = c.exam_id
                            AND d0.diagnostic_class_id = c.diagnostic_class_id))""".format(**_t()),  # noqa: S608
        # a disputed cell still open: no adjudicated consensus for it
        "open_dl": """NOT EXISTS (SELECT 1 FROM {consensus} c2 WHERE c2.batch_id = dl.batch_id
                          AND c2.exam_id = dl.exam_id AND c2.diagnostic_class_id = dl.diagnostic_class_id
                          AND c2.method = 'adjudicated')""".format(**_t()),  # noqa: S608
    }


def _ids_fragments() -> dict[str, str]:
    # ARRAY(SELECT id FROM ...) on PostgreSQL; (SELECT json_group_array(id) FROM ...) on SQLite.
    if _sqlite():
        return {"ids_open": "(SELECT json_group_array(", "ids_mid": ")"}
    return {"ids_open": "ARRAY(SELECT ", "ids_mid": ""}


def exam_label_rows(batch_ids: Sequence[int]) -> Iterator[tuple[Any, ...]]:
    rows = _stream(exam_label_sql(), {"batches": _batches_param(batch_ids)}, "export_exams")
    if not _sqlite():
        return rows
    return ((*row[:6], _array(row[6]), _array(row[7])) for row in rows)


def exam_detail_rows(batch_ids: Sequence[int]) -> Iterator[tuple[Any, ...]]:
    """Per exam: (dataset, external id, batch, reads, consensus cells, undecided cells) where the cells
    are lists [class id, value, method, positive, total, probability, algorithm version] and
    [class id, reason, positive, total, probability]."""
    sql = (
        _READS_CTE  # noqa: S608
        + """
        SELECT d.name, e.external_id, r.batch_id, r.n,
            (SELECT {rows}({row}(c.diagnostic_class_id, c.value, c.method, c.positive_votes,
                                 c.total_votes, c.probability, c.algorithm_version){rows_order_c})
             FROM {consensus} c WHERE c.batch_id = r.batch_id AND c.exam_id = r.exam_id AND {settled_c}),
            (SELECT {rows}({row}(dl.diagnostic_class_id, dl.reason, dl.positive_votes,
                                 dl.total_votes, dl.probability){rows_order_dl})
             FROM {disputed} dl WHERE dl.batch_id = r.batch_id AND dl.exam_id = r.exam_id AND {open_dl})
        FROM reads r JOIN {exam} e ON e.id = r.exam_id JOIN {dataset} d ON d.id = e.dataset_id
        """
        + _ORDER
    ).format(
        **_t(),
        **_settled(),
        # SQLite before 3.44 has no ORDER BY inside an aggregate; the writer sorts the cells by code.
        rows_order_c="" if _sqlite() else " ORDER BY c.diagnostic_class_id",
        rows_order_dl="" if _sqlite() else " ORDER BY dl.diagnostic_class_id",
    )
    for row in _stream(sql, {"batches": _batches_param(batch_ids)}, "export_detail"):
        # psycopg returns json as parsed values already; keep a str fallback for other adapters.
        yield row[:4] + tuple(json.loads(v) if isinstance(v, str) else (v or []) for v in row[4:])


def exam_waveform_rows(batch_ids: Sequence[int]) -> Iterator[tuple[Any, ...]]:
    """Per exam, in the CSV's order: (dataset, external id, waveform key, rate, samples, gain)."""
    sql = (
        _READS_CTE  # noqa: S608
        + """
        SELECT d.name, e.external_id, e.waveform_key, e.sampling_rate, e.n_samples, e.gain_uv
        FROM reads r JOIN {exam} e ON e.id = r.exam_id JOIN {dataset} d ON d.id = e.dataset_id
        """
        + _ORDER
    ).format(**_t())
    return _stream(sql, {"batches": _batches_param(batch_ids)}, "export_waveforms")


def exam_device_rows(batch_ids: Sequence[int]) -> Iterator[tuple[int, str, str, dict[str, Any]]]:
    """Per exam, in the CSV's order, those with the recording cart's measurements: (row of the CSV,
    dataset, external id, measurements)."""
    sql = (
        _READS_CTE  # noqa: S608
        + """
        SELECT d.name, e.external_id, e.device_measurements
        FROM reads r JOIN {exam} e ON e.id = r.exam_id JOIN {dataset} d ON d.id = e.dataset_id
        """
        + _ORDER
    ).format(**_t())
    rows = _stream(sql, {"batches": _batches_param(batch_ids)}, "export_device")
    for row, (dataset, external_id, measured) in enumerate(rows):
        values = json.loads(measured) if isinstance(measured, str) else measured
        if values:
            yield row, dataset, external_id, values


def exam_key_rows(batch_ids: Sequence[int]) -> Iterator[tuple[str, str, int]]:
    """Per exam, in the CSV's order: (dataset, external id, exam id), for the files that look up more of
    each exam a chunk of exams at a time (selectors.releases.suggestions)."""
    sql = (
        _READS_CTE  # noqa: S608
        + """
        SELECT d.name, e.external_id, e.id
        FROM reads r JOIN {exam} e ON e.id = r.exam_id JOIN {dataset} d ON d.id = e.dataset_id
        """
        + _ORDER
    ).format(**_t())
    return _stream(sql, {"batches": _batches_param(batch_ids)}, "export_exam_keys")


def exam_summary(batch_ids: Sequence[int]) -> dict[str, Any]:
    """Exams, first reads, the distinct sampling rates and the longest exam of the export."""
    sql = (
        _READS_CTE  # noqa: S608
        + """
        SELECT count(*), coalesce(sum(r.n), 0), {distinct_values}(DISTINCT e.sampling_rate),
               max(e.n_samples)
        FROM reads r JOIN {exam} e ON e.id = r.exam_id
        """
    ).format(**_t())
    with connection.cursor() as cursor:
        cursor.execute(sql.replace("%(batches)s", "%s"), [_batches_param(batch_ids)])
        exams, reads, rates, longest = cursor.fetchone()
    return {
        "exams": exams,
        "first_reads": int(reads),
        "rates": sorted(r for r in _array(rates) if r),
        "longest": longest or 0,
    }


def exams_not_read(batch_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The batches' exams without a submitted first read: no row of the release holds them (_READS_CTE),
    so its card names them, in the CSV's order; an exam read too few times has a row, unlike these."""
    submitted = Annotation.objects.filter(
        assignment__batch_id=OuterRef("batch_id"),
        assignment__exam_id=OuterRef("exam_id"),
        assignment__read_round=1,
        assignment__status=Assignment.Status.SUBMITTED,
        is_current=True,
        status=Annotation.Status.SUBMITTED,
    )
    rows = (
        BatchExam.objects.filter(batch_id__in=list(batch_ids))
        .exclude(Exists(submitted))
        .order_by("exam__dataset__name", "exam__external_id")
        .values_list("exam__dataset__name", "exam__external_id", "batch_id")
    )
    return [{"dataset": dataset, "exam_id": exam_id, "batch": batch} for dataset, exam_id, batch in rows]


def read_rows(batch_ids: Sequence[int]) -> Iterator[tuple[Any, ...]]:
    """Every submitted read (both stages, every round), one row per marked class: (reader id, dataset,
    external id, batch, round, stage, is current, class code, uncertain, submitted at, time on task,
    suggestion shown, the read's revision, its comment). A read that marks nothing (an answer where the
    taxonomy is a closed list of yes/no questions, "none of these") is one row whose code and uncertain
    are None."""
    sql = """
        SELECT a.reader_id, d.name, e.external_id, a.batch_id, a.read_round, an.stage, an.is_current,
               k.code, l.uncertain, an.submitted_at, an.time_on_task_ms,
               (an.suggestion_shown_at IS NOT NULL OR EXISTS (
                    SELECT 1 FROM {exposure} x WHERE x.assignment_id = a.id AND x.stage = an.stage)),
               an.revision, an.comment
        FROM {assignment} a
        JOIN {annotation} an ON an.assignment_id = a.id AND an.status = 'submitted'
        LEFT JOIN {label} l ON l.annotation_id = an.id
        LEFT JOIN {klass} k ON k.id = l.diagnostic_class_id
        JOIN {exam} e ON e.id = a.exam_id JOIN {dataset} d ON d.id = e.dataset_id
        WHERE a.batch_id {in_batches}
        ORDER BY d.name {collate}, e.external_id {collate}, a.reader_id, a.read_round,
                 an.stage, k.position
    """.format(**_t())  # noqa: S608
    rows = _stream(sql, {"batches": _batches_param(batch_ids)}, "export_reads")
    if not _sqlite():
        return rows
    return ((*row[:9], _aware(row[9]), *row[10:]) for row in rows)


def current_read_label_rows(batch_ids: Sequence[int]) -> Iterator[tuple[Any, ...]]:
    """The reads consensus counts (_READS_CTE's: current, submitted, first round), one row per marked
    class, in the export's exam order then by read: (dataset, external id, reader id, read id, submitted
    at, suggestion shown, class id or None). Suggestion shown as reads.csv's suggestion_shown."""
    sql = """
        SELECT d.name, e.external_id, a.reader_id, an.id, an.submitted_at,
               (an.suggestion_shown_at IS NOT NULL OR EXISTS (
                    SELECT 1 FROM {exposure} x WHERE x.assignment_id = a.id AND x.stage = an.stage)),
               l.diagnostic_class_id
        FROM {assignment} a
        JOIN {annotation} an ON an.assignment_id = a.id AND an.is_current AND an.status = 'submitted'
        LEFT JOIN {label} l ON l.annotation_id = an.id
        JOIN {exam} e ON e.id = a.exam_id JOIN {dataset} d ON d.id = e.dataset_id
        WHERE a.batch_id {in_batches} AND a.read_round = 1 AND a.status = 'submitted'
        ORDER BY d.name {collate}, e.external_id {collate}, an.id
    """.format(**_t())  # noqa: S608
    rows = _stream(sql, {"batches": _batches_param(batch_ids)}, "export_current_reads")
    if not _sqlite():
        return rows
    return ((*row[:4], _aware(row[4]), bool(row[5]), row[6]) for row in rows)
