"""SCP-ECG (EN 1064:2005 / ISO 11073-91064), written from the standard's description of the record.

A record is a 2-byte CRC-CCITT of everything after it, a 4-byte record length, then sections. Every
section starts with a 16-byte header (CRC of the rest of the section, section id, section length,
section version, protocol version, 6 reserved bytes, which hold "SCPECG" in section 0). Section 0 points
to the others (1-based byte positions). This package reads, one function per section:

  0 pointers, 1 patient header tags, 2 Huffman tables, 3 lead definitions, 4 QRS locations,
  5 reference beat, 6 rhythm data, 7 global measurements, 8 interpretive statements (text),
  10 per-lead measurements, 11 universal statements.

Sample decoding (in this order): Huffman (the default table of Annex C, or the file's own tables with
table-mode switches), first or second differences, bimodal compression (the samples outside the
protected QRS zones stored decimated; they are put back by linear interpolation between the stored
samples, since the standard leaves the reconstruction filter to the reader), then reference-beat
subtraction (the reference beat of section 5 added back into each subtraction zone of section 4).
Anything else the standard allows and this reader does not do is refused with a message naming it.

Every CRC (of the record and of each section) is checked, and every length and pointer is checked
against the bytes that are really there, before a sample is decoded. Pure Python and numpy: no Django.

Modules: container (record CRC and length, section headers, section 0, the byte cursor), header
(section 1), huffman (section 2 and the bit-stream decoding), leads (sections 3 and 4), decompression
(sections 5 and 6), measurements (sections 7, 8, 10, 11), reader (the record as a whole, the Reader
interface). This module keeps every public name importable from ``annotations.lib.formats.scp``.
"""

from __future__ import annotations

from annotations.lib.formats.scp.container import (
    FIRST_SECTION,
    HEADER,
    IDENTIFICATION,
    REQUIRED,
    Section,
    check_record,
    crc_ccitt,
    read_section,
    section0_pointers,
)
from annotations.lib.formats.scp.decompression import Encoded, section5_reference_beat, section6_rhythm
from annotations.lib.formats.scp.header import IDENTIFYING_TAGS, PatientHeader, section1_header
from annotations.lib.formats.scp.huffman import (
    DEFAULT_TABLE,
    DEFAULT_TABLE_MARK,
    Code,
    HuffmanTables,
    huffman_decode,
    section2_huffman,
    undo_differences,
)
from annotations.lib.formats.scp.leads import (
    LEAD_NAMES,
    Beat,
    Leads,
    QrsLocations,
    section3_leads,
    section4_qrs,
)
from annotations.lib.formats.scp.measurements import (
    NOT_COMPUTED,
    GlobalMeasurements,
    section7_measurements,
    section8_statements,
    section10_lead_measurements,
    section11_statements,
)
from annotations.lib.formats.scp.reader import ScpRecord, count, parse, read

name = "scp"

__all__ = [
    "DEFAULT_TABLE",
    "DEFAULT_TABLE_MARK",
    "FIRST_SECTION",
    "HEADER",
    "IDENTIFICATION",
    "IDENTIFYING_TAGS",
    "LEAD_NAMES",
    "NOT_COMPUTED",
    "REQUIRED",
    "Beat",
    "Code",
    "Encoded",
    "GlobalMeasurements",
    "HuffmanTables",
    "Leads",
    "PatientHeader",
    "QrsLocations",
    "ScpRecord",
    "Section",
    "check_record",
    "count",
    "crc_ccitt",
    "huffman_decode",
    "name",
    "parse",
    "read",
    "read_section",
    "section0_pointers",
    "section1_header",
    "section2_huffman",
    "section3_leads",
    "section4_qrs",
    "section5_reference_beat",
    "section6_rhythm",
    "section7_measurements",
    "section8_statements",
    "section10_lead_measurements",
    "section11_statements",
    "undo_differences",
]
