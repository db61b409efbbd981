"""A reader's latent sensitivity and specificity, checked against simulated studies with known readers.

The readers table gave the mean over classes of each class's MAP estimate, which the Beta(2, 2) prior
pulls towards 0.5 on every class: with 25-40 true positives per reader and class, a statistician's walk
measured 0.849 for a reader whose reads were 0.885 sensitive. Pooling the reader's reads over the classes
against the latent posterior (expected true positives over expected positives) keeps the prior to the
posterior alone, as the pooled figures beside it do."""

from __future__ import annotations

import numpy as np
import pytest

from annotations.lib.stats.latent import dawid_skene, reader_latent_accuracy
from annotations.lib.stats.reads import MISSING

SENSITIVITY = np.array([0.90, 0.80, 0.70, 0.95])
SPECIFICITY = np.array([0.95, 0.97, 0.90, 0.85])
PREVALENCE = np.array([0.10, 0.15, 0.20, 0.25, 0.30, 0.12])


def _study(seed: int, n_exams: int) -> np.ndarray:
    """Four readers, three of them drawn per exam; six independent classes."""
    rng = np.random.default_rng(seed)
    truth = rng.random((n_exams, PREVALENCE.size)) < PREVALENCE
    reads = np.full((SENSITIVITY.size, n_exams, PREVALENCE.size), MISSING, dtype=np.int8)
    for e in range(n_exams):
        for r in rng.choice(SENSITIVITY.size, 3, replace=False):
            reads[r, e] = rng.random(PREVALENCE.size) < np.where(truth[e], SENSITIVITY[r], 1 - SPECIFICITY[r])
    return reads


@pytest.mark.parametrize("n_exams", [300, 1000])
def test_pooled_latent_accuracy_recovers_the_simulated_readers_closer_than_the_class_mean(n_exams):
    errors, class_mean_errors = [], []
    for seed in range(12):
        reads = _study(seed, n_exams)
        fit = dawid_skene(reads)
        everywhere = np.ones(PREVALENCE.size, dtype=bool)
        sensitivity, specificity = reader_latent_accuracy(reads, fit.posterior, everywhere, everywhere)
        errors.append(np.concatenate([sensitivity - SENSITIVITY, specificity - SPECIFICITY]))
        class_mean_errors.append(
            np.concatenate(
                [fit.sensitivity.mean(axis=1) - SENSITIVITY, fit.specificity.mean(axis=1) - SPECIFICITY]
            )
        )
    errors, class_mean_errors = np.array(errors), np.array(class_mean_errors)
    readers = SENSITIVITY.size
    bias, class_mean_bias = errors[:, :readers].mean(), class_mean_errors[:, :readers].mean()
    assert class_mean_bias < -0.005  # the class mean's pull towards 0.5, which this measures against
    assert abs(bias) < 0.6 * abs(class_mean_bias)  # sensitivity: the prior's pull, cut by 40 % or more
    assert abs(errors[:, readers:].mean()) < 0.01  # specificity: many negatives, little prior
    assert np.abs(errors).mean() < np.abs(class_mean_errors).mean()


def test_a_reader_counts_only_the_classes_they_read_and_the_informative_ones():
    """Exams a reader did not read, and classes outside the mask, weigh nothing; a reader with no
    expected positive (or negative) among their reads has no figure."""
    reads = np.full((2, 4, 2), MISSING, dtype=np.int8)
    reads[0, :2] = [[1, 0], [0, 0]]
    reads[1, 2:] = [[1, 1], [1, 0]]
    posterior = np.array([[0.9, 0.1], [0.2, 0.1], [0.8, 0.6], [0.7, 0.2]])
    marked = np.array([True, False])
    sensitivity, specificity = reader_latent_accuracy(reads, posterior, marked, np.array([True, True]))
    assert sensitivity[0] == pytest.approx(0.9 / 1.1)
    assert sensitivity[1] == pytest.approx(1.0)
    assert specificity[0] == pytest.approx((0.8 + 0.9 + 0.9) / (0.1 + 0.8 + 0.9 + 0.9))
    assert specificity[1] == pytest.approx((0.8) / (0.2 + 0.3 + 0.4 + 0.8))
    none = reader_latent_accuracy(reads, posterior, np.array([False, False]), np.array([False, False]))
    assert np.isnan(none[0]).all() and np.isnan(none[1]).all()
