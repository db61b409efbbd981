"""Consensus that respects the taxonomy and the readers: joint latent model per exclusive set, every
decided cell kept, no silent overrides, no latent rule on two reads, no consensus on too few reads.

Checked against simulated studies with a known truth (annotations.lib.stats.simulate, seeded)."""

import itertools

import numpy as np
import pytest

from annotations.lib.stats import (
    MISSING,
    ExclusiveSet,
    consensus_decide,
    dawid_skene,
    dawid_skene_multiclass,
    exclusive_violations,
    majority_vote,
    set_answers,
)
from annotations.lib.stats.simulate import ADVERSARIAL, CONFUSER, FAIR, GOOD, POOR, RHYTHM, simulate_study


# --- The multi-class model against references ------------------------------------------------------------
def test_multiclass_em_with_a_one_member_set_is_the_binary_dawid_skene():
    rng = np.random.default_rng(3)
    truth = rng.random(1500) < 0.3
    se, sp = np.array([0.9, 0.75, 0.6]), np.array([0.95, 0.7, 0.85])
    reads = (rng.random((3, 1500)) < np.where(truth, se[:, None], 1 - sp[:, None])).astype(np.int8)
    reads[rng.random((3, 1500)) < 0.2] = MISSING
    binary = dawid_skene(reads[:, :, None])
    joint = dawid_skene_multiclass(set_answers(reads[:, :, None], [0]), 2)
    np.testing.assert_allclose(joint.posterior[:, 0], binary.posterior[:, 0], atol=1e-10)
    np.testing.assert_allclose(joint.confusion[:, 0, 0], binary.sensitivity[:, 0], atol=1e-10)
    np.testing.assert_allclose(joint.confusion[:, 1, 1], binary.specificity[:, 0], atol=1e-10)
    np.testing.assert_allclose(joint.prior[0], binary.prevalence[0], atol=1e-10)
    assert joint.n_iterations == binary.n_iterations[0] and joint.converged == bool(binary.converged[0])
    assert joint.log_likelihood == pytest.approx(float(binary.log_likelihood[0]), abs=1e-8)


def _reference_em_step(answers, posterior, n_categories, a):
    """One EM step written out with loops (the textbook formulas), to check the vectorised one."""
    n_readers, n_exams = answers.shape
    answered = [e for e in range(n_exams) if any(answers[r, e] != MISSING for r in range(n_readers))]
    prior = [
        (sum(posterior[e][i] for e in answered) + a) / (len(answered) + n_categories * a)
        for i in range(n_categories)
    ]
    confusion = np.zeros((n_readers, n_categories, n_categories))
    for r, i in itertools.product(range(n_readers), range(n_categories)):
        mine = [e for e in answered if answers[r, e] != MISSING]
        total = sum(posterior[e][i] for e in mine)
        for j in range(n_categories):
            hits = sum(posterior[e][i] for e in mine if answers[r, e] == j)
            confusion[r, i, j] = (hits + a) / (total + n_categories * a)
    new = []
    for e in range(n_exams):
        weights = []
        for i in range(n_categories):
            w = prior[i]
            for r in range(n_readers):
                if answers[r, e] != MISSING:
                    w *= confusion[r, i, answers[r, e]]
            weights.append(w)
        new.append([w / sum(weights) for w in weights])
    return np.array(new)


def test_multiclass_em_follows_the_textbook_updates_step_by_step():
    answers = np.array(
        [[0, 1, 2, 3, 0, 1, MISSING, 2], [0, 0, 2, 3, 1, 1, 2, MISSING], [1, 1, 2, 0, 0, MISSING, 2, 2]],
        dtype=np.int8,
    )
    n_categories = 4
    # Start where the implementation starts: each exam's share of answers per category.
    counts = np.stack([(answers == i).sum(axis=0) for i in range(n_categories)], axis=1)
    posterior = counts / counts.sum(axis=1, keepdims=True)
    for steps in (1, 2, 5):
        expected = posterior
        for _ in range(steps):
            expected = _reference_em_step(answers, expected, n_categories, 1.0)
        fit = dawid_skene_multiclass(answers, n_categories, max_iterations=steps, tolerance=0.0)
        np.testing.assert_allclose(fit.posterior, expected, atol=1e-12)
        assert fit.n_iterations == steps and not fit.converged
    full = dawid_skene_multiclass(answers, n_categories)
    assert full.converged and 0 < full.n_iterations < 500
    np.testing.assert_allclose(full.posterior.sum(axis=1), 1.0)


# --- 1. Exclusive sets ---------------------------------------------------------------------------------
def _set_category(labels, columns):
    present = labels[:, columns] == 1
    return np.where(present.any(axis=1), present.argmax(axis=1), len(columns))


def test_joint_latent_consensus_never_puts_two_rhythms_on_one_exam_and_beats_per_class_estimates():
    # One good reader and two who take ST for SB 70% of the time.
    study = simulate_study(11, [GOOD, CONFUSER, CONFUSER], n_exams=3000)
    per_class = dawid_skene(study.reads).labels
    assert exclusive_violations(per_class, study.sets).any(axis=1).sum() > 50  # the defect, reproduced
    decision = consensus_decide(study.reads, method="latent", exclusive_sets=study.sets)
    assert not exclusive_violations(decision.value, study.sets).any()
    rhythm = list(range(len(RHYTHM)))
    truth = _set_category(study.truth, rhythm)
    joint = dawid_skene_multiclass(set_answers(study.reads, rhythm), len(rhythm) + 1)
    assert joint.converged
    assert (joint.labels == truth).mean() > 0.96
    assert (joint.labels == truth).mean() > (_set_category(per_class, rhythm) == truth).mean() + 0.05
    assert decision.latent["sets"][0]["converged"] and decision.latent["sets"][0]["iterations"] > 0


def test_majority_with_a_low_threshold_sends_both_conflicting_members_to_adjudication():
    sets = [ExclusiveSet((0, 1))]
    # Three readers: SB, ST, none. At threshold 0.3 both SB and ST have 1 of 3 > 0.3.
    reads = np.array([[[1, 0]], [[0, 1]], [[0, 0]]], dtype=np.int8)
    assert (majority_vote(reads, threshold=0.3).labels == 1).all()
    decision = consensus_decide(reads, threshold=0.3, exclusive_sets=sets)
    assert (decision.value == MISSING).all() and (decision.reason == "exclusive").all()


def test_normal_ecg_against_any_diagnosis_is_checked_through_the_token():
    # NORM (0) excludes every diagnosis (1, 2); two diagnoses together are fine.
    sets = [ExclusiveSet((0,), (1, 2))]
    reads = np.array([[[1, 0, 0]], [[1, 1, 1]], [[0, 1, 1]]], dtype=np.int8)
    decision = consensus_decide(reads, exclusive_sets=sets)
    assert decision.value.tolist() == [[MISSING, MISSING, MISSING]]
    assert decision.reason.tolist() == [["exclusive", "exclusive", "exclusive"]]
    fine = consensus_decide(np.array([[[0, 1, 1]], [[0, 1, 1]]], dtype=np.int8), exclusive_sets=sets)
    assert fine.value.tolist() == [[0, 1, 1]]


def test_readers_who_each_name_another_member_of_a_set_leave_it_to_a_human_not_to_none():
    """SR, SB and ST are one sinus rate (a set). Three readers each named one: every class had 1 of 3
    votes, so the majority decided all three absent and the exam went out with no rhythm, which no reader
    said (a statistician's walk). The readers' majority says one of the set is present: the members they
    named are disputed; a member nobody named stays decided absent."""
    sets = [ExclusiveSet((0, 1, 2)), ExclusiveSet((0, 3))]  # SR SB ST; SR AF
    reads = np.array([[[1, 0, 0, 0]], [[0, 1, 0, 0]], [[0, 0, 1, 0]]], dtype=np.int8)
    decision = consensus_decide(reads, exclusive_sets=sets)
    assert decision.value.tolist() == [[MISSING, MISSING, MISSING, 0]]
    assert decision.reason.tolist() == [["exclusive", "exclusive", "exclusive", ""]]
    # Two of four readers naming a member: the presence is a tie, disputed as a tie of one class is.
    four = np.array([[[1, 0, 0, 0]], [[0, 1, 0, 0]], [[0, 0, 0, 0]], [[0, 0, 0, 0]]], dtype=np.int8)
    assert consensus_decide(four, exclusive_sets=sets).value.tolist() == [[MISSING, MISSING, 0, 0]]
    # One of three: the majority says none of the set, and none it is.
    one = np.array([[[1, 0, 0, 0]], [[0, 0, 0, 0]], [[0, 0, 0, 0]]], dtype=np.int8)
    assert consensus_decide(one, exclusive_sets=sets).value.tolist() == [[0, 0, 0, 0]]
    # A member decided present ends the question, and so does an adjudicator's decision.
    two = np.array([[[1, 0, 0, 0]], [[1, 0, 0, 0]], [[0, 1, 0, 0]]], dtype=np.int8)
    assert consensus_decide(two, exclusive_sets=sets).value.tolist() == [[1, 0, 0, 0]]
    signed = np.full((1, 4), MISSING, dtype=np.int8)
    signed[0, 1] = 1
    settled = consensus_decide(reads, exclusive_sets=sets, adjudicated=signed)
    assert settled.value.tolist() == [[0, 0, 0, 0]] and (settled.reason == "").all()  # SB: the human's 1
    # A set covering others through a token ("normal" against every diagnosis) asks no such question.
    token = consensus_decide(reads[:, :, :2], exclusive_sets=[ExclusiveSet((0,), (1,))])
    assert token.value.tolist() == [[0, 0]]


def test_the_latent_rule_never_decides_none_of_a_set_every_reader_named_a_member_of():
    """Step 3's rule for a set: the estimate may weigh a split, but not overturn what every reader said.
    Three readers agree on 25 exams of each sinus rate, then name one each on 5: the joint model gives
    each member about a third, and decided all three absent."""
    sets = [ExclusiveSet((0, 1, 2))]
    agreed = [np.eye(3, dtype=np.int8)[member] for member in range(3) for _ in range(25)]
    reads = np.array([[exam for exam in agreed] for _ in range(3)])
    split = np.array([[np.eye(3, dtype=np.int8)[(r + e) % 3] for e in range(5)] for r in range(3)])
    reads = np.concatenate([reads, split], axis=1)
    decision = consensus_decide(reads, method="latent", exclusive_sets=sets)
    assert decision.latent_classes.all() and decision.latent_used.all()
    assert (decision.value[:75] == reads[0, :75]).all()
    assert (decision.value[75:] == MISSING).all() and (decision.reason[75:] == "exclusive").all()
    # Two of three naming a member is a split the estimate may settle either way.
    two = reads.copy()
    two[2, 75:] = 0
    assert consensus_decide(two, method="latent", exclusive_sets=sets).value[75:].min() >= 0


@pytest.mark.parametrize("method", ["majority", "latent"])
def test_no_decision_in_any_simulated_study_violates_an_exclusive_set(method):
    for seed, readers in enumerate([[GOOD, POOR, ADVERSARIAL], [GOOD, FAIR, POOR, ADVERSARIAL, CONFUSER]]):
        study = simulate_study(seed, readers, n_exams=800, reads_per_exam=3)
        for threshold in (0.3, 0.5):
            decision = consensus_decide(
                study.reads, method=method, threshold=threshold, exclusive_sets=study.sets
            )
            assert not exclusive_violations(decision.value, study.sets).any()


# --- 2. Every decided cell is kept ------------------------------------------------------------------------
def test_every_positive_decision_is_stored_and_a_latent_positive_without_votes_is_disputed():
    # Readers who take ST for SB: where they all answer SB, the joint model can call the exam ST, a
    # statement nobody marked.
    study = simulate_study(5, [GOOD, CONFUSER, CONFUSER], n_exams=2000)
    decision = consensus_decide(study.reads, method="latent", exclusive_sets=study.sets)
    # Every positive decision gets a stored row; only "absent by every read" cells are left implicit.
    assert (decision.stored | (decision.value != 1)).all()
    implicit = (decision.value != MISSING) & ~decision.stored
    assert (decision.value[implicit] == 0).all() and (decision.positive_votes[implicit] == 0).all()
    # The latent model calls some unmarked cells present: each one is disputed, none vanishes.
    no_votes = (decision.positive_votes == 0) & (decision.probability > 0.5) & ~decision.insufficient[:, None]
    assert no_votes.sum() > 0
    assert (decision.reason[no_votes] != "").all()


# --- 3. No silent overrides ---------------------------------------------------------------------------
def test_the_latent_rule_never_silently_overrides_unanimous_or_single_reads():
    study = simulate_study(21, [GOOD, POOR, ADVERSARIAL], n_exams=1500, skip_rate=0.3)
    decision = consensus_decide(study.reads, method="latent", min_reads=1, exclusive_sets=study.sets)
    n, k = decision.n_reads, decision.positive_votes
    said = np.where(k > 0, 1, 0)
    unanimous = (n >= 2) & ((k == 0) | (k == n))
    single = n == 1
    decided = decision.value != MISSING
    assert (decision.value[decided & (unanimous | single)] == said[decided & (unanimous | single)]).all()
    # Where the estimate disagreed with unanimous readers, a human decides, and the reason says so.
    overruled = decision.reason == "overruled"
    assert overruled.sum() > 0 and unanimous[overruled].all()
    # The recorded method is the rule that decided.
    assert (decision.method[decided & unanimous] == "unanimous").all()
    assert (decision.method[decided & single] == "single").all()
    assert not (decision.method[single] == "majority").any()
    assert set(np.unique(decision.method[decided & ~unanimous & ~single])) <= {"latent", "majority"}


# --- 4. Two reads: no latent rule ----------------------------------------------------------------------
def test_with_two_reads_a_split_is_a_tie_for_adjudication_not_a_latent_decision():
    study = simulate_study(8, [GOOD, FAIR, POOR, GOOD], n_exams=2000, reads_per_exam=2)
    decision = consensus_decide(study.reads, method="latent", exclusive_sets=study.sets)
    split = (decision.positive_votes == 1) & (decision.n_reads == 2)
    assert split.sum() > 100
    assert (decision.value[split] == MISSING).all()
    assert set(np.unique(decision.reason[split])) <= {"tie", "exclusive"}
    assert not decision.latent_used.any()
    assert not (decision.method == "latent").any()


def test_a_three_read_exam_uses_the_latent_rule_and_a_two_read_exam_of_the_same_batch_does_not():
    study = simulate_study(9, [GOOD, FAIR, POOR], n_exams=1500, skip_rate=0.15)
    decision = consensus_decide(study.reads, method="latent", exclusive_sets=study.sets)
    reads_per_exam = decision.n_reads.max(axis=1)
    assert (decision.latent_used == (reads_per_exam >= 3)).all()
    assert not (decision.method[reads_per_exam < 3] == "latent").any()
    assert (decision.method[reads_per_exam >= 3] == "latent").any()


# --- 5. Too few positive exams of a class: no latent rule on it ------------------------------------------
def test_a_two_of_three_read_in_a_three_exam_batch_is_decided_by_majority_not_flipped_by_the_latent_fit():
    # What a coordinator met on a 3-exam batch: AF read by two of three readers on one exam came out
    # "absent" under the latent rule. Seven parameters fitted from nine reads say nothing about who is
    # right; the readers' majority does.
    reads = np.array([[[1], [0], [0]], [[1], [0], [0]], [[0], [0], [0]]], dtype=np.int8)
    decision = consensus_decide(reads, method="latent")
    assert decision.value[:, 0].tolist() == [1, 0, 0]
    assert decision.method[0, 0] == "majority"
    assert not decision.latent_classes[0]
    assert decision.latent["positive_exams"] == [1]


def test_the_latent_rule_decides_a_class_only_with_enough_positive_exams_and_is_then_no_worse_than_majority():
    """Simulated studies with a known truth, 3 readers: per class, the latent fit is used on its split
    cells only once enough exams (read three or more times) carry a positive read of it. Below that it
    was wrong more often than the majority (bench/latent_minimum.py prints the study)."""
    from annotations.lib.stats.consensus import MIN_LATENT_POSITIVE_EXAMS

    wrong = {"latent": 0, "majority": 0}
    gated = used = 0
    for seed, n_exams in itertools.product(range(6), (10, 30, 100)):
        study = simulate_study(100 + seed, [GOOD, FAIR, POOR], n_exams=n_exams)
        decision = consensus_decide(study.reads, method="latent", exclusive_sets=study.sets)
        majority = consensus_decide(study.reads, method="majority", exclusive_sets=study.sets)
        positive_exams = ((decision.positive_votes > 0) & (decision.n_reads >= 3)).sum(axis=0)
        assert decision.latent_classes.tolist() == (positive_exams >= MIN_LATENT_POSITIVE_EXAMS).tolist()
        assert decision.latent["positive_exams"] == positive_exams.tolist()
        split = (decision.positive_votes > 0) & (decision.positive_votes < decision.n_reads)
        few = split & ~decision.latent_classes[None, :]
        # Where the class has too few positive exams the cell is the majority's, decision for decision
        # (unless step 5 held it back: an exclusive set also sees the other classes' decisions).
        same_sets = few & (decision.reason != "exclusive") & (majority.reason != "exclusive")
        assert (decision.value[same_sets] == majority.value[same_sets]).all()
        assert not (decision.method[few] == "latent").any()
        gated += int(few.sum())
        used += int((decision.method == "latent").sum())
        for name, made in (("latent", decision), ("majority", majority)):
            decided = split & (made.value != MISSING)
            wrong[name] += int((made.value[decided] != study.truth[decided]).sum())
    assert gated > 100 and used > 100  # both branches ran
    assert wrong["latent"] <= wrong["majority"]


# --- Too few reads ---------------------------------------------------------------------------------------
def test_an_exam_read_fewer_times_than_the_minimum_gets_no_consensus():
    reads = np.array([[[1, 0], [1, 0]], [[1, 0], [MISSING, MISSING]]], dtype=np.int8)
    decision = consensus_decide(reads, min_reads=2)
    assert decision.insufficient.tolist() == [False, True]
    assert decision.value[1].tolist() == [MISSING, MISSING] and decision.method[1].tolist() == ["", ""]
    assert (decision.reason[1] == "").all() and not decision.stored[1].any()
    assert decision.value[0].tolist() == [1, 0] and decision.method[0].tolist() == ["unanimous", "unanimous"]
    alone = consensus_decide(reads, min_reads=1)
    assert alone.value[1].tolist() == [1, 0] and alone.method[1].tolist() == ["single", "single"]


# --- Human decisions count in the exclusive sets ---------------------------------------------------------
def test_a_majority_against_an_adjudicated_member_of_a_set_is_disputed_and_the_rest_decided():
    """Classes 0 and 1 are exclusive; class 2 is free. Exam 0: 2 of 3 mark class 0, a human decided class
    1 present. Exam 1: the same majority, the human decided class 1 absent. Exam 2: no human at all."""
    sets = [ExclusiveSet(named=(0, 1))]
    by_exam = [  # per exam, each reader's row of classes
        [[1, 0, 1], [1, 0, 1], [0, 1, 0]],
        [[1, 0, 1], [1, 0, 1], [0, 1, 0]],
        [[0, 0, 0], [0, 0, 0], [0, 1, 0]],
    ]
    reads = np.array(by_exam, dtype=np.int8).transpose(1, 0, 2)
    human = np.full((3, 3), MISSING, dtype=np.int8)
    human[0, 1], human[1, 1] = 1, 0
    decided = consensus_decide(reads, exclusive_sets=sets, adjudicated=human, exam_chunk=2)
    plain = consensus_decide(reads, exclusive_sets=sets)
    assert decided.value[0, 0] == MISSING and decided.reason[0, 0] == "exclusive"
    assert decided.value[0, 2] == 1  # the free class is decided as before
    assert decided.value[1].tolist() == plain.value[1].tolist() == [1, 0, 1]  # absent by a human: no clash
    assert decided.value[2].tolist() == plain.value[2].tolist()
    assert not exclusive_violations(np.where(human != MISSING, human, decided.value), sets).any()
    with pytest.raises(ValueError, match="adjudicated has shape"):
        consensus_decide(reads, adjudicated=human[:2])
