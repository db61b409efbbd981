"""The batch design: exact k, fair loads, spread pairs, gold for all, retests later. Pure, no database."""

import itertools
import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from annotations.lib.batch_design import (
    DesignError,
    DesignRequest,
    design_batch,
    expected_pair_overlap,
    lowest_stratum_bound,
    rejection_draws,
    sample_positions,
    sample_random,
    sample_stratified,
    stratified_positions,
    stratum_of,
)


def request(n_exams=60, n_readers=6, k=2, **options):
    return DesignRequest(
        exam_ids=list(range(1000, 1000 + n_exams)),
        reader_ids=list(range(1, n_readers + 1)),
        readers_per_exam=k,
        **options,
    )


def first_reads(design):
    return [s for s in design.slots if s.read_round == 1]


@pytest.mark.parametrize(
    ("n_exams", "n_readers", "k"),
    [(n, r, k) for n in (1, 7, 50, 123) for r in (1, 2, 3, 5, 8) for k in (1, 2, 3) if k <= r],
)
def test_every_exam_gets_exactly_k_distinct_readers_with_loads_within_one(n_exams, n_readers, k):
    design = design_batch(request(n_exams, n_readers, k, seed=n_exams * 31 + n_readers))
    per_exam = Counter(s.exam_id for s in first_reads(design))
    assert len(per_exam) == n_exams and set(per_exam.values()) == {k}
    pairs = Counter((s.reader_id, s.exam_id) for s in first_reads(design))
    assert set(pairs.values()) == {1}
    assert max(design.loads.values()) - min(design.loads.values()) <= 1


def test_every_reader_pair_shares_the_minimum_when_the_design_allows_it():
    design = design_batch(request(60, 6, 2, min_pair_overlap=3, seed=4))
    assert expected_pair_overlap(60, 6, 2) == 4.0
    assert design.min_pair_overlap >= 3
    assert design.problems == []
    for a, b in itertools.combinations(range(6), 2):
        shared = {s.exam_id for s in first_reads(design) if s.reader_id == a + 1} & {
            s.exam_id for s in first_reads(design) if s.reader_id == b + 1
        }
        assert design.pair_overlap[a, b] == len(shared)


def test_pair_overlap_is_spread_evenly_not_left_to_chance():
    design = design_batch(request(150, 6, 2, seed=1))
    upper = [design.pair_overlap[a, b] for a, b in itertools.combinations(range(6), 2)]
    assert max(upper) - min(upper) <= 2


def test_the_designer_says_when_the_minimum_overlap_cannot_be_met_and_what_would_meet_it():
    design = design_batch(request(10, 6, 2, min_pair_overlap=3, seed=4))
    assert len(design.problems) == 1
    message = str(design.problems[0])
    assert "should share at least 3 exams" in message
    assert "about 45 non-gold exams would be needed" in message


def test_the_same_seed_gives_the_same_design_and_another_seed_another():
    assert design_batch(request(seed=9)).slots == design_batch(request(seed=9)).slots
    assert design_batch(request(seed=9)).slots != design_batch(request(seed=10)).slots


def test_gold_exams_go_to_every_reader_and_count_in_every_pair():
    gold = [1000, 1001, 1002]
    design = design_batch(request(30, 4, 2, gold_exam_ids=gold, seed=2))
    for reader in range(1, 5):
        reader_gold = {s.exam_id for s in design.slots if s.reader_id == reader and s.is_gold}
        assert reader_gold == set(gold)
    assert design.min_pair_overlap >= 3
    regular = Counter(s.exam_id for s in first_reads(design) if not s.is_gold)
    assert set(regular.values()) == {2}


def test_retests_come_back_to_the_same_reader_after_the_gap():
    design = design_batch(request(80, 4, 2, retest_fraction=0.1, retest_min_gap=10, seed=3))
    retests = [s for s in design.slots if s.read_round == 2]
    assert len(retests) == 4 * 4  # 10% of each reader's 40 exams
    for retest in retests:
        first = next(
            s
            for s in design.slots
            if (s.reader_id, s.exam_id, s.read_round) == (retest.reader_id, retest.exam_id, 1)
        )
        assert retest.position >= first.position + 10


def test_each_queue_is_numbered_from_zero_without_gaps():
    design = design_batch(request(25, 3, 2, retest_fraction=0.2, seed=8))
    for reader in (1, 2, 3):
        positions = sorted(s.position for s in design.slots if s.reader_id == reader)
        assert positions == list(range(len(positions)))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"k": 4, "n_readers": 3}, "4 readers per exam were asked for but only 3"),
        ({"k": 0}, "at least 1"),
        ({"n_exams": 0}, "at least one exam"),
        ({"retest_fraction": 0.9}, "between 0 and 0.5"),
        ({"gold_exam_ids": [5]}, "gold exams not in the batch: [5]"),
    ],
)
def test_impossible_requests_are_refused_with_the_reason(options, message):
    with pytest.raises(DesignError, match=message.replace("[", r"\[").replace("]", r"\]")):
        design_batch(request(**options))


def test_a_queue_too_short_for_the_retest_gap_gets_fewer_retests_and_says_so():
    """Fewer retests than asked is told, not a refusal of the whole design: the retests that fit are
    placed, and the coordinator decides whether that is enough."""
    design = design_batch(request(10, 2, 1, retest_fraction=0.5, retest_min_gap=10, seed=1))
    assert not [s for s in design.slots if s.read_round == 2]
    # 5 exams each, half of them (round(2.5) = 2) to be retested, and no room for a gap of 10.
    assert design.problems == []
    assert (design.retests_asked, design.retests_unplaced) == (4, 4)


def test_a_retest_fraction_that_rounds_to_no_retest_is_told_with_the_fraction_that_gives_one():
    design = design_batch(request(16, 2, 1, retest_fraction=0.05, seed=1))  # 8 exams a reader: 0.4
    assert not [s for s in design.slots if s.read_round == 2] and design.problems == []
    assert design.retests_asked == 0 and design.retest_fraction_for_one == pytest.approx(1 / 8)


def test_a_random_sample_is_reproducible_from_its_seed_and_never_repeats_an_exam():
    pool = list(range(500))
    first = sample_random(pool, 50, seed=3)
    assert first == sample_random(list(reversed(pool)), 50, seed=3)
    assert len(set(first)) == 50 and set(first) <= set(pool)
    assert first != sample_random(pool, 50, seed=4)
    assert sample_random(pool[:10], 50, seed=3) == pool[:10]


def test_a_stratified_sample_enriches_rare_high_scoring_exams():
    # 1,000 exams, 2% of them with a high score for a rare class.
    scores = {i: (0.9 if i < 20 else 0.05) for i in range(1000)}
    sample = sample_stratified(scores, 100, seed=1, strata=2)
    high = [i for i in sample.exam_ids if scores[i] >= 0.5]
    assert len(sample.exam_ids) == 100
    assert len(high) == 20  # every rare positive: 20% of the sample instead of 2%
    assert sample.available == [980, 20] and sample.taken == [80, 20]


def test_a_stratified_sample_takes_equal_shares_when_every_stratum_has_enough():
    scores = {i: (i % 100) / 100 for i in range(2000)}
    sample = sample_stratified(scores, 200, seed=5, strata=4)
    assert sample.taken == [50, 50, 50, 50]
    assert sample == sample_stratified(scores, 200, seed=5, strata=4)


def _sample_as_drawn_before(pool, n, seed):
    """How a sample was drawn when the whole pool was loaded: batches designed then are drawn again."""
    pool = sorted(pool)
    return pool if n >= len(pool) else sorted(random.Random(seed).sample(pool, n))


@pytest.mark.parametrize(("size", "n", "seed"), [(500, 50, 3), (40, 39, 1), (3_000, 2_000, 7), (10, 50, 0)])
def test_sample_positions_are_the_places_of_the_exams_sample_random_draws(size, n, seed):
    pool = random.Random(size).sample(range(10**6), size)
    ordered = sorted(pool)
    places = sample_positions(size, n, seed)
    assert places == sorted(places) and len(set(places)) == len(places)
    drawn = [ordered[i] for i in places]
    assert drawn == sample_random(pool, n, seed) == _sample_as_drawn_before(pool, n, seed)


def test_stratified_positions_are_the_places_of_the_exams_sample_stratified_draws():
    scores = {i * 7: ((i * 37) % 100) / 100 for i in range(3_000)}
    sample = sample_stratified(scores, 500, seed=9, strata=4)
    strata = [sorted(e for e in scores if min(int(scores[e] * 4), 3) == s) for s in range(4)]
    taken, places = stratified_positions([len(s) for s in strata], 500, seed=9)
    assert taken == sample.taken
    assert sorted(strata[s][i] for s, chosen in enumerate(places) for i in chosen) == sample.exam_ids
    # As drawn when every score was loaded: one seeded generator over the strata, lowest first.
    rng = random.Random(9)
    pairs = zip(strata, sample.taken, strict=True)
    before = sorted(e for members, take in pairs for e in rng.sample(members, take))
    assert sample.exam_ids == before


@given(strata=st.integers(1, 10), score=st.floats(0.0, 1.0))
def test_every_score_under_the_lowest_strata_bound_is_in_the_lowest_stratum(strata, score):
    """What lets the designer read only the scores at or above the bound."""
    if score < lowest_stratum_bound(strata):
        assert stratum_of(score, strata) == 0


@pytest.mark.parametrize("strata", range(2, 11))
def test_the_lowest_strata_bound_is_under_the_first_edge_by_far_less_than_a_stratum(strata):
    edge = 1 / strata
    assert edge * (1 - 1e-5) < lowest_stratum_bound(strata) < edge
    assert stratum_of(lowest_stratum_bound(strata), strata) == 0


@pytest.mark.parametrize("seed", range(25))
def test_a_reader_kept_away_from_some_exams_still_leaves_the_loads_as_even_as_they_can_be(seed):
    # Reader 3 saw the dispute of 6 of the 15 exams (so may read at most 9); 30 reads to hand out.
    exams = list(range(1, 16))
    design = design_batch(
        DesignRequest(
            exam_ids=exams, reader_ids=[1, 2, 3], readers_per_exam=2, seed=seed, excluded={3: exams[:6]}
        )
    )
    assert sorted(design.loads.values()) == [9, 10, 11]
    assert design.loads[3] == 9 and not design.problems


@pytest.mark.parametrize("seed", range(10))
def test_with_several_readers_kept_away_from_different_exams_every_free_reader_is_within_one(seed):
    rng = random.Random(seed)
    exams = list(range(1, 121))
    excluded = {reader: rng.sample(exams, 12) for reader in (1, 2, 3)}
    design = design_batch(
        DesignRequest(
            exam_ids=exams, reader_ids=list(range(1, 7)), readers_per_exam=3, seed=seed, excluded=excluded
        )
    )
    assert max(design.loads.values()) - min(design.loads.values()) <= 1, design.loads


@pytest.mark.parametrize(
    ("size", "n", "seed"),
    [
        (2_735_269, 100_000, 0),  # a 100,000-exam sample of CODE-II
        (2_735_269, 1_000, 12345),
        (1_000_003, 1_000, 2**40 + 3),  # a seed wider than one word
        (2**22, 3, 1),  # few draws: a set of 21 entries against the population
        (2**22 + 1, 700, 9),  # one more bit to draw than the size needs
        (4_200, 1_000, 4),  # a population not much larger than the set of draws
        (1_048_598, 100_000, 2),
        (30, 6, 0),
    ],
)
def test_sample_positions_draw_what_python_random_sample_draws(size, n, seed):
    """A seed's sample is Python's random.sample of the places, whatever computes it: batches designed
    with a seed are drawn again the same."""
    assert sample_positions(size, n, seed) == sorted(random.Random(seed).sample(range(size), n))


@pytest.mark.parametrize(
    ("size", "n", "seed"), [(2_735_269, 100_000, 0), (2**22 + 1, 700, 9), (4_200, 1_000, 4)]
)
def test_draws_by_rejection_are_computed_apart_from_python_and_agree_with_it(size, n, seed):
    drawn = rejection_draws(size, n, seed)
    assert drawn is not None and drawn.tolist() == sorted(random.Random(seed).sample(range(size), n))


def test_a_population_walked_as_a_list_is_left_to_python():
    assert rejection_draws(4_000, 1_000, 4) is None  # random.sample's table of 4,117 holds it
    assert rejection_draws(2**33, 10, 1) is None  # more than one word a draw
