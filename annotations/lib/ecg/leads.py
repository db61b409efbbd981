"""The 12 standard leads and the relations between them."""

from __future__ import annotations

from typing import Any

import numpy as np

STANDARD_LEADS: tuple[str, ...] = (
    "I",
    "II",
    "III",
    "aVR",
    "aVL",
    "aVF",
    "V1",
    "V2",
    "V3",
    "V4",
    "V5",
    "V6",
)


def derive_limb_leads(lead_i: np.ndarray, lead_ii: np.ndarray) -> dict[str, np.ndarray]:
    """III, aVR, aVL and aVF from I and II (Einthoven's law and Goldberger's augmented leads)."""
    return {
        "III": lead_ii - lead_i,
        "aVR": -(lead_i + lead_ii) / 2,
        "aVL": lead_i - lead_ii / 2,
        "aVF": lead_ii - lead_i / 2,
    }


# Spellings seen in the wild, folded to lower case with spaces, dashes and underscores removed:
# "i"/"avr" (PTB), "AVR" (PTB-XL), "Lead I (Einthoven)" (DICOM), "MDC_ECG_LEAD_AVR" (aECG), "DI" (TNMG).
_ALIASES: dict[str, str] = {name.lower(): name for name in STANDARD_LEADS}
_ALIASES.update(
    {
        "di": "I",
        "dii": "II",
        "diii": "III",
        "d1": "I",
        "d2": "II",
        "d3": "III",
        "avrneg": "aVR",
        "-avr": "aVR",
    }
)
_PREFIXES = ("mdcecglead", "lead", "derivation")


def canonical_lead_name(name: str) -> str | None:
    """The standard name of a lead label, case-insensitively; None for anything else (Frank leads...)."""
    folded = name.strip().lower()
    folded = folded.split("(")[0]  # "Lead I (Einthoven)" -> "lead i "
    folded = "".join(ch for ch in folded if ch not in " _-.")
    for prefix in _PREFIXES:
        if folded.startswith(prefix) and folded != prefix:
            folded = folded[len(prefix) :]
            break
    return _ALIASES.get(folded)


LIMB_DERIVED = ("III", "aVR", "aVL", "aVF")
AUGMENTED = ("aVR", "aVL", "aVF")


class LeadError(ValueError):
    """Signals that cannot be arranged into the 12 standard leads; the message says which lead."""


def _missing_leads_said(missing: list[str], names: list[str], extras: list[str], rows: dict[str, Any]) -> str:
    """What is missing, what the file holds (naming its non-standard signals) and what could be derived:
    enough for a coordinator to tell a 12-lead file with odd names from one with leads left out."""
    underivable = [lead for lead in missing if lead not in LIMB_DERIVED]
    derivable = [lead for lead in missing if lead in LIMB_DERIVED]
    limbs_absent = [lead for lead in ("I", "II") if lead not in rows]
    parts = []
    if underivable:
        parts.append(f"missing lead(s) {', '.join(underivable)}, which cannot be derived")
    if derivable and limbs_absent:
        parts.append(
            f"missing {', '.join(derivable)}, derivable only from I and II, and {' and '.join(limbs_absent)} "
            "is absent"
        )
    elif derivable:
        parts.append(f"{', '.join(derivable)} would be derived from I and II")
    found = f"the file holds {', '.join(repr(name.strip()) for name in names) or 'no signal'}"
    if extras:
        found += f", of which {', '.join(repr(name) for name in extras)} are not among the 12 standard leads"
    return "; ".join([*parts, found])


def arrange_leads(names: list[str], signals: np.ndarray) -> tuple[np.ndarray, list[str], list[str]]:
    """Reorder signals to the 12 standard leads followed by any extra signals, deriving missing limb leads.

    Returns (signals, lead names, names of the leads that were derived). Integer input stays integer
    when only III is derived (II - I is exact); the augmented leads need halves, so integer input comes
    back doubled: the caller halves its gain (see the `doubled` convention in waveform.to_int16).
    """
    if len(names) != signals.shape[0]:
        raise LeadError(f"{len(names)} lead names for {signals.shape[0]} signals")
    rows: dict[str, np.ndarray] = {}
    extras: list[tuple[str, np.ndarray]] = []
    for name, row in zip(names, signals, strict=True):
        standard = canonical_lead_name(name)
        if standard is None:
            extras.append((name.strip(), row))
        elif standard in rows:
            raise LeadError(f"lead {standard} appears twice (as {name!r})")
        else:
            rows[standard] = row
    missing = [lead for lead in STANDARD_LEADS if lead not in rows]
    if missing and (any(lead not in LIMB_DERIVED for lead in missing) or "I" not in rows or "II" not in rows):
        raise LeadError(_missing_leads_said(missing, names, [name for name, _ in extras], rows))
    doubled = bool(set(missing) & set(AUGMENTED)) and np.issubdtype(signals.dtype, np.integer)
    if doubled:  # keep integers exact: every lead twice over, the augmented ones then whole numbers
        rows = {name: row.astype(np.int64) * 2 for name, row in rows.items()}
        extras = [(name, row.astype(np.int64) * 2) for name, row in extras]
    if missing:
        derived = derive_limb_leads(rows["I"], rows["II"])
        if doubled:
            derived = {name: value.astype(np.int64) for name, value in derived.items()}
        for lead in missing:
            rows[lead] = derived[lead]
    ordered = [rows[lead] for lead in STANDARD_LEADS] + [row for _, row in extras]
    return np.stack(ordered), [*STANDARD_LEADS, *(name for name, _ in extras)], missing


def leads_doubled(signals_dtype: np.dtype, derived: list[str]) -> bool:
    """Whether arrange_leads doubled integer samples (so the gain per step must be halved)."""
    return np.issubdtype(signals_dtype, np.integer) and bool(set(derived) & set(AUGMENTED))
