"""How the requesting reader likes the ECG drawn: layout, paper speed, gain and lead names.

The values a preference may take are listed here, once, for the API's validation and the service's
check. A value the reader never chose reads as the standard one: 3x4 + rhythm, 25 mm/s, 10 mm/mV, and the
lead names of the page's language (DI, DII, DIII in Brazilian Portuguese, as Brazilian reports write
them; I, II, III otherwise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.translation import get_language

from annotations.models.reading import ReaderPreference

if TYPE_CHECKING:
    from django.contrib.auth.models import User

LAYOUTS = ("3x4", "6x2", "12x1")
SPEEDS_MM_S = (12.5, 25.0, 50.0)
GAINS_MM_MV = (5.0, 10.0, 20.0)
LEAD_NAMES = ("I", "DI")  # how the limb leads are named: I, II, III or DI, DII, DIII
ALLOWED: dict[str, tuple[Any, ...]] = {
    "layout": LAYOUTS,
    "speed": SPEEDS_MM_S,
    "gain": GAINS_MM_MV,
    "lead_names": LEAD_NAMES,
}


def preference_problems(values: dict[str, object]) -> list[str]:
    """Names of the entries that are not a known preference or not one of its allowed values."""
    return [key for key, value in values.items() if key not in ALLOWED or value not in ALLOWED[key]]


def reader_preferences(user: User) -> dict[str, object]:
    """The user's own preferences, each filled with the standard value when never chosen."""
    row = ReaderPreference.objects.filter(user=user).first()
    stored = row.values if row is not None else {}
    portuguese = (get_language() or "").lower().startswith("pt")
    standard = {"layout": "3x4", "speed": 25.0, "gain": 10.0, "lead_names": "DI" if portuguese else "I"}
    # A value no longer allowed (a list shortened later) falls back to the standard one.
    return {key: stored[key] if stored.get(key) in ALLOWED[key] else value for key, value in standard.items()}
