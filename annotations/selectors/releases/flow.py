"""A release's flow of exams, STARD/GRRAS style: from the datasets imported to the rows released, with
the counts a reviewer of a dataset paper asks for at each step, and what adjudication did to the readers'
labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet

from annotations.models import Adjudication, Assignment, BatchExam, Consensus, DisputedLabel, Exam


def _exams(assignments: QuerySet[Assignment]) -> int:
    return assignments.values("exam_id").distinct().count()


def release_flow(
    batch_ids: Sequence[int], *, released: int, insufficient: int, not_read: int
) -> dict[str, Any]:
    """Distinct exams at each step over the release's batches. `released`, `insufficient` and `not_read`
    are what writing the files counted (rows of consensus.csv, exams read too few times, exams without a
    read), so the flow and the files agree."""
    ids = list(batch_ids)
    members = BatchExam.objects.filter(batch_id__in=ids)
    first = Assignment.objects.filter(batch_id__in=ids, read_round=1)
    datasets = Exam.objects.filter(pk__in=members.values("exam_id")).values("dataset_id")
    decided = Adjudication.objects.filter(batch_id__in=ids)
    return {
        "exams_imported": Exam.objects.filter(dataset_id__in=datasets).count(),
        "exams_designed": members.values("exam_id").distinct().count(),
        # Read by every reader and chosen for a known answer: among the released rows, out of agreement.
        "exams_gold": members.filter(is_gold=True).values("exam_id").distinct().count(),
        "exams_read": _exams(first.filter(status=Assignment.Status.SUBMITTED)),
        "exams_not_read": not_read,
        "exams_with_a_skip": _exams(first.filter(status=Assignment.Status.SKIPPED)),
        "exams_escalated": _exams(first.filter(escalated=True)),
        "exams_disputed": DisputedLabel.objects.filter(batch_id__in=ids).values("exam_id").distinct().count(),
        "exams_adjudicated": decided.values("exam_id").distinct().count(),
        "exams_released": released,
        "exams_insufficient_reads": insufficient,
        **_adjudication_effect(ids),
    }


def _adjudication_effect(batch_ids: list[int]) -> dict[str, Any]:
    """Of the adjudicated cells, how many went against the readers' majority, and how many settled a tie
    (no majority to go against); the rest confirmed it. Votes are those the decision was made on, kept
    in the cell's consensus row."""
    cells = Consensus.objects.filter(batch_id__in=batch_ids, method=Consensus.Method.ADJUDICATED)
    overturned = ties = 0
    for value, positive, total in cells.values_list("value", "positive_votes", "total_votes").iterator():
        if 2 * positive == total:
            ties += 1
        elif (2 * positive > total) != value:
            overturned += 1
    return {
        "adjudicated_cells": cells.count(),
        "adjudication_overturned_majority": overturned,
        "adjudication_settled_ties": ties,
    }
