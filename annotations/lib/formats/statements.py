"""Which device statement lines may be stored as reference labels.

Text statements (GE MUSE, DICOM, Philips, SCP-ECG...) mix findings ("Sinus bradycardia") with lines that
identify people or moments: "Confirmed by DOE, JOHN, M.D. (1234) on 05/10/2021", "Referred by: Dr. X",
"When compared with ECG of 10-MAY-2021 14:14". Reference labels are kept whatever IDENTIFIERS_POLICY
says, so such lines must never become one. The import service runs every label of system 'statement'
through `clinical_statement` (one place for every format); a line that names a person, a confirmation,
referral or signature, a comparison with an earlier tracing (or its conclusion), a measured value, an ID
or a date or time is left out whole.
"""

from __future__ import annotations

import re
from typing import Any

STATEMENT = "statement"
_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DROP = [
    # Who confirmed, read, referred, requested or signed: "<verb> by <someone>", or a role line.
    re.compile(
        r"\b(un)?(confirmed|reviewed|over-?read|edited|referred|requested|ordered|interpreted|read|"
        r"signed|verified|approved|acquired|recorded|reported|dictated|transcribed)\b.*\bby\b",
        re.I,
    ),
    re.compile(
        r"^\W*(un)?confirmed\b|^\W*(referring|referral|requesting|ordering|attending|reading)\b|"
        r"^\W*(technician|tech|operator|physician|doctor|cardiologist|nurse|editor|overreader)\s*[:#-]",
        re.I,
    ),
    # Titles that come with names.
    re.compile(r"\bM\.\s?D\.|\bMD\b|\bPh\.?D\b|\bDr\.?\s+[A-Z]|\bR\.?N\.\s"),
    # Comparisons with an earlier tracing carry its date (or follow on the next line), and their
    # conclusions describe change, not this tracing: "No significant change", "X has replaced Y",
    # "Criteria for X are no longer present", "sem alterações em relação ao anterior".
    re.compile(
        r"\bcompared\s+(with|to)\b|\bcomparison\b|\b(previous|prior|earlier)\s+(ecg|ekg|tracing)", re.I
    ),
    re.compile(
        r"\bno\s+(significant\s+|appreciable\s+)?change\b|\bunchanged\b|\bno\s+longer\s+(present|evident)\b|"
        r"\bnow\s+(present|evident)\b|\bhas\s+replaced\b|\bsince\s+(the\s+)?(last|previous|prior)\b|"
        r"\bem\s+rela[cç][aã]o\s+(ao|a[oa]s?)\s+(ecg\s+|tra[cç]ado\s+)?(anterior|pr[eé]vio)",
        re.I,
    ),
    # Measurements written as statements ("Sokolow index ... = 4.1 mV"): a value, not a finding.
    re.compile(r"=\s*-?\d+([.,]\d+)?\s*(mv|µv|uv|ms|s|mm|bpm|°|deg)\b", re.I),
    # Dates, times and numeric ids.
    re.compile(r"\b\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b"),
    re.compile(rf"\b\d{{1,2}}[- ]?({_MONTHS})[A-Z]*[- ]?\d{{2,4}}\b", re.I),
    re.compile(r"\b\d{1,2}:\d{2}(:\d{2})?\b"),
    re.compile(r"\b(19|20)\d{2}\b"),
    re.compile(r"\(\s*\d{3,}\s*\)|#\s*\d{3,}"),
]


def clinical_statement(text: str) -> bool:
    """True for a statement line that may be stored: no name, confirmation, referral, date or id in it."""
    stripped = " ".join(text.split())
    return bool(stripped) and not any(pattern.search(stripped) for pattern in _DROP)


def clinical_labels(labels: list[tuple[Any, ...]], max_length: int = 300) -> list[tuple[Any, ...]]:
    """`labels` without the statement lines `clinical_statement` refuses, each statement cut to what a
    label code holds (after the check, so a long line is judged whole); coded labels pass unchanged."""
    return [
        (label[0], " ".join(str(label[1]).split())[:max_length], *label[2:])
        if label[0] == STATEMENT
        else label
        for label in labels
        if label[0] != STATEMENT or clinical_statement(str(label[1]))
    ]
