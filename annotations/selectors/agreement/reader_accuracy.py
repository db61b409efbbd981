"""Each reader of a batch against its consensus and against the other readers, for the agreement page and
its API: the release's computation (selectors.releases.accuracy) on a release of this batch alone, in the
batch's own classes, so the figures are a release's to the last digit. Readers by username (the page is the
coordinator's); counted at each request from the stored consensus, as a release counts them."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection

from annotations.models import ReviewBatch
from annotations.selectors.releases.accuracy import (
    READER_ACCURACY_COLUMNS,
    card_section,
    reader_accuracy_rows,
    reader_accuracy_tally,
)
from annotations.selectors.releases.export import read_snapshot
from annotations.selectors.releases.facts import export_reader_ids
from annotations.selectors.releases.plan import ExportRefused, export_plan

ROW_COLUMNS = READER_ACCURACY_COLUMNS


def batch_reader_accuracy_table(batch: ReviewBatch) -> tuple[list[str], list[list[Any]]]:
    """(header, rows) of reader_accuracy.csv for a release of this batch alone, readers by username; no rows
    where such a release would be refused."""
    try:
        plan = export_plan([batch.pk])
    except ExportRefused:
        return ROW_COLUMNS, []
    names = _usernames(batch)
    with _snapshot():
        return ROW_COLUMNS, list(reader_accuracy_rows(reader_accuracy_tally(plan, names), plan, names))


def batch_reader_accuracy(batch: ReviewBatch) -> dict[str, Any]:
    """The page's and API's figures: ``readers`` (the card's readers_vs_consensus entries: reads, share
    with a suggestion shown, pooled figures, drift), ``rows`` (reader_accuracy.csv's rows as objects, a
    figure None where undefined), ``note``, ``drift_alpha``; ``refused`` says why there are none."""
    try:
        plan = export_plan([batch.pk])
    except ExportRefused as refused:
        return {"refused": refused.message, "readers": [], "rows": [], "note": "", "drift_alpha": None}
    names = _usernames(batch)
    with _snapshot():
        tally = reader_accuracy_tally(plan, names)
    section = card_section(tally, names)
    rows = [
        {key: (None if value == "" else value) for key, value in zip(ROW_COLUMNS, row, strict=True)}
        for row in reader_accuracy_rows(tally, plan, names)
    ]
    return {
        "refused": "",
        "readers": section["readers"],
        "rows": rows,
        "note": section["note"],
        "drift_alpha": section["drift_alpha"],
    }


def _snapshot() -> AbstractContextManager[None]:
    """The release's read-only snapshot (its queries stream through a cursor that lives in a transaction),
    unless the caller holds a transaction already."""
    return nullcontext() if connection.in_atomic_block else read_snapshot()


def _usernames(batch: ReviewBatch) -> dict[int, str]:
    ids = export_reader_ids([batch.pk])
    return dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))
