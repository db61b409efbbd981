"""Consensus labels from several readers: majority vote, unanimity, and a Dawid-Skene latent truth.

Pure numpy; ``reads[r, e, c]`` as in :mod:`.reads`. Consensus labels use the same encoding (1, 0, and
:data:`.reads.MISSING` where there is no decision: no reads, too few reads, or a tie).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .reads import MISSING, JsonMixin, Reads, as_reads
from .stats import BoolArray, FloatArray, _ratio

# Relative tolerance for deciding that a positive share equals the threshold exactly (a tie): shares
# are k/n for small integers, so anything this close is the same rational number.
_TIE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class MajorityVote(JsonMixin):
    """Majority-vote consensus; arrays are exams x classes.

    ``labels`` is 1 where the share of positive reads is above ``threshold``, 0 where it is below, and
    MISSING where it equals the threshold exactly (``tied``: sent to adjudication rather than decided
    by a coin) or where fewer than ``min_reads`` readers read the cell.
    """

    labels: Reads
    positive_fraction: FloatArray
    n_reads: npt.NDArray[np.int32]
    tied: BoolArray
    threshold: float


def majority_vote(reads: npt.ArrayLike, *, threshold: float = 0.5, min_reads: int = 1) -> MajorityVote:
    """Consensus by share of positive reads ``k / n`` among the ``n`` readers who read the cell.

    Positive iff ``k / n > threshold``, negative iff ``k / n < threshold``, and a tie (MISSING,
    ``tied``) iff ``k / n == threshold`` exactly: ``threshold=0.5`` is a strict majority (2 of 3,
    3 of 4; 1 of 2 is a tie). The end points are one-sided rules instead, where a tie would be
    meaningless: ``threshold=0`` is "any reader marked it", ``threshold=1`` "every reader marked it".
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError("threshold must be between 0 and 1")
    if min_reads < 1:
        raise ValueError("min_reads must be at least 1")
    reads = as_reads(reads)
    valid = reads != MISSING
    n = valid.sum(axis=0, dtype=np.int32)
    k = (reads == 1).sum(axis=0, dtype=np.int32)
    share = _ratio(k, n)
    enough = n >= min_reads
    # Compare k with threshold * n rather than the float share, so 2/3 vs 2/3 is a tie, not noise.
    margin = k - threshold * n
    tied = enough & (np.abs(margin) <= _TIE_TOLERANCE * np.maximum(n, 1))
    if threshold in (0.0, 1.0):
        # "Above 0" and "above 1" are one-sided rules: 0 of n is simply negative, n of n below 1 is
        # impossible to exceed, so n of n is positive when threshold is 1 (everyone agreed).
        tied = np.zeros_like(tied)
        positive = (k > 0) if threshold == 0.0 else (k == n)
    else:
        positive = margin > 0
    labels = np.where(positive, 1, 0).astype(np.int8)
    labels[~enough | tied] = MISSING
    return MajorityVote(labels=labels, positive_fraction=share, n_reads=n, tied=tied, threshold=threshold)


def unanimous(reads: npt.ArrayLike, *, min_reads: int = 2) -> BoolArray:
    """``[e, c]``: at least ``min_reads`` readers read the cell and all gave the same value."""
    reads = as_reads(reads)
    n = (reads != MISSING).sum(axis=0)
    k = (reads == 1).sum(axis=0)
    return (n >= min_reads) & ((k == 0) | (k == n))


def unanimous_exams(reads: npt.ArrayLike, *, min_reads: int = 2) -> BoolArray:
    """``[e]``: every class of the exam is unanimous (same label set from every reader)."""
    return unanimous(reads, min_reads=min_reads).all(axis=1)


@dataclass(frozen=True)
class DawidSkene(JsonMixin):
    """Latent-truth consensus per class (binary Dawid-Skene), with per-reader reliability.

    ``posterior[e, c]`` = P(class c truly present on exam e | reads); ``labels`` thresholds it at 0.5
    (MISSING for exams nobody read). ``sensitivity[r, c]``, ``specificity[r, c]`` and ``prevalence[c]``
    are the fitted parameters; ``log_likelihood[c]`` the marginal log-likelihood of the reads at them.
    """

    posterior: FloatArray
    labels: Reads
    prevalence: FloatArray
    sensitivity: FloatArray
    specificity: FloatArray
    log_likelihood: FloatArray
    n_iterations: npt.NDArray[np.int32]
    converged: BoolArray


def _sigmoid(x: FloatArray) -> FloatArray:
    # exp of a non-positive number only: no overflow for large |x|.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def dawid_skene(
    reads: npt.ArrayLike,
    *,
    max_iterations: int = 500,
    tolerance: float = 1e-7,
    pseudo_count: float = 1.0,
    class_block: int = 8,
) -> DawidSkene:
    """Binary Dawid-Skene (1979) EM per class, with missing reads, weighing readers by reliability.

    Model, per class: truth ``y_e ~ Bernoulli(pi)``; reader ``r``'s read, when present, is positive
    with probability ``se_r`` if ``y_e = 1`` and ``1 - sp_r`` if ``y_e = 0``, independently given
    ``y_e``. Missing reads carry no information (missing at random).

    * E-step: ``logit T_e = logit(pi) + sum_{r read e} [x_re log(se_r / (1 - sp_r))
      + (1 - x_re) log((1 - se_r) / sp_r)]``; ``T_e = P(y_e = 1 | reads)``.
    * M-step (MAP with a Beta(1 + a, 1 + a) prior, ``a = pseudo_count``, which keeps every estimate
      strictly inside (0, 1) so no log is infinite when a reader is perfect on the sample):
      ``se_r = (sum_e T_e x_re + a) / (sum_{e read by r} T_e + 2a)``,
      ``sp_r = (sum_e (1 - T_e)(1 - x_re) + a) / (sum_{e read by r} (1 - T_e) + 2a)``,
      ``pi = (sum_{e read} T_e + a) / (#exams read + 2a)``.

    EM starts from the soft majority vote ``T_e = k_e / n_e``, which puts it in the basin where readers
    are better than chance (the model is symmetric under swapping truth and error, so that assumption is
    what identifies it). Iterates until no posterior moves by more than ``tolerance``. A reader who is
    reliable gets a large log-likelihood ratio and so outweighs several unreliable ones, which is the
    point over majority vote. Classes are independent and processed in blocks of ``class_block`` to
    bound memory (readers x exams x block floats).

    With a single reader the model is not identifiable (any error rate fits): that reader's reads are
    returned as the consensus, with NaN sensitivity and specificity.
    """
    reads = as_reads(reads)
    n_readers, n_exams, n_classes = reads.shape
    if n_readers < 2:
        return _single_reader(reads)
    posterior = np.empty((n_exams, n_classes))
    prevalence = np.empty(n_classes)
    sensitivity = np.empty((n_readers, n_classes))
    specificity = np.empty((n_readers, n_classes))
    log_likelihood = np.empty(n_classes)
    n_iterations = np.zeros(n_classes, dtype=np.int32)
    converged = np.zeros(n_classes, dtype=bool)
    for start in range(0, n_classes, class_block):
        block = slice(start, min(start + class_block, n_classes))
        fit = _dawid_skene_block(reads[:, :, block], max_iterations, tolerance, pseudo_count)
        (
            posterior[:, block],
            prevalence[block],
            sensitivity[:, block],
            specificity[:, block],
            log_likelihood[block],
            n_iterations[block],
            converged[block],
        ) = fit
    read = (reads != MISSING).any(axis=0)
    labels = np.where(posterior > 0.5, 1, 0).astype(np.int8)
    labels[~read] = MISSING
    return DawidSkene(
        posterior=posterior,
        labels=labels,
        prevalence=prevalence,
        sensitivity=sensitivity,
        specificity=specificity,
        log_likelihood=log_likelihood,
        n_iterations=n_iterations,
        converged=converged,
    )


def _single_reader(reads: Reads) -> DawidSkene:
    """One reader: truth and error rates cannot be separated, so the reads are the consensus.

    Posterior 1/0 where read (the prevalence where not), reliability NaN (not estimable), likelihood NaN.
    """
    n_readers, _, n_classes = reads.shape
    read = reads != MISSING
    prevalence = _ratio((reads == 1).sum(axis=(0, 1)), read.sum(axis=(0, 1)))
    if n_readers == 0:
        posterior = np.broadcast_to(prevalence, reads.shape[1:]).copy()
        labels = np.full(reads.shape[1:], MISSING, dtype=np.int8)
    else:
        posterior = np.where(read[0], reads[0], prevalence).astype(float)
        labels = reads[0].copy()
    return DawidSkene(
        posterior=posterior,
        labels=labels,
        prevalence=prevalence,
        sensitivity=np.full((n_readers, n_classes), np.nan),
        specificity=np.full((n_readers, n_classes), np.nan),
        log_likelihood=np.full(n_classes, np.nan),
        n_iterations=np.zeros(n_classes, dtype=np.int32),
        converged=np.ones(n_classes, dtype=bool),
    )


def _dawid_skene_block(
    reads: Reads, max_iterations: int, tolerance: float, a: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, npt.NDArray[np.int32], BoolArray]:
    positive = (reads == 1).astype(float)  # (R, E, C)
    negative = (reads == 0).astype(float)
    observed = positive + negative
    n_reads = observed.sum(axis=0)  # (E, C)
    read = n_reads > 0
    n_read = read.sum(axis=0)  # (C,)
    t = np.where(read, positive.sum(axis=0) / np.maximum(n_reads, 1), 0.5)
    n_classes = reads.shape[2]
    iterations = np.zeros(n_classes, dtype=np.int32)
    done = np.zeros(n_classes, dtype=bool)
    for _ in range(max_iterations):
        pi, se, sp = _m_step(t, positive, negative, observed, read, n_read, a)
        log_ratio = _log_ratio(pi, se, sp, positive, negative)
        new_t = np.where(read, _sigmoid(log_ratio), pi)
        change = np.abs(new_t - t).max(axis=0, initial=0.0)
        # Classes that have converged keep their posterior; the others take one more step.
        t = np.where(done, t, new_t)
        iterations += ~done
        done |= change <= tolerance
        if done.all():
            break
    pi, se, sp = _m_step(t, positive, negative, observed, read, n_read, a)
    log_p1 = (
        np.log(pi)
        + np.einsum("rec,rc->ec", positive, np.log(se))
        + np.einsum("rec,rc->ec", negative, np.log1p(-se))
    )
    log_p0 = (
        np.log1p(-pi)
        + np.einsum("rec,rc->ec", positive, np.log1p(-sp))
        + np.einsum("rec,rc->ec", negative, np.log(sp))
    )
    log_likelihood = np.where(read, np.logaddexp(log_p1, log_p0), 0.0).sum(axis=0)
    return t, pi, se, sp, log_likelihood, iterations, done


def _m_step(
    t: FloatArray,
    positive: FloatArray,
    negative: FloatArray,
    observed: FloatArray,
    read: BoolArray,
    n_read: npt.NDArray[np.intp],
    a: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    t_read = np.where(read, t, 0.0)
    pi = (t_read.sum(axis=0) + a) / (n_read + 2 * a)
    se = (np.einsum("rec,ec->rc", positive, t_read) + a) / (np.einsum("rec,ec->rc", observed, t_read) + 2 * a)
    f = np.where(read, 1.0 - t, 0.0)
    sp = (np.einsum("rec,ec->rc", negative, f) + a) / (np.einsum("rec,ec->rc", observed, f) + 2 * a)
    # With a = 0 and a reader perfect on the sample an estimate can reach 0 or 1; keep logs finite.
    eps = 1e-12
    return np.clip(pi, eps, 1 - eps), np.clip(se, eps, 1 - eps), np.clip(sp, eps, 1 - eps)


def _log_ratio(
    pi: FloatArray, se: FloatArray, sp: FloatArray, positive: FloatArray, negative: FloatArray
) -> FloatArray:
    when_positive = np.log(se) - np.log1p(-sp)  # log P(x=1 | y=1) / P(x=1 | y=0), (R, C)
    when_negative = np.log1p(-se) - np.log(sp)  # log P(x=0 | y=1) / P(x=0 | y=0)
    return (
        np.log(pi)
        - np.log1p(-pi)
        + np.einsum("rec,rc->ec", positive, when_positive)
        + np.einsum("rec,rc->ec", negative, when_negative)
    )
