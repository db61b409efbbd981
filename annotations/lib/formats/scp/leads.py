"""Sections 3 (lead definitions) and 4 (QRS locations: subtraction and protected zones)."""

from __future__ import annotations

from dataclasses import dataclass

from annotations.lib.formats.base import FormatError
from annotations.lib.formats.scp.container import Cursor, Section

# Section 3 lead identifiers (Annex A, table 31): the ones the import recognises by name.
LEAD_NAMES = {
    1: "I",
    2: "II",
    3: "V1",
    4: "V2",
    5: "V3",
    6: "V4",
    7: "V5",
    8: "V6",
    9: "V7",
    10: "V2R",
    11: "V3R",
    12: "V4R",
    13: "V5R",
    14: "V6R",
    15: "V7R",
    16: "X",
    17: "Y",
    18: "Z",
    19: "CC5",
    20: "CM5",
    21: "LA",
    22: "RA",
    23: "LL",
    61: "III",
    62: "aVR",
    63: "aVL",
    64: "aVF",
    65: "-aVR",
    66: "V8",
    67: "V9",
    68: "V8R",
    69: "V9R",
}


@dataclass(frozen=True)
class Leads:
    names: list[str]
    start: int  # 1-based first sample, shared by every lead (0: a writer that counts from 0, below)
    end: int  # 1-based last sample (inclusive)
    reference_beat_subtracted: bool

    @property
    def zero_based(self) -> bool:
        """The standard numbers samples from 1; some carts write 0 to N for the N samples they store (a
        real Welch Allyn-era file: 0 to 10000 for 10,000). Counted from 1, that span would claim one
        sample more than the data hold, and the record would be refused though nothing is missing."""
        return self.start == 0

    @property
    def samples(self) -> int:
        return self.end - self.start + (0 if self.zero_based else 1)

    def notes(self) -> list[str]:
        if not self.zero_based:
            return []
        return [
            f"SCP-ECG section 3 numbers its samples from 0 (0 to {self.end}); read as the {self.samples:,} "
            "samples stored"
        ]


def section3_leads(section: Section | None) -> Leads:
    """Number of leads, flags (bit 0: reference beat subtracted), then id and sample span per lead."""
    if section is None:
        raise FormatError("SCP-ECG: section 3 (lead definitions) is missing")
    cursor = Cursor(section.body, 3)
    count, flags = cursor.u8("the number of leads"), cursor.u8("the lead flags")
    if count == 0:
        raise FormatError("SCP-ECG section 3: declares no leads")
    spans, names = set(), []
    for _ in range(count):
        start, end, lead_id = cursor.unpack("IIB", "a lead definition")
        if not (1 <= start <= end or 0 == start < end):
            raise FormatError(f"SCP-ECG section 3: lead {lead_id} spans samples {start} to {end}")
        spans.add((start, end))
        names.append(LEAD_NAMES.get(lead_id, f"SCP lead {lead_id}"))
    if len(spans) != 1:
        raise FormatError(
            "SCP-ECG section 3: leads recorded over different sample spans (not simultaneously) are not "
            "supported"
        )
    if len(set(names)) != len(names):
        raise FormatError(f"SCP-ECG section 3: a lead is defined twice ({', '.join(names)})")
    ((start, end),) = spans
    return Leads(names, start, end, bool(flags & 1))


# --- Section 4: QRS locations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Beat:
    type: int
    subtraction_start: int  # SB, 1-based
    fiducial: int  # fc
    subtraction_end: int  # SE
    protected_start: int | None = None  # QB (bimodal compression)
    protected_end: int | None = None  # QE


@dataclass(frozen=True)
class QrsLocations:
    reference_length_ms: int
    reference_fiducial: int  # fcM, 1-based sample of the reference beat
    beats: list[Beat]


def section4_qrs(section: Section | None) -> QrsLocations | None:
    """Reference beat length and fiducial, then per QRS: type, SB, fc, SE; then per QRS: QB, QE."""
    if section is None:
        return None
    cursor = Cursor(section.body, 4)
    length_ms, fiducial, count = cursor.unpack("HHH", "the QRS location header")
    zones = [cursor.unpack("HIII", f"QRS {n + 1}'s subtraction zone") for n in range(count)]
    protected = (
        [cursor.unpack("II", f"QRS {n + 1}'s protected zone") for n in range(count)] if cursor.left else []
    )
    beats = [
        Beat(kind, sb, fc, se, *(protected[n] if protected else (None, None)))
        for n, (kind, sb, fc, se) in enumerate(zones)
    ]
    return QrsLocations(length_ms, fiducial, beats)
