"""Agreement coefficients of a units x categories count table, and Cohen's kappa of two raters.

The general multi-category formulas: used directly for published examples, and with two categories per
class by :mod:`.stats` (and so by the bootstrap). Conventions on missing reads and on undefined values
are those of :mod:`.stats`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .reads import MISSING, BoolArray, FloatArray, JsonMixin, Reads, _ratio


@dataclass(frozen=True)
class TableCoefficients(JsonMixin):
    """Agreement coefficients of a units x categories count table; arrays over any leading batch dims."""

    observed_agreement: FloatArray
    fleiss_kappa: FloatArray
    gwet_ac1: FloatArray
    brennan_prediger: FloatArray
    krippendorff_alpha: FloatArray
    category_prevalence: FloatArray  # (..., q)
    n_units_rated: FloatArray
    n_units_pairable: FloatArray
    chance_agreement_is_one: BoolArray


def table_coefficients(counts: npt.ArrayLike, weights: npt.ArrayLike | None = None) -> TableCoefficients:
    """Multi-rater nominal agreement from ``counts[u, j]`` (raters putting unit ``u`` in category ``j``).

    ``weights[..., u]`` (default 1) is how many times unit ``u`` counts; leading dimensions are batch
    dimensions (classes, bootstrap resamples). With ``r_u = sum_j x_uj``, sums over units weighted by
    ``w_u``, "rated" meaning ``r_u >= 1`` and "pairable" ``r_u >= 2``:

    * observed agreement ``P_o = sum_pairable w_u p_u / sum_pairable w_u``,
      ``p_u = sum_j x_uj (x_uj - 1) / (r_u (r_u - 1))`` (share of agreeing ordered rater pairs);
    * category prevalence ``pi_j = sum_rated w_u x_uj / r_u / sum_rated w_u``;
    * Fleiss' kappa (1971; Gwet 2014 for missing ratings): ``P_e = sum_j pi_j^2``;
    * Gwet's AC1 (2008): ``P_e = sum_j pi_j (1 - pi_j) / (q - 1)``;
    * Brennan-Prediger / free-marginal kappa ``P_e = 1 / q`` (PABAK when q = 2: ``2 P_o - 1``);
      each coefficient is ``(P_o - P_e) / (1 - P_e)``;
    * Krippendorff's alpha, nominal, from the coincidence matrix over pairable units:
      ``n_j = sum w_u x_uj``, ``N = sum_j n_j``,
      ``alpha = 1 - (N - 1) sum_u w_u (r_u^2 - sum_j x_uj^2) / (r_u - 1) / (N^2 - sum_j n_j^2)``.
    """
    x, w = _checked_table(counts, weights)
    r = x.sum(axis=1)
    rated = r >= 1
    pairable = r >= 2
    # Per-unit terms, zero where the unit does not take part, so one matrix product sums them.
    agree_u = _ratio((x * (x - 1)).sum(axis=1), r * (r - 1), pairable)
    agree_u = np.where(pairable, agree_u, 0.0)
    share_u = np.where(rated[:, None], x / np.where(rated, r, 1.0)[:, None], 0.0)

    w_rated = w @ rated.astype(float)
    w_pairable = w @ pairable.astype(float)
    observed = _ratio(w @ agree_u, w_pairable)
    prevalence = _ratio(w @ share_u, w_rated[..., None])
    has_pairs = w_pairable > 0
    # P_e = 1 exactly when every rated read fell into one category; decided from counts, not floats.
    single_category = np.count_nonzero(np.nan_to_num(prevalence) > 0, axis=-1) <= 1

    fleiss, ac1, brennan_prediger = _chance_corrected(observed, prevalence, has_pairs, single_category)
    alpha = _krippendorff_alpha(x, w, r, pairable, has_pairs)
    return TableCoefficients(
        observed_agreement=observed,
        fleiss_kappa=fleiss,
        gwet_ac1=ac1,
        brennan_prediger=brennan_prediger,
        krippendorff_alpha=alpha,
        category_prevalence=prevalence,
        n_units_rated=w_rated,
        n_units_pairable=w_pairable,
        chance_agreement_is_one=single_category & (w_rated > 0),
    )


def _krippendorff_alpha(
    x: FloatArray, w: FloatArray, r: FloatArray, pairable: BoolArray, has_pairs: BoolArray
) -> FloatArray:
    """Nominal alpha from the coincidence matrix over pairable units (formula: :func:`table_coefficients`)."""
    disagree_u = np.where(pairable, (r**2 - (x**2).sum(axis=1)) / np.where(pairable, r - 1, 1.0), 0.0)
    pair_values = w @ (x * pairable[:, None])  # n_j, (..., q)
    n_values = pair_values.sum(axis=-1)
    expected = n_values**2 - (pair_values**2).sum(axis=-1)  # = N(N-1) D_e, 0 iff one category
    return 1.0 - _ratio((n_values - 1.0) * (w @ disagree_u), expected, has_pairs & (expected > 0))


def _checked_table(counts: npt.ArrayLike, weights: npt.ArrayLike | None) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(counts, dtype=float)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"counts must be units x categories with at least 2 categories, got {x.shape}")
    if np.any(x < 0):
        raise ValueError("counts must be non-negative")
    n_units = x.shape[0]
    w = np.ones(n_units) if weights is None else np.asarray(weights, dtype=float)
    if w.shape[-1] != n_units:
        raise ValueError(f"weights must end in {n_units} units, got {w.shape}")
    return x, w


def _chance_corrected(
    observed: FloatArray, prevalence: FloatArray, has_pairs: BoolArray, single_category: BoolArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Fleiss' kappa, Gwet's AC1 and Brennan-Prediger: ``(P_o - P_e) / (1 - P_e)`` with each one's P_e."""
    q = prevalence.shape[-1]
    pe_fleiss = (prevalence**2).sum(axis=-1)
    fleiss = _ratio(observed - pe_fleiss, 1.0 - pe_fleiss, has_pairs & ~single_category)
    pe_ac1 = (prevalence * (1.0 - prevalence)).sum(axis=-1) / (q - 1)
    ac1 = _ratio(observed - pe_ac1, 1.0 - pe_ac1, has_pairs)
    brennan_prediger = _ratio(observed - 1.0 / q, np.full_like(observed, 1.0 - 1.0 / q), has_pairs)
    return fleiss, ac1, brennan_prediger


def cohen_kappa_from_confusion(confusion: npt.ArrayLike) -> FloatArray:
    """Cohen's kappa (1960) of two raters from ``confusion[..., i, j]`` (rater A said i, rater B said j).

    ``P_o = sum_i c_ii / n``, ``P_e = sum_i (c_i. / n)(c_.i / n)``, ``kappa = (P_o - P_e) / (1 - P_e)``.
    NaN when ``n = 0`` or ``P_e = 1`` (both raters used one and the same category throughout).
    """
    c = np.asarray(confusion, dtype=float)
    n = c.sum(axis=(-2, -1))
    rows = _ratio(c.sum(axis=-1), n[..., None])
    cols = _ratio(c.sum(axis=-2), n[..., None])
    observed = _ratio(np.trace(c, axis1=-2, axis2=-1), n)
    expected = (rows * cols).sum(axis=-1)
    # P_e = 1 exactly when both raters put everything in the same single category.
    same_single = np.any((rows == 1.0) & (cols == 1.0), axis=-1)
    return _ratio(observed - expected, 1.0 - expected, (n > 0) & ~same_single)


def binary_confusion(x: Reads, y: Reads, axis: int = -2) -> FloatArray:
    """2x2 confusion counts of two aligned reads arrays over the exam ``axis``, skipping missing cells.

    Returns ``[..., i, j]`` = number of exams where ``x == i`` and ``y == j`` (both non-missing), with the
    exam axis removed; ``x`` and ``y`` broadcast against each other.
    """
    x, y = np.broadcast_arrays(x, y)
    both = (x != MISSING) & (y != MISSING)
    xp, yp = x == 1, y == 1
    n = np.count_nonzero(both, axis=axis)
    n11 = np.count_nonzero(xp & yp, axis=axis)
    n1_ = np.count_nonzero(xp & both, axis=axis)
    n_1 = np.count_nonzero(yp & both, axis=axis)
    return _confusion_from_pair_counts(n, n11, n1_, n_1)


def _confusion_from_pair_counts(
    n: npt.ArrayLike, n11: npt.ArrayLike, a1: npt.ArrayLike, b1: npt.ArrayLike
) -> FloatArray:
    n, n11, a1, b1 = (np.asarray(v, dtype=float) for v in (n, n11, a1, b1))
    conf = np.empty((*n.shape, 2, 2))
    conf[..., 1, 1] = n11
    conf[..., 1, 0] = a1 - n11
    conf[..., 0, 1] = b1 - n11
    conf[..., 0, 0] = n - a1 - b1 + n11
    return conf
