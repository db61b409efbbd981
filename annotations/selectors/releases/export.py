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
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.db.models import Count, Max

from annotations.errors import Invalid
from annotations.models import (
    Adjudication,
    Annotation,
    AnnotationLabel,
    Assignment,
    BatchExam,
    Consensus,
    Dataset,
    DiagnosticClass,
    DisputedLabel,
    Exam,
    ReviewBatch,
    SuggestionExposure,
    Taxonomy,
)
from annotations.selectors.taxonomy import taxonomy_shipped_classes

CHUNK_ROWS = 5000


class ExportRefused(Invalid):
    """An export that cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class Column:
    code: str
    name: str
    source_ids: tuple[int, ...]
    source_codes: tuple[str, ...]


@dataclass(frozen=True)
class ExportPlan:
    batches: list[ReviewBatch]
    taxonomy: Taxonomy
    columns: list[Column]
    target: str  # "" for the batches' own taxonomy, else the key of the taxonomy mapped to
    target_version: str
    unmapped: list[str]  # target codes with no source statement (left out of the columns)

    @property
    def batch_ids(self) -> list[int]:
        return [batch.pk for batch in self.batches]


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


def _batches_param(batch_ids: Sequence[int]):
    """The bound value of %(batches)s: an array on PostgreSQL, a JSON array on SQLite."""
    ids = [int(i) for i in batch_ids]
    return json.dumps(ids) if _sqlite() else ids


def _array(value) -> list:
    """An ARRAY()/array_agg column: a list on PostgreSQL, JSON text on SQLite."""
    if isinstance(value, str):
        return json.loads(value)
    return list(value or [])


def _aware(moment):
    """SQLite hands raw SQL its stored UTC times back naive; PostgreSQL's are aware already."""
    if isinstance(moment, datetime) and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


# --- The plan -----------------------------------------------------------------------------------------
def _target_classes(target: str) -> tuple[str, list[dict]]:
    """(version, classes) of the taxonomy to map to: the newest loaded version, else the shipped file."""
    loaded = Taxonomy.objects.filter(key=target).order_by("-loaded_at", "-pk").first()
    if loaded is not None:
        classes = loaded.classes.order_by("position").values("code", "name", "maps")
        return loaded.version, list(classes)
    shipped = taxonomy_shipped_classes(target)
    if shipped is None:
        raise ExportRefused(f"no taxonomy {target!r} to map to (load it, or use code15 or ptbxl-scp)")
    return shipped


def export_plan(batch_ids: Sequence[int], *, target: str = "") -> ExportPlan:
    """Check that the batches can be exported together and work out the columns."""
    ids = sorted(set(int(i) for i in batch_ids))
    if not ids:
        raise ExportRefused("choose at least one batch")
    batches = list(ReviewBatch.objects.select_related("taxonomy").filter(pk__in=ids).order_by("pk"))
    if len(batches) != len(ids):
        missing = sorted(set(ids) - {b.pk for b in batches})
        raise ExportRefused(f"no such batch: {', '.join(map(str, missing))}")
    taxonomies = {b.taxonomy_id for b in batches}
    if len(taxonomies) > 1:
        raise ExportRefused("the batches use different taxonomies; export them separately")
    shared = (
        BatchExam.objects.filter(batch_id__in=ids)
        .values("exam_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .order_by("exam_id")
        .first()
    )
    if shared:
        # One row per exam: two batches' consensus for one exam would need a rule we do not invent here.
        raise ExportRefused(f"exam {shared['exam_id']} is in more than one of these batches")
    taxonomy = batches[0].taxonomy
    source = list(taxonomy.classes.order_by("position").values_list("pk", "code", "name"))
    if not target or target == taxonomy.key:
        columns = [Column(code, name, (pk,), (code,)) for pk, code, name in source]
        return ExportPlan(batches, taxonomy, columns, "", taxonomy.version, [])
    version, target_classes = _target_classes(target)
    by_code = {code: pk for pk, code, _ in source}
    columns, unmapped = [], []
    for item in target_classes:
        # A target class names its source statement(s) in maps[<source taxonomy key>].
        mapped = (item.get("maps") or {}).get(taxonomy.key)
        codes = [mapped] if isinstance(mapped, str) else list(mapped or [])
        codes = [code for code in codes if code in by_code]
        if not codes:
            unmapped.append(item["code"])
            continue
        columns.append(Column(item["code"], item["name"], tuple(by_code[c] for c in codes), tuple(codes)))
    if not columns:
        raise ExportRefused(f"no class of {target!r} maps to {taxonomy.key!r}")
    return ExportPlan(batches, taxonomy, columns, target, version, unmapped)


# --- Streaming ------------------------------------------------------------------------------------------
def _stream(sql: str, params: dict, name: str) -> Iterator[tuple]:
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
                  WHERE c.batch_id = r.batch_id AND c.exam_id = r.exam_id AND c.value) AS positive,
            {ids_open}dl.diagnostic_class_id{ids_mid} FROM {disputed} dl
                  WHERE dl.batch_id = r.batch_id AND dl.exam_id = r.exam_id
                    AND NOT EXISTS (SELECT 1 FROM {consensus} c2 WHERE c2.batch_id = dl.batch_id
                                    AND c2.exam_id = dl.exam_id
                                    AND c2.diagnostic_class_id = dl.diagnostic_class_id)) AS undecided
        FROM reads r JOIN {exam} e ON e.id = r.exam_id JOIN {dataset} d ON d.id = e.dataset_id
        """
        + _ORDER
    ).format(**_t(), **_ids_fragments())


def _ids_fragments() -> dict[str, str]:
    # ARRAY(SELECT id FROM ...) on PostgreSQL; (SELECT json_group_array(id) FROM ...) on SQLite.
    if _sqlite():
        return {"ids_open": "(SELECT json_group_array(", "ids_mid": ")"}
    return {"ids_open": "ARRAY(SELECT ", "ids_mid": ""}


def exam_label_rows(batch_ids: Sequence[int]) -> Iterator[tuple]:
    rows = _stream(exam_label_sql(), {"batches": _batches_param(batch_ids)}, "export_exams")
    if not _sqlite():
        return rows
    return ((*row[:6], _array(row[6]), _array(row[7])) for row in rows)


def exam_detail_rows(batch_ids: Sequence[int]) -> Iterator[tuple]:
    """Per exam: (dataset, external id, batch, reads, consensus cells, undecided cells) where the cells
    are lists [class id, value, method, positive, total, probability, algorithm version] and
    [class id, reason, positive, total, probability]."""
    sql = (
        _READS_CTE  # noqa: S608
        + """
        SELECT d.name, e.external_id, r.batch_id, r.n,
            (SELECT {rows}({row}(c.diagnostic_class_id, c.value, c.method, c.positive_votes,
                                 c.total_votes, c.probability, c.algorithm_version){rows_order_c})
             FROM {consensus} c WHERE c.batch_id = r.batch_id AND c.exam_id = r.exam_id),
            (SELECT {rows}({row}(dl.diagnostic_class_id, dl.reason, dl.positive_votes,
                                 dl.total_votes, dl.probability){rows_order_dl})
             FROM {disputed} dl WHERE dl.batch_id = r.batch_id AND dl.exam_id = r.exam_id
               AND NOT EXISTS (SELECT 1 FROM {consensus} c2 WHERE c2.batch_id = dl.batch_id
                               AND c2.exam_id = dl.exam_id
                               AND c2.diagnostic_class_id = dl.diagnostic_class_id))
        FROM reads r JOIN {exam} e ON e.id = r.exam_id JOIN {dataset} d ON d.id = e.dataset_id
        """
        + _ORDER
    ).format(
        **_t(),
        # SQLite before 3.44 has no ORDER BY inside an aggregate; the writer sorts the cells by code.
        rows_order_c="" if _sqlite() else " ORDER BY c.diagnostic_class_id",
        rows_order_dl="" if _sqlite() else " ORDER BY dl.diagnostic_class_id",
    )
    for row in _stream(sql, {"batches": _batches_param(batch_ids)}, "export_detail"):
        # psycopg returns json as parsed values already; keep a str fallback for other adapters.
        yield row[:4] + tuple(json.loads(v) if isinstance(v, str) else (v or []) for v in row[4:])


def exam_waveform_rows(batch_ids: Sequence[int]) -> Iterator[tuple]:
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


def exam_summary(batch_ids: Sequence[int]) -> dict:
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


def read_rows(batch_ids: Sequence[int]) -> Iterator[tuple]:
    """Every submitted read (both stages, every round), one row per marked class: (reader id, dataset,
    external id, batch, round, stage, is current, class code, uncertain, submitted at, time on task,
    suggestion shown). A read that marks nothing cannot be submitted, so no read is left out."""
    sql = """
        SELECT a.reader_id, d.name, e.external_id, a.batch_id, a.read_round, an.stage, an.is_current,
               k.code, l.uncertain, an.submitted_at, an.time_on_task_ms,
               (an.suggestion_shown_at IS NOT NULL OR EXISTS (
                    SELECT 1 FROM {exposure} x WHERE x.assignment_id = a.id AND x.stage = an.stage))
        FROM {assignment} a
        JOIN {annotation} an ON an.assignment_id = a.id AND an.status = 'submitted'
        JOIN {label} l ON l.annotation_id = an.id
        JOIN {klass} k ON k.id = l.diagnostic_class_id
        JOIN {exam} e ON e.id = a.exam_id JOIN {dataset} d ON d.id = e.dataset_id
        WHERE a.batch_id {in_batches}
        ORDER BY d.name {collate}, e.external_id {collate}, a.reader_id, a.read_round,
                 an.stage, k.position
    """.format(**_t())  # noqa: S608
    rows = _stream(sql, {"batches": _batches_param(batch_ids)}, "export_reads")
    if not _sqlite():
        return rows
    return ((*row[:9], _aware(row[9]), *row[10:]) for row in rows)


def export_reader_ids(batch_ids: Sequence[int]) -> list[int]:
    """Everyone with a submitted read or a skip in the batches: the readers the pseudonyms stand for."""
    readers = set(
        Annotation.objects.filter(assignment__batch_id__in=batch_ids, status=Annotation.Status.SUBMITTED)
        .values_list("assignment__reader_id", flat=True)
        .distinct()
    )
    readers |= set(
        Assignment.objects.filter(batch_id__in=batch_ids, status=Assignment.Status.SKIPPED)
        .values_list("reader_id", flat=True)
        .distinct()
    )
    return sorted(readers)


def skipped_read_rows(batch_ids: Sequence[int]) -> list[tuple]:
    """Every skipped slot, in read_rows' order: (reader id, dataset, external id, batch, round, reason).
    Skips are few, so they are read whole and sorted here by code point, which is the "C" collation's
    order for UTF-8 text."""
    rows = Assignment.objects.filter(batch_id__in=batch_ids, status=Assignment.Status.SKIPPED).values_list(
        "reader_id", "exam__dataset__name", "exam__external_id", "batch_id", "read_round", "skip_reason"
    )
    return sorted(rows, key=lambda row: (row[1], row[2], row[0], row[4]))


def read_statuses(batch_ids: Sequence[int]) -> dict[tuple, str]:
    """(reader id, dataset, external id, batch, round) -> the slot's status, for the slots holding a
    submitted read that are not themselves submitted: a two-stage blind read whose revision is still
    open (in_progress), or a slot skipped after its blind read was stored. Every other read's slot is
    submitted."""
    rows = (
        Assignment.objects.filter(batch_id__in=batch_ids, annotations__status=Annotation.Status.SUBMITTED)
        .exclude(status=Assignment.Status.SUBMITTED)
        .values_list(
            "reader_id", "exam__dataset__name", "exam__external_id", "batch_id", "read_round", "status"
        )
        .distinct()
    )
    return {row[:5]: row[5] for row in rows}


def export_data_as_of(batch_ids: Sequence[int]) -> datetime | None:
    """The latest read or adjudication the export reflects: a date that depends on the data only."""
    read = Annotation.objects.filter(
        assignment__batch_id__in=batch_ids, status=Annotation.Status.SUBMITTED
    ).aggregate(at=Max("submitted_at"))["at"]
    decided = Adjudication.objects.filter(batch_id__in=batch_ids).aggregate(at=Max("decided_at"))["at"]
    moments = [m for m in (read, decided) if m is not None]
    return max(moments) if moments else None


def consensus_method_counts(batch_ids: Sequence[int]) -> dict[str, int]:
    rows = (
        Consensus.objects.filter(batch_id__in=batch_ids).values("method").annotate(n=Count("pk")).order_by()
    )
    return {row["method"]: row["n"] for row in rows}


def adjudicator_added_codes(batch_ids: Sequence[int]) -> dict[tuple[str, str], list[str]]:
    """(dataset, external id) -> codes an adjudicator decided present that no reader marked (an
    adjudicated consensus with no positive vote), in taxonomy order. Few, so read whole."""
    rows = (
        Consensus.objects.filter(
            batch_id__in=batch_ids, method=Consensus.Method.ADJUDICATED, value=True, positive_votes=0
        )
        .order_by("diagnostic_class__position")
        .values_list("exam__dataset__name", "exam__external_id", "diagnostic_class__code")
    )
    added: dict[tuple[str, str], list[str]] = {}
    for dataset, external_id, code in rows:
        added.setdefault((dataset, external_id), []).append(code)
    return added
