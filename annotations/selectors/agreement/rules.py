"""A batch's consensus rule, read from its design: what the agreement worker decides by and what the
evidence pages count as decided."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from annotations.errors import Invalid
from annotations.models import ReviewBatch

METHOD_MAJORITY = "majority"
METHOD_LATENT = "latent"


class AgreementConfigError(Invalid):
    """A batch's design["consensus"] that cannot be used."""


def consensus_settings(batch: ReviewBatch) -> dict[str, Any]:
    """The batch's consensus rule: design["consensus"] = {"method": "majority"|"latent", "threshold": 0.5,
    "latent_margin": 0.1, "min_reads": 2}. A latent estimate within ``latent_margin`` of 0.5 is left to
    adjudication. An exam with fewer submitted reads than ``min_reads`` (skips are not reads) gets no
    consensus; the default is 2, or 1 for a batch designed with one reader per exam."""
    design = batch.design or {}
    rule = consensus_rule(design.get("consensus") or {})
    min_reads = (design.get("consensus") or {}).get(
        "min_reads", design.get("min_reads", min(2, batch.readers_per_exam))
    )
    if isinstance(min_reads, bool) or not isinstance(min_reads, int) or min_reads < 1:
        raise AgreementConfigError(
            _("min_reads must be a whole number of at least 1, not “%(value)s”") % {"value": min_reads}
        )
    return {**rule, "min_reads": min_reads}


def consensus_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A consensus rule's method, threshold and latent margin, the defaults filled in; refused when it
    cannot be used (the designer checks a coordinator's choice with it before the batch is made)."""
    method = rule.get("method", METHOD_MAJORITY)
    threshold = float(rule.get("threshold", 0.5))
    margin = float(rule.get("latent_margin", 0.1))
    if method not in (METHOD_MAJORITY, METHOD_LATENT):
        raise AgreementConfigError(
            _("unknown consensus method “%(method)s”; use majority or latent") % {"method": method}
        )
    if not 0.0 <= threshold <= 1.0 or not 0.0 <= margin < 0.5:
        raise AgreementConfigError(_("threshold must be in [0, 1] and latent_margin in [0, 0.5)"))
    return {"method": method, "threshold": threshold, "latent_margin": margin}
