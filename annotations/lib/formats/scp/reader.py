"""The record as a whole: every section checked and decoded, then one import Record."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annotations.lib.formats.base import (
    FormatError,
    ReadOptions,
    Record,
    RecordError,
    RepresentativeBeat,
    check_shape,
    device_measurements,
)
from annotations.lib.formats.scp.container import check_record, section0_pointers
from annotations.lib.formats.scp.decompression import Encoded, section5_reference_beat, section6_rhythm
from annotations.lib.formats.scp.header import PatientHeader, section1_header
from annotations.lib.formats.scp.huffman import section2_huffman
from annotations.lib.formats.scp.leads import section3_leads, section4_qrs
from annotations.lib.formats.scp.measurements import (
    GlobalMeasurements,
    section7_measurements,
    section8_statements,
    section10_lead_measurements,
    section11_statements,
)


@dataclass
class ScpRecord:
    signals: np.ndarray
    gain_uv: float
    sampling_rate: float
    lead_names: list[str]
    header: PatientHeader
    statements: list[str]
    universal: list[tuple[str, str]]
    measurements: GlobalMeasurements | None
    lead_measurements: dict[str, list[int]]
    notes: list[str]
    reference_beat: RepresentativeBeat | None = None


def parse(data: bytes, options: ReadOptions | None = None) -> ScpRecord:
    """Every section checked and decoded; raises FormatError naming the section at the first problem."""
    options = options or ReadOptions()
    check_record(data)
    sections = section0_pointers(data)
    # Section 9 (manufacturer interpretation) and sections 12 and above are CRC-checked above, not read.
    header = section1_header(sections[1])
    tables = section2_huffman(sections.get(2))
    leads = section3_leads(sections.get(3))
    check_shape("SCP-ECG section 3", len(leads.names), leads.samples, options.limits)
    qrs = section4_qrs(sections.get(4))
    # The reference beat is the cart's representative beat, kept apart (Record.beat). When the rhythm
    # needs it (subtraction, or bimodal compression's full-rate interval) a damaged one fails the file;
    # otherwise it costs the exam its cart beat only, said in the report.
    bimodal = len(sections[6].body) > 5 and sections[6].body[5] == 1
    needed = leads.reference_beat_subtracted or bimodal
    notes: list[str] = []
    try:
        reference = section5_reference_beat(sections.get(5), leads, qrs, tables)
    except FormatError as error:
        if needed:
            raise
        notes.append(f"the cart's reference beat was not kept: {error}")
        reference = None
    signals, gain, rate = section6_rhythm(sections[6], leads, qrs, reference if needed else None, tables)
    return ScpRecord(
        signals=signals,
        gain_uv=gain,
        sampling_rate=rate,
        lead_names=leads.names,
        header=header,
        statements=section8_statements(sections.get(8)),
        universal=section11_statements(sections.get(11)),
        measurements=section7_measurements(sections.get(7)),
        lead_measurements=section10_lead_measurements(sections.get(10)),
        notes=leads.notes() + notes,
        reference_beat=_reference_beat(reference, leads.names),
    )


def _reference_beat(
    reference: tuple[Encoded, np.ndarray] | None, names: list[str]
) -> RepresentativeBeat | None:
    if reference is None:
        return None
    encoded, samples = reference
    return RepresentativeBeat(
        signals=samples,
        sampling_rate=1e6 / encoded.interval_us,
        lead_names=list(names),
        gain_uv=encoded.multiplier_nv / 1000.0,
        source="SCP-ECG section 5 reference beat",
    )


def count(path: Path, options: ReadOptions) -> int:
    return 1


def read(path: Path, options: ReadOptions) -> Iterator[Record | RecordError]:
    scp = parse(path.read_bytes(), options)
    # Whole lines: the import service judges each (names, dates...) before cutting it to a label code.
    labels = [("statement", text) for text in scp.statements] + list(scp.universal)
    yield Record(
        external_id=path.stem,
        signals=scp.signals,
        gain_uv=scp.gain_uv,
        sampling_rate=scp.sampling_rate,
        lead_names=scp.lead_names,
        age=scp.header.age,
        sex=scp.header.sex,
        acquired_at=scp.header.acquired_at,
        labels=list(dict.fromkeys(labels)),
        identifiers=scp.header.identifiers,
        source_record=path.name,
        device_measurements=_device_measurements(scp.measurements),
        beat=scp.reference_beat,
        notes=scp.notes,
    )


def _device_measurements(measured: GlobalMeasurements | None) -> dict[str, float]:
    """Section 7 gives the RR interval and, per reference beat type, the wave boundaries (ms from the
    beat's start) and axes: the intervals are the differences of the first (dominant) type's boundaries,
    the rate the cart's RR interval in beats per minute."""
    if measured is None:
        return {}
    beat = measured.beats[0] if measured.beats else {}

    def between(start: str, end: str) -> int | None:
        a, b = beat.get(start), beat.get(end)
        return b - a if a is not None and b is not None else None

    return device_measurements(
        {
            "rr_ms": measured.rr_ms,
            "heart_rate_bpm": round(60000 / measured.rr_ms, 1) if measured.rr_ms else None,
            "pr_ms": between("p_onset", "qrs_onset"),
            "qrs_ms": between("qrs_onset", "qrs_offset"),
            "qt_ms": between("qrs_onset", "t_offset"),
            "p_axis_deg": beat.get("p_axis"),
            "qrs_axis_deg": beat.get("qrs_axis"),
            "t_axis_deg": beat.get("t_axis"),
        }
    )
