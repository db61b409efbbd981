"""Agreement on qualifiers (annotations.lib.stats.qualifiers): among the reads that chose the statement
only, checked by hand on a tiny study and against statsmodels on a simulated one with known truth."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from annotations.lib.stats import MISSING
from annotations.lib.stats.qualifiers import qualifier_agreement, qualifier_reads


def test_a_read_that_did_not_choose_the_statement_says_nothing_of_its_qualifiers():
    statement = np.array([[1, 1, 0], [1, 0, MISSING]])  # reads[reader, exam]
    chosen = np.array([[[1, 0], [0, 0], [1, 1]], [[1, 1], [0, 1], [0, 0]]], dtype=bool)
    reads = qualifier_reads(statement, chosen)
    assert reads.tolist() == [
        [[1, 0], [0, 0], [MISSING, MISSING]],
        [[1, 1], [MISSING, MISSING], [MISSING, MISSING]],
    ]


def test_by_hand_two_readers_four_exams():
    """Both readers chose the statement on exams 0-2 (exam 3: reader B did not, so only A's read of the
    wall counts there). Qualifier 'inferior': A = 1 1 0, B = 1 0 0 on the shared exams -> observed
    agreement 2/3 over 3 pairable exams. Prevalence, each rated exam's share of positive reads (the
    module's convention for missing reads): (1 + 1/2 + 0 + 1) / 4 = 5/8; chance agreement
    (5/8)^2 + (3/8)^2 = 17/32; Fleiss' kappa = (2/3 - 17/32) / (1 - 17/32) = 13/45."""
    statement = np.array([[1, 1, 1, 1], [1, 1, 1, 0]])
    inferior = np.array([[1, 1, 0, 1], [1, 0, 0, 1]], dtype=bool)[..., None]
    result = qualifier_agreement(statement, inferior)
    assert result.n_pairable_exams[0] == 3
    assert result.observed_agreement[0] == pytest.approx(2 / 3)
    assert result.prevalence[0] == pytest.approx(5 / 8)
    assert result.fleiss_kappa[0] == pytest.approx(13 / 45)


def test_a_simulated_study_with_known_truth_matches_statsmodels_and_recovers_the_readers_accuracy():
    """400 exams, 3 readers; the finding is present on 60% and each reader marks it with probability 0.9
    where present. Where present its true wall is inferior (50%); a reader names the true wall with
    probability 0.9. On the exams all three chose the statement, Fleiss' kappa equals statsmodels'."""
    rng = np.random.default_rng(7)
    n_readers, n_exams = 3, 400
    present = rng.random(n_exams) < 0.6
    statement = (present & (rng.random((n_readers, n_exams)) < 0.9)).astype(np.int8)
    inferior_truth = rng.random(n_exams) < 0.5
    correct = rng.random((n_readers, n_exams)) < 0.9
    inferior = np.where(correct, inferior_truth, ~inferior_truth)
    result = qualifier_agreement(statement, inferior[..., None])

    complete = statement.all(axis=0)
    table, _ = aggregate_raters(inferior[:, complete].T.astype(int), n_cat=2)
    on_complete = qualifier_agreement(statement[:, complete], inferior[:, complete, None])
    assert on_complete.fleiss_kappa[0] == pytest.approx(fleiss_kappa(table, method="fleiss"))
    assert result.n_pairable_exams[0] > complete.sum()  # exams two of the three chose it count too
    # Two readers each right with p = 0.9 agree with probability 0.9^2 + 0.1^2 = 0.82; a balanced wall
    # makes chance 1/2, so kappa ~ (0.82 - 0.5) / 0.5 = 0.64.
    assert result.observed_agreement[0] == pytest.approx(0.82, abs=0.04)
    assert result.fleiss_kappa[0] == pytest.approx(0.64, abs=0.08)
