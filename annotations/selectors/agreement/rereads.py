"""Reader pairs whose reads of an exam include a second read by one person: marked, never left out.

The agreement figures treat every read as independent. A reader who had read an exam (or a copy of its
waveform), opened it, or seen its suggestion in another batch before reading it here did not read it
independently; only a batch whose independence was turned off (with a reason) or a later batch of that
kind lets it happen (selectors.blinding reads_known_before). The figures stay as computed: the page and
the API count those reads and mark the reader pairs they fall in, so whoever reads the kappa knows.
"""

from __future__ import annotations

from typing import Any

from annotations.models import Assignment, ReviewBatch
from annotations.selectors.blinding import reads_known_before


def agreement_rereads(batch: ReviewBatch, reader_ids: list[int]) -> dict[str, Any]:
    """{"reads": reads of the batch made by someone who knew the exam from another batch, "exams": the
    exams they fall on, "pairs": reader x reader (in `reader_ids` order) the exams both read here on which
    either read was such a read}."""
    known = reads_known_before(batch)
    size = len(reader_ids)
    pairs = [[0] * size for _ in range(size)]
    if not known:
        return {"reads": 0, "exams": 0, "pairs": pairs}
    read: dict[int, set[int]] = {reader: set() for reader in reader_ids}
    submitted = Assignment.objects.filter(
        batch=batch,
        read_round=1,
        status=Assignment.Status.SUBMITTED,
        exam_id__in=sorted({e for _, e in known}),
    )
    for reader, exam in submitted.values_list("reader_id", "exam_id"):
        if reader in read:
            read[reader].add(exam)
    for a, first in enumerate(reader_ids):
        for b, second in enumerate(reader_ids):
            if a != b:
                both = read[first] & read[second]
                pairs[a][b] = sum((first, e) in known or (second, e) in known for e in both)
    return {"reads": len(known), "exams": len({e for _, e in known}), "pairs": pairs}
