"""The audit's statistics (annotations.lib.stats.audit), pure numpy: the error rate of released labels per
class against a blinded re-read of a simple random sample, and one adjudicator against another. Checked by
hand, against statsmodels and sklearn, and by a simulation with a planted error rate."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.proportion import proportion_confint

from annotations.lib.stats import MISSING
from annotations.lib.stats.audit import adjudicator_agreement, audit_error_rates, audit_majority


def test_the_audit_label_is_the_majority_of_the_audit_reads_and_a_tie_is_no_label():
    positive = np.array([[2, 1], [1, 0], [0, 0]])
    total = np.array([[3, 2], [1, 1], [0, 0]])
    labels, ties = audit_majority(positive, total)
    assert labels.tolist() == [[1, MISSING], [1, 0], [MISSING, MISSING]]
    assert ties.tolist() == [[False, True], [False, False], [False, False]]


def test_a_hand_counted_audit_of_six_exams():
    # class 0: released 1 1 1 0 0 undecided; audit 1 0 1 0 1 1 -> compared 5, errors 2 (one FP, one FN)
    # class 1: released 0 0 0 0 0 0;          audit 0 0 tie 0 0 0 -> compared 5, errors 0, one tie
    released = np.array([[1, 0], [1, 0], [1, 0], [0, 0], [0, 0], [MISSING, 0]], dtype=np.int8)
    audited = np.array([[1, 0], [0, 0], [1, MISSING], [0, 0], [1, 0], [1, 0]], dtype=np.int8)
    ties = np.zeros_like(audited, dtype=bool)
    ties[2, 1] = True
    out = audit_error_rates(released, audited, ties, population=60)
    assert out.compared.tolist() == [5, 5]
    assert out.errors.tolist() == [2, 0]
    assert out.false_positives.tolist() == [1, 0] and out.false_negatives.tolist() == [1, 0]
    assert out.audit_negatives.tolist() == [2, 5] and out.audit_positives.tolist() == [3, 0]
    assert out.released_undecided.tolist() == [1, 0] and out.audit_ties.tolist() == [0, 1]
    assert out.error_rate.tolist() == pytest.approx([0.4, 0.0])
    assert out.false_positive_rate.tolist() == pytest.approx([0.5, 0.0])
    assert out.false_negative_rate[0] == pytest.approx(1 / 3) and np.isnan(out.false_negative_rate[1])
    assert out.sample == 6 and out.population == 60
    assert out.finite_population_correction == pytest.approx(np.sqrt(54 / 59))
    assert out.estimated_errors[0] == pytest.approx(24.0)


@pytest.mark.parametrize("errors,n", [(0, 10), (3, 40), (17, 200), (40, 40)])
def test_the_error_rate_interval_is_statsmodels_wilson_interval(errors, n):
    released = np.zeros((n, 1), dtype=np.int8)
    released[:errors] = 1
    audited = np.zeros((n, 1), dtype=np.int8)
    out = audit_error_rates(released, audited, np.zeros_like(audited, dtype=bool), population=10 * n)
    low, high = proportion_confint(errors, n, alpha=0.05, method="wilson")
    assert out.error_ci[:, 0] == pytest.approx([low, high], abs=1e-12)
    fp_low, fp_high = proportion_confint(errors, n, alpha=0.05, method="wilson")
    assert out.false_positive_ci[:, 0] == pytest.approx([fp_low, fp_high], abs=1e-12)


def _planted(seed: int, rates: tuple[float, ...], n_population: int = 400, n_sample: int = 200):
    """A population of released labels with a known share wrong per class, audited by three auditors who
    read the truth (the estimate measures disagreement with the audit: an error only where the audit is
    right)."""
    rng = np.random.default_rng(seed)
    truth = (rng.random((n_population, len(rates))) < 0.3).astype(np.int8)
    released = truth.copy()
    for c, rate in enumerate(rates):
        wrong = rng.choice(n_population, size=round(rate * n_population), replace=False)
        released[wrong, c] = 1 - released[wrong, c]
    sample = rng.choice(n_population, size=n_sample, replace=False)
    reads = np.broadcast_to(truth[sample], (3, n_sample, len(rates)))
    labels, ties = audit_majority(reads.sum(axis=0), np.full(reads.shape[1:], 3))
    return released[sample], labels, ties, (released != truth).mean(axis=0)


def test_a_planted_error_rate_of_400_exams_lies_in_the_interval():
    released, audited, ties, planted = _planted(seed=11, rates=(0.08, 0.02, 0.15))
    out = audit_error_rates(released, audited, ties, population=400)
    assert planted.tolist() == pytest.approx([0.08, 0.02, 0.15])
    assert np.all(out.error_ci[0] <= planted) and np.all(planted <= out.error_ci[1])


def test_the_interval_covers_the_planted_rate_about_95_times_in_100():
    covered = []
    for seed in range(300):
        released, audited, ties, planted = _planted(seed=seed, rates=(0.1,), n_sample=100)
        out = audit_error_rates(released, audited, ties, population=400)
        covered.append(out.error_ci[0, 0] <= planted[0] <= out.error_ci[1, 0])
    # Wilson ignores the finite population (100 of 400), so it is conservative: at least nominal.
    assert np.mean(covered) >= 0.93


def test_adjudicator_agreement_kappa_is_sklearn_s_with_a_bootstrap_interval():
    rng = np.random.default_rng(5)
    original = rng.random(120) < 0.4
    auditor = np.where(rng.random(120) < 0.15, ~original, original)
    exams = np.repeat(np.arange(60), 2)
    out = adjudicator_agreement(original, auditor, exams, seed=3)
    assert out["cells"] == 120 and out["exams"] == 60
    assert out["agreements"] == int((original == auditor).sum())
    assert out["kappa"] == pytest.approx(cohen_kappa_score(original, auditor), abs=1e-12)
    assert out["agreement"] == pytest.approx((original == auditor).mean())
    low, high = proportion_confint(out["agreements"], 120, method="wilson")
    assert out["agreement_ci"] == pytest.approx([low, high], abs=1e-12)
    assert out["kappa_ci"][0] < out["kappa"] < out["kappa_ci"][1]
    assert out == adjudicator_agreement(original, auditor, exams, seed=3)  # seeded


def test_adjudicator_agreement_of_nothing_is_empty():
    out = adjudicator_agreement(np.array([], bool), np.array([], bool), np.array([], int), seed=0)
    assert out["cells"] == 0 and out["kappa"] is None and out["kappa_ci"] == [None, None]
