"""Benchmark: the consensus CSV of 100,000 exams against PostgreSQL's own COPY of the same rows.

Sets up its own database (ecgreview_bench_export, via bench/_django.py), inserts a batch of N exams with
two submitted reads each and about three consensus rows per exam by SQL (fast; reused on later runs),
then times

* the export's consensus CSV writer (annotations.services.releases.tables, 73 TNMG class columns), and
* ``COPY (<the export's own query>) TO STDOUT WITH (FORMAT csv)`` through psycopg into a file,

best of --repeat runs each, and prints both and their ratio (goal: at most 1.5x). Asserts nothing.

    .venv/bin/python bench/export.py [--exams 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench._django import setup

DATASET = "bench-export"


def populate(n_exams: int) -> int:
    """The benchmark batch's id, inserting it (and its exams, reads and consensus) if it is not there."""
    from django.db import transaction

    from annotations.models import ReviewBatch
    from annotations.services.taxonomy import DEFAULT_TAXONOMY_FILE, taxonomy_load, taxonomy_read_file

    taxonomy = taxonomy_load(taxonomy_read_file(DEFAULT_TAXONOMY_FILE)).taxonomy
    name = f"bench export {n_exams}"
    existing = ReviewBatch.objects.filter(name=name).first()
    if existing is not None:
        return existing.pk
    with transaction.atomic():  # a failed insert leaves no empty batch behind for the next run to reuse
        return _insert(name, n_exams, taxonomy)


def _insert(name: str, n_exams: int, taxonomy) -> int:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotations.models import Dataset, ReviewBatch

    users = get_user_model().objects
    coordinator = users.get_or_create(username="bench-coordinator")[0]
    readers = [users.get_or_create(username=f"bench-reader-{i}")[0] for i in (1, 2)]
    dataset = Dataset.objects.get_or_create(name=f"{DATASET}-{n_exams}")[0]
    batch = ReviewBatch.objects.create(name=name, taxonomy=taxonomy, created_by=coordinator, status="active")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO annotations_exam (dataset_id, external_id, patient_pseudo_id, age, sex,
                sampling_rate, n_samples, lead_names, gain_uv, waveform_key, waveform_sha256, source_format,
                source_sha256, source_record, identifiers, imported_at, quality_grade, quality_flags,
                quality_report)
            SELECT %s, 'X' || lpad(i::text, 8, '0'), '', 18 + i %% 80,
                   CASE WHEN i %% 2 = 0 THEN 'M' ELSE 'F' END, 400, 4096, '[]', 1.0, 'none/' || i,
                   lpad(to_hex(i), 64, '0'), 'synthetic', '', '', '{}', now(), '', '', '{}'
            FROM generate_series(1, %s) AS i
            """,
            [dataset.pk, n_exams],
        )
        cursor.execute(
            """INSERT INTO annotations_batchexam
                   (batch_id, exam_id, target_reads, is_gold, needs_adjudication)
               SELECT %s, id, 2, false, false FROM annotations_exam WHERE dataset_id = %s""",
            [batch.pk, dataset.pk],
        )
        for reader in readers:
            cursor.execute(
                """INSERT INTO annotations_assignment (batch_id, exam_id, reader_id, read_round, position,
                       status, skip_reason, assigned_at, started_at, submitted_at)
                   SELECT %s, id, %s, 1, row_number() OVER (ORDER BY id), 'submitted', '', now(), now(), now()
                   FROM annotations_exam WHERE dataset_id = %s""",
                [batch.pk, reader.pk, dataset.pk],
            )
        cursor.execute(
            """INSERT INTO annotations_annotation (assignment_id, stage, is_current, status, comment,
                   time_on_task_ms, revision, created_at, updated_at, submitted_at)
               SELECT id, 'blind', true, 'submitted', '', 30000, 1, now(), now(), now()
               FROM annotations_assignment WHERE batch_id = %s""",
            [batch.pk],
        )
        # About three stored cells per exam: two positives (unanimous, majority) and one absent (majority).
        cursor.execute(
            """INSERT INTO annotations_consensus (batch_id, exam_id, diagnostic_class_id, value, method,
                   positive_votes, total_votes, probability, algorithm_version, computed_at)
               SELECT %s, e.id, c.id, k < 2, CASE WHEN k = 0 THEN 'unanimous' ELSE 'majority' END,
                      CASE WHEN k = 0 THEN 2 ELSE 1 END, 2, NULL, 'bench', now()
               FROM annotations_exam e
               CROSS JOIN generate_series(0, 2) AS k
               JOIN annotations_diagnosticclass c
                 ON c.taxonomy_id = %s AND c.position = (e.id * (2 * k + 3)) %% 73
               WHERE e.dataset_id = %s
               ON CONFLICT DO NOTHING""",
            [batch.pk, taxonomy.pk, dataset.pk],
        )
        cursor.execute("ANALYZE")
    print(f"inserted {n_exams} exams, their reads and consensus in {time.perf_counter() - started:.1f} s")
    return batch.pk


def time_export(batch_id: int, folder: Path) -> tuple[float, int, int]:
    from django.db import transaction

    from annotations.selectors.releases.plan import export_plan
    from annotations.services.releases.tables import write_consensus_csv

    plan = export_plan([batch_id])
    path = folder / "consensus.csv"
    started = time.perf_counter()
    with transaction.atomic():
        stats = write_consensus_csv(plan, path, lambda: None)
    return time.perf_counter() - started, stats["rows"], path.stat().st_size


def time_copy(batch_id: int, folder: Path) -> tuple[float, int]:
    from django.db import connection, transaction

    from annotations.selectors.releases.export import exam_label_sql

    path = folder / "copy.csv"
    connection.ensure_connection()
    started = time.perf_counter()
    with transaction.atomic(), open(path, "wb") as handle:
        cursor = connection.connection.cursor()
        query = exam_label_sql().replace("%(batches)s", f"ARRAY[{int(batch_id)}]::bigint[]")
        with cursor.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
            for block in copy:
                handle.write(block)
    return time.perf_counter() - started, path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    setup("ecgreview_bench_export")
    batch_id = populate(args.exams)
    with tempfile.TemporaryDirectory() as folder:
        exports, copies = [], []
        for _ in range(args.repeat):
            seconds, rows, size = time_export(batch_id, Path(folder))
            exports.append(seconds)
            seconds_copy, size_copy = time_copy(batch_id, Path(folder))
            copies.append(seconds_copy)
    export_s, copy_s = min(exports), min(copies)
    print(f"consensus CSV export: {rows} exams x 73 classes, {size / 1e6:.1f} MB in {export_s:.3f} s")
    print(f"COPY of the same rows (export query, CSV): {size_copy / 1e6:.1f} MB in {copy_s:.3f} s")
    print(f"ratio export / COPY: {export_s / copy_s:.2f}x (goal: at most 1.5x)")


if __name__ == "__main__":
    main()
