"""The exam criteria are checked by one validator (services.batches.criteria) for the designer page and the
API alike: the same bad criteria are refused with the same words on both."""

from __future__ import annotations

import pytest

from annotations.models import ReviewBatch
from tests.batches.test_batch_pages import design_post
from tests.batches.test_designer_model_scores import scored_archive  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db

# (the designer page's fields, the API's criteria, the words both answer)
CASES = {
    "ages swapped": (
        {"age_min": 60, "age_max": 40},
        {"age_min": 60, "age_max": 40},
        "the lowest age is above the highest",
    ),
    "scores swapped": (
        {"score_window": "m:AF", "suggestion_min": "0.8", "suggestion_max": "0.2"},
        {"suggestion_provider": "m", "suggestion_code": "AF", "suggestion_min": 0.8, "suggestion_max": 0.2},
        "the lowest score is above the highest",
    ),
    "bounds without a model score": (
        {"suggestion_min": "0.5"},
        {"suggestion_min": 0.5},
        "choose the model score whose window these bounds are",
    ),
}


@pytest.mark.usefixtures("scored_archive")
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_the_page_and_the_api_refuse_the_same_bad_criteria_in_the_same_words(
    client_for,
    diego,
    ana,
    tnmg,
    case,
):
    page_fields, criteria, words = CASES[case]
    client = client_for(diego)
    page = client.post(
        "/batches/new/", design_post(tnmg, [ana], readers_per_exam=1, action="preview", **page_fields)
    )
    assert page.status_code == 200 and 'id="design-preview"' not in page.content.decode()
    assert words in page.content.decode()
    body = {
        "name": "Refused",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk],
        "readers_per_exam": 1,
        "criteria": {"datasets": ["archive"], **criteria},
    }
    for url in ("/api/v1/batches/preview/", "/api/v1/batches/"):
        api = client.post(url, body, content_type="application/json")
        assert api.status_code == 400, (url, api.content)
        assert words in api.content.decode(), (url, api.json())
    assert not ReviewBatch.objects.exists()


def test_a_window_naming_the_model_without_its_statement_is_refused_by_the_api():
    """Only the API can name one half of a window (the page chooses both at once)."""
    from annotations.services.batches.criteria import criteria_problems

    assert set(criteria_problems({"suggestion_provider": "m"})) == {"suggestion_code"}
    assert set(criteria_problems({"suggestion_code": "AF", "suggestion_min": 0.1})) == {"suggestion_provider"}
    assert (
        criteria_problems({"suggestion_provider": "m", "suggestion_code": "AF", "suggestion_min": 0.1}) == {}
    )
    assert set(criteria_problems({"imported_from": "2024-02-01", "imported_to": "2024-01-01"})) == {
        "imported_from"
    }
