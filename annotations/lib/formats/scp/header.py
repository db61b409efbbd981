"""Section 1: the patient header (age, sex, acquisition time, identifying tags kept apart)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime

from annotations.lib.formats.scp.container import Cursor, Section, decode_text

# Section 1 tags that identify a person, a place or a device (dropped unless IDENTIFIERS_POLICY=keep).
IDENTIFYING_TAGS = {
    0: "last_name",
    1: "first_name",
    2: "patient_id",
    3: "second_last_name",
    5: "date_of_birth",
    13: "diagnosis_or_referral",
    14: "acquiring_device",
    15: "analysing_device",
    16: "acquiring_institution",
    17: "analysing_institution",
    18: "acquiring_department",
    19: "analysing_department",
    20: "referring_physician",
    21: "confirming_physician",
    22: "technician",
    23: "room",
    30: "free_text",
    31: "ecg_sequence_number",
    35: "medical_history",
}
_TEXT_TAGS = {0, 1, 2, 3, 13, 16, 17, 18, 19, 20, 21, 22, 23, 30, 31, 35}


@dataclass
class PatientHeader:
    age: int | None = None
    sex: str = "U"
    acquired_at: datetime | None = None
    identifiers: dict[str, str] = field(default_factory=dict)


def section1_header(section: Section) -> PatientHeader:
    """Tag (1 byte), length (2 bytes), value; tag 255 ends the list."""
    cursor, header = Cursor(section.body, 1), PatientHeader()
    date = time = None
    while cursor.left:
        tag = cursor.u8("a tag")
        if tag == 255:
            break
        size = cursor.u16(f"the length of tag {tag}")
        value = cursor.take(size, f"tag {tag}")
        if tag in IDENTIFYING_TAGS:
            text = _date_text(value) if tag == 5 else decode_text(value) if tag in _TEXT_TAGS else value.hex()
            if text:
                header.identifiers[IDENTIFYING_TAGS[tag]] = text
        elif tag == 4 and size >= 3:
            age, unit = struct.unpack_from("<HB", value)
            header.age = age if unit == 1 and 0 < age <= 130 else 0 if unit in (2, 3, 4, 5) else None
        elif tag == 8 and size >= 1:
            header.sex = {1: "M", 2: "F"}.get(value[0], "U")
        elif tag == 25 and size >= 4:
            date = struct.unpack_from("<HBB", value)
        elif tag == 26 and size >= 3:
            time = struct.unpack_from("<BBB", value)
    if date:
        try:
            header.acquired_at = datetime(*date, *(time or (0, 0, 0)))
        except ValueError:
            header.acquired_at = None
    return header


def _date_text(value: bytes) -> str:
    if len(value) < 4:
        return ""
    year, month, day = struct.unpack_from("<HBB", value)
    return f"{year:04d}-{month:02d}-{day:02d}" if year else ""
