"""A cart's infarct line names the wall and the age: imported, it maps to the TNMG statement and its
qualifiers (the electrically inactive area, inferior and acute), through the import API and the exam API."""

from __future__ import annotations

import pytest

from annotations.models import Exam
from tests.importing import DATA, use_private_storage

pytestmark = pytest.mark.django_db
MUSE = DATA / "muse-xml/musePHI_muse_ecg1_MAC55_simulator.xml"


@pytest.fixture
def blobs(settings, tmp_path):
    return use_private_storage(settings, tmp_path)


def _imported(client, statement: str, django_capture_on_commit_callbacks) -> tuple[list, dict]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotations.tasks import imports_run

    content = MUSE.read_bytes().replace(b"No significant change.", statement.encode())
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            "/api/v1/imports/", {"dataset": "muse", "files": [SimpleUploadedFile(MUSE.name, content)]}
        )
    assert response.status_code == 201 and len(callbacks) == 1
    job_id = response.json()["id"]
    imports_run.apply(args=(job_id,)).get()
    outcomes = client.get(f"/api/v1/imports/{job_id}/").json()["outcomes"]
    exam = client.get(f"/api/v1/exams/{Exam.objects.get().pk}/").json()
    return outcomes, exam


@pytest.mark.parametrize(
    "statement, qualifiers",
    [
        ("Inferior infarct, acute (LCx)", ["inferior", "acute"]),
        ("Anteroseptal infarct, age undetermined", ["anterior", "septal"]),
        ("Possible Lateral infarct, old", ["lateral", "old"]),
    ],
)
def test_a_cart_infarct_line_maps_to_the_inactive_area_with_its_wall_and_age(
    statement, qualifiers, blobs, tnmg, client_for, diego, django_capture_on_commit_callbacks
):
    outcomes, exam = _imported(client_for(diego), statement, django_capture_on_commit_callbacks)
    assert not [o for o in outcomes if o["outcome"] == "unmapped"]
    found = [f for f in exam["reference_findings"] if f["code"] == "EIA"]
    assert found == [{"code": "EIA", "qualifiers": qualifiers}]
