"""A preview's design figures without the slots: the same overlap, loads and problems design_batch gives,
whenever they do not depend on the draw; otherwise no outline (the preview designs in full)."""

import random

import numpy as np
import pytest

from annotations.lib.batch_design import DesignError, DesignRequest, design_batch, design_outline


def outline_and_design(**fields):
    request = DesignRequest(**fields)
    return design_outline(request), design_batch(request)


@pytest.mark.parametrize("seed", range(8))
def test_the_outline_is_the_designs_figures_when_every_reader_reads_every_exam(seed):
    rng = random.Random(seed)
    readers = rng.sample(range(1, 50), rng.randint(1, 5))
    exams = rng.sample(range(1, 10_000), rng.randint(1, 300))
    outline, design = outline_and_design(
        exam_ids=exams,
        reader_ids=readers,
        readers_per_exam=len(readers),
        seed=seed,
        gold_exam_ids=rng.sample(exams, rng.randint(0, len(exams) // 4)),
        min_pair_overlap=rng.choice([0, len(exams), len(exams) + 1]),
        excluded={readers[0]: set()},
    )
    assert outline is not None and outline.slots == []
    assert np.array_equal(outline.pair_overlap, design.pair_overlap)
    assert outline.loads == design.loads and outline.problems == design.problems
    assert outline.min_pair_overlap == design.min_pair_overlap and outline.short_exam_ids == []


@pytest.mark.parametrize(
    "fields",
    [
        {"readers_per_exam": 2},
        {"retest_fraction": 0.2},
        {"excluded": {1: {5}}},
        {"existing_loads": {1: 3}},
    ],
)
def test_no_outline_when_the_draw_decides_the_figures(fields):
    request = DesignRequest(
        **{"exam_ids": list(range(1, 40)), "reader_ids": [1, 2, 3], "readers_per_exam": 3, **fields}
    )
    assert design_outline(request) is None


def test_an_impossible_request_is_refused_as_design_batch_refuses_it():
    with pytest.raises(DesignError, match="readers per exam"):
        design_outline(DesignRequest(exam_ids=[1, 2], reader_ids=[1], readers_per_exam=2))
