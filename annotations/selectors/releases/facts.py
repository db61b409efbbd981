"""The export's smaller reads, through the ORM and read whole (they are few, unlike the streamed rows of
selectors.releases.export): who read, the skips, the slots' statuses, the date the data reflects, the
consensus methods and the classes an adjudicator added."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db.models import Count, Max

from annotations.models import Adjudication, Annotation, Assignment, Consensus, Release
from annotations.selectors.agreement.summary import settled_consensus
from annotations.selectors.releases.history import returned_reader_ids


def earlier_pseudonym_keys() -> list[dict[str, int]]:
    """Every release's pseudonym key (name -> user id), oldest first: the names people keep from one
    release to the next (lib.release_files.files.pseudonyms). Releases built before keys were stored
    have none."""
    keys = Release.objects.exclude(pseudonym_key={}).order_by("created_at", "pk")
    return [key for key in keys.values_list("pseudonym_key", flat=True) if key]


def export_reader_ids(batch_ids: Sequence[int]) -> list[int]:
    """Everyone with a submitted read, a skip or a read returned to them in the batches: the readers the
    pseudonyms stand for (read_history.csv names the returned reads' readers too)."""
    readers = set(
        Annotation.objects.filter(assignment__batch_id__in=batch_ids, status=Annotation.Status.SUBMITTED)
        .values_list("assignment__reader_id", flat=True)
        .distinct()
    )
    readers |= set(
        Assignment.objects.filter(batch_id__in=batch_ids, status=Assignment.Status.SKIPPED)
        .order_by()
        .values_list("reader_id", flat=True)
        .distinct()
    )
    return sorted(readers | returned_reader_ids(batch_ids))


def skipped_read_rows(batch_ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """Every skipped slot, in read_rows' order: (reader id, dataset, external id, batch, round, reason,
    code). Skips are few, so they are read whole and sorted here by code point, which is the "C"
    collation's order for UTF-8 text."""
    rows = Assignment.objects.filter(batch_id__in=batch_ids, status=Assignment.Status.SKIPPED).values_list(
        "reader_id",
        "exam__dataset__name",
        "exam__external_id",
        "batch_id",
        "read_round",
        "skip_reason",
        "skip_code",
    )
    return sorted(rows, key=lambda row: (row[1], row[2], row[0], row[4]))


def skip_code_counts(batch_ids: Sequence[int]) -> dict[str, int]:
    """The skipped slots per skip code (reads.csv's skip_code), the system's closures under "system"."""
    rows = (
        Assignment.objects.filter(batch_id__in=batch_ids, status=Assignment.Status.SKIPPED)
        .values("skip_code")
        .annotate(n=Count("pk"))
        .order_by("skip_code")
    )
    return {row["skip_code"]: row["n"] for row in rows}


def read_statuses(batch_ids: Sequence[int]) -> dict[tuple[Any, ...], str]:
    """(reader id, dataset, external id, batch, round) -> the slot's status, for the slots holding a
    submitted read that are not themselves submitted: a two-stage blind read whose revision is still
    open (in_progress), or a slot skipped after its blind read was stored. Every other read's slot is
    submitted."""
    rows = (
        Assignment.objects.filter(batch_id__in=batch_ids, annotations__status=Annotation.Status.SUBMITTED)
        .exclude(status=Assignment.Status.SUBMITTED)
        .order_by()
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
    """The cells the release gives, by how they were decided: a rule's value still waiting for an
    adjudicator is undecided in the files, and counted there."""
    rows = settled_consensus(list(batch_ids)).values("method").annotate(n=Count("pk")).order_by()
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


def adjudication_rows(batch_ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """Every signed adjudication of the batches: (adjudicator id, dataset, external id, batch, class code
    in the batch's taxonomy, value, version, decided at, rationale), in the release's exam order. Few (at
    most the disputed cells), so read whole."""
    return list(
        Adjudication.objects.filter(batch_id__in=batch_ids)
        .order_by("exam__dataset__name", "exam__external_id", "batch_id", "diagnostic_class__position")
        .values_list(
            "adjudicator_id",
            "exam__dataset__name",
            "exam__external_id",
            "batch_id",
            "diagnostic_class__code",
            "value",
            "version",
            "decided_at",
            "rationale",
        )
    )


def read_comment_rows(batch_ids: Sequence[int]) -> dict[tuple[str, str], list[tuple[Any, ...]]]:
    """(dataset, external id) -> the submitted reads of the exam that carry a comment: (reader id, batch,
    round, stage, revision, comment), in reads.csv's order. Most reads have none, so these are read whole
    (as the skips are), rather than joined into the streamed consensus rows."""
    rows = (
        Annotation.objects.filter(
            assignment__batch_id__in=batch_ids, status=Annotation.Status.SUBMITTED, comment__gt=""
        )
        .order_by()
        .values_list(
            "assignment__exam__dataset__name",
            "assignment__exam__external_id",
            "assignment__reader_id",
            "assignment__batch_id",
            "assignment__read_round",
            "stage",
            "revision",
            "comment",
        )
    )
    comments: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for dataset, external_id, *read in sorted(rows, key=lambda row: (row[0], row[1], row[2], row[4], row[5])):
        comments.setdefault((dataset, external_id), []).append(tuple(read))
    return comments
