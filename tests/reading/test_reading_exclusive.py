"""The exclusive-set rule (pure function, also mirrored in static/js/ecg/paper.js)."""

from annotations.lib.exclusive_sets import Conflict, exclusive_conflicts

KINDS = {
    "NORM": "diagnostic",
    "SB": "diagnostic",
    "ST": "diagnostic",
    "RBBB": "diagnostic",
    "Q_POOR": "quality",
}
SETS = [["NORM", "*diagnostic*"], ["SB", "ST"]]


def test_normal_ecg_excludes_any_other_diagnosis():
    assert exclusive_conflicts(["NORM", "RBBB"], KINDS, SETS) == [Conflict("NORM", "RBBB")]


def test_normal_ecg_goes_with_a_quality_statement():
    assert exclusive_conflicts(["NORM", "Q_POOR"], KINDS, SETS) == []


def test_two_ordinary_diagnoses_do_not_conflict_through_the_token():
    assert exclusive_conflicts(["RBBB", "SB"], KINDS, SETS) == []


def test_sinus_bradycardia_excludes_sinus_tachycardia_in_either_order():
    assert exclusive_conflicts(["ST", "SB"], KINDS, SETS) == [Conflict("ST", "SB")]


def test_every_conflicting_pair_is_reported_once():
    found = exclusive_conflicts(["NORM", "SB", "ST"], KINDS, SETS)
    assert {frozenset((c.first, c.second)) for c in found} == {
        frozenset(("NORM", "SB")),
        frozenset(("NORM", "ST")),
        frozenset(("SB", "ST")),
    }
    assert len(found) == 3
