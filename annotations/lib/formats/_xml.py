"""Safe XML parsing shared by the aECG and MUSE readers.

Neither format has a maintained Python reader that is both small and safe (FDA's aecg-python pulls in
pandas and a GUI stack; no MUSE reader is packaged), and both are plain documented XML, so they are read
with ElementTree through defusedxml, which refuses entity declarations (billion laughs) and external
entities before anything is expanded.

A DOCTYPE is accepted only when it does nothing but name a DTD by a plain file name: every GE MUSE export
starts with `<!DOCTYPE RestingECG SYSTEM "restecg.dtd">`. That DTD is never fetched or read (expat does
not load external DTDs, and defusedxml refuses external entities), so such a line is harmless. A DOCTYPE
with an internal subset that declares anything, or one pointing at a URL or an absolute path, is refused
before the parser sees the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from annotations.lib.formats.base import FormatError

# How much of the file is searched for the DOCTYPE: it must come before the root element, and a prolog
# longer than this is no ECG export.
_PROLOG_BYTES = 64 * 1024
_NAME = r"[A-Za-z_][\w.:-]*"
_LITERAL = r"(?:\"[^\"]*\"|'[^']*')"
_DOCTYPE_START = re.compile(rb"<!DOCTYPE", re.I)
# DOCTYPE name, then optionally SYSTEM "id" or PUBLIC "pubid" "id", then optionally an empty [ ].
_NAMING_ONLY = re.compile(
    rf"<!DOCTYPE\s+{_NAME}(?:\s+(?:SYSTEM\s+(?P<system>{_LITERAL})|PUBLIC\s+{_LITERAL}\s+(?P<public>{_LITERAL})))?"
    rf"\s*(?:\[\s*\])?\s*>"
)
_URL_LIKE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*:|[/\\]|\.\.)")


def _prolog_text(raw: bytes) -> str:
    """The head of the file as text, whatever its encoding (UTF-8, ISO-8859-1, UTF-16 with a BOM)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    return raw.decode("latin-1")


def check_doctype(path: Path) -> None:
    """Refuse a DOCTYPE that defines anything or names its DTD by URL or absolute path; see the docstring."""
    with open(path, "rb") as handle:
        raw = handle.read(_PROLOG_BYTES)
    text = _prolog_text(raw)
    start = text.find("<!DOCTYPE")
    if start < 0:
        if _DOCTYPE_START.search(raw) or "<!doctype" in text.lower():
            raise FormatError("XML declares a DTD in an unexpected form; refused")
        return
    match = _NAMING_ONLY.match(text, start)
    if match is None:
        raise FormatError(
            "XML has an internal DTD subset (entity, element or attribute declarations); "
            "entity expansion is refused"
        )
    identifier = (match.group("system") or match.group("public") or "''")[1:-1].strip()
    if _URL_LIKE.match(identifier):
        raise FormatError(
            f"XML names its DTD by URL or absolute path ({identifier[:80]!r}); it is never fetched, "
            "and such a reference is refused"
        )


def parse(path: Path) -> Element:
    check_doctype(path)
    try:
        tree = SafeET.parse(str(path), forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise FormatError(
            f"XML declares a DTD or entities ({type(error).__name__}); entity expansion is refused"
        ) from None
    except ParseError as error:
        raise FormatError(f"XML is not well-formed ({error})") from None
    root = tree.getroot()
    if root is None:
        raise FormatError("XML document has no root element")
    return root


def parse_converting(
    path: Path, convert: Mapping[str, Callable[[str], Any]]
) -> tuple[Element, dict[int, Any]]:
    """Parse as `parse` does, but hand the text of each element whose local tag is in `convert` to its
    function as soon as the element ends, and drop the text: the tree never holds a large text (an aECG
    lead's digits) whole. Returns the root and each converted value by id() of its element."""
    check_doctype(path)
    values: dict[int, Any] = {}
    try:
        events = SafeET.iterparse(
            str(path), events=("end",), forbid_dtd=False, forbid_entities=True, forbid_external=True
        )
        for _, element in events:
            handler = convert.get(local(element.tag))
            if handler is not None:
                values[id(element)] = handler(element.text or "")
                element.text = None
        # The iterator holds the root once parsing ends; typeshed's stub of it does not declare it.
        return events.root, values  # type: ignore[attr-defined]
    except DefusedXmlException as error:
        raise FormatError(
            f"XML declares a DTD or entities ({type(error).__name__}); entity expansion is refused"
        ) from None
    except ParseError as error:
        raise FormatError(f"XML is not well-formed ({error})") from None


def local(tag: str) -> str:
    """Tag without its {namespace}."""
    return tag.rsplit("}", 1)[-1]
