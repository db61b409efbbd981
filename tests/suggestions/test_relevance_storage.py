"""Stored relevance bands: one row per suggestion, class and method, whose bytes match their declared
shape; the database refuses anything else, whoever writes it."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from annotations.models import Suggestion, SuggestionRelevance
from tests.factories import ExamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def suggestion():
    return Suggestion.objects.create(exam=ExamFactory(), provider="tiny-net", provider_version="1")


def band(suggestion, **fields) -> SuggestionRelevance:
    values = {"code": "AF", "method": "occlusion", "leads": 12, "bins": 3, "bin_ms": 10.0, "data": bytes(36)}
    values.update(fields)
    return SuggestionRelevance.objects.create(suggestion=suggestion, **values)


def test_a_band_whose_bytes_match_its_shape_is_stored_once_per_class_and_method(suggestion):
    band(suggestion)
    band(suggestion, method="provider")
    band(suggestion, code="RBBB", leads=1, data=bytes(3))
    with pytest.raises(IntegrityError), transaction.atomic():
        band(suggestion)
    assert SuggestionRelevance.objects.filter(suggestion=suggestion).count() == 3


@pytest.mark.parametrize(
    "fields",
    [
        {"data": bytes(35)},  # one byte short of 12 x 3
        {"leads": 2, "data": bytes(6)},
        {"bins": 0, "data": b""},
        {"bin_ms": 0.0},
        {"method": "gradcam"},
        {"peak": -0.1},
    ],
)
def test_the_database_refuses_a_band_that_does_not_hold_together(suggestion, fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        band(suggestion, **fields)
