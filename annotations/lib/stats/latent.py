"""Latent-truth consensus (Dawid and Skene, 1979): binary per class, multi-class per exclusive set.

Pure numpy; ``reads[r, e, c]`` as in :mod:`.reads`. Both models are fitted by EM from the soft majority
vote with a MAP prior that keeps every probability strictly inside (0, 1); see each function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .reads import MISSING, BoolArray, FloatArray, JsonMixin, Reads, ReadsError, _ratio, as_reads


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
    if reads.shape[0] < 2:
        return _single_reader(reads)
    fit = _fit_in_blocks(reads, class_block, max_iterations, tolerance, pseudo_count)
    posterior, prevalence, sensitivity, specificity, log_likelihood, n_iterations, converged = fit
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


def _fit_in_blocks(
    reads: Reads, class_block: int, max_iterations: int, tolerance: float, a: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, npt.NDArray[np.int32], BoolArray]:
    """:func:`_dawid_skene_block` over ``class_block`` classes at a time, the results put together.

    Posterior (E, C), prevalence (C,), sensitivity and specificity (R, C), log-likelihood, iterations
    and convergence (C,): the class is the last axis of each, so a block fills ``[..., block]``.
    """
    n_readers, n_exams, n_classes = reads.shape
    out = (
        np.empty((n_exams, n_classes)),
        np.empty(n_classes),
        np.empty((n_readers, n_classes)),
        np.empty((n_readers, n_classes)),
        np.empty(n_classes),
        np.zeros(n_classes, dtype=np.int32),
        np.zeros(n_classes, dtype=bool),
    )
    for start in range(0, n_classes, class_block):
        block = slice(start, min(start + class_block, n_classes))
        fit = _dawid_skene_block(reads[:, :, block], max_iterations, tolerance, a)
        wholes: tuple[np.ndarray, ...] = out
        for whole, part in zip(wholes, fit, strict=True):
            whole[..., block] = part
    return out


def reader_latent_accuracy(
    reads: npt.ArrayLike,
    posterior: FloatArray,
    sensitive_classes: BoolArray,
    specific_classes: BoolArray,
    exam_block: int = 8192,
) -> tuple[FloatArray, FloatArray]:
    """Each reader's sensitivity and specificity against the latent truth, pooled over classes.

    ``se_r = sum T x / sum T`` and ``sp_r = sum (1 - T)(1 - x) / sum (1 - T)``, over the exams reader
    ``r`` read and the classes of ``sensitive_classes`` (resp. ``specific_classes``), with ``T`` the
    posterior: the expected true positives over the expected positives. The fit's own per-class
    ``sensitivity`` is a MAP estimate whose Beta(1 + a, 1 + a) prior weighs as 2a reads of every class;
    averaged over classes, it was 0.01-0.09 below simulated readers (1,000 down to 100 exams; the
    study in tests/agreement/test_latent_reader_accuracy.py), pooled here about half that. The prior still
    shapes the posterior. NaN where a reader has no expected positive (negative) to count. Summed
    ``exam_block`` exams at a time: a 100,000-exam batch's reads x posterior is hundreds of MB whole."""
    reads = as_reads(reads)
    n_readers, n_exams, _ = reads.shape
    sums = np.zeros((4, n_readers))  # expected TP, expected positives, expected TN, expected negatives
    for start in range(0, n_exams, exam_block):
        part = slice(start, min(start + exam_block, n_exams))
        t = np.asarray(posterior[part], dtype=float)
        for r in range(n_readers):
            x = reads[r, part]
            read = x != MISSING
            positive = np.where(read & sensitive_classes, t, 0.0)
            negative = np.where(read & specific_classes, 1.0 - t, 0.0)
            sums[:, r] += (positive[x == 1].sum(), positive.sum(), negative[x == 0].sum(), negative.sum())
    tp, pos, tn, neg = sums
    sensitivity = np.divide(tp, pos, out=np.full(n_readers, np.nan), where=pos > 0)
    specificity = np.divide(tn, neg, out=np.full(n_readers, np.nan), where=neg > 0)
    return sensitivity, specificity


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
    log_ratio: FloatArray = (
        np.log(pi)
        - np.log1p(-pi)
        + np.einsum("rec,rc->ec", positive, when_positive)
        + np.einsum("rec,rc->ec", negative, when_negative)
    )
    return log_ratio


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
    a = float(pseudo_count)
    one_hot = (_checked_answers(answers, n_categories)[:, :, None] == np.arange(n_categories)).astype(float)
    observed = one_hot.sum(axis=2)  # (R, E), one_hot is (R, E, K)
    n_answers = one_hot.sum(axis=0)  # (E, K)
    read = n_answers.sum(axis=1) > 0
    n_read = int(read.sum())
    t = np.where(read[:, None], n_answers / np.maximum(n_answers.sum(axis=1, keepdims=True), 1), 0.0)
    t, iterations, converged = _multiclass_em(t, one_hot, observed, read, a, max_iterations, tolerance)
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


def _multiclass_em(
    t: FloatArray,
    one_hot: FloatArray,
    observed: FloatArray,
    read: BoolArray,
    a: float,
    max_iterations: int,
    tolerance: float,
) -> tuple[FloatArray, int, bool]:
    """EM steps from the posterior ``t`` until none moves by more than ``tolerance``: the posterior, how
    many steps were taken and whether it converged."""
    n_read = int(read.sum())
    for iteration in range(1, max_iterations + 1):
        prior, confusion = _multiclass_m_step(t, one_hot, observed, read, n_read, a)
        new_t = np.where(read[:, None], _multiclass_e_step(prior, confusion, one_hot)[0], prior)
        change = float(np.abs(new_t - t).max(initial=0.0))
        t = new_t
        if change <= tolerance:
            return t, iteration, True
    return t, max_iterations, False


def _checked_answers(answers: npt.ArrayLike, n_categories: int) -> npt.NDArray[np.integer]:
    if n_categories < 2:
        raise ValueError("a latent category model needs at least two categories")
    answers = np.asarray(answers)
    if answers.ndim != 2:
        raise ReadsError(f"expected readers x exams answers, got shape {answers.shape}")
    if answers.size and (answers.min() < MISSING or answers.max() >= n_categories):
        raise ReadsError(f"answers must be categories 0..{n_categories - 1} or MISSING")
    return answers


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
