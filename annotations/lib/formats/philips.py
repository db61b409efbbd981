"""Philips XML (SierraECG 1.03, PhilipsECG 1.04 / 1.04.01: PageWriter, HeartStart, IntelliSpace ECG).

The waveforms are base64 text, XLI-compressed (LZW plus second differences) per lead, and III, aVR, aVL
and aVF are stored as residuals from I and II. The maintained `sierraecg` package (MIT) decodes both and
rebuilds the limb leads; this module checks what it trusts (the lead count and every lead's length
against `durationperchannel` x the sampling rate), reads the metadata and statements itself with the
project's safe XML parser (the 1.04 files are UTF-16), and drops the 1 mV calibration pulse the cart
appends to each 11-s buffer after the signal (zeros, 100 samples of exactly 1 mV on every lead, zeros).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import numpy as np

from annotations.lib.formats import _xml
from annotations.lib.formats.base import (
    FormatError,
    Limits,
    ReadOptions,
    Record,
    RecordError,
    RepresentativeBeat,
    calibration_tail_note,
    calibration_tail_start,
    check_shape,
    device_measurements,
    parse_age,
    parse_sex,
)
from annotations.lib.formats.xli_bound import XliBoundError, check_xli

name = "philips"
ROOT = "restingecgdata"
_VERSIONS = {"1.03", "1.04", "1.04.01", "1.04.02"}


def count(path: Path, options: ReadOptions) -> int:
    return 1


def _find(element: Element | None, *path: str) -> Element | None:
    """First descendant along `path` (namespace-blind), each step searched at any depth."""
    for tag in path:
        if element is None:
            return None
        element = next(
            (node for node in element.iter() if _xml.local(node.tag) == tag and node is not element), None
        )
    return element


def _children(element: Element | None, tag: str) -> list[Element]:
    return [child for child in element if _xml.local(child.tag) == tag] if element is not None else []


def _text(element: Element | None, *path: str) -> str:
    found = _find(element, *path)
    return (found.text or "").strip() if found is not None else ""


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FormatError(f"Philips XML: {what} {text!r} is not a number") from None
    if not value > 0:
        raise FormatError(f"Philips XML: {what} must be positive, got {text!r}")
    return value


def _resolution_uv(root: Element, waveforms: Element) -> float:
    """Microvolts per count: an attribute of parsedwaveforms (1.04), or signalcharacteristics (1.03)."""
    signal = _find(root, "signalcharacteristics")
    text = waveforms.get("resolution") or _text(signal, "resolution") or _text(signal, "signalresolution")
    return _number(text, "resolution")


def _statements(root: Element) -> list[str]:
    """The printed statements of the first (current) interpretation: leftstatement, not the reasons."""
    interpretation = _find(root, "interpretations", "interpretation")
    return [
        text
        for statement in _children(interpretation, "statement")
        if (text := _text(statement, "leftstatement"))
    ]


def _acquired_at(root: Element) -> datetime | None:
    acquisition = _find(root, "dataacquisition")
    if acquisition is None:
        return None
    try:
        return datetime.strptime(
            f"{acquisition.get('date', '')} {acquisition.get('time', '')}", "%Y-%m-%d %H:%M:%S"
        )
    except ValueError:
        return None


def _decode(path: Path) -> list[Any]:
    # sierraecg loads with the first Philips read: detect.py imports this module to sniff every upload.
    import sierraecg

    try:
        return list(sierraecg.read_file(str(path)).leads)
    except (sierraecg.UnsupportedXmlFileError, sierraecg.MissingXmlElementError) as error:
        raise FormatError(f"Philips XML is not supported ({type(error).__name__}: {error})") from None
    except sierraecg.MissingXmlAttributeError as error:
        raise FormatError(f"Philips XML lacks the attribute {error}") from None
    except (ValueError, IndexError, KeyError, TypeError, OverflowError) as error:
        raise FormatError(
            f"Philips XML waveform cannot be decoded ({type(error).__name__}: {error})"
        ) from None


def _check_waveform_size(waveforms: Element, leads: int, samples: int, limits: Limits) -> None:
    """Refuse waveform data larger than the sizes the file declares, before sierraecg decodes it."""
    method = waveforms.get("compressmethod") or waveforms.get("compression") or "Uncompressed"
    if method != "XLI":
        return  # base64 without compression: the text's own size bounds it (the XML size limit)
    try:
        check_xli(waveforms.text or "", leads, samples, limits.max_signals)
    except XliBoundError as error:
        raise FormatError(f"Philips XML waveform refused before decoding: {error}") from None


# The file is checked in the order a hostile one could hurt: the XML's own safety, the version, the
# declared sizes, the waveform data against them (before sierraecg decodes it), then every decoded lead
# against the declared length; only then are the metadata read.
def read(path: Path, options: ReadOptions) -> Iterator[Record | RecordError]:
    root = _xml.parse(path)  # the DOCTYPE and entity checks, before sierraecg parses the file again
    if _xml.local(root.tag) != ROOT:
        raise FormatError(f"root element is <{_xml.local(root.tag)}>, not <{ROOT}>")
    version = _text(root, "documentinfo", "documentversion")
    if version not in _VERSIONS:
        raise FormatError(
            f"Philips XML version {version or 'none'} is not one of {', '.join(sorted(_VERSIONS))}"
        )
    waveforms = _find(root, "parsedwaveforms")
    if waveforms is None:
        raise FormatError("Philips XML has no parsedwaveforms")
    rate = _number(_text(root, "signalcharacteristics", "samplingrate"), "sampling rate")
    duration_ms = _number(waveforms.get("durationperchannel", ""), "durationperchannel")
    declared = round(duration_ms * rate / 1000)
    declared_leads = round(_number(waveforms.get("numberofleads") or "12", "numberofleads"))
    check_shape("parsedwaveforms", declared_leads, declared, options.limits)
    _check_waveform_size(waveforms, declared_leads, declared, options.limits)
    leads = _decode(path)
    if len(leads) != declared_leads:
        raise FormatError(
            f"Philips XML declares {declared_leads} leads but its waveform data holds {len(leads)}"
        )
    for lead in leads:
        if len(lead.samples) != declared:
            raise FormatError(
                f"Philips XML lead {lead.label}: {len(lead.samples)} samples, but durationperchannel "
                f"{duration_ms:g} ms at {rate:g} Hz declares {declared}"
            )
    resolution = _resolution_uv(root, waveforms)
    signals = np.stack([np.asarray(lead.samples, dtype=np.int64) for lead in leads])
    end = calibration_tail_start(signals, 1000.0 / resolution)
    notes = [calibration_tail_note(signals.shape[1] - end, rate)] if end < signals.shape[1] else []
    signals = signals[:, :end]
    beat = _repbeats(root, options, notes)
    patient = _find(root, "patient")
    document = _text(root, "documentname")
    yield Record(
        external_id=(Path(document).stem if document else path.stem)[:200],
        signals=signals,
        gain_uv=resolution,
        sampling_rate=rate,
        lead_names=[str(lead.label) for lead in leads],
        age=parse_age(_text(patient, "age", "years")) if _text(patient, "age", "years") else None,
        sex=parse_sex(_text(patient, "sex")),
        acquired_at=_acquired_at(root),
        labels=list(dict.fromkeys(("statement", text) for text in _statements(root))),
        identifiers=_identifiers(root, patient),
        source_record=path.name,
        device_measurements=_measurements(root),
        beat=beat,
        notes=notes,
    )


def _repbeats(root: Element, options: ReadOptions, notes: list[str]) -> RepresentativeBeat | None:
    """The cart's representative beats (repbeats: one base64 little-endian int16 waveform per lead, not
    XLI-compressed), or None where the file has none (SierraECG 1.03). A damaged one costs the exam its
    cart beat, said in the report, never the import of its rhythm."""
    block = _find(root, "repbeats")
    if block is None:
        return None
    try:
        encoding = (block.get("dataencoding") or "Base64").lower()
        if encoding != "base64" or (block.get("compression") or "none").lower() not in {"none", ""}:
            raise FormatError(f"its encoding {encoding!r} is not plain base64")
        rate = _number(block.get("samplespersec", ""), "repbeats samplespersec")
        resolution = _number(block.get("resolution", ""), "repbeats resolution")
        names, rows = [], []
        for beat in _children(block, "repbeat"):
            waveform = _find(beat, "waveform")
            text = "".join((waveform.text or "").split()) if waveform is not None else ""
            declared = round(
                _number(waveform.get("duration", "") if waveform is not None else "", "duration")
            )
            check_shape("repbeat", 1, round(declared * rate / 1000), options.limits)
            raw = base64.b64decode(text, validate=True)
            if len(raw) % 2 or not raw:
                raise FormatError(f"lead {beat.get('leadname')}: {len(raw)} bytes, not whole 16-bit samples")
            names.append(str(beat.get("leadname") or ""))
            rows.append(np.frombuffer(raw, dtype="<i2").astype(np.int64))
        if not rows or len({row.size for row in rows}) != 1:
            raise FormatError("its leads are missing or of different lengths")
        signals = _unpadded(np.stack(rows))
    except (FormatError, binascii.Error, ValueError) as error:
        notes.append(f"the cart's representative beats were not kept: {error}")
        return None
    method = block.get("repbeatmethod") or "representative"
    return RepresentativeBeat(
        signals=signals,
        sampling_rate=rate,
        lead_names=names,
        gain_uv=resolution,
        source=f"Philips repbeats ({method})",
    )


_NO_SAMPLE = (
    32767  # int16's largest: a PageWriter Touch fills its 2400 ms repbeat buffer past 1200 ms with it
)


def _unpadded(signals: np.ndarray) -> np.ndarray:
    """The beat without the trailing samples that are the fill value on every lead."""
    filled = np.all(signals == _NO_SAMPLE, axis=0)
    end = signals.shape[1]
    while end > 0 and filled[end - 1]:
        end -= 1
    if end < 2:
        raise FormatError("it holds no samples, only fill")
    return signals[:, :end]


def _identifiers(root: Element, patient: Element | None) -> dict[str, str]:
    """The identifying fields the file fills in: patient, institution and document names."""
    found = {
        "patient_id": _text(patient, "patientid"),
        "last_name": _text(patient, "lastname"),
        "first_name": _text(patient, "firstname"),
        "birth_date": _text(patient, "dateofbirth"),
        "institution": _text(root, "institutionname"),
        "document": _text(root, "documentname"),
    }
    return {key: value for key, value in found.items() if value}


# globalmeasurements (the cart's DXL analysis) -> DEVICE_MEASUREMENTS keys: the frontal-plane axes of the
# whole waves (not the initial or terminal 40 ms ones, i40/t40), and QTc by Bazett and Fridericia as named.
# Version 1.03 writes the intervals and the rate as means over the beats (meanprint ...) and its QTc
# without a formula's name.
_MEASUREMENT_TAGS = {
    "meanventrate": "heart_rate_bpm",
    "meanprint": "pr_ms",
    "meanqrsdur": "qrs_ms",
    "meanqtint": "qt_ms",
    "meanqtc": "qtc_ms",
    "heartrate": "heart_rate_bpm",
    "atrialrate": "atrial_rate_bpm",
    "rrint": "rr_ms",
    "print": "pr_ms",
    "qrsdur": "qrs_ms",
    "qtint": "qt_ms",
    "qtcb": "qtc_bazett_ms",
    "qtcf": "qtc_fridericia_ms",
    "pfrontaxis": "p_axis_deg",
    "qrsfrontaxis": "qrs_axis_deg",
    "tfrontaxis": "t_axis_deg",
}


def _measurements(root: Element) -> dict[str, float]:
    block = _find(root, "globalmeasurements")
    if block is None:
        return {}
    present = {_xml.local(child.tag): (child.text or "") for child in block}
    offered = {key: present[tag] for tag, key in _MEASUREMENT_TAGS.items() if tag in present}
    return device_measurements(offered)
