"""Agreement on a statement's qualifiers (where the finding is, how old), separately from agreement on the
statement itself: a qualifier is a yes/no answer given only by the reads that chose the statement, so
every other read is missing for it. Agreement on the statement is computed as before, unchanged.

With reads coded that way, the per-class coefficients of :mod:`.stats` apply as they are: observed
agreement compares the pairs of reads that both chose the statement, and Fleiss' kappa, Krippendorff's
alpha, Gwet's AC1 and PABAK follow their conventions on missing reads.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .reads import MISSING
from .stats import ClassAgreement, class_agreement


def qualifier_reads(statement: npt.ArrayLike, chosen: npt.ArrayLike) -> np.ndarray:
    """``reads[r, e, q]``: 1 or 0 where reader r chose the statement on exam e (``statement[r, e] == 1``)
    and did or did not add qualifier q (``chosen[r, e, q]``); MISSING wherever the statement was not
    chosen (not read, or read as absent)."""
    statement = np.asarray(statement)
    chosen = np.asarray(chosen, dtype=bool)
    if chosen.shape[:2] != statement.shape:
        raise ValueError(f"chosen {chosen.shape} does not match the statement's reads {statement.shape}")
    return np.where(statement[..., None] == 1, chosen.astype(np.int8), np.int8(MISSING)).astype(np.int8)


def qualifier_agreement(statement: npt.ArrayLike, chosen: npt.ArrayLike) -> ClassAgreement:
    """Per qualifier (the last axis of ``chosen``), agreement among the reads that chose the statement."""
    return class_agreement(qualifier_reads(statement, chosen))
