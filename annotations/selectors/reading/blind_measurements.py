"""The blind reader's measurements panel: the exam's representative beat, its global intervals and axes,
and the ST level per lead, as the batch's `blind_measurements` setting allows (lib.ecg.blind_measurements
says what each is). Measurements of the signal only, shown before and after the blind read alike: the
panel never carries a statement, a score, a model's name or a suggestion, so it unblinds nothing.

"none": nothing. "cart": the recording cart's own beat and measurements, where its file gave them.
"cart_and_computed": those, and the ones computed from the signal, with the fiducial marks and the ST
levels; the beat is the cart's where it was kept, else the computed median beat.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.cache import cache

from annotations.lib.ecg.blind_measurements import (
    INTERVAL_KEYS,
    SETTINGS,
    cart_beat_json,
    computed_measurements,
    within_beat,
)
from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.models import Exam, ExamBeat
from annotations.selectors.reading.median_beat import median_beat_cached, standard_leads_mv

if TYPE_CHECKING:
    from annotations.models import ReviewBatch

logger = logging.getLogger(__name__)
CACHE_S = 7 * 24 * 3600  # keyed by content, so never stale: the timeout only bounds the memory
NO_MARKS = {"p_on_ms": None, "qrs_on_ms": None, "qrs_off_ms": None, "t_off_ms": None}


def blind_measurements_setting(batch: ReviewBatch) -> str:
    """The batch's setting; at least "cart" where the design shows the cart's measurements by the older
    option (device_measurements_shown), as a batch made before the setting existed does."""
    design = batch.design or {}
    setting = design.get("blind_measurements")
    setting = setting if setting in SETTINGS else "none"
    return "cart" if setting == "none" and design.get("device_measurements_shown") else setting


def _cached(key: str, compute: Callable[[], dict[str, Any] | None]) -> dict[str, Any] | None:
    """compute() cached in the shared cache ({} for "nothing"); a cache that is down costs the work only."""
    found: dict[str, Any] | None
    try:
        found = cache.get(key)
    except Exception:
        logger.warning("blind measurements: the cache is down")
        found = None
    if found is not None:
        return found or None
    value = compute()
    try:
        cache.set(key, value or {}, timeout=CACHE_S)
    except Exception:
        logger.warning("blind measurements: the cache is down")
    return value


def _computed(exam: Exam) -> dict[str, Any] | None:
    """computed_measurements of the exam's 12 leads, or None (a lead missing, an unreadable blob, no usable
    R-peak series). 0.2-0.5 s for a 10 s strip, so cached by waveform content like the median beat."""

    def compute() -> dict[str, Any] | None:
        leads = standard_leads_mv(exam)
        return None if leads is None else computed_measurements(leads, exam.sampling_rate)

    return _cached(f"blind-measurements:v1:{exam.waveform_sha256}", compute)


def _cart_beat(exam: Exam) -> dict[str, Any] | None:
    row = ExamBeat.objects.filter(exam_id=exam.pk).values("sampling_rate", "leads_uv").first()
    if row is None or len(row["leads_uv"]) != len(STANDARD_LEADS):
        return None
    return cart_beat_json(dict(zip(STANDARD_LEADS, row["leads_uv"], strict=True)), row["sampling_rate"])


def _cart_intervals(exam: Exam) -> dict[str, Any]:
    given = exam.device_measurements or {}
    return {key: given[key] for key in INTERVAL_KEYS if key in given}


def _beat(exam: Exam, setting: str, computed: dict[str, Any] | None) -> dict[str, Any] | None:
    """The cart's beat where it was kept; else, with the computed measurements shown, the median beat."""
    beat = _cart_beat(exam)
    source = "cart"
    if beat is None and setting == "cart_and_computed":
        beat, source = median_beat_cached(exam), "computed"
    if beat is None:
        return None
    marks = within_beat(computed["marks"], beat) if computed else dict(NO_MARKS)
    return {**beat, "source": source, "marks": marks}


def blind_measurements_panel(exam: Exam, setting: str) -> dict[str, Any]:
    """The panel by `setting` (SETTINGS): {"setting", "beat", "intervals": {"cart", "computed"}, "st_mm"}."""
    if setting not in SETTINGS or setting == "none":
        return {"setting": "none", "beat": None, "intervals": {"cart": None, "computed": None}, "st_mm": None}
    computed = _computed(exam) if setting == "cart_and_computed" else None
    return {
        "setting": setting,
        "beat": _beat(exam, setting, computed),
        "intervals": {
            "cart": _cart_intervals(exam),
            "computed": computed["intervals"] if computed else None,
        },
        "st_mm": computed["st_mm"] if computed else None,
    }
