"""Safe XML parsing shared by the aECG and MUSE readers.

Neither format has a maintained Python reader that is both small and safe (FDA's aecg-python pulls in
pandas and a GUI stack; no MUSE reader is packaged), and both are plain documented XML, so they are read
with ElementTree through defusedxml, which refuses DTDs, entity declarations (billion laughs) and
external entities before anything is expanded.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from annotations.formats.base import FormatError


def parse(path: Path) -> Element:
    try:
        return SafeET.parse(str(path), forbid_dtd=True, forbid_entities=True, forbid_external=True).getroot()
    except DefusedXmlException as error:
        raise FormatError(
            f"XML declares a DTD or entities ({type(error).__name__}); entity expansion is refused"
        ) from None
    except ParseError as error:
        raise FormatError(f"XML is not well-formed ({error})") from None


def local(tag: str) -> str:
    """Tag without its {namespace}."""
    return tag.rsplit("}", 1)[-1]
