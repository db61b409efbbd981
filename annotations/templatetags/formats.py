"""`format_name`: an exam's source format as people call it ("GE MUSE XML"), from the readers' own list, as
the import page names them; a source no reader has (synthetic, bench) keeps its stored word.
`share_percent`: a share of resamples as a percentage that never reads 100% unless it is all of them.
`reader_label`: a reader's pseudonym ("Reader A", stored so by the worker) in the page's language.
`consensus_method`, `dispute_reason`, `consensus_rule`: the stored words of the agreement figures
("unanimous", "tie", "majority") as the page's language names them."""

from __future__ import annotations

import math

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from annotations.lib.formats.registry import FORMAT_NAMES
from annotations.models import Consensus, DisputedLabel
from annotations.selectors.adjudication import SETTLED

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
        # With the page's decimal mark, as floatformat writes the figures beside it (99,8% in Portuguese).
        return f"{number_format(math.floor(percent * 10) / 10, 1)}%"
    return f"{round(percent)}%"


@register.filter
def reader_label(pseudonym: str) -> str:
    """ "Reader A" -> "Leitor A" in Portuguese. The pseudonyms are data (computed by the worker, stored
    with the agreement figures, in English); only their word is the interface's."""
    prefix = "Reader "
    if not isinstance(pseudonym, str) or not pseudonym.startswith(prefix):
        return pseudonym
    return _("Reader %(letter)s") % {"letter": pseudonym[len(prefix) :]}


def _label(choices, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:  # a word an older algorithm stored and no choice names now: shown as stored
        return value


@register.filter
def consensus_method(value: str) -> str:
    return _label(Consensus.Method, value)


@register.filter
def dispute_reason(value: str) -> str:
    if value == SETTLED:
        return _("Decided before; later reads settled the dispute")
    return _label(DisputedLabel.Reason, value)


@register.filter
def consensus_rule(value: str) -> str:
    """The batch's rule: "majority" or "latent" (the Dawid-Skene estimate)."""
    return {"majority": _("majority"), "latent": _("latent-truth estimate (Dawid-Skene)")}.get(value, value)
