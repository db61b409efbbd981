"""A coordinator turns a finished release into a blind benchmark: exams, order, split and labels frozen in
the request; then a task (benchmark_prepare) writes the tracings in that order and scores every reader of
the release against the same labels, and opens the benchmark. Until then it is "preparing"."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import tempfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from django.conf import settings
from django.core.files import File
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from annotations.errors import Conflict, Forbidden, Invalid
from annotations.lib.release_files import hdf5
from annotations.lib.release_files.wfdb_files import write_wfdb_zip
from annotations.lib.stats.benchmark import score
from annotations.models import Benchmark, BenchmarkExam, Exam, ReferenceLabel, Release
from annotations.roles import Role, has_role
from annotations.selectors.releases.builds import release_file_key, release_storage
from annotations.services.audit import audit_record
from annotations.services.exams.waveforms import waveform_load
from annotations.services.jobs.dispatch import (
    Beat,
    task_beating,
    task_done,
    task_enqueue,
    task_enqueue_on_commit,
    task_started,
    tasks_waiting,
)
from annotations.services.releases.layout import ADDED_COLUMN, META_COLUMNS

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.auth.models import User

TRACINGS_NAME = "tracings.hdf5"
WFDB_NAME = "tracings-wfdb.zip"
FILES = (TRACINGS_NAME, WFDB_NAME)
READER_RESAMPLES = 1000
logger = logging.getLogger(__name__)


def benchmark_storage_key(benchmark_id: int, name: str) -> str:
    return f"benchmarks/{benchmark_id}/{name}"


def _release_csv(release: Release, name: str) -> list[dict[str, Any]]:
    if not any(entry["name"] == name for entry in release.files):
        return []
    with release_storage().open(release_file_key(release, name), "rb") as handle:
        return list(csv.DictReader(io.StringIO(handle.read().decode("utf-8"))))


def _keys(rows: list[dict[str, Any]]) -> list[str]:
    """The id each exam goes by in the benchmark's files: its exam id, or dataset/exam id where two
    datasets share one."""
    ids = [row["exam_id"] for row in rows]
    if len(set(ids)) == len(ids):
        return ids
    return [f"{row['dataset']}/{row['exam_id']}" for row in rows]


def _natural(keys: list[str]) -> list[int]:
    """Row order: numeric where every id is a number (a CODE file's row i is exam i), else by text."""
    if all(key.isdigit() for key in keys):
        return sorted(range(len(keys)), key=lambda i: int(keys[i]))
    return sorted(range(len(keys)), key=lambda i: keys[i])


def _consensus_truth(
    rows: list[dict[str, Any]], classes: list[str], adjudicated: set[tuple[Any, ...]]
) -> tuple[list[Any], np.ndarray]:
    kept, truth = [], []
    for row in rows:
        cells = [row[code] for code in classes]
        if any(cell not in ("0", "1") for cell in cells) or (row["dataset"], row["exam_id"]) in adjudicated:
            continue
        kept.append(row)
        truth.append([int(cell) for cell in cells])
    return kept, np.array(truth, dtype=np.int64).reshape(len(kept), len(classes))


def _exams_of(rows: list[dict[str, Any]]) -> list[Exam]:
    wanted = {(row["dataset"], row["exam_id"]) for row in rows}
    found = {
        (exam.dataset.name, exam.external_id): exam
        for exam in Exam.objects.filter(
            dataset__name__in={d for d, _ in wanted}, external_id__in={e for _, e in wanted}
        ).select_related("dataset")
    }
    return [found[(row["dataset"], row["exam_id"])] for row in rows]


def _reference_truth(release: Release, exams: list[Exam], classes: list[str]) -> np.ndarray:
    system = release.target or release.taxonomy.key
    column = {code.upper(): k for k, code in enumerate(classes)}
    row_of = {exam.pk: i for i, exam in enumerate(exams)}
    truth = np.zeros((len(exams), len(classes)), dtype=np.int64)
    marked = ReferenceLabel.objects.filter(exam_id__in=list(row_of), code_system__iexact=system)
    for exam_id, code in marked.values_list("exam_id", "code"):
        k = column.get(code.upper())
        if k is not None:
            truth[row_of[exam_id], k] = 1
    return truth


def _labels(release: Release, source: str) -> tuple[list[dict[str, Any]], list[Exam], list[str], np.ndarray]:
    rows = _release_csv(release, "consensus.csv")
    if not rows:
        raise Invalid(_("the release has no consensus.csv to take exams and labels from"))
    classes = [name for name in rows[0] if name not in META_COLUMNS and name != ADDED_COLUMN]
    if source == Benchmark.LabelSource.REFERENCE:
        exams = _exams_of(rows)
        return rows, exams, classes, _reference_truth(release, exams, classes)
    adjudicated = set()
    if source == Benchmark.LabelSource.CONSENSUS:
        adjudicated = {(r["dataset"], r["exam_id"]) for r in _release_csv(release, "adjudications.csv")}
    kept, truth = _consensus_truth(rows, classes, adjudicated)
    return kept, _exams_of(kept), classes, truth


def _reader_calls(
    release: Release, keys: dict[tuple[Any, ...], int], classes: list[str]
) -> dict[str, tuple[Any, ...]]:
    """Per reader pseudonym: (exam rows read, 0/1 calls per class) from the release's first-round reads."""
    column = {code: k for k, code in enumerate(classes)}
    calls: dict[str, dict[int, np.ndarray]] = {}
    for read in _release_csv(release, "reads.csv"):
        row = keys.get((read["dataset"], read["exam_id"]))
        if (
            row is None
            or read["read_round"] != "1"
            or read["is_current"] != "1"
            or read["status"] != "submitted"
        ):
            continue
        marks = calls.setdefault(read["reader"], {}).setdefault(row, np.zeros(len(classes), np.int64))
        if read["code"] in column:
            marks[column[read["code"]]] = 1
    out = {}
    for reader, by_row in calls.items():
        rows = np.array(sorted(by_row))
        out[reader] = (rows, np.stack([by_row[r] for r in rows]))
    return out


def _reader_figures(
    release: Release,
    keys: dict[tuple[Any, ...], int],
    classes: list[str],
    truth: np.ndarray,
    private: np.ndarray,
) -> list[dict[str, Any]]:
    names = {pseudonym: uid for pseudonym, uid in (release.pseudonym_key or {}).items()}
    entries = []
    for reader, (rows, calls) in sorted(_reader_calls(release, keys, classes).items()):
        entry = {"reader": reader, "user_id": names.get(reader), "n": len(rows)}
        for split, mask in (("public", ~private[rows]), ("private", private[rows])):
            entry[split] = score(
                truth[rows[mask]],
                calls[mask],
                np.full(len(classes), 0.5),
                classes=classes,
                ranked=False,
                n_resamples=READER_RESAMPLES,
            ).as_dict()
        entries.append(entry)
    return entries


class ExamUnreadable(Exception):
    """An exam's stored waveform could not be read while a benchmark's tracings were written."""


def _samples(exam: Exam) -> np.ndarray:
    try:
        return waveform_load(exam.waveform_key)
    except (OSError, ValueError) as error:
        raise ExamUnreadable(
            _("exam %(exam)s: its stored waveform cannot be read (%(error)s)")
            % {"exam": f"{exam.dataset.name}/{exam.external_id}", "error": error}
        ) from error


def _write_tracings(
    exams: list[Exam], keys: list[str], path: Path, beat: Callable[[], None] = lambda: None
) -> dict[str, Any]:
    with hdf5.TracingsWriter(path, n_rows=len(exams), attrs={"convention": "CODE"}) as writer:
        for exam in exams:
            beat()
            samples = _samples(exam)
            writer.write(hdf5.code_tracing(samples, gain_uv=exam.gain_uv, rate_hz=exam.sampling_rate)[None])
        writer.write_ids("exam_id", [key.encode() for key in keys])
    return _entry(path)


def _entry(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"name": path.name, "bytes": path.stat().st_size, "sha256": digest}


def _write_wfdb(
    exams: list[Exam], keys: list[str], path: Path, beat: Callable[[], None] = lambda: None
) -> dict[str, Any]:
    def records() -> Iterator[tuple[str, np.ndarray, float, float, list[str]]]:
        for key, exam in zip(keys, exams, strict=True):
            beat()
            samples = _samples(exam)
            yield key, samples, exam.sampling_rate, exam.gain_uv, list(exam.lead_names or [])

    write_wfdb_zip(path, records())
    return _entry(path)


def _check(actor: User, release: Release, source: str, private_fraction: float, daily_quota: int) -> None:
    if not has_role(actor, Role.COORDINATOR):
        raise Forbidden
    if release.status != Release.Status.DONE:
        raise Conflict(_("only a finished release can become a benchmark"))
    if source not in Benchmark.LabelSource.values:
        raise Invalid(_("unknown label source “%(source)s”") % {"source": source})
    if not 0 <= private_fraction < 1:
        raise Invalid(_("the private share of exams must be at least 0 and below 1"))
    if not 1 <= daily_quota <= 1000:
        raise Invalid(_("the daily quota must be between 1 and 1000"))


def _store(benchmark_id: int, path: Path) -> None:
    key = benchmark_storage_key(benchmark_id, path.name)
    # A file left under this key (a database restored to before it) would make the storage save under
    # another name and the download serve the stale one.
    if release_storage().exists(key):
        release_storage().delete(key)
    with open(path, "rb") as handle:
        release_storage().save(key, File(handle))


PREPARE_TASK = "annotations.tasks.benchmarks_prepare"
SYSTEM_ACTOR = "system:benchmarks"


# Long because the refusals come first and the freeze is one transaction: the benchmark row, its exams
# in their order with their split and labels, the audit row, and the task queued after the commit.
def benchmark_create(
    *,
    actor: User,
    release: Release,
    name: str,
    label_source: str,
    private_fraction: float = 0.5,
    daily_quota: int = 5,
    seed: int = 0,
    ip_address: str | None = None,
) -> Benchmark:
    """Freeze a finished release's exams and labels as a benchmark, "preparing" until benchmark_prepare
    (a task queued after the commit) has written its tracings; refused with nothing stored."""
    _check(actor, release, label_source, private_fraction, daily_quota)
    rows, exams, classes, truth = _labels(release, label_source)
    if not rows:
        raise Invalid(_("no exam of the release has labels from this source"))
    keys = _keys(rows)
    order = _natural(keys)
    exams, keys, truth = [exams[i] for i in order], [keys[i] for i in order], truth[order]
    n = len(keys)
    private = np.zeros(n, dtype=bool)
    private[np.random.default_rng(seed).permutation(n)[: round(private_fraction * n)]] = True
    with transaction.atomic():
        benchmark = Benchmark.objects.create(
            name=(name or release.name)[:200],
            release=release,
            label_source=label_source,
            classes=classes,
            exam_count=n,
            private_count=int(private.sum()),
            split_seed=seed,
            daily_quota=daily_quota,
            status=Benchmark.Status.PREPARING,
            created_by=actor,
        )
        BenchmarkExam.objects.bulk_create(
            BenchmarkExam(
                benchmark=benchmark,
                row=i,
                exam_key=keys[i],
                exam=exams[i],
                split="private" if private[i] else "public",
                labels=truth[i].tolist(),
            )
            for i in range(n)
        )
        audit_record(
            actor=actor,
            action="benchmark.create",
            target=benchmark,
            after={
                "release": release.pk,
                "label_source": label_source,
                "classes": classes,
                "exams": n,
                "private": int(private.sum()),
                "seed": seed,
                "daily_quota": daily_quota,
            },
            ip_address=ip_address,
        )
        task_enqueue_on_commit(PREPARE_TASK, benchmark.pk)
    return benchmark


def _frozen(benchmark: Benchmark) -> tuple[list[Exam], list[str], np.ndarray, np.ndarray]:
    """The exams, their ids, labels and private mask, in row order, as benchmark_create froze them."""
    rows = list(
        BenchmarkExam.objects.filter(benchmark=benchmark).order_by("row").select_related("exam__dataset")
    )
    truth = np.array([r.labels for r in rows], dtype=np.int64).reshape(len(rows), len(benchmark.classes))
    private = np.array([r.split == BenchmarkExam.Split.PRIVATE for r in rows], dtype=bool)
    return [r.exam for r in rows], [r.exam_key for r in rows], truth, private


def benchmark_prepare(benchmark_id: int) -> Benchmark | None:
    """Write a preparing benchmark's tracings, score the release's readers against its labels, and open
    it. Idempotent: an open or closed one, or one another worker is preparing now, is left alone; files
    a killed run left are written again."""
    benchmark = Benchmark.objects.filter(pk=benchmark_id).select_related("release").first()
    if benchmark is None or benchmark.status != Benchmark.Status.PREPARING:
        return benchmark
    if task_beating(PREPARE_TASK, benchmark_id):
        return benchmark  # a twin delivery: the worker that beats finishes it
    task_started(PREPARE_TASK, benchmark_id)
    beat = Beat(PREPARE_TASK, benchmark_id)
    beat()
    try:
        return _prepared(benchmark, beat)
    except DatabaseError:
        raise  # the database itself: nothing can be recorded, and the sweep tries again once it is back
    except Exception as error:
        logger.exception("benchmark %s: preparing failed", benchmark_id)
        return _prepare_failed(benchmark_id, error)
    finally:
        task_done(PREPARE_TASK, benchmark_id)


def _prepared(benchmark: Benchmark, beat: Beat) -> Benchmark:
    """benchmark_prepare's work: the files written and stored, then the benchmark opened."""
    benchmark_id = benchmark.pk
    exams, keys, truth, private = _frozen(benchmark)
    index = {(exam.dataset.name, exam.external_id): i for i, exam in enumerate(exams)}
    readers = _reader_figures(benchmark.release, index, list(benchmark.classes), truth, private)
    with tempfile.TemporaryDirectory() as folder:
        entry = _write_tracings(exams, keys, Path(folder) / TRACINGS_NAME, beat)
        entry["wfdb"] = _write_wfdb(exams, keys, Path(folder) / WFDB_NAME, beat)
        for name in FILES:
            _store(benchmark.pk, Path(folder) / name)
    with transaction.atomic():
        locked = Benchmark.objects.select_for_update().get(pk=benchmark_id)
        if locked.status != Benchmark.Status.PREPARING:
            return locked
        locked.tracings, locked.readers, locked.status = entry, readers, Benchmark.Status.OPEN
        locked.save(update_fields=["tracings", "readers", "status"])
        audit_record(
            actor=None,
            actor_username=SYSTEM_ACTOR,
            action="benchmark.ready",
            target=locked,
            after={"tracings_sha256": entry["sha256"], "wfdb_sha256": entry["wfdb"]["sha256"]},
        )
    return locked


def _prepare_failed(benchmark_id: int, error: Exception) -> Benchmark:
    """Count a failed try; the last of BENCHMARK_PREPARE_TRIES marks the benchmark failed with the reason
    (the sweep no longer queues it), audited once. Earlier tries leave it preparing for the sweep."""
    reason = (str(error) if isinstance(error, ExamUnreadable) else f"{type(error).__name__}: {error}")[:1000]
    with transaction.atomic():
        locked = Benchmark.objects.select_for_update().get(pk=benchmark_id)
        if locked.status != Benchmark.Status.PREPARING:
            return locked
        locked.prepare_tries += 1
        fields = ["prepare_tries"]
        if locked.prepare_tries >= settings.BENCHMARK_PREPARE_TRIES:
            locked.status, locked.error = Benchmark.Status.FAILED, reason or type(error).__name__
            fields += ["status", "error"]
            audit_record(
                actor=None,
                actor_username=SYSTEM_ACTOR,
                action="benchmark.failed",
                target=locked,
                after={"tries": locked.prepare_tries, "error": locked.error},
            )
        locked.save(update_fields=fields)
    return locked


def benchmarks_preparing_requeue(now: datetime) -> int:
    """Queue again the benchmarks still preparing whose message was lost (no marker) and that no worker
    is preparing (no beat): the broker was down at their commit, Redis lost the message, or the worker
    died. The jobs sweep calls this."""
    old_enough = now - timedelta(seconds=settings.JOBS_REQUEUE_AFTER_S)
    ids = list(
        Benchmark.objects.filter(status=Benchmark.Status.PREPARING, created_at__lte=old_enough)
        .order_by("created_at")
        .values_list("pk", flat=True)[: settings.JOBS_SWEEP_LIMIT]
    )
    if not ids:
        return 0
    waiting = tasks_waiting(PREPARE_TASK, ids)
    lost = [pk for pk in ids if pk not in waiting and not task_beating(PREPARE_TASK, pk)]
    return sum(task_enqueue(PREPARE_TASK, pk) for pk in lost)


def benchmark_close(*, actor: User, benchmark: Benchmark, ip_address: str | None = None) -> Benchmark:
    """Close a benchmark: no more submissions, and the private split's figures are shown."""
    if not has_role(actor, Role.COORDINATOR):
        raise Forbidden
    with transaction.atomic():
        locked = Benchmark.objects.select_for_update().get(pk=benchmark.pk)
        if locked.status == Benchmark.Status.CLOSED:
            raise Conflict(_("the benchmark is closed already"))
        if locked.status == Benchmark.Status.PREPARING:
            raise Conflict(_("the benchmark is still being prepared: close it once it is open"))
        locked.status, locked.closed_at = Benchmark.Status.CLOSED, timezone.now()
        locked.save(update_fields=["status", "closed_at"])
        audit_record(actor=actor, action="benchmark.close", target=locked, ip_address=ip_address)
    return locked


def benchmark_tracings_open(
    *, actor: User, benchmark: Benchmark, name: str = TRACINGS_NAME, ip_address: str | None = None
) -> File[bytes]:
    """Open the benchmark's tracings (HDF5, or the WFDB zip) for download, recording who took them."""
    if not (has_role(actor, Role.COORDINATOR) or has_role(actor, Role.SUBMITTER)):
        raise Forbidden
    entry = benchmark.tracings.get("wfdb", {}) if name == WFDB_NAME else benchmark.tracings
    if name not in FILES or not entry:
        raise FileNotFoundError(name)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="benchmark.download",
            target=benchmark,
            after={"file": name, "sha256": entry.get("sha256")},
            ip_address=ip_address,
        )
    return release_storage().open(benchmark_storage_key(benchmark.pk, name), "rb")
