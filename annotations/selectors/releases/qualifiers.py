"""The qualifiers of the batches' submitted reads, for the release files (services.releases.tables). Few
labels carry any, so they are read whole, keyed the way the streamed rows of reads.csv and consensus.jsonl
name a read, rather than joined into those queries."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from annotations.lib.qualifiers import AGES, TERRITORIES
from annotations.models import Annotation, AnnotationLabel


def _listed(value: str | list[str] | None) -> list[str]:
    # Raw JSON text where the database hands it back undecoded.
    return json.loads(value) if isinstance(value, str) else list(value or [])


def read_qualifier_rows(batch_ids: Sequence[int]) -> dict[tuple[Any, ...], list[str]]:
    """(reader id, dataset, external id, batch, round, stage, class code) -> the qualifiers that read chose
    for that statement, for every submitted read that chose any."""
    rows = (
        AnnotationLabel.objects.filter(
            annotation__assignment__batch_id__in=batch_ids, annotation__status=Annotation.Status.SUBMITTED
        )
        .exclude(qualifiers=[])
        .values_list(
            "annotation__assignment__reader_id",
            "annotation__assignment__exam__dataset__name",
            "annotation__assignment__exam__external_id",
            "annotation__assignment__batch_id",
            "annotation__assignment__read_round",
            "annotation__stage",
            "diagnostic_class__code",
            "qualifiers",
        )
    )
    return {tuple(row[:7]): _listed(row[7]) for row in rows}


def qualifier_cells(qualifiers: list[str]) -> list[str]:
    """reads.csv's territory and age cells: the walls space-separated, then acute or old (empty: none)."""
    return [
        " ".join(q for q in qualifiers if q in TERRITORIES),
        " ".join(q for q in qualifiers if q in AGES),
    ]


def consensus_qualifier_votes(batch_ids: Sequence[int]) -> dict[tuple[Any, ...], dict[str, int]]:
    """(dataset, external id, batch, class code) -> per qualifier, how many of the reads consensus uses
    (the current read of each first-round slot) chose it with the statement."""
    rows = (
        AnnotationLabel.objects.filter(
            annotation__assignment__batch_id__in=batch_ids,
            annotation__assignment__read_round=1,
            annotation__status=Annotation.Status.SUBMITTED,
            annotation__is_current=True,
        )
        .exclude(qualifiers=[])
        .values_list(
            "annotation__assignment__exam__dataset__name",
            "annotation__assignment__exam__external_id",
            "annotation__assignment__batch_id",
            "diagnostic_class__code",
            "qualifiers",
        )
    )
    votes: dict[tuple[Any, ...], dict[str, int]] = {}
    for *key, qualifiers in rows:
        counts = votes.setdefault(tuple(key), {})
        for qualifier in _listed(qualifiers):
            counts[qualifier] = counts.get(qualifier, 0) + 1
    return votes
