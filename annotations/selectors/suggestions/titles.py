"""What a reader or an adjudicator reads for a suggestion's provider: a name in their language.

A suggestion stores its provider's key (Provider.name), which is what settings, scripts and the evidence
page use; "measurements 1.2+neurokit2-0.2.10" above a list of suggested statements told a cardiologist
nothing about where it came from."""

from __future__ import annotations

from django.utils.translation import gettext, gettext_noop

# The providers the project ships. A model loaded from SUGGESTION_MODELS_DIR carries the name its makers
# gave it, which is shown as it is; so is any key not listed here.
_TITLES = {
    "measurements": gettext_noop("Interval measurements and rules"),
    "quality": gettext_noop("Signal quality check"),
    "openecg": gettext_noop("OpenECG model"),
}


def provider_title(key: str) -> str:
    """The provider's name in the active language, or its key when the project does not name it."""
    title = _TITLES.get(key)
    return gettext(title) if title else key
