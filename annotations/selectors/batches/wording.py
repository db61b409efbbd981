"""The batch design's problems and refusals (lib.batch_design.Problem) in the coordinator's language.

The design module is pure Python and says each problem in English; here each of its keys has the same
sentence as a translatable message with the same named values, so the designer page, its API and the
refusals of batch creation speak the language of whoever asked."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from annotations.lib.batch_design import DesignError, Problem
from annotations.models.exams import QUALITY_FLAG_CHOICES

_OVERLAP = _(
    "every reader pair should share at least %(wanted)s exams but the least-shared pair shares "
    "%(achieved)s: with %(exams)s exams, %(readers)s readers and %(readers_per_exam)s readers per exam a "
    "pair shares %(mean)s exams on average; about %(needed)s non-gold exams would be needed, or more "
    "readers per exam, or fewer readers"
)
_OVERLAP_ONE_READER = _(
    "every reader pair should share at least %(wanted)s exams but the least-shared pair shares "
    "%(achieved)s: with %(exams)s exams, %(readers)s readers and %(readers_per_exam)s readers per exam a "
    "pair shares %(mean)s exams on average; with one reader per exam no pair shares an exam unless it is "
    "gold, or more readers per exam, or fewer readers"
)

MESSAGES = {
    "reader_twice": _("a reader is listed twice"),
    "exam_twice": _("an exam is listed twice"),
    "readers_per_exam_below_one": _("readers per exam must be at least 1"),
    "readers_per_exam_above_readers": _(
        "%(readers_per_exam)s readers per exam were asked for but only %(readers)s readers chosen"
    ),
    "no_exam": _("a batch needs at least one exam"),
    "retest_fraction_range": _("the retest fraction must lie between 0 and 0.5"),
    "gold_outside_batch": _("gold exams not in the batch: %(exam_ids)s"),
    "no_stratum": _("at least one stratum is needed"),
    "short_of_readers": _(
        "%(exams)s exams cannot get their readers: the only readers left for them saw their dispute or "
        "were kept away from them (exam ids %(exam_ids)s)"
    ),
    "pair_overlap": _OVERLAP,
    "pair_overlap_one_reader": _OVERLAP_ONE_READER,
}


def _shown(name: str, value: int | float | str) -> str:
    # The design module writes the mean pair overlap rounded to one decimal; here the decimal mark is the
    # language's own ("2,5" in pt-BR). Rounded first: number_format cuts a float's digits (2.75 -> 2.7).
    if name == "mean":
        return number_format(Decimal(f"{value:.1f}"), 1)
    return str(value)


def problem_text(problem: Problem) -> str:
    """The problem in the active language."""
    values = {name: _shown(name, value) for name, value in problem.values.items()}
    return str(MESSAGES[problem.key]) % values


def design_error_text(error: DesignError) -> str:
    return problem_text(error.problem)


def problems_text(problems: list[Problem]) -> str:
    """Several problems as one refusal."""
    return "; ".join(problem_text(problem) for problem in problems)


def kept_back_text(kept: dict[str, Any]) -> str:
    """selectors.blinding kept_back_summary in a sentence per reader: how many exams were kept from them
    and why, for the batch page's message after adding readers or exams."""
    reasons = {
        "saw_dispute": gettext("saw the dispute"),
        "read_before": gettext("read, or to read, elsewhere"),
        "skipped_after_opening": gettext("skipped after opening"),
        "saw_suggestion": gettext("saw the suggestion"),
    }
    said = []
    for row in kept.get("by_reader", []):
        why = "; ".join(f"{row[key]} {text}" for key, text in reasons.items() if row.get(key))
        head = ngettext(
            "%(n)s exam was kept back from %(reader)s",
            "%(n)s exams were kept back from %(reader)s",
            row["exams"],
        ) % {"n": row["exams"], "reader": row["reader"]}
        said.append(f"{head}: {why}.")
    return " ".join(said)


def poor_flags_text(flags: dict[str, int]) -> str:
    """'flat lead (no signal) 6, noise 1': each flag in the words of the Exams list's filter."""
    words = dict(QUALITY_FLAG_CHOICES)
    return ", ".join(f"{words.get(flag, flag)} {n}" for flag, n in flags.items())


def poor_left_out_text(exams: int, flags: dict[str, int]) -> str:
    """Why a batch leaves exams out for their signal, and how to take them, for the designer's warnings,
    the message after adding exams, and a refusal when nothing else matches."""
    return ngettext(
        "%(n)s exam graded poor is left out (%(flags)s): its signal would give a reader noise or missing "
        "leads to read. Tick “poor” under Signal quality (quality_grades) to include it.",
        "%(n)s exams graded poor are left out (%(flags)s): their signal would give a reader noise or "
        "missing leads to read. Tick “poor” under Signal quality (quality_grades) to include them.",
        exams,
    ) % {"n": exams, "flags": poor_flags_text(flags)}
