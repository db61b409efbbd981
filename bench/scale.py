"""Every coordinator page and API, and each reader API, at the size the seed group works at (CODE-II).

CODE-II holds 2,735,269 exams from 2,093,807 patients; a coordinator designs batches of tens of thousands
of exams with 3+ readers. This script seeds a fresh PostgreSQL database at that shape and measures it:

* seeding, by COPY into the app's tables (names from Model._meta.db_table, created by the migrations):
  N exams of 0.765 x N patients, every row pointing at the blobs of a few real recordings imported
  through the real importer (demo_data/wfdb/cinc2021: real waveform blobs and quality reports); reference
  labels, one model suggestion and a few class scores on every exam; the shipped taxonomies; one
  coordinator, three readers and one adjudicator (services.users.user_create);
* batch creation through the API (the real plan and service): --batch-exams exams x 3 readers, timed;
* the reads, inserted by COPY as submitted first reads (annotation, labels, revision and audit row, as
  services.reading.annotation_submit leaves them), all but --pending slots per reader;
* the agreement and consensus recomputation of that batch, run as the worker runs it
  (agreement_recompute_run), timed, with its peak memory;
* before the pages, the group's earlier batches (40 closed batches of 500 exams x 2 readers, by COPY), which
  every list of batches shows;
* every coordinator page and API and each reader page and API through django.test.Client in this
  process (no network): p50/p95 over --runs requests, the SQL query count of one request, the response
  size and how much the resident memory grew.

Goals (from the issue): every page and API p95 under 1 s, the batch creation under 60 s, the
recomputation under 60 s, memory flat. Rows that miss a goal are marked MISS. It prints figures; it
never asserts.

Celery goes to a Redis broker that no worker reads (BENCH_REDIS_URL, default redis://127.0.0.1:6379/9),
as in production, so queued work (suggestions of a new batch, agreement after a submit) stays out of
the measured requests. The database (--database, default ecg_bench_scale on BENCH_POSTGRES_URL) is
dropped and seeded afresh unless --keep finds it seeded at the same size; --drop removes it at the end.
--only names the parts to measure (create, recompute, pages): on a kept database "create" times a second
batch of the same size through the API, removed again, and the 1,000-exam creation, without the pages;
--page picks pages and APIs by name (--only pages --page designer --page evidence); --profile NAME runs
one more request of those pages under cProfile and prints where its time went.

    .venv/bin/python bench/scale.py [--exams 20000] [--batch-exams N] [--runs 10] [--keep] [--drop]
    .venv/bin/python bench/scale.py --exams 2735269 --batch-exams 100000 --drop   # CODE-II (minutes)
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import import_module
from pathlib import Path
from urllib.parse import quote

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("create", "recompute", "pages")  # what --only may name
PATIENTS_PER_EXAM = 2_093_807 / 2_735_269  # CODE-II: 0.765
PAGE_GOAL_S = 1.0
CREATE_GOAL_S = 60.0
RECOMPUTE_GOAL_S = 60.0
PROVIDER = "bench-model"
SCORED = ("NORM", "AF", "RBBB", "1dAVb")  # classes every exam's suggestion scores
# Each exam's "truth" (TNMG codes, no exclusive set broken) and how common it is.
FINDINGS = [
    (("SR", "NORM"), 0.55),
    (("SR", "RBBB"), 0.06),
    (("SR", "LBBB"), 0.03),
    (("SR", "1dAVb"), 0.05),
    (("SB",), 0.06),
    (("ST",), 0.05),
    (("AF",), 0.06),
    (("SR", "LAFB"), 0.05),
    (("SR", "VPB"), 0.04),
    (("SR", "LVH_V"), 0.05),
]
READER_ACCURACY = 0.85  # a reader reads the truth, else any finding at random: disputes to adjudicate
DATASETS = ("code-ii", "code-ii-followup")  # one in ten exams in the second, for the dataset filters
LEADS_EXPECTED = 12


# --- Set-up --------------------------------------------------------------------------------------------
def setup(database: str, fresh: bool) -> None:
    """Django on `database` (created, dropped first when fresh) with a broker nobody consumes."""
    sys.path.insert(0, str(ROOT))
    server = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
    os.environ["DATABASE_URL"] = f"{server}/{database}"
    os.environ["REDIS_URL"] = os.environ["CELERY_BROKER_URL"] = redis_url
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost"
    os.environ.setdefault("VAR_DIR", str(ROOT / "var" / "bench_scale"))
    os.environ.setdefault("STATIC_MANIFEST", "0")  # no collectstatic needed to render pages
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    os.environ["DJANGO_SETTINGS_MODULE"] = "ecgreview.settings"
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        if fresh:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
            connection.execute(f'CREATE DATABASE "{database}"')
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    # Pages are measured in a process prepared as a web server's is before it listens: ecgreview.wsgi
    # loads the URL conf and the signal filters, which the first adjudication case of a bare process
    # imported (1.6 s, against 0.3 s for the next).
    import_module("ecgreview.wsgi")


def drop(database: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    server = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def seeded_size() -> int:
    from annotations.models import Exam

    return Exam.objects.count()


# --- Memory --------------------------------------------------------------------------------------------
def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def rss_watch() -> Iterator[dict]:
    """The largest resident size seen (sampled every 50 ms) while the block runs, above its start."""
    seen = {"start": rss_mb(), "peak": rss_mb()}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            seen["peak"] = max(seen["peak"], rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield seen
    finally:
        stop.set()
        sampler.join()
        seen["peak"] = max(seen["peak"], rss_mb())
        seen["end"] = rss_mb()


# --- COPY ----------------------------------------------------------------------------------------------
def copy_rows(model, columns: list[str], rows) -> int:
    """COPY rows (tuples in `columns` order) into the model's table; returns how many."""
    from django.db import connection

    count = 0
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
    return count


def ids_in_order(model, where: str, params: list) -> np.ndarray:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {model._meta.db_table} WHERE {where} ORDER BY id", params)
        return np.array([row[0] for row in cursor.fetchall()], dtype=np.int64)


@contextmanager
def timed(label: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    print(f"  {label:<58} {time.perf_counter() - started:8.1f} s", flush=True)


# --- Seeding -------------------------------------------------------------------------------------------
@dataclass
class World:
    taxonomy: object
    coordinator: object
    readers: list
    adjudicator: object
    exam_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    truth: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def seed_people_and_taxonomy() -> World:
    from django.core.management import call_command

    from annotations.models import Taxonomy
    from annotations.roles import Role
    from annotations.services.users import user_create

    call_command("load_taxonomy", "--shipped", verbosity=0)
    taxonomy = Taxonomy.objects.get(is_default=True)
    password = "bench-scale-Password-1"
    coordinator = user_create(username="coordinator", password=password, roles={Role.COORDINATOR})
    readers = [user_create(username=f"reader-{i}", password=password, roles={Role.READER}) for i in range(3)]
    adjudicator = user_create(username="adjudicator", password=password, roles={Role.ADJUDICATOR})
    return World(taxonomy=taxonomy, coordinator=coordinator, readers=readers, adjudicator=adjudicator)


def world_from_database() -> World:
    from django.contrib.auth import get_user_model

    from annotations.models import Exam, Taxonomy

    users = get_user_model().objects
    world = World(
        taxonomy=Taxonomy.objects.get(is_default=True),
        coordinator=users.get(username="coordinator"),
        readers=[users.get(username=f"reader-{i}") for i in range(3)],
        adjudicator=users.get(username="adjudicator"),
    )
    world.exam_ids = ids_in_order(Exam, "external_id LIKE 'e%%'", [])
    world.truth = truth_of(len(world.exam_ids))
    return world


def template_exams(coordinator) -> list:
    """A few real recordings through the real importer: real blobs, real quality reports."""
    from annotations.models import Exam
    from annotations.services.exams.quality import exam_quality_compute
    from annotations.services.imports.exams import exams_import

    exams_import([ROOT / "annotations/demo_data/wfdb/cinc2021"], dataset=DATASETS[0], actor=coordinator)
    templates = list(Exam.objects.order_by("pk"))
    for exam in templates:
        exam_quality_compute(exam)  # queued to a worker on import; here, now
    return [exam for exam in Exam.objects.order_by("pk") if len(exam.lead_names) >= LEADS_EXPECTED]


def truth_of(n: int) -> np.ndarray:
    """Each exam's finding (index into FINDINGS), the same for the same n."""
    rng = np.random.default_rng(11)
    return rng.choice(len(FINDINGS), size=n, p=[p for _, p in FINDINGS])


def seed_exams(n: int, templates: list) -> np.ndarray:
    from annotations.lib.reference_codes import reference_codes_text
    from annotations.models import Dataset, Exam

    datasets = [Dataset.objects.get_or_create(name=name)[0].pk for name in DATASETS]
    rng = np.random.default_rng(5)
    patients = max(1, round(n * PATIENTS_PER_EXAM))
    patient = rng.permutation(n) % patients  # every patient has at least one exam
    ages = rng.integers(18, 95, size=n)
    sexes = rng.choice(["F", "M", "U"], size=n, p=[0.55, 0.44, 0.01])
    grade = rng.choice(["good", "acceptable", "poor", ""], size=n, p=[0.7, 0.2, 0.08, 0.02])
    noisy = rng.random(n) < 0.1
    acquired_days = rng.integers(0, 8 * 365, size=n)
    codes = [reference_codes_text(("tnmg", code) for code in codes) for codes, _ in FINDINGS]
    truth = truth_of(n)  # the reference labels seeded next: their codes kept on the row, as imports keep them
    start = datetime(2010, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC)
    forms = [
        (
            t.sampling_rate,
            t.n_samples,
            json.dumps(t.lead_names),
            t.gain_uv,
            t.waveform_key,
            t.waveform_sha256,
            t.source_format,
            t.source_sha256,
            json.dumps(t.quality_report),
        )
        for t in templates
    ]
    columns = [
        "dataset_id",
        "external_id",
        "patient_pseudo_id",
        "age",
        "sex",
        "acquired_at",
        "sampling_rate",
        "n_samples",
        "lead_names",
        "gain_uv",
        "waveform_key",
        "waveform_sha256",
        "source_format",
        "source_sha256",
        "source_record",
        "identifiers",
        "imported_at",
        "quality_grade",
        "quality_flags",
        "quality_report",
        "reference_codes",
    ]

    def rows():
        for i in range(n):
            rate, samples, leads, gain, key, sha, fmt, source_sha, report = forms[i % len(forms)]
            flags = ",noise," if noisy[i] and grade[i] != "good" else ""
            yield (
                datasets[1] if i % 10 == 9 else datasets[0],
                f"e{i:08d}",
                f"p{patient[i]:08d}",
                int(ages[i]),
                sexes[i],
                start + timedelta(days=int(acquired_days[i]), seconds=i % 86400),
                rate,
                samples,
                leads,
                gain,
                key,
                sha,
                fmt,
                source_sha,
                f"e{i:08d}",
                "{}",
                now,
                grade[i],
                flags,
                report,
                codes[truth[i]],
            )

    copy_rows(Exam, columns, rows())
    return ids_in_order(Exam, "external_id LIKE 'e%%'", [])


def seed_labels_and_suggestions(exam_ids: np.ndarray, truth: np.ndarray, taxonomy) -> tuple[int, int]:
    from annotations.models import (
        DiagnosticClass,
        LatestSuggestionScore,
        ReferenceLabel,
        Suggestion,
        SuggestionScore,
    )

    def references():
        for exam_id, finding in zip(exam_ids.tolist(), truth.tolist(), strict=True):
            for code in FINDINGS[finding][0]:
                yield (exam_id, "tnmg", code, None, "bench")

    labels = copy_rows(
        ReferenceLabel, ["exam_id", "code_system", "code", "likelihood", "source"], references()
    )
    now = datetime.now(UTC)
    copy_rows(
        Suggestion,
        ["exam_id", "provider", "provider_version", "status", "measurements", "error", "computed_at"],
        ((exam_id, PROVIDER, "1", "ok", "{}", "", now) for exam_id in exam_ids.tolist()),
    )
    suggestion_ids = ids_in_order(Suggestion, "provider = %s", [PROVIDER])
    class_ids = dict(DiagnosticClass.objects.filter(taxonomy=taxonomy).values_list("code", "pk"))
    rng = np.random.default_rng(3)
    present = np.array([[code in FINDINGS[f][0] for code in SCORED] for f in range(len(FINDINGS))])
    values = np.clip(0.8 * present[truth] + rng.normal(0.1, 0.1, size=(len(truth), len(SCORED))), 0, 1)
    scored = [class_ids[code] for code in SCORED]

    def scores():
        for row, suggestion_id in enumerate(suggestion_ids.tolist()):
            for column, class_id in enumerate(scored):
                yield (suggestion_id, class_id, float(values[row, column]))

    score_count = copy_rows(SuggestionScore, ["suggestion_id", "diagnostic_class_id", "score"], scores())

    def newest():  # one version per exam: each of its scores is the exam's newest (as the services keep it)
        for row, (exam_id, suggestion_id) in enumerate(
            zip(exam_ids.tolist(), suggestion_ids.tolist(), strict=True)
        ):
            for column, class_id in enumerate(scored):
                yield (exam_id, PROVIDER, class_id, suggestion_id, now, float(values[row, column]))

    copy_rows(
        LatestSuggestionScore,
        ["exam_id", "provider", "diagnostic_class_id", "suggestion_id", "computed_at", "score"],
        newest(),
    )
    return labels, score_count


def seed(n: int) -> World:
    from django.db import connection

    print(f"seeding {n:,} exams, {round(n * PATIENTS_PER_EXAM):,} patients", flush=True)
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    with timed("taxonomies and 5 people (user_create)"):
        world = seed_people_and_taxonomy()
    with timed("template recordings (importer + quality report)"):
        templates = template_exams(world.coordinator)
    print(f"    {len(templates)} blobs; quality report {len(json.dumps(templates[0].quality_report))} bytes")
    with timed(f"exams by COPY ({n:,})"):
        world.exam_ids = seed_exams(n, templates)
    world.truth = truth_of(len(world.exam_ids))
    with timed("reference labels, suggestions, scores by COPY"):
        labels, scores = seed_labels_and_suggestions(world.exam_ids, world.truth, world.taxonomy)
    print(f"    {labels:,} reference labels, {len(world.exam_ids):,} suggestions, {scores:,} scores")
    # VACUUM too: a table COPY just filled has no visibility map, so no index-only scan is possible
    # until autovacuum gets to it (which a production archive would have had long since).
    with timed("VACUUM ANALYZE"):
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    print(f"  seeding took {time.perf_counter() - began:.1f} s", flush=True)
    return world


# --- The batch and its reads ---------------------------------------------------------------------------
HISTORY_BATCHES = 40  # a group's earlier batches, which every batch list shows
HISTORY_EXAMS = 500


def seed_history(world: World, wanted: int = HISTORY_BATCHES) -> int:
    """Closed batches of HISTORY_EXAMS exams x 2 readers, every slot submitted, until `wanted` of them
    exist: a group has run many batches by the time it works at this size, and the lists of batches
    count every one of them. Rows by COPY (the batch service's own writer); returns how many exist."""
    from django.utils import timezone

    from annotations.models import Assignment, BatchExam, ReviewBatch
    from annotations.services.batches.lifecycle import rows_insert

    have = ReviewBatch.objects.filter(name__startswith="history ").count()
    rng = np.random.default_rng(have)
    for index in range(have, wanted):
        now = timezone.now()
        batch = ReviewBatch.objects.create(
            name=f"history {index:03d}",
            readers_per_exam=2,
            status=ReviewBatch.Status.CLOSED,
            seed=index,
            design={},
            created_at=now - timedelta(days=wanted - index),
            started_at=now - timedelta(days=wanted - index),
            closed_at=now - timedelta(days=wanted - index - 1),
            created_by=world.coordinator,
            taxonomy=world.taxonomy,
        )
        exams = np.sort(rng.choice(world.exam_ids, HISTORY_EXAMS, replace=False))
        rows_insert(
            BatchExam,
            {
                "batch_id": batch.pk,
                "exam_id": exams,
                "target_reads": 2,
                "is_gold": False,
                "needs_adjudication": False,
            },
            len(exams),
        )
        slots = len(exams) * 2
        rows_insert(
            Assignment,
            {
                "batch_id": batch.pk,
                "exam_id": np.repeat(exams, 2),
                "reader_id": np.tile(np.array([r.pk for r in world.readers[:2]], dtype=np.int64), len(exams)),
                "read_round": 1,
                "position": np.repeat(np.arange(len(exams), dtype=np.int64), 2),
                "status": Assignment.Status.SUBMITTED.value,
                "skip_reason": "",
                "assigned_at": batch.started_at,
                "started_at": batch.started_at,
                "submitted_at": batch.closed_at,
            },
            slots,
        )
    return max(have, wanted)


def create_batch(client, world: World, exams: int) -> tuple[int, float, int, dict]:
    """The 100k-exam batch through the API: (id, seconds, queries, memory)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    body = {
        "name": f"CODE-II scale {exams}",
        "taxonomy_id": world.taxonomy.pk,
        "reader_ids": [r.pk for r in world.readers],
        "readers_per_exam": 3,
        "criteria": {"datasets": [DATASETS[0]]},
        "sample_size": exams,
        "seed": 1,
    }
    with rss_watch() as memory, CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.post("/api/v1/batches/", body, content_type="application/json")
        seconds = time.perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"batch creation answered {response.status_code}: {response.content[:500]!r}")
    return response.json()["id"], seconds, len(queries), memory


def remove_batch(batch_id: int) -> None:
    """Take a batch created only to be timed out again (its slots, exams and row; its audit row stays),
    so that timing creation again on a kept database leaves it as it was seeded."""
    from django.db import connection

    from annotations.models import Assignment, BatchExam, ReviewBatch

    with connection.cursor() as cursor:
        for model in (Assignment, BatchExam):
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE batch_id = %s", [batch_id])
        cursor.execute(f"DELETE FROM {ReviewBatch._meta.db_table} WHERE id = %s", [batch_id])
        cursor.execute(f"VACUUM ANALYZE {Assignment._meta.db_table}")
        cursor.execute(f"VACUUM ANALYZE {BatchExam._meta.db_table}")


def seed_reads(world: World, batch_id: int, pending: int) -> int:
    """Every slot but the last `pending` of each reader's queue, submitted as annotation_submit leaves it."""
    from django.db import connection

    from annotations.models import (
        Annotation,
        AnnotationLabel,
        AnnotationRevision,
        Assignment,
        AuditEvent,
        DiagnosticClass,
    )

    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT id, exam_id, reader_id FROM {Assignment._meta.db_table} a
                WHERE batch_id = %s AND position < (
                    SELECT max(position) - %s + 1 FROM {Assignment._meta.db_table} b
                    WHERE b.batch_id = a.batch_id AND b.reader_id = a.reader_id)
                ORDER BY id""",
            [batch_id, pending],
        )
        slots = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 3)
    rng = np.random.default_rng(17)
    position = np.searchsorted(world.exam_ids, slots[:, 1])
    truth = world.truth[np.minimum(position, len(world.truth) - 1)]
    truth[world.exam_ids[np.minimum(position, len(world.exam_ids) - 1)] != slots[:, 1]] = 0  # templates
    read = np.where(
        rng.random(len(slots)) < READER_ACCURACY, truth, rng.integers(len(FINDINGS), size=len(slots))
    )
    now = datetime.now(UTC)
    submitted = [now - timedelta(seconds=int(s)) for s in rng.integers(60, 30 * 86400, size=len(slots))]
    on_task = rng.integers(20_000, 120_000, size=len(slots)).tolist()
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE bench_reads (id bigint, at timestamptz, on_task int)")
        with cursor.cursor.copy("COPY bench_reads (id, at, on_task) FROM STDIN") as copy:
            for (assignment_id, _, _), at, ms in zip(slots.tolist(), submitted, on_task, strict=True):
                copy.write_row((assignment_id, at, ms))
        cursor.execute(
            f"""UPDATE {Assignment._meta.db_table} a SET status = 'submitted',
                   started_at = r.at - make_interval(secs => r.on_task / 1000.0), submitted_at = r.at,
                   time_on_task_ms = r.on_task
                FROM bench_reads r WHERE a.id = r.id"""
        )
        cursor.execute("DROP TABLE bench_reads")
    copy_rows(
        Annotation,
        [
            "assignment_id",
            "stage",
            "is_current",
            "status",
            "comment",
            "time_on_task_ms",
            "revision",
            "created_at",
            "updated_at",
            "submitted_at",
        ],
        (
            (assignment_id, "blind", True, "submitted", "", ms, 1, at - timedelta(milliseconds=ms), at, at)
            for (assignment_id, _, _), at, ms in zip(slots.tolist(), submitted, on_task, strict=True)
        ),
    )
    annotation_ids = ids_in_order(Annotation, "assignment_id = ANY(%s)", [slots[:, 0].tolist()])
    # COPY kept the order of the slots (sorted by assignment id), so the i-th annotation is the i-th slot.
    class_ids = dict(DiagnosticClass.objects.filter(taxonomy=world.taxonomy).values_list("code", "pk"))
    usernames = {r.pk: r.get_username() for r in world.readers}
    copy_rows(
        AnnotationLabel,
        ["annotation_id", "diagnostic_class_id", "uncertain", "qualifiers"],
        (
            (annotation_id, class_ids[code], False, "[]")
            for annotation_id, finding in zip(annotation_ids.tolist(), read.tolist(), strict=True)
            for code in FINDINGS[finding][0]
        ),
    )
    copy_rows(
        AnnotationRevision,
        [
            "annotation_id",
            "revision",
            "status",
            "labels",
            "comment",
            "time_on_task_ms",
            "recorded_at",
            "recorded_by_id",
            "kind",
            "reason",
        ],
        (
            (
                annotation_id,
                1,
                "submitted",
                json.dumps([{"code": code, "uncertain": False} for code in FINDINGS[finding][0]]),
                "",
                ms,
                at,
                reader_id,
                "submit",
                "",
            )
            for annotation_id, finding, at, ms, reader_id in zip(
                annotation_ids.tolist(), read.tolist(), submitted, on_task, slots[:, 2].tolist(), strict=True
            )
        ),
    )
    copy_rows(
        AuditEvent,
        ["occurred_at", "actor_id", "actor_username", "action", "target_type", "target_id", "after"],
        (
            (
                at,
                reader_id,
                usernames[reader_id],
                "annotation.submit",
                "annotations.annotation",
                str(annotation_id),
                json.dumps({"revision": 1, "stage": "blind", "labels": len(FINDINGS[finding][0])}),
            )
            for annotation_id, finding, at, reader_id in zip(
                annotation_ids.tolist(), read.tolist(), submitted, slots[:, 2].tolist(), strict=True
            )
        ),
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return len(slots)


def recompute(batch_id: int) -> tuple[float, dict]:
    """What the worker runs for a queued recomputation, timed, with its memory."""
    from annotations.services.agreement.compute import agreement_recompute_run

    with rss_watch() as memory:
        started = time.perf_counter()
        agreement_recompute_run(batch_id)
        seconds = time.perf_counter() - started
    return seconds, memory


# --- Measuring pages and APIs --------------------------------------------------------------------------
Request = tuple[str, str, object]  # method, path, JSON body (None for none)


@dataclass
class Row:
    name: str
    p50_ms: float
    p95_ms: float
    runs: int
    queries: int
    status: int
    kilobytes: float
    rss_growth_mb: float
    goal_s: float = PAGE_GOAL_S

    @property
    def missed(self) -> bool:
        return self.p95_ms > self.goal_s * 1000 or self.status >= 400


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def call(client, method: str, path: str, body) -> tuple[int, int]:
    """One request; a streamed answer is read to its last byte. (status, bytes)."""
    if method == "GET":
        response = client.get(path)
    elif body is None or (isinstance(body, dict) and body.get("_form")):
        form = {k: v for k, v in (body or {}).items() if k != "_form"}
        response = client.generic(method, path) if not form else client.post(path, form)
    else:
        response = client.generic(method, path, json.dumps(body), content_type="application/json")
    if response.streaming:
        size = sum(len(chunk) for chunk in response.streaming_content)
    else:
        size = len(response.content)
    return response.status_code, size


def profile_request(client, request: Request, top: int = 25) -> None:
    """One more request, untimed, under cProfile: where its time went, by own time and with callees, and
    the time its SQL took in the database (the driver's execute calls)."""
    import cProfile
    import io
    import pstats

    method, path, body = request
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(call, client, method, path, body)
    elapsed = time.perf_counter() - started
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(top)
        lines = [line for line in text.getvalue().splitlines() if line.strip()]
        print(f"    profile ({elapsed:.2f} s under cProfile), by {order}:")
        print("\n".join(f"      {line}" for line in lines[-(top + 1) :]), flush=True)


class Meter:
    def __init__(
        self, runs: int, budget_s: float, names: list[str] | None = None, profiled: list[str] | None = None
    ):
        self.runs = runs
        self.budget_s = budget_s
        self.names = [name.lower() for name in names or []]
        self.profiled = [name.lower() for name in profiled or []]
        self.rows: list[Row] = []

    def wanted(self, name: str) -> bool:
        """Whether --page (parts of row names, any of them) keeps this row; every row without it."""
        return not self.names or any(part in name.lower() for part in self.names)

    def measure(
        self, name: str, client, request: Callable[[int], Request] | Request, runs: int | None = None
    ):
        """p50/p95 over runs (fewer when they pass the time budget), queries of the slowest run."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        if not self.wanted(name):
            return None
        times, queries, status, size = [], 0, 0, 0
        before = rss_mb()
        for i in range(runs or self.runs):
            method, path, body = request(i) if callable(request) else request
            failed = None
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                try:
                    status, size = call(client, method, path, body)
                except Exception as error:  # a query past the statement timeout: reported, not raised
                    status, size, failed = 599, 0, error
                elapsed = time.perf_counter() - started
            if not times or elapsed >= max(times):
                queries = len(captured)
            times.append(elapsed)
            if failed is not None:
                print(f"    {name}: {type(failed).__name__}: {str(failed).splitlines()[0][:90]}")
                break
            if sum(times) > self.budget_s and len(times) >= 2:
                break
        row = Row(
            name=name,
            p50_ms=percentile(times, 0.5) * 1000,
            p95_ms=percentile(times, 0.95) * 1000,
            runs=len(times),
            queries=queries,
            status=status,
            kilobytes=size / 1024,
            rss_growth_mb=rss_mb() - before,
        )
        self.rows.append(row)
        flag = "MISS" if row.missed else ""
        print(
            f"  {name:<52} {row.p50_ms:9.1f} {row.p95_ms:9.1f} {row.runs:4d} {row.queries:6d} "
            f"{row.status:4d} {row.kilobytes:9.1f} {row.rss_growth_mb:+7.1f} {flag}",
            flush=True,
        )
        if any(part in name.lower() for part in self.profiled):
            profile_request(client, request(0) if callable(request) else request)
        return row

    def measure_stream(self, name: str, client, path: str, runs: int | None = None):
        """A streamed download: time to its first byte, to its last, and MB/s, over runs; its row holds
        the total time. The view's queries run before the first byte (the body is read after)."""
        if not self.wanted(name):
            return None
        first, total, size, status = [], [], 0, 0
        before = rss_mb()
        for _ in range(runs or self.runs):
            started = time.perf_counter()
            response = client.get(path)
            status = response.status_code
            chunks = iter(response.streaming_content)
            size = len(next(chunks, b""))
            first.append(time.perf_counter() - started)
            size += sum(len(chunk) for chunk in chunks)
            total.append(time.perf_counter() - started)
            response.close()
            if sum(total) > self.budget_s and len(total) >= 2:
                break
        row = Row(
            name=name,
            p50_ms=percentile(total, 0.5) * 1000,
            p95_ms=percentile(total, 0.95) * 1000,
            runs=len(total),
            queries=0,
            status=status,
            kilobytes=size / 1024,
            rss_growth_mb=rss_mb() - before,
        )
        self.rows.append(row)
        print(
            f"  {name:<52} {row.p50_ms:9.1f} {row.p95_ms:9.1f} {row.runs:4d} {'':>6} {row.status:4d} "
            f"{row.kilobytes:9.1f} {row.rss_growth_mb:+7.1f} {'MISS' if row.missed else ''}",
            flush=True,
        )
        megabytes = size / 2**20
        print(
            f"    first byte p50 {percentile(first, 0.5) * 1000:.1f} ms, "
            f"p95 {percentile(first, 0.95) * 1000:.1f} ms; "
            f"{megabytes:.1f} MB at {megabytes / percentile(total, 0.5):.1f} MB/s (p50)",
            flush=True,
        )
        return row


def header(title: str) -> None:
    print(f"\n{title}")
    print(
        f"  {'page / API':<52} {'p50 ms':>9} {'p95 ms':>9} {'runs':>4} {'SQL':>6} {'HTTP':>4} "
        f"{'KiB':>9} {'RSS MB':>7}"
    )


def logged_in(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def _audit_cursor(event) -> str:
    return f"{event.occurred_at.isoformat()}_{event.pk}" if event else ""


def scale_facts(batch_id: int) -> dict:
    from annotations.models import Assignment, AuditEvent, BatchExam, DisputedLabel, Exam, ReviewBatch

    disputed = DisputedLabel.objects.filter(batch_id=batch_id).order_by("exam_id").first()
    pending = {
        r: Assignment.objects.filter(batch_id=batch_id, reader_id=r, status="pending")
        .order_by("position")
        .values_list("pk", flat=True)
        for r in ReviewBatch.objects.get(pk=batch_id)
        .assignments.values_list("reader_id", flat=True)
        .distinct()
    }
    return {
        "exam_id": Exam.objects.order_by("pk").values_list("pk", flat=True)[Exam.objects.count() // 2],
        "batch_exam_id": BatchExam.objects.filter(batch_id=batch_id).order_by("pk").first().exam_id,
        "batch_exam_middle": BatchExam.objects.filter(batch_id=batch_id)
        .order_by("pk")
        .values_list("pk", flat=True)[BatchExam.objects.filter(batch_id=batch_id).count() // 2],
        # The list pages by keyset: the cursor of the 101st-oldest event reaches the oldest page.
        "audit_oldest": _audit_cursor(AuditEvent.objects.order_by("occurred_at", "id")[100:101].first()),
        "disputed_exam_id": disputed.exam_id if disputed else None,
        "pending": {reader: list(ids) for reader, ids in pending.items()},
    }


# The seeded group's readers have read most of the archive in its earlier batches; a batch timed on the
# same exams must let them read again (independent reads, the default, would keep nearly every exam from
# them and the request would be refused), with the reason the designer asks for.
SAME_READERS_AGAIN = {
    "exclude_seen": False,
    "independence_off_reason": "benchmark: the same readers again, to time the designer on these exams",
}


def designer_spec(world: World) -> tuple[dict, dict]:
    """The designer's request (readers, taxonomy) and the criteria its previews and small batches use."""
    spec = {
        "name": "preview",
        "taxonomy_id": world.taxonomy.pk,
        "reader_ids": [r.pk for r in world.readers],
        "readers_per_exam": 3,
    }
    criteria = {
        "datasets": [DATASETS[0]],
        "age_min": 30,
        "age_max": 80,
        "quality_grades": ["good", "acceptable"],
        "reference_labels": ["tnmg:AF", "tnmg:RBBB", "tnmg:NORM"],
    }
    return spec, criteria


def small_creation(meter: Meter, client, spec: dict, criteria: dict) -> None:
    meter.measure(
        "API batch creation, 1,000 exams x 3 readers",
        client,
        lambda i: (
            "POST",
            "/api/v1/batches/",
            {
                **spec,
                **SAME_READERS_AGAIN,
                "name": f"small {i}",
                "sample_size": 1000,
                "seed": 100 + i,
                "criteria": criteria,
            },
        ),
        runs=3,
    )


def adding_exams(meter: Meter, client) -> None:
    """1,000 more exams for a running batch (the newest 1,000-exam batch timed above), chosen by the designer
    page's criteria from a pool of about two million: each run adds another 1,000 that the batch lacks."""
    from annotations.models import Exam, ReviewBatch

    batch = ReviewBatch.objects.filter(name__startswith="small ").order_by("-pk").first()
    if batch is None:
        return
    criteria = {"datasets": [DATASETS[0]], "age_min": 30}
    # Three runs of 1,000 need a pool of them beyond the batch's own; a small seeded archive (the suite's
    # tiny run) adds an eighth of its pool each time instead, and the row says how many.
    pool = Exam.objects.filter(dataset__name=DATASETS[0], age__gte=30).count()
    size = min(1000, max(1, pool // 8))
    meter.measure(
        f"API add {size:,} exams to a running batch",
        client,
        lambda i: (
            "POST",
            f"/api/v1/batches/{batch.pk}/exams/",
            {"criteria": criteria, "sample_size": size, "seed": 200 + i},
        ),
        runs=3,
    )


def evidence_uncached(batch_id: int, path: str) -> Request:
    """The evidence request, its cached agreement part removed first, as a recomputation leaves it. The
    request answers "computing" and asks for the figures; without a broker the in-process thread computes
    them, so the one the last request asked for is waited for first (unmeasured), off the next one's time."""
    from django.core.cache import cache

    from annotations.models import ReviewBatch
    from annotations.selectors.suggestions.evidence import _agreement_key
    from ecgreview.inprocess import background

    background.drain()
    cache.delete(_agreement_key(ReviewBatch.objects.get(pk=batch_id)))
    return ("GET", path, None)


def evidence_warmed(batch_id: int, path: str, seconds: list[float]) -> Request:
    """The evidence request after a recomputation once the worker's warm-up task ran (unmeasured: the
    worker's time, not the request's; its duration is kept in `seconds`)."""
    from annotations.services.suggestions import suggestion_evidence_warm

    evidence_uncached(batch_id, path)
    started = time.perf_counter()
    suggestion_evidence_warm(batch_id)
    seconds.append(time.perf_counter() - started)
    return ("GET", path, None)


def exam_cursor(dataset: str, fraction: float) -> str:
    """The exam list's cursor (its default sort, by dataset then external id) past the exam `fraction` of
    the way through `dataset`: the page a coordinator reaches by following `next` that far. The lists
    read by keyset, so a page given by number (?page=) would be ignored, or refused by the API."""
    from annotations.models import Exam
    from annotations.selectors.exams.listing import DEFAULT_SORT, ExamFilters, _encode, _groups

    exams = Exam.objects.filter(dataset__name=dataset).order_by("external_id")
    exam = exams[int(exams.count() * fraction)]
    group = next(g for g in _groups(DEFAULT_SORT, ExamFilters()) if g.name == f"d{exam.dataset_id}")
    return _encode(DEFAULT_SORT, group, exam)


def coordinator_endpoints(meter: Meter, world: World, batch_id: int, facts: dict, n_exams: int) -> None:
    client = logged_in(world.coordinator)
    get = lambda path: ("GET", path, None)  # noqa: E731
    header("Coordinator pages and APIs")
    # Unmeasured: the first request of a process imports the URL configuration and compiles templates
    # (2.8 s under load), which a running server has long done.
    client.get("/")
    meter.measure("home", client, get("/"))
    meter.measure("exams list, page 1", client, get("/exams/"))
    meter.measure(
        "exams list, dataset + quality filter", client, get(f"/exams/?dataset={DATASETS[1]}&quality=poor")
    )
    meter.measure("exams list, flag filter", client, get("/exams/?flag=noise"))
    middle, last = exam_cursor(DATASETS[0], 0.5), exam_cursor(DATASETS[-1], 0.999)
    meter.measure("exams list, a middle page (keyset cursor)", client, get(f"/exams/?after={middle}"))
    meter.measure("exams list, a last page (keyset cursor)", client, get(f"/exams/?after={last}"))
    meter.measure("API exams, page 1", client, get("/api/v1/exams/"))
    meter.measure(
        "API exams, dataset filter, middle page",
        client,
        get(f"/api/v1/exams/?dataset={DATASETS[0]}&after={middle}"),
    )
    meter.measure("exam page", client, get(f"/exams/{facts['exam_id']}/"))
    meter.measure("exam page, exam in the batch", client, get(f"/exams/{facts['batch_exam_id']}/"))
    meter.measure("batches list", client, get("/batches/"))
    meter.measure("API batches list", client, get("/api/v1/batches/"))
    meter.measure("batch designer page", client, get("/batches/new/"))
    spec, criteria = designer_spec(world)
    preview = "/api/v1/batches/preview/"
    meter.measure(
        "API designer preview: criteria, 1,000 sampled",
        client,
        ("POST", preview, {**spec, "criteria": criteria, "sample_size": 1000}),
    )
    meter.measure(
        "API designer preview: stratified by AF score",
        client,
        (
            "POST",
            preview,
            {
                **spec,
                "criteria": criteria,
                "sample_size": 1000,
                "stratify_provider": PROVIDER,
                "stratify_code": "AF",
                "strata": 4,
            },
        ),
    )
    meter.measure(
        "API designer preview: suggestion window + gold",
        client,
        (
            "POST",
            preview,
            {
                **spec,
                **SAME_READERS_AGAIN,
                "sample_size": 2000,
                "gold_fraction": 0.05,
                "criteria": {"suggestion_provider": PROVIDER, "suggestion_code": "AF", "suggestion_min": 0.5},
            },
        ),
    )
    meter.measure(
        f"API designer preview: {min(100_000, n_exams):,} sampled, no criteria",
        client,
        ("POST", preview, {**spec, "sample_size": min(100_000, n_exams)}),
        runs=3,
    )
    meter.measure(
        "designer page: preview (form POST)",
        client,
        (
            "POST",
            "/batches/new/",
            {
                "_form": True,
                "name": "preview",
                "taxonomy": world.taxonomy.pk,
                "readers": [r.pk for r in world.readers],
                "readers_per_exam": 3,
                "suggestion_mode": "hidden",
                "datasets": [DATASETS[0]],
                "age_min": 30,
                "sample_size": 1000,
                "strata": 4,
                "gold_fraction": 0,
                "retest_fraction": 0,
                "min_pair_overlap": 0,
                "seed": 0,
                "stratify_by": f"{PROVIDER}:AF",
            },
        ),
        runs=3,
    )
    small_creation(meter, client, spec, criteria)
    adding_exams(meter, client)
    meter.measure("batch dashboard", client, get(f"/batches/{batch_id}/"))
    meter.measure(
        "batch dashboard, disputed exams", client, get(f"/batches/{batch_id}/?exam_status=disputed")
    )
    meter.measure(
        "batch dashboard, exams past the middle",
        client,
        get(f"/batches/{batch_id}/?exam_after={facts['batch_exam_middle']}"),
    )
    meter.measure("batch dashboard's suggestions section", client, get(f"/batches/{batch_id}/suggestions/"))
    meter.measure("batch progress.json", client, get(f"/batches/{batch_id}/progress.json"))
    meter.measure("API batch progress", client, get(f"/api/v1/batches/{batch_id}/progress/"))
    meter.measure("agreement page", client, get(f"/batches/{batch_id}/agreement/"))
    meter.measure("API agreement", client, get(f"/api/v1/batches/{batch_id}/agreement/"))
    for table in ("classes", "readers", "pairs", "pairs_by_class", "reader_classes"):
        meter.measure(
            f"agreement CSV: {table}", client, get(f"/batches/{batch_id}/agreement.csv?table={table}")
        )
    # A recomputation (or an adjudication, or new scores) changes the key the evidence's agreement part
    # is cached under; the worker fills the new entry right after a recomputation. Each of these runs is
    # a first request that finds no entry (the worker's warm-up not run yet, or an adjudication since):
    # it answers with the last figures, marked as being computed, and asks the worker for the new ones.
    meter.measure(
        "evidence page, first request, nothing cached",
        client,
        lambda i: evidence_uncached(batch_id, f"/batches/{batch_id}/evidence/"),
    )
    meter.measure(
        "API evidence, first request, nothing cached",
        client,
        lambda i: evidence_uncached(batch_id, f"/api/v1/batches/{batch_id}/evidence/"),
    )
    warmed: list[float] = []
    meter.measure(
        "evidence page, first request after the worker's warm-up",
        client,
        lambda i: evidence_warmed(batch_id, f"/batches/{batch_id}/evidence/", warmed),
    )
    if warmed:
        print(f"    the worker's warm-up after a recomputation: {', '.join(f'{s:.2f}' for s in warmed)} s")
    meter.measure("evidence page", client, get(f"/batches/{batch_id}/evidence/"))
    meter.measure("API evidence", client, get(f"/api/v1/batches/{batch_id}/evidence/"))
    meter.measure("API batch suggestions", client, get(f"/api/v1/batches/{batch_id}/suggestions/"))
    meter.measure("audit list, page 1", client, get("/audit/"))
    meter.measure(
        "audit list, reads of one reader",
        client,
        get(f"/audit/?action=annotation.&actor={world.readers[0].get_username()}"),
    )
    meter.measure(
        "audit list, oldest page (keyset)", client, get(f"/audit/?older={quote(facts['audit_oldest'])}")
    )
    meter.measure("audit export, batch actions", client, get("/audit/export.csv?action=batch."))
    meter.measure_stream("audit export, whole trail (streamed)", client, "/audit/export.csv", runs=3)
    meter.measure(
        "API release create (queued)",
        client,
        lambda i: ("POST", "/api/v1/releases/", {"batches": [batch_id], "name": f"scale {i}"}),
        runs=1,
    )
    meter.measure("releases page", client, get("/releases/"))
    meter.measure("API releases", client, get("/api/v1/releases/"))
    from annotations.models import Release

    release = Release.objects.order_by("-pk").first()
    if release is None:
        return
    meter.measure("release page", client, get(f"/releases/{release.pk}/"))
    meter.measure("API release", client, get(f"/api/v1/releases/{release.pk}/"))
    meter.measure("people page", client, get("/people/"))
    meter.measure("taxonomies page", client, get("/taxonomies/"))
    meter.measure("imports page", client, get("/imports/"))


def adjudicator_endpoints(meter: Meter, world: World, batch_id: int, facts: dict) -> None:
    client = logged_in(world.adjudicator)
    header("Adjudicator pages and APIs")
    meter.measure("adjudication queue", client, ("GET", "/adjudication/", None))
    meter.measure("API adjudication queue", client, ("GET", "/api/v1/adjudication/", None))
    if facts["disputed_exam_id"] is None:
        print("  (no disputed exam: no case to open)")
        return
    case = f"{batch_id}/{facts['disputed_exam_id']}/"
    meter.measure("adjudication case page", client, ("GET", f"/adjudication/{case}", None))
    meter.measure("API adjudication case", client, ("GET", f"/api/v1/adjudication/{case}", None))
    meter.measure(
        "API adjudication case waveform", client, ("GET", f"/api/v1/adjudication/{case}waveform/", None)
    )


def reader_endpoints(meter: Meter, world: World, batch_id: int, facts: dict) -> None:
    reader = world.readers[0]
    client = logged_in(reader)
    queue = iter(facts["pending"][reader.pk])
    from annotations.selectors.reading.refs import assignment_ref

    first_pk = next(queue)
    first = assignment_ref(first_pk)  # what a reader's URLs name it by
    read = {
        "labels": [{"code": "SR", "uncertain": False}, {"code": "NORM", "uncertain": False}],
        "time_on_task_ms": 30_000,
        "revision": 0,
    }
    header(f"Reader pages and APIs (reader-0: {len(facts['pending'][reader.pk]):,} slots left to read)")
    meter.measure("home (worklist)", client, ("GET", "/", None))
    meter.measure("API me", client, ("GET", "/api/v1/me/", None))
    meter.measure("API worklist", client, ("GET", "/api/v1/worklist/", None))
    meter.measure("API next exam", client, ("GET", f"/api/v1/reading/next/?batch={batch_id}", None))
    meter.measure("reader next (redirect)", client, ("GET", f"/read/next/?batch={batch_id}", None))
    meter.measure("reader page", client, ("GET", f"/read/{first}/", None))
    meter.measure("API reading context", client, ("GET", f"/api/v1/reading/assignments/{first}/", None))
    meter.measure(
        "API reading context, prefetch",
        client,
        ("GET", f"/api/v1/reading/assignments/{first}/?prefetch=1", None),
    )
    meter.measure("API waveform", client, ("GET", f"/api/v1/reading/assignments/{first}/waveform/", None))
    revision = {"value": 0}

    def draft(_: int) -> Request:
        from annotations.models import Annotation

        current = Annotation.objects.filter(assignment_id=first_pk, is_current=True).first()
        revision["value"] = current.revision if current else 0
        return ("PUT", f"/api/v1/reading/assignments/{first}/draft/", {**read, "revision": revision["value"]})

    meter.measure("API draft save", client, draft)
    meter.measure(
        "API submit (and next)",
        client,
        lambda i: ("POST", f"/api/v1/reading/assignments/{assignment_ref(next(queue))}/submit/", read),
    )
    meter.measure(
        "API skip (and next)",
        client,
        lambda i: (
            "POST",
            f"/api/v1/reading/assignments/{assignment_ref(next(queue))}/skip/",
            {"reason": "noise"},
        ),
        runs=3,
    )
    meter.measure(
        "my reads page (the reader's reads of the batch)",
        client,
        ("GET", f"/read/batches/{batch_id}/", None),
        runs=3,
    )


# --- Main ----------------------------------------------------------------------------------------------
def report_goals(meter: Meter, create_s: float, recompute_s: float, memory: list[tuple[str, float]]) -> None:
    misses = [row for row in meter.rows if row.missed]
    print("\nGoals")
    for label, seconds, goal in (
        ("batch creation", create_s, CREATE_GOAL_S),
        ("recomputation", recompute_s, RECOMPUTE_GOAL_S),
    ):
        print(f"  {label:<15}{seconds:8.1f} s  (goal < {goal:.0f} s) {'MISS' if seconds > goal else 'ok'}")
    good = len(meter.rows) - len(misses)
    print(f"  pages and APIs: {good} of {len(meter.rows)} with p95 < {PAGE_GOAL_S:.0f} s")
    for row in misses:
        print(f"    MISS {row.name}: p95 {row.p95_ms / 1000:.2f} s, {row.queries} queries, HTTP {row.status}")
    print("  resident memory after each phase (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in memory))
    print(f"  peak resident memory of the process: {peak_rss_mb():.0f} MB")


def load_average() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def report_creation(world: World, batch_exams: int) -> tuple[int, float]:
    """Create the big batch through the API and print how long it took: (batch id, seconds)."""
    batch_id, seconds, queries, watch = create_batch(logged_in(world.coordinator), world, batch_exams)
    print(
        f"batch creation ({batch_exams:,} exams x 3 readers, API): {seconds:.1f} s, {queries} queries, "
        f"RSS peak +{watch['peak'] - watch['start']:.0f} MB (goal < {CREATE_GOAL_S:.0f} s), "
        f"load average {load_average()}",
        flush=True,
    )
    return batch_id, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exams", type=int, default=20_000)
    parser.add_argument(
        "--batch-exams", type=int, default=None, help="default: a quarter of --exams, at most 100,000"
    )
    parser.add_argument(
        "--pending", type=int, default=100, help="slots per reader left unread for the reader APIs"
    )
    parser.add_argument("--runs", type=int, default=10, help="requests per page or API")
    parser.add_argument(
        "--budget", type=float, default=20.0, help="seconds per page or API before fewer runs"
    )
    parser.add_argument(
        "--statement-timeout", type=float, default=60.0, help="seconds; a page's query past it fails it"
    )
    parser.add_argument("--database", default="ecg_bench_scale")
    parser.add_argument("--keep", action="store_true", help="reuse the database when seeded at this size")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help=f"comma-separated parts to measure, of {', '.join(PARTS)} (default: all). On a kept database "
        "'create' times a second batch of --batch-exams exams (removed again) and the 1,000-exam creation",
    )
    parser.add_argument(
        "--page",
        action="append",
        default=[],
        metavar="TEXT",
        help="with pages: measure only the pages and APIs whose name holds TEXT (any case; repeatable)",
    )
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="TEXT",
        help="after the timed requests of each page or API whose name holds TEXT, one more under cProfile",
    )
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if not parts <= set(PARTS):
        parser.error(f"--only takes {', '.join(PARTS)}")
    batch_exams = args.batch_exams or min(100_000, args.exams // 4)
    if not args.database.startswith("ecg_bench"):
        parser.error("--database must start with ecg_bench (it is dropped and recreated)")

    setup(args.database, fresh=not args.keep)
    from annotations.models import ReviewBatch

    cpus = os.cpu_count()
    print(
        f"scale: {args.exams:,} exams, a {batch_exams:,}-exam batch x 3 readers, {cpus} CPUs, "
        f"{args.runs} runs each"
    )
    memory = [("start", rss_mb())]
    seeded = args.keep and seeded_size() >= args.exams
    if args.keep and not seeded and seeded_size():
        # Kept at a smaller size: seeding on top of it would meet its people and taxonomies again.
        from django.db import connections

        print(f"the kept database holds {seeded_size():,} exams: seeding it afresh")
        connections.close_all()
        setup(args.database, fresh=True)
    create_s = recompute_s = float("nan")
    if seeded and ReviewBatch.objects.exists():
        world = world_from_database()
        batch = ReviewBatch.objects.order_by("pk").first()
        batch_id = batch.pk
        print(f"reusing the seeded database: batch {batch_id}")
        if "create" in parts:
            timed_id, create_s = report_creation(world, batch_exams)
            remove_batch(timed_id)
    else:
        # A run stopped after seeding (the longest part at CODE-II size) goes on from the batch.
        world = world_from_database() if seeded else seed(args.exams)
        memory.append(("seeded", rss_mb()))
        batch_id, create_s = report_creation(world, batch_exams)
        memory.append(("batch created", rss_mb()))
        started = time.perf_counter()
        reads = seed_reads(world, batch_id, args.pending)
        print(
            f"reads by COPY: {reads:,} submitted first reads in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    if "recompute" in parts:
        recompute_s, watch = recompute(batch_id)
        print(
            f"agreement + consensus recomputation (worker task): {recompute_s:.1f} s, "
            f"RSS peak +{watch['peak'] - watch['start']:.0f} MB, "
            f"kept +{watch['end'] - watch['start']:.0f} MB (goal < {RECOMPUTE_GOAL_S:.0f} s), "
            f"load average {load_average()}",
            flush=True,
        )
        memory.append(("recomputed", rss_mb()))
    meter = Meter(args.runs, args.budget, args.page, args.profile)
    if "pages" not in parts:
        if "create" in parts:
            small_creation(meter, logged_in(world.coordinator), *designer_spec(world))
        print(f"load average {load_average()}")
        return
    with timed(f"the group's earlier batches ({HISTORY_BATCHES} closed, {HISTORY_EXAMS} exams x 2 readers)"):
        seed_history(world)
    facts = scale_facts(batch_id)
    from django.db import connection

    logging.getLogger("django.request").setLevel(logging.CRITICAL)  # a failed page is one line below
    with connection.cursor() as cursor:  # a runaway query fails its page instead of stalling the run
        cursor.execute(f"SET statement_timeout = {int(args.statement_timeout * 1000)}")
    print(
        f"(each SQL statement of a page or API is cancelled after {args.statement_timeout:.0f} s: HTTP 599)"
    )
    coordinator_endpoints(meter, world, batch_id, facts, args.exams)
    memory.append(("coordinator pages", rss_mb()))
    adjudicator_endpoints(meter, world, batch_id, facts)
    reader_endpoints(meter, world, batch_id, facts)
    memory.append(("reader pages", rss_mb()))
    report_goals(meter, create_s, recompute_s, memory)
    if args.drop:
        drop(args.database)
        print(f"dropped database {args.database}")


if __name__ == "__main__":
    main()
