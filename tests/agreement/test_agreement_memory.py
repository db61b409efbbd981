"""The recomputation of a large batch keeps its memory to the reads it decides: a cell's method and
dispute reason are one-byte codes (strings only when asked for), and the reader x class bootstrap builds
its float weights and features a chunk of exams at a time. Peaks are measured by tracemalloc, which
numpy reports its buffers to: allocation sizes, not timings."""

import tracemalloc

import numpy as np
import pytest

from annotations.lib.stats import MISSING, ExclusiveSet, consensus_decide, reader_class_table
from annotations.lib.stats import consensus as consensus_module


def _reads(n_readers: int, n_exams: int, n_classes: int, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    reads = (rng.random((n_readers, n_exams, n_classes)) < 0.1).astype(np.int8)
    reads[:, rng.random(n_exams) < 0.05] = MISSING  # some exams unread by all
    reads[0, rng.random(n_exams) < 0.2] = MISSING  # and some read by two only
    return reads


def _peak_mb(function) -> float:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_methods_and_reasons_are_one_byte_codes_decoded_on_demand():
    reads = np.array([[[1, 0, 1]], [[1, 0, 1]], [[0, 0, 1]]], dtype=np.int8)  # 3 readers, 1 exam
    reads = np.concatenate([reads, np.array([[[1, 1, 0]], [[1, 0, 0]], [[MISSING] * 3]], np.int8)], axis=1)
    decision = consensus_decide(reads, exclusive_sets=[ExclusiveSet((0, 2))])
    assert decision.method_code.dtype == np.uint8 and decision.reason_code.dtype == np.uint8
    assert decision.method.tolist() == [
        [consensus_module.METHODS[c] for c in row] for row in decision.method_code.tolist()
    ]
    assert decision.reason.tolist() == [
        [consensus_module.REASONS[c] for c in row] for row in decision.reason_code.tolist()
    ]
    assert (decision.disputed == (decision.reason != "")).all()
    # Exam 0: classes 0 and 2 both positive by majority break the set; exam 1: class 1 is a 1-1 tie.
    assert decision.reason.tolist() == [["exclusive", "", "exclusive"], ["", "tie", ""]]
    assert decision.method.tolist() == [["", "unanimous", ""], ["unanimous", "", "unanimous"]]


def test_to_dict_names_methods_and_reasons_as_strings():
    decision = consensus_decide(np.array([[[1, 0]], [[1, 1]]], dtype=np.int8))
    as_dict = decision.to_dict()
    assert as_dict["method"] == [["unanimous", ""]] and as_dict["reason"] == [["", "tie"]]
    assert "method_code" not in as_dict and "reason_code" not in as_dict


def test_a_dispute_added_by_the_caller_keeps_a_reason_already_given():
    decision = consensus_decide(np.array([[[1, 0]], [[1, 1]]], dtype=np.int8))
    decision.dispute(np.array([[True, True]]), "escalated")
    assert decision.reason.tolist() == [["escalated", "tie"]]
    assert decision.method.tolist() == [["unanimous", ""]]  # escalation sends the cell, it does not undecide


def test_deciding_holds_no_string_per_cell():
    reads = _reads(3, 20_000, 20)  # 400,000 cells: as "<U9" strings, 14 MB per method or reason array
    peak = _peak_mb(lambda: consensus_decide(reads))
    assert peak < 20, f"{peak:.1f} MB"


@pytest.mark.parametrize("method", ["majority", "latent"])
def test_a_decision_made_a_chunk_of_exams_at_a_time_is_the_same(method):
    reads = _reads(4, 3_000, 6, seed=11)
    sets = [ExclusiveSet((0, 1, 2)), ExclusiveSet((3,), (4, 5))]
    whole = consensus_decide(reads, method=method, exclusive_sets=sets, exam_chunk=10_000)
    chunked = consensus_decide(reads, method=method, exclusive_sets=sets, exam_chunk=97)
    for name in ("value", "method_code", "reason_code", "probability", "n_reads", "positive_votes"):
        np.testing.assert_array_equal(getattr(whole, name), getattr(chunked, name))
    assert whole.latent == chunked.latent and (whole.reason != "").any()


def test_reader_class_bootstrap_builds_its_floats_a_chunk_at_a_time():
    reads = _reads(3, 20_000, 10)
    reference = np.where(reads[1:].max(axis=0) == 1, 1, 0).astype(np.int8)
    # 200 resamples x 20,000 exams: 4 MB of counts, 16 MB as float32 weights.
    peak = _peak_mb(lambda: reader_class_table(reads, reference, n_resamples=200, seed=3, exam_chunk=1024))
    assert peak < 8, f"{peak:.1f} MB"


def test_reader_class_bootstrap_is_the_same_whatever_the_chunk():
    reads = _reads(3, 3_000, 6, seed=9)
    reference = np.where(reads.max(axis=0) == 1, 1, 0).astype(np.int8)
    whole = reader_class_table(reads, reference, n_resamples=100, seed=4, exam_chunk=10_000)
    chunked = reader_class_table(reads, reference, n_resamples=100, seed=4, exam_chunk=128)
    np.testing.assert_array_equal(whole.kappa_ci, chunked.kappa_ci)
    np.testing.assert_array_equal(whole.kappa_defined_fraction, chunked.kappa_defined_fraction)
