"""`format_name`: an exam's source format as people call it ("GE MUSE XML"), from the readers' own list, as
the import page names them; a source no reader has (synthetic, bench) keeps its stored word.
`share_percent`: a share of resamples as a percentage that never reads 100% unless it is all of them.
`reader_label`: a reader's pseudonym ("Reader A", stored so by the worker) in the page's language."""

from __future__ import annotations

import math

from django import template
from django.utils.translation import gettext as _

from annotations.lib.formats.registry import FORMAT_NAMES

register = template.Library()


@register.filter
def format_name(key: str) -> str:
    return FORMAT_NAMES.get(key, key)


@register.filter
def share_percent(value: float | None) -> str:
    """0.633 -> "63%"; 0.999 -> "99.9%", not the "100%" rounding gives, beside an interval flagged as
    coming from only part of the resamples."""
    if value is None:
        return "—"
    percent = float(value) * 100.0
    if percent < 100.0 and round(percent) >= 100:
        return f"{math.floor(percent * 10) / 10:.1f}%"
    return f"{round(percent)}%"


@register.filter
def reader_label(pseudonym: str) -> str:
    """ "Reader A" -> "Leitor A" in Portuguese. The pseudonyms are data (computed by the worker, stored
    with the agreement figures, in English); only their word is the interface's."""
    prefix = "Reader "
    if not isinstance(pseudonym, str) or not pseudonym.startswith(prefix):
        return pseudonym
    return _("Reader %(letter)s") % {"letter": pseudonym[len(prefix) :]}
