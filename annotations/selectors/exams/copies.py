"""Exams that hold the same waveform as an earlier exam (Exam.copy_of, linked at import): the same ECG
under two datasets or ids. One batch never takes both (a reader would read it twice, the second time not
blind), nor does one release (its rows would leak across a train/test split)."""

from __future__ import annotations

import numpy as np

from annotations.models import Exam


def copy_links() -> tuple[np.ndarray, np.ndarray]:
    """(copies, their first exams), copies ascending. Read whole: copies are few, and the partial index
    holds only them, so this costs the same at 2.7 million exams as at a thousand."""
    rows = Exam.objects.filter(copy_of__isnull=False).order_by("pk").values_list("pk", "copy_of_id")
    pairs = np.array(list(rows), dtype=np.int64).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


def waveform_firsts(exam_ids: np.ndarray, links: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Each exam's first exam of its waveform: itself, unless it is a copy."""
    copies, firsts = links if links is not None else copy_links()
    ids = np.asarray(exam_ids, dtype=np.int64)
    if not len(copies) or not len(ids):
        return ids.copy()
    places = np.minimum(np.searchsorted(copies, ids), len(copies) - 1)
    return np.where(copies[places] == ids, firsts[places], ids)


def without_copies(exam_ids: np.ndarray, held: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(a mask keeping one exam per waveform, the lowest id, and none whose waveform `held` exams already
    hold; the ids it leaves out). `exam_ids` in any order; the mask follows it."""
    ids = np.asarray(exam_ids, dtype=np.int64)
    links = copy_links()
    if not len(links[0]) or not len(ids):
        return np.ones(len(ids), dtype=bool), np.empty(0, dtype=np.int64)
    firsts = waveform_firsts(ids, links)
    order = np.argsort(ids, kind="stable")
    keep = np.zeros(len(ids), dtype=bool)
    _, first_places = np.unique(firsts[order], return_index=True)
    keep[order[first_places]] = True
    if held is not None and len(held):
        keep &= ~np.isin(firsts, waveform_firsts(np.asarray(held, dtype=np.int64), links))
    return keep, ids[~keep]
