"""Agreement on statement qualifiers, stored with the batch's agreement result: per statement and each
qualifier its readers chose, agreement among the reads that chose the statement (lib.stats.qualifiers).
The statements' own agreement is computed from the statements alone, as before."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from annotations.lib.stats.qualifiers import qualifier_agreement
from annotations.models import ReviewBatch
from annotations.selectors.agreement.qualifiers import batch_qualifier_choices
from annotations.selectors.agreement.summary import ReadsSnapshot

STATISTICS = ("prevalence", "observed_agreement", "fleiss_kappa", "krippendorff_alpha", "gwet_ac1", "pabak")


def _num(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def qualifier_agreement_rows(batch: ReviewBatch, snapshot: ReadsSnapshot) -> list[dict[str, Any]]:
    """One row per (statement, qualifier chosen by any first read): how many reads chose the statement,
    on how many exams two or more did, and the agreement statistics on the qualifier among those reads."""
    rows = []
    for code, (keys, chosen) in sorted(batch_qualifier_choices(batch, snapshot).items()):
        statement = snapshot.reads[:, :, snapshot.class_codes.index(code)]
        figures = qualifier_agreement(statement, chosen)
        reads = int((statement == 1).sum())
        pairable = int(((statement == 1).sum(axis=0) >= 2).sum())
        for q, key in enumerate(keys):
            row = {"code": code, "qualifier": key, "statement_reads": reads, "pairable_exams": pairable}
            row |= {name: _num(getattr(figures, name)[q]) for name in STATISTICS}
            row["chosen"] = int(np.asarray(chosen[..., q]).sum())
            rows.append(row)
    return rows
