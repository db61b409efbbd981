"""Releases as coordinators see them: the list, one release, its progress."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import Storage, storages
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from annotations.errors import Forbidden, Invalid, NotFound
from annotations.lib.release_files.shards import is_shard_name
from annotations.models import Release, ReviewBatch
from annotations.roles import Role, has_role
from annotations.selectors.blinding import batch_pseudonyms
from annotations.selectors.jobs import queue_quiet_notice, run_stopped_notice, task_beating

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def release_storage() -> Storage:
    return storages["releases"]


def release_file_key(release: Release, name: str) -> str:
    return f"{release.pk}/{name}"


def _require_coordinator(user: User) -> None:
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden


def release_list(user: User) -> QuerySet[Release]:
    _require_coordinator(user)
    return Release.objects.select_related("coordinator", "taxonomy").prefetch_related("batches")


def release_get(user: User, release_id: int) -> Release:
    _require_coordinator(user)
    release = release_list(user).filter(pk=release_id).first()
    if release is None:
        raise NotFound(_("no such release"))
    return release


def release_is_sharding(release: Release) -> bool:
    """Whether the release's labels pass is done and its shards are being written (their own tasks)."""
    return bool(_shard_entries(release))


def _shard_entries(release: Release) -> list[dict[str, Any]]:
    return [entry for entry in release.files if is_shard_name(entry["name"])]


def release_progress(release: Release) -> dict[str, Any]:
    """What the release page and the API show: the counts, the shards of a sharded build written so
    far, and the files once the release is done (never a half-built release's)."""
    shards = _shard_entries(release)
    done = release.status == Release.Status.DONE
    return {
        "id": release.pk,
        "name": release.name,
        "status": release.status,
        "done": release.progress_done,
        "total": release.progress_total,
        "shards_done": sum(1 for entry in shards if entry["sha256"]),
        "shards_total": len(shards),
        "finished": release.status in (Release.Status.DONE, Release.Status.FAILED),
        "error": release.error,
        "exam_count": release.exam_count,
        "target": release.target,
        "taxonomy": f"{release.taxonomy.key} {release.taxonomy.version}",
        "batches": sorted(release.batches.values_list("pk", flat=True)),
        "options": release.options,
        "software_version": release.software_version,
        "created_at": release.created_at.isoformat(),
        "files": [{k: f[k] for k in ("name", "bytes", "sha256")} for f in release.files] if done else [],
        "workers": release_workers_notice(release),
    }


BUILD_TASK = "annotations.tasks.releases_build"


def release_workers_notice(release: Release) -> str:
    """What the page says when no worker takes the build, or the build (its shards included: each beats
    for the release) stopped reporting; "" otherwise."""
    if release.status == Release.Status.QUEUED:
        return queue_quiet_notice(settings.CELERY_TASK_DEFAULT_QUEUE, release.created_at)
    if release.status == Release.Status.RUNNING:
        return run_stopped_notice(release.started_at, lambda: task_beating(BUILD_TASK, release.pk))
    return ""


def _card_counts(release: Release) -> dict[str, Any]:
    """The finished release's own dataset card's counts: what the files hold, not what the batches hold
    now. Empty before the release is done, and where the card cannot be read."""
    if release.status != Release.Status.DONE:
        return {}
    try:
        with release_storage().open(release_file_key(release, "dataset_card.json"), "rb") as handle:
            counts: dict[str, Any] = json.load(handle).get("counts", {})
            return counts
    except (FileNotFoundError, ValueError):
        return {}


def release_card_text(release: Release) -> str | None:
    """The finished release's dataset card as its dataset_card.md says it, for the release page: a
    coordinator reads it there without downloading it. None before it is done, or where it cannot be read."""
    if release.status != Release.Status.DONE:
        return None
    try:
        with release_storage().open(release_file_key(release, "dataset_card.md"), "rb") as handle:
            text: str = handle.read().decode("utf-8")
            return text
    except (FileNotFoundError, UnicodeDecodeError):
        return None


def release_undecided(release: Release) -> dict[str, Any] | None:
    """How many exams, and cells, the finished release leaves undecided (empty in consensus.csv). None
    before the release is done, and for a release whose card predates these counts."""
    counts = _card_counts(release)
    if "undecided_exams" not in counts:
        return None
    return {"exams": counts["undecided_exams"], "cells": counts["undecided_cells"]}


def release_not_read(release: Release) -> int | None:
    """How many exams of the release's batches had no submitted read when it was built (no row in its
    files). None before it is done, and for a release whose card predates this count."""
    return _card_counts(release).get("not_read")


def release_insufficient(release: Release) -> int | None:
    """How many exams of the release had fewer reads than their batch's consensus needs when it was built
    (a row with every class empty). None before it is done, and for a release whose card predates it."""
    return _card_counts(release).get("insufficient_reads")


def release_pseudonym_key(release: Release) -> list[dict[str, Any]]:
    """Who each pseudonym of a release's files is, as stored when they were written: adjudicators (A01..)
    then readers (R01..). For the release's page and API, which only coordinators open (release_get)."""
    key = release.pseudonym_key or {}
    accounts = {user.pk: user for user in get_user_model().objects.filter(pk__in=set(key.values()))}
    letters = _batch_letters(release)
    rows = []
    for name in sorted(key):
        account = accounts.get(key[name])
        rows.append(
            {
                "pseudonym": name,
                "username": account.get_username() if account else "",
                "name": account.get_full_name() if account else "",  # as the account names the person now
                "batch_letters": letters.get(key[name], []),
            }
        )
    return rows


def _batch_letters(release: Release) -> dict[int, list[dict[str, Any]]]:
    """user id -> the name each of the release's batches gives them on its adjudication pages and agreement
    tables (Reader A, B…, in an order drawn per batch): a coordinator comparing those with the release's
    R01, R02… needs both side by side."""
    letters: dict[int, list[dict[str, Any]]] = {}
    for batch in release.batches.order_by("pk"):
        for user_id, letter in batch_pseudonyms(batch).items():
            letters.setdefault(user_id, []).append({"batch": batch.pk, "letter": letter})
    return letters


def release_shards_due(started_before: datetime, limit: int) -> list[tuple[int, int | None]]:
    """Sharded builds started before `started_before` and not done: (release id, shard index) for every
    shard still unwritten, or (release id, None) where all are written and only the assembly is left."""
    due: list[tuple[int, int | None]] = []
    running = Release.objects.filter(status=Release.Status.RUNNING, started_at__lte=started_before)
    for release in running.order_by("started_at").only("pk", "files")[:limit]:
        shards = sorted(_shard_entries(release), key=lambda entry: entry["name"])
        if not shards:
            continue
        missing = [(release.pk, i) for i, entry in enumerate(shards) if not entry["sha256"]]
        due += missing or [(release.pk, None)]
    return due


def exportable_batches(user: User) -> QuerySet[ReviewBatch]:
    _require_coordinator(user)
    return ReviewBatch.objects.exclude(status=ReviewBatch.Status.DRAFT).select_related("taxonomy")


def release_batches(user: User, batch_ids: list[int]) -> list[ReviewBatch]:
    """The batches a release is asked for, each one named; an id that names no batch is refused."""
    _require_coordinator(user)
    batches = list(ReviewBatch.objects.filter(pk__in=batch_ids))
    missing = sorted(set(batch_ids) - {batch.pk for batch in batches})
    if missing:
        raise Invalid(_("no such batch: %(ids)s") % {"ids": ", ".join(map(str, missing))})
    return batches
