"""Request bodies are capped per endpoint and refused before they are read; `labels` is capped at the
taxonomy's size. (What the caps save in time is measured by bench/body_limits.py, never asserted.)"""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotations.models import Annotation, AuditEvent, ImportJob
from tests.importing import use_private_storage
from tests.reading.helpers import labels, queue, ref, shared_batch

pytestmark = pytest.mark.django_db
API = "/api/v1/reading/assignments"


def draft(client, assignment, body: dict | str):
    payload = body if isinstance(body, str) else json.dumps(body)
    return client.put(f"{API}/{ref(assignment)}/draft/", payload, content_type="application/json")


def test_a_draft_body_over_the_cap_is_refused_with_413_before_it_is_parsed(
    client_for, ana, diego, tnmg, settings
):
    batch = shared_batch(readers=[ana], coordinator=diego, taxonomy=tnmg)
    assignment = queue(batch, ana)[0]
    client = client_for(ana)
    # 4.3 MB of labels, as the tester sent: a valid body in every other respect.
    huge = {"labels": labels("SB") * 150_000, "comment": "", "revision": 0}
    response = draft(client, assignment, huge)
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert not Annotation.objects.filter(assignment=assignment).exists()


def test_more_labels_than_the_taxonomy_has_statements_are_refused(client_for, ana, diego, tnmg):
    batch = shared_batch(readers=[ana], coordinator=diego, taxonomy=tnmg)
    assignment = queue(batch, ana)[0]
    size = tnmg.classes.count()
    client = client_for(ana)
    response = draft(client, assignment, {"labels": labels("SB") * (size + 1), "revision": 0})
    assert response.status_code == 400
    assert f"at most {size}" in json.dumps(response.json())
    assert not Annotation.objects.filter(assignment=assignment).exists()
    # Within the cap the draft is stored as before.
    assert draft(client, assignment, {"labels": labels("SB"), "revision": 0}).status_code == 200


def test_another_readers_assignment_answers_404_even_with_too_many_labels(
    client_for, ana, bruno, diego, tnmg
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)
    bruno_slot = queue(batch, bruno)[0]
    response = draft(client_for(ana), bruno_slot, {"labels": labels("SB") * 500, "revision": 0})
    assert response.status_code == 404


def test_a_form_post_over_the_cap_is_refused_with_413(client, ana, settings):
    settings.REQUEST_MAX_BODY_BYTES = 64 * 1024
    body = "username=ana&password=" + "x" * (100 * 1024)
    response = client.post("/accounts/login/", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert not AuditEvent.objects.exists()


def test_uploads_take_bodies_far_over_the_global_cap(client_for, diego, settings, tmp_path):
    use_private_storage(settings, tmp_path)
    settings.REQUEST_MAX_BODY_BYTES = 64 * 1024
    note = SimpleUploadedFile("notes.txt", b"not an ECG\n" * 20_000)  # 220 kB
    response = client_for(diego).post("/imports/", {"files": [note], "dataset": "d", "amplitude_scale": "1"})
    assert response.status_code == 302
    assert ImportJob.objects.count() == 1


def test_an_upload_over_its_own_cap_is_refused_with_413_before_a_job_exists(client_for, diego, settings):
    settings.IMPORT_MAX_UPLOAD_MB = 1
    note = SimpleUploadedFile("big.h5", b"\0" * (1024 * 1024 + 1))
    client = client_for(diego)
    page = client.post("/imports/", {"files": [note], "dataset": "d", "amplitude_scale": "1"})
    assert page.status_code == 413
    note.seek(0)
    api = client.post("/api/v1/imports/", {"files": [note], "dataset": "d"})
    assert api.status_code == 413 and "too large" in api.json()["detail"]
    assert ImportJob.objects.count() == 0
