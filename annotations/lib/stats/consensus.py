"""Consensus labels from several readers: majority vote, unanimity, and a Dawid-Skene latent truth.

Pure numpy; ``reads[r, e, c]`` as in :mod:`.reads`. Consensus labels use the same encoding (1, 0, and
:data:`.reads.MISSING` where there is no decision: no reads, too few reads, or a tie).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .reads import MISSING, JsonMixin, Reads, ReadsError, as_reads
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


# --- Exclusive sets: a joint latent model per set ---------------------------------------------------------
@dataclass(frozen=True)
class MultiClassDawidSkene(JsonMixin):
    """Latent truth over one exclusive set: ``K`` statements and "none of them" (category ``K``).

    ``posterior[e, i]`` = P(exam e's truth is category i | answers); ``labels[e]`` its most probable
    category (MISSING where nobody answered). ``prior[i]`` is the fitted share of each category and
    ``confusion[r, i, j]`` = P(reader r answers j | truth i). ``pseudo_count`` is the ``a`` of the
    Dirichlet(1 + a) prior (see :func:`dawid_skene_multiclass`).
    """

    posterior: FloatArray
    labels: npt.NDArray[np.int8]
    prior: FloatArray
    confusion: FloatArray
    log_likelihood: float
    n_iterations: int
    converged: bool
    pseudo_count: float


def set_answers(reads: npt.ArrayLike, members: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """``answers[r, e]``: which member of an exclusive set reader r chose on exam e.

    ``i`` for ``members[i]``, ``len(members)`` for "none of them", MISSING where the reader did not read
    the exam or chose two members at once (a read the taxonomy forbids says nothing usable about which
    one is true; the reading service refuses such reads, imported files may still carry them).
    """
    reads = as_reads(reads)
    members = np.asarray(members, dtype=np.intp)
    chosen = reads[:, :, members] == 1  # (R, E, K)
    count = chosen.sum(axis=2)
    answers = np.where(count == 0, len(members), chosen.argmax(axis=2)).astype(np.int8)
    answers[(count > 1) | (reads[:, :, members[0]] == MISSING)] = MISSING
    return answers


def dawid_skene_multiclass(
    answers: npt.ArrayLike,
    n_categories: int,
    *,
    max_iterations: int = 500,
    tolerance: float = 1e-7,
    pseudo_count: float = 1.0,
) -> MultiClassDawidSkene:
    """Multi-class Dawid-Skene (1979) EM: one latent category per exam, a full confusion matrix per reader.

    ``answers[r, e]`` is a category in ``0 .. n_categories - 1`` or MISSING. Model: truth
    ``z_e ~ Categorical(prior)``; reader r answers ``j`` with probability ``confusion[r, z_e, j]``,
    independently given ``z_e``; missing answers carry no information.

    * E-step: ``log P(z_e = i | answers) = log prior_i + sum_{r answered e} log confusion[r, i, x_re]
      + const``.
    * M-step (MAP with a symmetric Dirichlet(1 + a) prior, ``a = pseudo_count``, on the category prior
      and on every row of every confusion matrix, which keeps every probability strictly positive):
      ``confusion[r, i, j] = (sum_e T_ei [x_re = j] + a) / (sum_{e answered by r} T_ei + K a)``,
      ``prior_i = (sum_{e answered} T_ei + a) / (#exams answered + K a)`` with ``K = n_categories``.

    Starts from the soft majority vote (each exam's share of answers per category), the basin where
    readers are better than chance; stops when no posterior moves by more than ``tolerance`` and says
    whether it got there (``converged``) and after how many iterations. With two categories this is
    exactly :func:`dawid_skene` (Beta(1 + a, 1 + a) is Dirichlet(1 + a) with K = 2).
    """
    if n_categories < 2:
        raise ValueError("a latent category model needs at least two categories")
    answers = np.asarray(answers)
    if answers.ndim != 2:
        raise ReadsError(f"expected readers x exams answers, got shape {answers.shape}")
    if answers.size and (answers.min() < MISSING or answers.max() >= n_categories):
        raise ReadsError(f"answers must be categories 0..{n_categories - 1} or MISSING")
    a = float(pseudo_count)
    one_hot = (answers[:, :, None] == np.arange(n_categories)).astype(float)  # (R, E, K)
    observed = one_hot.sum(axis=2)  # (R, E)
    n_answers = one_hot.sum(axis=0)  # (E, K)
    read = n_answers.sum(axis=1) > 0
    n_read = int(read.sum())
    t = np.where(read[:, None], n_answers / np.maximum(n_answers.sum(axis=1, keepdims=True), 1), 0.0)
    iterations, converged = 0, False
    for _ in range(max_iterations):
        prior, confusion = _multiclass_m_step(t, one_hot, observed, read, n_read, a)
        new_t = np.where(read[:, None], _multiclass_e_step(prior, confusion, one_hot)[0], prior)
        change = float(np.abs(new_t - t).max(initial=0.0))
        t = new_t
        iterations += 1
        if change <= tolerance:
            converged = True
            break
    prior, confusion = _multiclass_m_step(t, one_hot, observed, read, n_read, a)
    _, log_joint = _multiclass_e_step(prior, confusion, one_hot)
    log_likelihood = float(np.logaddexp.reduce(log_joint, axis=1)[read].sum())
    labels = t.argmax(axis=1).astype(np.int8)
    labels[~read] = MISSING
    return MultiClassDawidSkene(
        posterior=t,
        labels=labels,
        prior=prior,
        confusion=confusion,
        log_likelihood=log_likelihood,
        n_iterations=iterations,
        converged=converged,
        pseudo_count=a,
    )


def _multiclass_m_step(
    t: FloatArray, one_hot: FloatArray, observed: FloatArray, read: BoolArray, n_read: int, a: float
) -> tuple[FloatArray, FloatArray]:
    k = t.shape[1]
    t_read = np.where(read[:, None], t, 0.0)
    prior = (t_read.sum(axis=0) + a) / (n_read + k * a)
    counts = np.matmul(t_read.T[None], one_hot)  # (R, K, K): sum_e T_ei [x_re = j]
    totals = observed @ t_read  # (R, K): sum_{e answered by r} T_ei
    confusion = (counts + a) / (totals[:, :, None] + k * a)
    # With a = 0 a probability can reach 0; keep the logs finite (as the binary model does).
    eps = 1e-12
    return np.clip(prior, eps, None), np.clip(confusion, eps, None)


def _multiclass_e_step(
    prior: FloatArray, confusion: FloatArray, one_hot: FloatArray
) -> tuple[FloatArray, FloatArray]:
    log_joint = np.log(prior)[None, :] + np.matmul(one_hot, np.log(confusion).transpose(0, 2, 1)).sum(axis=0)
    log_norm = np.logaddexp.reduce(log_joint, axis=1, keepdims=True)
    return np.exp(log_joint - log_norm), log_joint


# --- Deciding the consensus of every cell ----------------------------------------------------------------
#: How a cell was decided; these strings are the stored Consensus methods.
DECIDED_UNANIMOUS = "unanimous"
DECIDED_MAJORITY = "majority"
DECIDED_LATENT = "latent"
DECIDED_SINGLE = "single"
#: Why a cell was left to a human; these strings are the stored DisputedLabel reasons.
DISPUTE_TIE = "tie"
DISPUTE_UNCERTAIN = "uncertain"
DISPUTE_OVERRULED = "overruled"
DISPUTE_EXCLUSIVE = "exclusive"
#: The latent model needs at least this many reads of an exam to be used on it: with two readers it is
#: not identifiable (a 1-1 split says nothing about who is right that the fitted rates did not assume).
MIN_LATENT_READS = 3


@dataclass(frozen=True)
class ExclusiveSet:
    """Class positions that must not be positive together on one exam.

    ``named`` are the statements the set names; ``others`` those it covers through a token such as
    '*diagnostic*' (every statement of that kind not named). Two named members conflict; a named member
    conflicts with any of ``others``; two of ``others`` do not conflict with each other.
    """

    named: tuple[int, ...]
    others: tuple[int, ...] = ()


def exclusive_violations(labels: npt.ArrayLike, sets: list[ExclusiveSet]) -> BoolArray:
    """``[e, c]``: cell c of exam e is positive together with another positive the sets forbid."""
    labels = np.asarray(labels)
    positive = labels == 1
    out = np.zeros(positive.shape, dtype=bool)
    for members in sets:
        named = np.asarray(members.named, dtype=np.intp)
        others = np.asarray(members.others, dtype=np.intp)
        n_named = positive[:, named].sum(axis=1) if named.size else np.zeros(len(positive), int)
        n_others = positive[:, others].sum(axis=1) if others.size else np.zeros(len(positive), int)
        # A named positive conflicts if any other member is positive; a token-covered one only if a
        # named member is.
        named_bad = (n_named + n_others) > 1
        others_bad = n_named > 0
        if named.size:
            out[:, named] |= positive[:, named] & named_bad[:, None]
        if others.size:
            out[:, others] |= positive[:, others] & others_bad[:, None]
    return out


@dataclass(frozen=True)
class ConsensusDecision(JsonMixin):
    """The consensus of every (exam, class) cell and how it was reached.

    ``value`` is 1, 0 or MISSING (no decision: disputed, or the exam is ``insufficient``); ``method``
    the rule that decided the cell (:data:`DECIDED_UNANIMOUS` ...) or "" where none did; ``reason`` why
    a cell is disputed ("" where it is not); ``probability`` the latent estimate under the latent rule,
    else the share of positive reads; ``insufficient[e]`` marks exams read fewer than
    ``min_reads`` times, which get no consensus at all; ``latent_used[e]`` exams the latent rule
    decided (enough reads). ``latent`` describes the fitted models (convergence, iterations, prior).
    """

    value: Reads
    method: npt.NDArray[np.str_]
    reason: npt.NDArray[np.str_]
    probability: FloatArray
    n_reads: npt.NDArray[np.int32]
    positive_votes: npt.NDArray[np.int32]
    insufficient: BoolArray
    latent_used: BoolArray
    latent: dict

    @property
    def disputed(self) -> BoolArray:
        return self.reason != ""

    @property
    def stored(self) -> BoolArray:
        """Cells that need a stored row: every decided cell except those agreed absent by every read
        (unanimously, or by the one reader), which a store may leave implicit."""
        decided = self.value != MISSING
        implicit = (self.value == 0) & (self.positive_votes == 0)
        return decided & ~implicit

    def exported(self) -> Reads:
        """What a release shows: the decision, 0 for implicit absent cells, MISSING where undecided."""
        return self.value.copy()


def latent_estimate(
    reads: Reads, sets: list[ExclusiveSet], *, pseudo_count: float = 1.0, binary: DawidSkene | None = None
) -> tuple[FloatArray, dict]:
    """P(present) per cell: binary Dawid-Skene per class, replaced for the named members of each
    exclusive set (two or more) by the joint model's marginals, so that at most one member of a set can
    exceed 0.5. A class named in several sets takes its estimate from the first. Returns the estimates
    and a JSON-ready description of the fits. ``binary`` reuses a per-class fit of these reads."""
    if binary is None:
        binary = dawid_skene(reads, pseudo_count=pseudo_count)
    posterior = binary.posterior.copy()
    fits = []
    done: set[int] = set()
    for members in sets:
        named = [c for c in members.named if c not in done]
        # A set nobody chose a member of needs no joint fit: every member is absent by every read.
        if len(named) < 2 or reads.shape[0] < 2 or not (reads[:, :, named] == 1).any():
            continue
        joint = dawid_skene_multiclass(set_answers(reads, named), len(named) + 1, pseudo_count=pseudo_count)
        posterior[:, named] = joint.posterior[:, : len(named)]
        done.update(named)
        fits.append(
            {
                "classes": named,
                "converged": joint.converged,
                "iterations": joint.n_iterations,
                "prior": joint.prior.tolist(),
                "log_likelihood": joint.log_likelihood,
            }
        )
    described = {
        "model": "Dawid-Skene EM: binary per class; multi-class (members + none) per exclusive set",
        "prior": f"Dirichlet(1 + a), a = {pseudo_count:g}, on prevalence and each reader's error rates (MAP)",
        "start": "soft majority vote",
        "tolerance": 1e-7,
        "max_iterations": 500,
        "converged": bool(binary.converged.all() and all(f["converged"] for f in fits)),
        "classes": {
            "converged": binary.converged.tolist(),
            "iterations": binary.n_iterations.tolist(),
        },
        "sets": fits,
    }
    return posterior, described


def consensus_decide(
    reads: npt.ArrayLike,
    *,
    method: str = DECIDED_MAJORITY,
    threshold: float = 0.5,
    latent_margin: float = 0.1,
    min_reads: int = 2,
    exclusive_sets: list[ExclusiveSet] | None = None,
    pseudo_count: float = 1.0,
    binary_fit: DawidSkene | None = None,
) -> ConsensusDecision:
    """Decide every cell by the batch's rule, leaving to a human what the rule cannot settle honestly.

    In order, per exam and class (``n`` reads, ``k`` positive):

    1. ``n < min_reads`` (exam read too few times): no consensus; the exam is ``insufficient``.
    2. ``n = 1`` (only when ``min_reads`` is 1): the reader's answer, method "single".
    3. every reader agrees (``k = 0`` or ``k = n``): their answer, method "unanimous"; under the latent
       rule, if the latent estimate says otherwise the cell is disputed ("overruled"), never flipped.
    4. readers disagree: under the majority rule, or the latent rule with fewer than
       :data:`MIN_LATENT_READS` reads, the majority at ``threshold`` decides ("majority"), an exact tie
       is disputed ("tie"); under the latent rule with enough reads the latent estimate decides
       ("latent"), one within ``latent_margin`` of 0.5 is disputed ("uncertain").
    5. any decided positives that an exclusive set forbids together are all disputed ("exclusive").

    ``binary_fit`` may pass :func:`dawid_skene` of the same reads (and ``pseudo_count``), already fitted
    for another purpose, so that it is not fitted twice.
    """
    reads = as_reads(reads)
    sets = list(exclusive_sets or [])
    if method not in (DECIDED_MAJORITY, DECIDED_LATENT):
        raise ValueError(f"unknown consensus method {method!r}")
    if min_reads < 1:
        raise ValueError("min_reads must be at least 1")
    n = (reads != MISSING).sum(axis=0, dtype=np.int32)
    k = (reads == 1).sum(axis=0, dtype=np.int32)
    n_exam = n.max(axis=1, initial=0) if n.size else np.zeros(reads.shape[1], np.int32)
    insufficient = n_exam < min_reads
    vote = majority_vote(reads, threshold=threshold)
    latent = method == DECIDED_LATENT and reads.shape[0] >= 2 and reads.shape[1] > 0
    if latent:
        posterior, described = latent_estimate(reads, sets, pseudo_count=pseudo_count, binary=binary_fit)
    else:
        # No latent model under the majority rule (or with one reader): the probability is the vote share.
        posterior, described = _ratio(k, n), {"converged": None, "classes": {}, "sets": []}
    latent_used = (n_exam >= MIN_LATENT_READS) & latent
    shape = n.shape
    value = np.full(shape, MISSING, dtype=np.int8)
    how = np.full(shape, "", dtype="<U9")
    reason = np.full(shape, "", dtype="<U9")
    single = n == 1
    agreed = (n >= 2) & ((k == 0) | (k == n))
    split = (n >= 2) & ~agreed
    by_latent = split & latent_used[:, None]
    by_vote = split & ~latent_used[:, None]
    # 2-3: single reads and unanimous cells keep what the readers said.
    value[single | agreed] = np.where(k > 0, 1, 0)[single | agreed]
    how[single] = DECIDED_SINGLE
    how[agreed] = DECIDED_UNANIMOUS
    if latent:
        contradicts = agreed & latent_used[:, None] & ((posterior > 0.5) != (k > 0))
        _dispute(value, how, reason, contradicts, DISPUTE_OVERRULED)
    # 4: disagreement.
    value[by_vote] = vote.labels[by_vote]
    how[by_vote] = DECIDED_MAJORITY
    _dispute(value, how, reason, by_vote & vote.tied, DISPUTE_TIE)
    value[by_latent] = np.where(posterior > 0.5, 1, 0)[by_latent]
    how[by_latent] = DECIDED_LATENT
    _dispute(value, how, reason, by_latent & (np.abs(posterior - 0.5) < latent_margin), DISPUTE_UNCERTAIN)
    # 1: too few reads: nothing at all.
    value[insufficient] = MISSING
    how[insufficient] = ""
    reason[insufficient] = ""
    # 5: exclusive sets hold in whatever is released.
    _dispute(value, how, reason, exclusive_violations(value, sets), DISPUTE_EXCLUSIVE)
    described = {**described, "min_latent_reads": MIN_LATENT_READS, "used": bool(latent)}
    return ConsensusDecision(
        value=value,
        method=how,
        reason=reason,
        probability=np.asarray(posterior, dtype=float),
        n_reads=n,
        positive_votes=k,
        insufficient=insufficient,
        latent_used=latent_used,
        latent=described,
    )


def _dispute(
    value: Reads, how: npt.NDArray[np.str_], reason: npt.NDArray[np.str_], where: BoolArray, why: str
):
    value[where] = MISSING
    how[where] = ""
    reason[where & (reason == "")] = why
