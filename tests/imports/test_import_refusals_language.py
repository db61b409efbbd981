"""A Portuguese coordinator's upload is refused in Portuguese: an empty file, a file over the limit with its
size written with a decimal comma, an archive."""

from __future__ import annotations

import pytest
from django.test import Client

from annotations.models import ImportJob
from tests.importing import use_private_storage

pytestmark = pytest.mark.django_db

API = "/api/v1/imports/"
PORTUGUESE = {"HTTP_ACCEPT_LANGUAGE": "pt-BR,pt;q=0.9"}


@pytest.fixture
def coordinator(diego, settings, tmp_path) -> Client:
    use_private_storage(settings, tmp_path)
    client = Client()
    client.force_login(diego)
    return client


def _refused(client: Client, name: str, content: bytes, language: dict, **fields: str) -> str:
    upload = {"dataset": "site", "files": [_named(name, content)], **fields}
    response = client.post(API, upload, **language)
    assert response.status_code == 400, response.content
    assert not ImportJob.objects.exists()
    body = response.json()
    assert "detail" in body, body
    return body["detail"]


def _named(name: str, content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def test_an_upload_is_refused_in_portuguese_and_in_english_as_before(coordinator, settings):
    said = _refused(coordinator, "vazio.h5", b"", PORTUGUESE)
    assert said == "vazio.h5: o arquivo está vazio (0 bytes); nada foi importado"
    assert _refused(coordinator, "vazio.h5", b"", {}) == (
        "vazio.h5: the file is empty (0 bytes); nothing was imported"
    )
    settings.IMPORT_MAX_FILE_MB = 1
    said = _refused(coordinator, "grande.h5", b"\0" * (1536 * 1024), PORTUGUESE)
    assert said == "grande.h5: 1,5 MB passam do limite de envio de 1 MB (IMPORT_MAX_FILE_MB)"
    assert _refused(coordinator, "grande.h5", b"\0" * (1536 * 1024), {}) == (
        "grande.h5: 1.5 MB is over the upload limit of 1 MB (IMPORT_MAX_FILE_MB)"
    )
    said = _refused(coordinator, "exames.zip", b"PK\x03\x04" + b"\0" * 60, PORTUGUESE)
    assert said.startswith("exames.zip: é um arquivo compactado zip; arquivos compactados não são importados")
