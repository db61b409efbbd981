"""Sections 7 and 10 (global and per-lead measurements) and 8 and 11 (statements)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotations.lib.formats.scp.container import Cursor, Section, decode_text
from annotations.lib.formats.scp.leads import LEAD_NAMES

NOT_COMPUTED = 29999  # section 7 / 10: value not computed


# --- Section 7: global measurements ----------------------------------------------------------------------


@dataclass(frozen=True)
class GlobalMeasurements:
    rr_ms: int | None
    pp_ms: int | None
    # per reference beat type: P onset/offset, QRS onset/offset, T offset (ms), P/QRS/T axes (degrees)
    beats: list[dict[str, int | None]]


_BEAT_FIELDS = ("p_onset", "p_offset", "qrs_onset", "qrs_offset", "t_offset", "p_axis", "qrs_axis", "t_axis")


def section7_measurements(section: Section | None) -> GlobalMeasurements | None:
    if section is None:
        return None
    cursor = Cursor(section.body, 7)
    n_beats, _spikes = cursor.u8("the number of measurement blocks"), cursor.u8("the number of spikes")
    rr, pp = cursor.unpack("HH", "the RR and PP intervals")
    beats = []
    for n in range(n_beats):
        values = cursor.unpack("HHHHHhhh", f"measurement block {n + 1}")
        beats.append(
            {
                key: (None if value in (NOT_COMPUTED, -(65536 - NOT_COMPUTED)) else value)
                for key, value in zip(_BEAT_FIELDS, values, strict=True)
            }
        )
    return GlobalMeasurements(None if rr == NOT_COMPUTED else rr, None if pp == NOT_COMPUTED else pp, beats)


# --- Sections 8 and 11: statements -----------------------------------------------------------------------


def _statement_header(cursor: Cursor) -> int:
    cursor.unpack("BHBBBBB", "the statement header (confirmation, date, time)")
    return cursor.u8("the number of statements")


def section8_statements(section: Section | None) -> list[str]:
    """Confirmation flag, date, time, count; then per statement: sequence, length, NUL-ended text."""
    if section is None:
        return []
    cursor = Cursor(section.body, 8)
    texts = []
    for n in range(_statement_header(cursor)):
        cursor.u8(f"statement {n + 1}'s sequence number")
        size = cursor.u16(f"statement {n + 1}'s length")
        texts.append(decode_text(cursor.take(size, f"statement {n + 1}")))
    return [text for text in texts if text]


def section11_statements(section: Section | None) -> list[tuple[str, str]]:
    """Like section 8, each statement with a type byte: 1 coded (code, then text), 2 free text, 3 logic."""
    if section is None:
        return []
    cursor = Cursor(section.body, 11)
    labels = []
    for n in range(_statement_header(cursor)):
        cursor.u8(f"statement {n + 1}'s sequence number")
        size = cursor.u16(f"statement {n + 1}'s length")
        body = cursor.take(size, f"statement {n + 1}")
        if not body:
            continue
        fields = [decode_text(part) for part in body[1:].split(b"\x00")]
        fields = [part for part in fields if part]
        if body[0] == 1 and fields:
            labels.append(("scp", fields[0]))
        elif body[0] == 2 and fields:
            labels.append(("statement", " ".join(fields)))
    return labels


# --- Section 10: per-lead measurements -------------------------------------------------------------------


def section10_lead_measurements(section: Section | None) -> dict[str, list[int]]:
    """Number of leads, 2 reserved bytes; per lead: id, byte count, then 16-bit measurements."""
    if section is None:
        return {}
    cursor = Cursor(section.body, 10)
    count = cursor.u16("the number of leads")
    cursor.u16("the reserved field")
    out = {}
    for n in range(count):
        lead_id, size = cursor.unpack("HH", f"lead block {n + 1}'s header")
        raw = cursor.take(size, f"lead block {n + 1}")
        out[LEAD_NAMES.get(lead_id, f"SCP lead {lead_id}")] = list(
            np.frombuffer(raw[: size - size % 2], dtype="<i2").tolist()
        )
    return out
