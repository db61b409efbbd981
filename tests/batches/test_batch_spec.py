"""One builder turns a batch request into a BatchSpec, whether it comes from the designer form, the API
or manage.py create_batch; blanks mean "not given" the same way for all three."""

from __future__ import annotations

from datetime import date

from annotations.selectors.batches.plan import BatchSpec
from annotations.selectors.batches.spec import batch_spec, exam_criteria
from annotations.selectors.exams.selection import ExamCriteria


def test_criteria_from_the_form_equal_those_from_the_api():
    form = {
        "datasets": ("code15",),
        "age_min": 40,
        "age_max": None,
        "sex": "",
        "reference_labels": " code15:RBBB, snomed:426177001 ,",
        "quality_grades": ["good", ""],
        "quality_without": None,
        "name": "not a criterion",
    }
    api = {
        "datasets": ["code15"],
        "age_min": 40,
        "sex": None,
        "reference_labels": ["code15:RBBB", "snomed:426177001"],
    }
    expected = ExamCriteria(
        datasets=["code15"],
        age_min=40,
        reference_labels=["code15:RBBB", "snomed:426177001"],
        quality_grades=["good", ""],
    )
    assert exam_criteria(form) == expected
    assert exam_criteria({**api, "quality_grades": ["good", ""]}) == expected
    assert exam_criteria(None) == ExamCriteria()


def test_a_spec_from_form_data_with_blanks_equals_one_from_api_data():
    common = {
        "name": "B1",
        "taxonomy_id": 3,
        "reader_ids": [5, 6],
        "readers_per_exam": 2,
        "sample_size": None,
        "strata": 4,
        "gold_fraction": 0.1,
        "retest_fraction": 0.0,
        "min_pair_overlap": 0,
        "suggestion_mode": "hidden",
        "due_date": date(2026, 12, 1),
        "seed": 7,
    }
    form = {
        **common,
        "stratify_provider": "",
        "stratify_code": "",
        "escalation": "",
        "escalation_cap": None,
        "exclude_seen": True,  # the designer's box is ticked from the start
        "criteria": {"sex": "", "reference_labels": ""},
    }
    api = {
        **common,
        "stratify_provider": None,
        "escalation": None,
        "escalation_cap": 1,
        "exclude_seen": True,
    }
    assert batch_spec(form) == batch_spec(api) == BatchSpec(**common, criteria=ExamCriteria())


def test_an_escalation_cap_given_is_kept_as_given():
    spec = batch_spec(
        {"name": "B", "taxonomy_id": 1, "reader_ids": [1], "readers_per_exam": 1, "escalation_cap": 0}
    )
    assert spec.escalation_cap == 0
