"""An id no database column can hold (above 2^63 - 1, or zero and below) is bad input: 400 naming the
field, never a 500 from the driver, and nothing changes."""

from __future__ import annotations

import pytest

from annotations.models import Release, ReviewBatch

pytestmark = pytest.mark.django_db

HUGE = 2**63


@pytest.mark.parametrize("value", [HUGE, 0, -1])
def test_ids_beyond_any_column_are_refused_with_400(client_for, diego, ana, tnmg, value):
    client = client_for(diego)
    design = {"name": "Huge", "taxonomy_id": tnmg.pk, "reader_ids": [ana.pk], "readers_per_exam": 1}
    for url, body, field in (
        ("/api/v1/batches/preview/", {**design, "reader_ids": [value]}, "reader_ids"),
        ("/api/v1/batches/", {**design, "reader_ids": [ana.pk, value]}, "reader_ids"),
        ("/api/v1/batches/preview/", {**design, "taxonomy_id": value}, "taxonomy_id"),
        ("/api/v1/releases/", {"batches": [value]}, "batches"),
    ):
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 400, (url, body, response.status_code)
        assert field in response.json(), response.json()
    assert not ReviewBatch.objects.exists() and not Release.objects.exists()
