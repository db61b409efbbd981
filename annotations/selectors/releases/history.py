"""The revisions a release's read_history.csv gives: every submit, amendment and return of every read of
the batches, in the export's order (dataset and external id under the "C" collation, then reader, round,
stage and revision), so the same state gives the same file."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection
from django.db.models import F
from django.db.models.functions import Collate

from annotations.models import AnnotationRevision
from annotations.selectors.reading.corrections import RECORD_KINDS

CHUNK_ROWS = 5000


def _code_point_order(field: str) -> Collate:
    # SQLite's BINARY orders UTF-8 text by code point exactly as PostgreSQL's "C" does.
    return Collate(F(field), "BINARY" if connection.vendor == "sqlite" else "C")


def read_history_rows(batch_ids: Sequence[int]) -> Iterator[tuple[Any, ...]]:
    """(reader id, dataset, external id, batch, round, stage, revision, kind, labels, comment, reason,
    recorded at) per recorded revision; draft saves are left out."""
    revisions = AnnotationRevision.objects.filter(
        annotation__assignment__batch_id__in=list(batch_ids), kind__in=RECORD_KINDS
    ).order_by(
        _code_point_order("annotation__assignment__exam__dataset__name"),
        _code_point_order("annotation__assignment__exam__external_id"),
        "annotation__assignment__reader_id",
        "annotation__assignment__read_round",
        "annotation__stage",
        "revision",
    )
    return revisions.values_list(
        "annotation__assignment__reader_id",
        "annotation__assignment__exam__dataset__name",
        "annotation__assignment__exam__external_id",
        "annotation__assignment__batch_id",
        "annotation__assignment__read_round",
        "annotation__stage",
        "revision",
        "kind",
        "labels",
        "comment",
        "reason",
        "recorded_at",
    ).iterator(chunk_size=CHUNK_ROWS)


def returned_reader_ids(batch_ids: Sequence[int]) -> set[int]:
    """Readers of the batches with a read now returned to them: their history is in the release even when
    no read of theirs counts there now."""
    return set(
        AnnotationRevision.objects.filter(
            annotation__assignment__batch_id__in=list(batch_ids), kind=AnnotationRevision.Kind.RETURNED
        )
        .order_by()
        .values_list("annotation__assignment__reader_id", flat=True)
        .distinct()
    )
