"""An exam's reference labels as one short text kept on the exam row, for the batch designer.

The designer's reference-label criterion ("any of code15:RBBB, tnmg:AF, ...") used to be an EXISTS
over the reference-label table. At CODE-II size its pool is a semi-join of about 1.6M candidate exams
with their 1.8M matching labels, seconds of SQL whatever the memory. Kept on the exam row, and in the
designer's covering index, the codes make the pool one index-only scan with a substring test per row.

The text is each "system:code" between newlines, sorted by code point: "\\ncode15:RBBB\\ntnmg:SR\\n", so
that "\\nsystem:code\\n" is found in it exactly when the exam has that label (a code never spans two
entries). "" is an exam with no reference label. An exam whose text would not fit the index tuple, or
whose codes hold a newline themselves, keeps OVERFLOW instead, and the criterion asks the label table for
those exams alone (exact either way).

Pure Python: the importer, the migration's backfill and the tests build the text with the same function.
"""

from __future__ import annotations

from collections.abc import Iterable

SEPARATOR = "\n"
OVERFLOW = "*"
# PostgreSQL refuses a B-tree entry over about 2.7 kB; the designer's index also holds the exam's id,
# dataset, age, sex, grade and two dates. 1,000 bytes holds about 40 SNOMED codes or 14 long statements.
MAX_BYTES = 1000


def reference_codes_text(labels: Iterable[tuple[str, str]]) -> str:
    """The text kept for an exam whose reference labels are these (code_system, code) pairs."""
    entries = sorted({f"{system}:{code}" for system, code in labels})
    if not entries:
        return ""
    if any(SEPARATOR in entry for entry in entries):
        return OVERFLOW
    text = SEPARATOR + SEPARATOR.join(entries) + SEPARATOR
    return OVERFLOW if len(text.encode()) > MAX_BYTES else text


def coverage_text(entries: Iterable[str]) -> str:
    """What an exam's reference labels were read against, as kept on its row: ",code15:AF,ptbxl,"."""
    names = sorted(set(entries))
    return f",{','.join(names)}," if names else ""


def coverage_of(text: str) -> tuple[set[str], set[tuple[str, str]]]:
    """(whole systems, (system, code) pairs) of a coverage text."""
    entries = [entry for entry in text.split(",") if entry]
    whole = {entry for entry in entries if ":" not in entry}
    codes = {tuple(entry.split(":", 1)) for entry in entries if ":" in entry}
    return whole, codes  # type: ignore[return-value]


def reference_code_needle(system: str, code: str) -> str:
    """What the text of an exam with the label (system, code) contains."""
    return f"{SEPARATOR}{system}:{code}{SEPARATOR}"
