"""HL7 v3 annotated ECG (FDA aECG): the RHYTHM series is the exam's signal; its representative beat
(derivation/derivedSeries coded REPRESENTATIVE_BEAT) is kept apart as the cart's beat (Record.beat).

Each lead is a `sequence` with an MDC lead code and an SLIST_PQ value: origin + scale x digits, with
units on origin and scale (uV or mV). Digits are integers, so with one scale for all leads the samples
are stored exactly. Device and reader rhythm/interpretation statements become 'mdc' reference labels.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from xml.etree.ElementTree import Element

import numpy as np

from annotations.lib.formats import _xml
from annotations.lib.formats.base import (
    FormatError,
    ReadOptions,
    Record,
    RecordError,
    RepresentativeBeat,
    calibration_tail_note,
    calibration_tail_start,
    check_shape,
    device_measurements,
    parse_age,
)

name = "aecg"
_UNIT_UV = {"uv": 1.0, "mv": 1000.0, "v": 1e6}
_TIME_UNIT_S = {"s": 1.0, "ms": 1e-3}


def count(path: Path, options: ReadOptions) -> int:
    return 1


def _children(element: Element, tag: str) -> list[Element]:
    return [child for child in element if _xml.local(child.tag) == tag]


def _first(element: Element | None, *path: str) -> Element | None:
    for tag in path:
        if element is None:
            return None
        found = _children(element, tag)
        element = found[0] if found else None
    return element


def _descendants(element: Element, tag: str) -> Iterator[Element]:
    return (node for node in element.iter() if _xml.local(node.tag) == tag)


def _rhythm_series(root: Element) -> Element:
    for component in _children(root, "component"):
        series = _first(component, "series")
        code = _first(series, "code")
        if series is not None and code is not None and code.get("code") == "RHYTHM":
            return series
    raise FormatError("aECG has no RHYTHM series")


def _beat(
    series: Element, digit_values: dict[int, np.ndarray], options: ReadOptions, notes: list[str]
) -> RepresentativeBeat | None:
    """The representative beat derived from the rhythm series, or None. A damaged one costs the exam its
    cart beat, said in the report, never the import of its rhythm."""
    for derived in _descendants(series, "derivedSeries"):
        code = _first(derived, "code")
        if code is None or code.get("code") != "REPRESENTATIVE_BEAT":
            continue
        sequence_set = _first(derived, "component", "sequenceSet")
        try:
            if sequence_set is None:
                raise FormatError("it has no sequenceSet")
            names, rows, scales = _leads(sequence_set, digit_values, options)
            rate = _sampling_rate(sequence_set)
        except (FormatError, ValueError) as error:
            notes.append(f"the cart's representative beat was not kept: {error}")
            return None
        return RepresentativeBeat(
            signals=np.stack(rows),
            sampling_rate=rate,
            lead_names=names,
            gain_uv=np.asarray(scales),
            source="HL7 aECG REPRESENTATIVE_BEAT",
        )
    return None


def _sampling_rate(sequence_set: Element) -> float:
    for sequence in _descendants(sequence_set, "sequence"):
        code = _first(sequence, "code")
        if code is not None and code.get("code", "").startswith("TIME_"):
            increment = _first(sequence, "value", "increment")
            if increment is None:
                break
            unit = (increment.get("unit") or "s").lower()
            step = float(increment.get("value", "nan")) * _TIME_UNIT_S.get(unit, float("nan"))
            if step > 0:
                return 1.0 / step
    raise FormatError("aECG RHYTHM series has no time increment")


def _pq_uv(element: Element | None, what: str) -> float:
    if element is None:
        raise FormatError(f"aECG lead has no {what}")
    unit = (element.get("unit") or "").lower()
    if unit not in _UNIT_UV:
        raise FormatError(f"aECG {what} unit {element.get('unit')!r} is not a voltage")
    return float(element.get("value", "nan")) * _UNIT_UV[unit]


_NOT_DIGITS = re.compile(r"[^0-9+\-\s]")


def _digits(text: str) -> np.ndarray:
    """A lead's digits as integers, converted while the file is parsed (never a list of strings: that
    list took about ten times the text's size)."""
    if _NOT_DIGITS.search(text) is not None:
        raise FormatError("aECG lead has digits that are not integers")
    with warnings.catch_warnings():
        # numpy warns, and stops, at text it cannot read as a number ("1-2", "+-3"): a damaged file.
        warnings.simplefilter("error", DeprecationWarning)
        try:
            values = np.fromstring(text, dtype=np.int64, sep=" ")
        except (DeprecationWarning, ValueError):
            raise FormatError("aECG lead has digits that are not integers") from None
    if values.size and np.abs(values).max() < 2**31:
        return values.astype(np.int32)
    return values


def _leads(
    sequence_set: Element, digit_values: dict[int, np.ndarray], options: ReadOptions
) -> tuple[list[str], list[np.ndarray], list[float]]:
    names, rows, scales = [], [], []
    for sequence in _descendants(sequence_set, "sequence"):
        coded = _first(sequence, "code")
        code = (coded.get("code") or "") if coded is not None else ""
        if not code.startswith("MDC_ECG_LEAD_"):
            continue
        value = _first(sequence, "value")
        digits = _first(value, "digits")
        samples = digit_values.get(id(digits)) if digits is not None else None
        if samples is None or samples.size == 0:
            raise FormatError(f"aECG lead {code} has no digits")
        origin = _pq_uv(_first(value, "origin"), "origin")
        if origin != 0:
            raise FormatError(f"aECG lead {code} has a non-zero origin ({origin} uV), not supported")
        check_shape(code, 1, samples.size, options.limits)
        rows.append(samples)
        scales.append(_pq_uv(_first(value, "scale"), "scale"))
        names.append(code)
    if not rows:
        raise FormatError("aECG RHYTHM series has no MDC lead sequences")
    if len({row.size for row in rows}) != 1:
        raise FormatError("aECG leads have different lengths")
    return names, rows, scales


def _labels(series: Element) -> list[tuple[str, str]]:
    """Rhythm and interpretation statements (MDC_ECG_RHY*, MDC_ECG_INTERPRETATION*), not beat marks."""
    labels: list[tuple[str, str]] = []
    for annotation in _descendants(series, "annotation"):
        code, value = _first(annotation, "code"), _first(annotation, "value")
        kind = code.get("code", "") if code is not None else ""
        if value is not None and (kind == "MDC_ECG_RHY" or kind.startswith("MDC_ECG_INTERPRETATION")):
            if statement := value.get("code"):
                labels.append(("mdc", statement))
    return list(dict.fromkeys(labels))


def _demographics(root: Element) -> tuple[int | None, str, dict[str, str]]:
    age, sex, identifiers = None, "U", {}
    for observation in _descendants(root, "relatedObservation"):
        code = _first(observation, "code")
        if code is not None and code.get("code") == "21612-7":  # LOINC: reported age
            value = _first(observation, "value")
            if value is not None and (value.get("unit") or "a") == "a":
                age = parse_age(value.get("value"))
    person = next(_descendants(root, "subjectDemographicPerson"), None)
    if person is not None:
        gender = _first(person, "administrativeGenderCode")
        sex = {"F": "F", "M": "M"}.get(gender.get("code", "") if gender is not None else "", "U")
        if (name_el := _first(person, "name")) is not None and name_el.text:
            identifiers["patient_name"] = name_el.text.strip()
        if (birth := _first(person, "birthTime")) is not None and (born := birth.get("value")):
            identifiers["birth_date"] = born
    subject = next(_descendants(root, "trialSubject"), None)
    if subject is not None and (subject_id := _first(subject, "id")) is not None:
        identifiers["subject_id"] = subject_id.get("extension") or subject_id.get("root") or ""
    texts = [node.text.strip() for node in _descendants(root, "text") if node.text and node.text.strip()]
    if texts:
        identifiers["free_text"] = "\n".join(texts)
    return age, sex, identifiers


def _acquired_at(series: Element) -> datetime | None:
    low = _first(series, "effectiveTime", "low")
    value = (low.get("value") if low is not None else "") or ""
    try:
        return datetime.strptime(value[:14], "%Y%m%d%H%M%S")
    except ValueError:
        return None


def read(path: Path, options: ReadOptions) -> Iterator[Record | RecordError]:
    root, digit_values = _xml.parse_converting(path, {"digits": _digits})
    if _xml.local(root.tag) != "AnnotatedECG":
        raise FormatError(f"root element is <{_xml.local(root.tag)}>, not <AnnotatedECG>")
    series = _rhythm_series(root)
    sequence_set = _first(series, "component", "sequenceSet")
    if sequence_set is None:
        raise FormatError("aECG RHYTHM series has no sequenceSet")
    names, rows, scales = _leads(sequence_set, digit_values, options)
    age, sex, identifiers = _demographics(root)
    document_id = _first(root, "id")
    external_id = (
        (document_id.get("root") or document_id.get("extension") or path.stem)
        if document_id is not None
        else path.stem
    )
    signals, rate = np.stack(rows), _sampling_rate(sequence_set)
    end = calibration_tail_start(signals, 1000.0 / np.asarray(scales))
    notes = [calibration_tail_note(signals.shape[1] - end, rate)] if end < signals.shape[1] else []
    beat = _beat(series, digit_values, options, notes)
    yield Record(
        external_id=external_id,
        signals=signals[:, :end],
        gain_uv=np.asarray(scales),
        sampling_rate=rate,
        lead_names=names,
        age=age,
        sex=sex,
        acquired_at=_acquired_at(series),
        labels=_labels(series),
        identifiers=identifiers,
        source_record=path.name,
        device_measurements=_measurements(series),
        beat=beat,
        notes=notes,
    )


# Numeric annotations (MDC codes, value as a physical quantity) -> DEVICE_MEASUREMENTS keys. An aECG may give
# them once for the record or once per beat (the FDA example repeats them on every beat annotation): the
# median of all of them is the record's value either way.
_MEASUREMENT_CODES = {
    "MDC_ECG_HEART_RATE": "heart_rate_bpm",
    "MDC_ECG_TIME_PD_RR": "rr_ms",
    "MDC_ECG_TIME_PD_PR": "pr_ms",
    "MDC_ECG_TIME_PD_QRS": "qrs_ms",
    "MDC_ECG_TIME_PD_QT": "qt_ms",
    "MDC_ECG_TIME_PD_QTc": "qtc_ms",
    "MDC_ECG_TIME_PD_QTcB": "qtc_bazett_ms",
    "MDC_ECG_TIME_PD_QTcF": "qtc_fridericia_ms",
    "MDC_ECG_ANGLE_P_FRONT": "p_axis_deg",
    "MDC_ECG_ANGLE_QRS_FRONT": "qrs_axis_deg",
    "MDC_ECG_ANGLE_T_FRONT": "t_axis_deg",
}
# "bmp": CalECG writes the heart rate's unit so; no other unit is spelt so, and its value is a rate.
_TO_UNIT = {"ms": 1.0, "s": 1000.0, "deg": 1.0, "bpm": 1.0, "bmp": 1.0, "/min": 1.0, "{beats}/min": 1.0}


def _measurements(series: Element) -> dict[str, float]:
    found: dict[str, list[float]] = {}
    for annotation in _descendants(series, "annotation"):
        code, value = _first(annotation, "code"), _first(annotation, "value")
        key = _MEASUREMENT_CODES.get(code.get("code", "")) if code is not None else None
        factor = _TO_UNIT.get(value.get("unit", "")) if value is not None else None
        if key is None or factor is None or value is None:
            continue
        try:
            found.setdefault(key, []).append(float(value.get("value", "")) * factor)
        except ValueError:
            continue
    return device_measurements({key: float(np.median(values)) for key, values in found.items()})
