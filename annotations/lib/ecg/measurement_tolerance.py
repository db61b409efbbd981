"""How far the recording cart's global measurement and a provider's may differ before a reader is shown
that they disagree.

PR, QRS and QT: IEC 60601-2-25:2011 (which took over IEC 60601-2-51:2003's requirement on automated
measurements) asks an electrocardiograph's global interval measurements on the biological ECGs of the CSE
database to be within 10 ms of the reference for the PR interval and QRS duration and 25 ms for the QT
interval, as a mean difference over the database. The standard bounds a mean, not one exam: a single exam
past it proves neither the cart nor the provider wrong. It is the size past which the two disagree by more
than the standard lets a cart be off on average, so the reader should look at the tracing themselves.

Heart rate 5 bpm and the P, QRS and T axes 15 degrees are our choice, as the standard sets no bound on
either: small enough to mark a difference that can move a rate or an axis across a diagnostic limit, large
enough to leave alone the spread of two methods measuring the same beats.

QTc is left unmarked: its difference follows from those of the QT and the heart rate, both marked, and a
cart's QTc is by its own formula, which a provider's Bazett or Fridericia value need not match.

Pure: no Django; the reading selectors pass plain dicts in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# Global measurement key -> the largest difference (in its own unit) not marked.
IEC_60601_2_25 = {"pr_ms": 10, "qrs_ms": 10, "qt_ms": 25}
OURS = {"heart_rate_bpm": 5, "p_axis_deg": 15, "qrs_axis_deg": 15, "t_axis_deg": 15}
TOLERANCES = {**IEC_60601_2_25, **OURS}


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def difference(key: str, cart: float, provider: float) -> float:
    """provider - cart; for an axis, the shorter way round the circle (-170 and 175 are 15 degrees apart,
    whichever of -180..180 or 0..360 each side writes its axes in)."""
    delta = float(provider) - float(cart)
    if key.endswith("_deg"):
        delta = (delta + 180.0) % 360.0 - 180.0
    return round(delta, 1)


def compared(cart: Mapping[str, object], provider: Mapping[str, object]) -> dict[str, dict[str, Any]]:
    """key -> {difference (provider - cart), tolerance, exceeds} for each measurement with a tolerance
    that both sides give as a number; `exceeds` only past the tolerance, not at it."""
    out = {}
    for key, tolerance in TOLERANCES.items():
        a, b = cart.get(key), provider.get(key)
        if isinstance(a, int | float) and isinstance(b, int | float) and _number(a) and _number(b):
            delta = difference(key, a, b)
            out[key] = {"difference": delta, "tolerance": tolerance, "exceeds": abs(delta) > tolerance}
    return out
