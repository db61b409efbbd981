"""The qualifiers chosen in a batch's first reads, as arrays aligned with its reads snapshot, for the
agreement on qualifiers (services.agreement.qualifiers; selectors.agreement.summary shows it)."""

from __future__ import annotations

import json

import numpy as np

from annotations.lib.qualifiers import QUALIFIERS
from annotations.models import AnnotationLabel, ReviewBatch
from annotations.selectors.agreement.summary import ReadsSnapshot, _first_reads


def batch_qualifier_choices(
    batch: ReviewBatch, snapshot: ReadsSnapshot
) -> dict[str, tuple[list[str], np.ndarray]]:
    """Per statement code whose first reads chose any qualifier: the qualifiers chosen (vocabulary order)
    and ``chosen[r, e, q]`` on the snapshot's reader and exam axes."""
    rows = (
        AnnotationLabel.objects.filter(annotation__in=_first_reads(batch.pk))
        .exclude(qualifiers=[])
        .order_by()
        .values_list(
            "annotation__assignment__reader_id",
            "annotation__assignment__exam_id",
            "diagnostic_class__code",
            "qualifiers",
        )
    )
    found: dict[str, list[tuple[int, int, list[str]]]] = {}
    for reader_id, exam_id, code, qualifiers in rows:
        listed = json.loads(qualifiers) if isinstance(qualifiers, str) else list(qualifiers)
        found.setdefault(code, []).append((reader_id, exam_id, listed))
    readers = {r: i for i, r in enumerate(snapshot.reader_ids)}
    exams = {e: i for i, e in enumerate(snapshot.exam_ids)}
    choices = {}
    for code, chosen_rows in found.items():
        named = {q for _, _, listed in chosen_rows for q in listed}
        keys = [q for q in QUALIFIERS if q in named]
        chosen = np.zeros((len(readers), len(exams), len(keys)), dtype=bool)
        for reader_id, exam_id, listed in chosen_rows:
            for q in listed:
                chosen[readers[reader_id], exams[exam_id], keys.index(q)] = True
        choices[code] = (keys, chosen)
    return choices
