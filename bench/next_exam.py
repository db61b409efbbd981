"""The reader's "next exam" query at 10k, 100k and 1M assignments: it must stay flat (index-backed).

    .venv/bin/python bench/next_exam.py [--sizes 10000 100000 1000000] [--runs 300]

For each size the batch has 100 readers; every reader's queue is half read, so the query has to skip
submitted slots. It times `assignment_next_id_for_reader` (the selector the reader page uses) for many
readers, prints the median and p95, the plan PostgreSQL chose, and the ratio of the largest size's
median to the smallest's. It prints figures; it never asserts timings.
"""

from __future__ import annotations

import argparse
import statistics
import time

import _django

READERS = 100


def build(size: int) -> tuple[object, list]:
    """A fresh batch of `size` assignments, inserted by SQL (the ORM would take minutes at 1M)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotations.models import Dataset, ReviewBatch, Taxonomy
    from annotations.roles import Role
    from annotations.services.users import role_groups_ensure

    groups = role_groups_ensure()
    User = get_user_model()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE annotations_assignment, annotations_batchexam CASCADE")
    coordinator, _ = User.objects.get_or_create(username="bench-coordinator")
    coordinator.groups.add(groups[Role.COORDINATOR])
    readers = []
    for i in range(READERS):
        reader, _ = User.objects.get_or_create(username=f"bench-reader-{i}")
        reader.groups.add(groups[Role.READER])
        readers.append(reader)
    taxonomy, _ = Taxonomy.objects.get_or_create(
        key="bench", version="1", defaults={"name": "bench", "content_sha256": "0"}
    )
    dataset, _ = Dataset.objects.get_or_create(name="bench-next")
    per_reader = size // READERS
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM annotations_exam WHERE dataset_id = %s", [dataset.pk])
        have = cursor.fetchone()[0]
        if have < per_reader:
            cursor.execute(
                """INSERT INTO annotations_exam (dataset_id, external_id, patient_pseudo_id, sex,
                       sampling_rate, n_samples, lead_names, gain_uv, waveform_key, waveform_sha256,
                       source_format, source_sha256, source_record, identifiers, imported_at,
                       quality_grade, quality_flags, quality_report)
                   SELECT %s, 'bench-' || g, '', 'U', 500, 5000, '[]', 1, 'none', md5(g::text), 'bench', '',
                          '', '{}', now(), '', '', '{}'
                   FROM generate_series(%s, %s) AS g""",
                [dataset.pk, have, per_reader - 1],
            )
    batch = ReviewBatch.objects.create(
        name=f"bench {size}",
        taxonomy=taxonomy,
        readers_per_exam=READERS,
        status="active",
        created_by=coordinator,
    )
    reader_ids = [r.pk for r in readers]
    with connection.cursor() as cursor:
        # Each reader reads every exam, in a queue order of its own; the first half is already submitted.
        cursor.execute(
            """INSERT INTO annotations_assignment (batch_id, exam_id, reader_id, read_round, position, status,
                   skip_reason, assigned_at, submitted_at)
               SELECT %s, e.id, r.reader_id, 1, e.rn - 1,
                      CASE WHEN e.rn <= %s THEN 'submitted' ELSE 'pending' END, '', now(),
                      CASE WHEN e.rn <= %s THEN now() END
               FROM (SELECT id, row_number() OVER (ORDER BY md5(id::text)) AS rn FROM annotations_exam
                     WHERE dataset_id = %s ORDER BY id LIMIT %s) AS e
               CROSS JOIN unnest(%s::bigint[]) AS r(reader_id)""",
            [batch.pk, per_reader // 2, per_reader // 2, dataset.pk, per_reader, reader_ids],
        )
        cursor.execute("ANALYZE annotations_assignment")
    return batch, readers


def measure(batch, readers, runs: int) -> tuple[float, float, str]:
    from annotations.selectors.reading.assignments import assignment_next_id_for_reader

    timings = []
    for i in range(runs):
        reader = readers[i % len(readers)]
        start = time.perf_counter()
        found = assignment_next_id_for_reader(reader, batch_id=batch.pk)
        timings.append((time.perf_counter() - start) * 1000)
        assert found is not None
    plan = _plan_of_real_query(lambda: assignment_next_id_for_reader(readers[0], batch_id=batch.pk))
    timings.sort()
    return statistics.median(timings), timings[int(0.95 * (len(timings) - 1))], plan


def _plan_of_real_query(call) -> str:
    """EXPLAIN the SQL the selector really sends (captured with its values), not a hand-written stand-in.
    Captured at the execute call: the query log shows a prepared statement's SQL apart from its values."""
    from django.db import connection

    sent = []

    def capture(execute, sql, params, many, context):
        sent.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        call()
    sql, params = next((sql, params) for sql, params in reversed(sent) if "annotations_assignment" in sql)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return " / ".join(row[0].strip() for row in cursor.fetchall()[:4])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    _django.setup("ecgreview_bench_next")
    medians = {}
    for size in args.sizes:
        started = time.perf_counter()
        batch, readers = build(size)
        built = time.perf_counter() - started
        median, p95, plan = measure(batch, readers, args.runs)
        medians[size] = median
        print(
            f"{size:>9,} assignments (built in {built:5.1f} s): next exam median {median:.2f} ms, "
            f"p95 {p95:.2f} ms\n          plan: {plan}"
        )
    smallest, largest = min(medians), max(medians)
    print(
        f"ratio {largest:,} / {smallest:,} assignments: {medians[largest] / medians[smallest]:.2f}x "
        "(goal: at most 1.5x)"
    )


if __name__ == "__main__":
    main()
