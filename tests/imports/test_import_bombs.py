"""Decompression bombs uploaded through the import API, one per format that decompresses or decodes a
declared size: each is refused by the job before the decoder runs, naming the file and the bound, with
nothing stored. bench/decoder_bombs.py prints the time and memory each refusal takes."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from tests.data.hostile.bombs import BOMBS
from tests.importing import DATA, use_private_storage
from tests.imports.test_import_hostile_uploads import (
    nothing_stored,
    refused_by_the_job,
    still_serving,
    upload,
)

pytestmark = pytest.mark.django_db

# file name, and what the refusal says: the bound, never the decoder's own failure.
REFUSALS = {
    "philips": ("bomb.xml", "refused before decoding: lead 1 would decode to more than"),
    "dicom": ("bomb.dcm", "deflated DICOM data inflate to more than 256 MB (IMPORT_MAX_INFLATED_MB)"),
    "cpsc2018": ("bomb.mat", "MATLAB compressed variables inflate to more than 256 MB"),
    "scp": ("bomb.scp", "1,500,000 samples are declared but"),
    "muse": ("bomb.xml", "declares 2000000000 samples per lead, more than the limit"),
    "edf": ("bomb.edf", "truncated or lying header"),
}


@pytest.fixture
def blobs(settings, tmp_path):
    return use_private_storage(settings, tmp_path)


@pytest.fixture
def diegos_client(diego) -> Client:
    client = Client()
    client.force_login(diego)
    return client


def test_every_bomb_maker_has_a_refusal():
    assert set(REFUSALS) == set(BOMBS)


@pytest.mark.parametrize("fmt", sorted(BOMBS))
def test_a_bomb_is_refused_before_it_is_decoded(
    fmt, blobs, diegos_client, tmp_path, django_capture_on_commit_callbacks
):
    name, reason = REFUSALS[fmt]
    path = BOMBS[fmt](tmp_path / f"made-{name}")
    assert path.stat().st_size < 1024 * 1024  # small on disk: the whole point of a bomb
    response = upload(diegos_client, [(name, Path(path).read_bytes())], django_capture_on_commit_callbacks)
    refused_by_the_job(response, name, reason)
    nothing_stored(blobs)
    still_serving(diegos_client)


@pytest.mark.parametrize(
    "name", ["129DYPRG_v1.03_heartstartMRx.XML", "2020-5-18_15-48-11_v1.04.01_pagewriterTC.xml"]
)
def test_the_xli_count_is_what_sierraecg_decodes_on_real_files(name):
    """The bound is only a bound if it counts what the decoder produces: on real carts' files, byte for
    byte, lead for lead."""
    import base64
    import re

    from sierraecg.lzw import LzwDecoder

    from annotations.lib.formats.xli_bound import lead_decoded_bytes, xli_chunks

    raw = (DATA / "philips-xml" / name).read_bytes()
    text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode("utf-8")
    match = re.search(r"<parsedwaveforms[^>]*>(.*?)</parsedwaveforms>", text, re.S)
    chunks = xli_chunks(base64.b64decode("".join(match.group(1).split())))
    assert len(chunks) == 16  # 12 leads and 4 more the cart stores; the decoder decodes all 16
    for chunk in chunks:
        decoder, decoded = LzwDecoder(chunk, bits=10), 0
        while decoder.read() != -1:
            decoded += 1
        assert lead_decoded_bytes(chunk, 10**9) == decoded
