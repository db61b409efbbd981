"""The exam criteria options that manage.py create_batch and batch_add_exams both take, named as
ExamCriteria's fields for selectors.batches.spec, the builder the designer form and the API use too."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any


def add_criteria_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--dataset", action="append", default=[], help="Repeat for several datasets.")
    parser.add_argument("--age-min", type=int)
    parser.add_argument("--age-max", type=int)
    parser.add_argument("--sex", choices=["F", "M", "U"])
    parser.add_argument("--reference", action="append", default=[], help="SYSTEM:CODE reference label.")
    parser.add_argument(
        "--quality",
        action="append",
        default=[],
        choices=["good", "acceptable", "poor", "none"],
        help="Signal-quality grade to keep; repeat for several (none: not checked yet). Without it, every "
        "grade but poor.",
    )


def criteria_options(options: dict[str, Any]) -> dict[str, Any]:
    """The parsed criteria options under ExamCriteria's names."""
    return {
        "datasets": options["dataset"],
        "age_min": options["age_min"],
        "age_max": options["age_max"],
        "sex": options["sex"],
        "reference_labels": options["reference"],
        "quality_grades": ["" if grade == "none" else grade for grade in options["quality"]],
    }
