"""Benchmark: how long a reader's submit takes on the embedded default (SQLite, no broker).

With no REDIS_URL Celery runs tasks in-process, so whatever a submit queues (the batch's agreement
recomputation, a bootstrap of AGREEMENT_BOOTSTRAP_RESAMPLES resamples) could run inside the request.
This sets up a fresh SQLite database in a temporary VAR_DIR exactly as `make run` configures it, creates
a batch of N synthetic exams read by two readers, and times every submit through the JSON API (Django's
test client, in-process: no network). Then it reports how long after the last submit the agreement
result reflecting every read was stored. Prints figures; asserts nothing about time.

    .venv/bin/python bench/submit_embedded.py [--exams 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODES = {0: ["NORM"], 1: ["RBBB"]}


def setup(var_dir: str) -> None:
    sys.path.insert(0, str(ROOT))
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    os.environ.update({"DEBUG": "1", "VAR_DIR": var_dir, "DJANGO_SETTINGS_MODULE": "ecgreview.settings"})
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("load_taxonomy", "--shipped", verbosity=0)


def study(n_exams: int):
    from annotations.lib.ecg.leads import STANDARD_LEADS
    from annotations.lib.ecg.synthetic import synthetic_ecg
    from annotations.models import Taxonomy
    from annotations.roles import Role
    from annotations.services.batches.lifecycle import batch_create
    from annotations.services.exams.create import ExamInput, dataset_get_or_create, exam_create
    from annotations.services.users import user_create

    readers = [user_create(username=f"reader{i}", password="x" * 20, roles={Role.READER}) for i in range(2)]
    coordinator = user_create(username="coord", password="x" * 20, roles={Role.COORDINATOR})
    dataset = dataset_get_or_create(name="bench", title="bench", licence="none")
    exams = []
    for i in range(n_exams):
        signals, _ = synthetic_ecg(heart_rate_bpm=60 + i % 40, seed=i)
        exams.append(
            exam_create(
                dataset=dataset,
                data=ExamInput(
                    external_id=f"bench-{i:04d}",
                    signals_mv=signals,
                    sampling_rate=500.0,
                    lead_names=list(STANDARD_LEADS),
                ),
            )
        )
    batch = batch_create(
        name="bench",
        taxonomy=Taxonomy.objects.get(is_default=True),
        exams=exams,
        readers=readers,
        readers_per_exam=2,
        actor=coordinator,
        seed=7,
    )
    return batch, readers


def submit_all(batch, readers) -> list[float]:
    from django.test import Client

    from annotations.models import Assignment

    timings = []
    for index, reader in enumerate(readers):
        client = Client(HTTP_HOST="localhost")
        client.force_login(reader)
        for assignment in Assignment.objects.filter(batch=batch, reader=reader).order_by("position"):
            started = time.perf_counter()
            response = client.post(
                f"/api/v1/reading/assignments/{assignment.pk}/submit/",
                {"labels": [{"code": c, "uncertain": False} for c in CODES[index]], "revision": 0},
                content_type="application/json",
            )
            timings.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"submit refused: {response.status_code} {response.content[:300]!r}")
    return timings


def wait_for_agreement(batch, reads: int, limit_s: float = 300.0) -> float:
    from annotations.models import AgreementResult

    started = time.perf_counter()
    while not AgreementResult.objects.filter(batch=batch, read_count__gte=reads).exists():
        if time.perf_counter() - started > limit_s:
            return float("nan")
        time.sleep(0.05)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-submit-") as var_dir:
        setup(var_dir)
        from django.conf import settings

        batch, readers = study(args.exams)
        timings = submit_all(batch, readers)
        settled = wait_for_agreement(batch, len(timings))
        ms = sorted(t * 1000 for t in timings)
        print(
            f"embedded default (SQLite, eager={settings.CELERY_TASK_ALWAYS_EAGER}), {len(ms)} submits, "
            f"{args.exams} exams x 2 readers, bootstrap {settings.AGREEMENT_BOOTSTRAP_RESAMPLES} resamples"
        )
        print(
            f"submit latency ms: median {statistics.median(ms):.0f}, "
            f"p90 {ms[int(0.9 * (len(ms) - 1))]:.0f}, max {ms[-1]:.0f}, mean {statistics.fmean(ms):.0f}"
        )
        print(f"agreement with every read stored {settled:.2f} s after the last submit")


if __name__ == "__main__":
    main()
