"""The reader's answers are typed dataclasses (selectors.reading) that the API's serializers read attribute by
attribute: a field on one side only would be dropped from the answer, or fail it, and the published schema
would no longer say what is sent. Each pair must name the same fields."""

from __future__ import annotations

from dataclasses import fields

import pytest

from annotations.api import reading as api
from annotations.selectors.reading import context, corrections, explanations, serial

PAIRS = [
    (context.ReadingContext, api.ReadingContextSerializer),
    (context.ContextAssignment, api.ContextAssignmentSerializer),
    (context.QueueCounts, api.QueueCountsSerializer),
    (context.ContextExam, api.ContextExamSerializer),
    (context.ContextAnnotation, api.ContextAnnotationSerializer),
    (context.BlindRead, api.BlindReadSerializer),
    (context.ContextSuggestion, api.ContextSuggestionSerializer),
    (context.SuggestedScore, api.SuggestedScoreSerializer),
    (corrections.Correction, api.CorrectionSerializer),
    (corrections.ReturnedRead, api.ReturnedReadSerializer),
    (explanations.Explanations, api.ExplanationsSerializer),
    (explanations.ScalarOutput, api.ScalarOutputSerializer),
    (explanations.RelevanceBand, api.RelevanceBandSerializer),
    (serial.SerialOverlay, api.SerialOverlaySerializer),
    (serial.SerialSide, api.SerialSideSerializer),
    (serial.SerialMeasurements, api.SerialMeasurementsSerializer),
    (serial.SerialRow, api.SerialRowSerializer),
]


@pytest.mark.parametrize(("shape", "serializer"), PAIRS, ids=[shape.__name__ for shape, _ in PAIRS])
def test_each_reader_payload_shape_names_the_fields_its_serializer_answers(shape, serializer):
    assert [f.name for f in fields(shape)] == list(serializer().fields)


def test_a_statement_list_is_written_once_and_a_new_one_afresh():
    """The frozen statement list is one shared dict per taxonomy and language: its written form is kept."""
    listed = {"groups": [{"key": "rhythm", "label": "Rhythm", "classes": []}], "exclusive_sets": []}
    first = api.ContextTaxonomySerializer().to_representation(listed)
    assert api.ContextTaxonomySerializer().to_representation(listed) is first
    changed = {**listed, "exclusive_sets": [["AF", "SR"]]}
    assert api.ContextTaxonomySerializer().to_representation(changed)["exclusive_sets"] == [["AF", "SR"]]
