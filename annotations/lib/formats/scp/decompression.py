"""Sections 5 and 6: reference beat and rhythm samples, with bimodal compression and reference-beat
subtraction undone (see the package's description for the order of the steps)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotations.lib.formats.base import FormatError
from annotations.lib.formats.scp.container import Cursor, Section
from annotations.lib.formats.scp.huffman import HuffmanTables, huffman_decode, undo_differences
from annotations.lib.formats.scp.leads import Leads, QrsLocations


@dataclass(frozen=True)
class Encoded:
    multiplier_nv: int
    interval_us: int
    differences: int
    bimodal: bool
    per_lead: list[bytes]


def _encoded(section: Section, n_leads: int, *, rhythm: bool) -> Encoded:
    cursor = Cursor(section.body, section.number)
    multiplier, interval, differences, flag = cursor.unpack("HHBB", "the data header")
    if multiplier == 0:
        raise FormatError(f"SCP-ECG section {section.number}: the amplitude multiplier is 0 nV")
    if interval == 0:
        raise FormatError(f"SCP-ECG section {section.number}: the sample interval is 0 µs")
    if differences not in (0, 1, 2):
        raise FormatError(f"SCP-ECG section {section.number}: difference data code {differences} is unknown")
    sizes = [cursor.u16(f"the byte count of lead {n + 1}") for n in range(n_leads)]
    per_lead = [cursor.take(size, f"lead {n + 1}'s data ({size} bytes)") for n, size in enumerate(sizes)]
    bimodal = rhythm and flag == 1
    if rhythm and flag not in (0, 1):
        raise FormatError(f"SCP-ECG section 6: bimodal compression flag {flag} is neither 0 nor 1")
    return Encoded(multiplier, interval, differences, bimodal, per_lead)


def _decode_lead(raw: bytes, tables: HuffmanTables | None, count: int, order: int, where: str) -> np.ndarray:
    if tables is None:
        if len(raw) < 2 * count:
            raise FormatError(f"SCP-ECG {where}: {len(raw)} bytes for {count} 16-bit samples")
        values = np.frombuffer(raw[: 2 * count], dtype="<i2").astype(np.int64)
    else:
        values = huffman_decode(raw, tables, count, where)
    return undo_differences(values, order, where)


def section5_reference_beat(
    section: Section | None, leads: Leads, qrs: QrsLocations | None, tables: HuffmanTables | None
) -> tuple[Encoded, np.ndarray] | None:
    """The reference beat, one row per lead, as many samples as section 4's length at its own rate."""
    if section is None:
        return None
    encoded = _encoded(section, len(leads.names), rhythm=False)
    if qrs is None:
        raise FormatError("SCP-ECG section 5: a reference beat without section 4 (QRS locations)")
    count = round(qrs.reference_length_ms * 1000 / encoded.interval_us)
    rows = [
        _decode_lead(raw, tables, count, encoded.differences, f"section 5 lead {leads.names[n]}")
        for n, raw in enumerate(encoded.per_lead)
    ]
    return encoded, np.stack(rows)


def _protected_mask(qrs: QrsLocations | None, leads: Leads) -> np.ndarray:
    mask = np.zeros(leads.samples, dtype=bool)
    for number, beat in enumerate(qrs.beats if qrs else [], 1):
        if beat.protected_start is None or beat.protected_end is None:
            raise FormatError("SCP-ECG section 4: bimodal compression needs protected zones (QB, QE) per QRS")
        first, last = beat.protected_start - leads.start, beat.protected_end - leads.start
        if not 0 <= first <= last < leads.samples:
            raise FormatError(f"SCP-ECG section 4: QRS {number}'s protected zone lies outside the rhythm")
        mask[first : last + 1] = True
    return mask


def _stored_positions(mask: np.ndarray, factor: int) -> np.ndarray:
    """Sample positions a bimodal encoder keeps: every one inside protected zones, every `factor`-th of
    each unprotected run (counted from the run's start) outside them."""
    positions, n = [], 0
    while n < len(mask):
        if mask[n]:
            positions.append(n)
            n += 1
            continue
        run_end = n
        while run_end < len(mask) and not mask[run_end]:
            run_end += 1
        positions.extend(range(n, run_end, factor))
        n = run_end
    return np.asarray(positions, dtype=np.int64)


def section6_rhythm(
    section: Section,
    leads: Leads,
    qrs: QrsLocations | None,
    reference: tuple[Encoded, np.ndarray] | None,
    tables: HuffmanTables | None,
) -> tuple[np.ndarray, float, float]:
    """(samples as integers, leads x samples; microvolts per step; sampling rate in Hz)."""
    encoded = _encoded(section, len(leads.names), rhythm=True)
    interval = encoded.interval_us
    positions = None
    if encoded.bimodal:
        if reference is None:
            raise FormatError("SCP-ECG section 6: bimodal compression without a reference beat (section 5)")
        full = reference[0].interval_us
        if encoded.interval_us % full:
            raise FormatError(
                f"SCP-ECG section 6: bimodal compression with a decimated interval of "
                f"{encoded.interval_us} µs that is no multiple of the full-rate {full} µs is not implemented"
            )
        positions = _stored_positions(_protected_mask(qrs, leads), encoded.interval_us // full)
        interval = full
    count = leads.samples if positions is None else len(positions)
    rows = []
    for n, raw in enumerate(encoded.per_lead):
        values = _decode_lead(raw, tables, count, encoded.differences, f"section 6 lead {leads.names[n]}")
        if positions is not None:
            values = np.rint(np.interp(np.arange(leads.samples), positions, values)).astype(np.int64)
        rows.append(values)
    signals = np.stack(rows)
    if leads.reference_beat_subtracted:
        signals = _add_reference_beat(signals, encoded, leads, qrs, reference)
    return signals, encoded.multiplier_nv / 1000, 1e6 / interval


def _add_reference_beat(
    signals: np.ndarray,
    encoded: Encoded,
    leads: Leads,
    qrs: QrsLocations | None,
    reference: tuple[Encoded, np.ndarray] | None,
) -> np.ndarray:
    """Reference-beat subtraction undone: beat type 0's reference added in each type-0 subtraction zone."""
    if reference is None or qrs is None:
        raise FormatError("SCP-ECG section 3: reference beat subtraction without sections 4 and 5")
    ref_encoded, beat = reference
    if ref_encoded.multiplier_nv != encoded.multiplier_nv:
        raise FormatError(
            "SCP-ECG: reference beat subtraction with different amplitude multipliers in sections 5 and 6 "
            "is not implemented"
        )
    if not encoded.bimodal and ref_encoded.interval_us != encoded.interval_us:
        raise FormatError(
            "SCP-ECG: reference beat subtraction with different sample intervals in sections 5 and 6 is not "
            "implemented"
        )
    out = signals.copy()
    for number, item in enumerate(qrs.beats, 1):
        if item.type != 0:
            continue
        first, last = item.subtraction_start - leads.start, item.subtraction_end - leads.start
        offset = qrs.reference_fiducial - item.fiducial  # reference index = rhythm index + offset
        if not 0 <= first <= last < leads.samples or first + offset < 0 or last + offset >= beat.shape[1]:
            raise FormatError(
                f"SCP-ECG section 4: QRS {number}'s subtraction zone does not fit the rhythm or the "
                "reference beat"
            )
        out[:, first : last + 1] += beat[:, first + offset : last + offset + 1]
    return out
