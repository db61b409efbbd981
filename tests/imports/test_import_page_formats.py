"""The import page names every format the importer reads, from the readers' own list: it named six of ten,
so a coordinator holding Philips XML, SCP-ECG or EDF files was told, in effect, that they were refused."""

from __future__ import annotations

import re

import pytest

from annotations.lib.formats.registry import FORMAT_NAMES, FORMATS

pytestmark = pytest.mark.django_db


def test_the_page_names_every_format_the_importer_reads(client_for, diego):
    page = client_for(diego).get("/imports/").content.decode()
    assert set(FORMAT_NAMES) == set(FORMATS)
    hint = page.split('id="import-formats"', 1)[1].split("</p>", 1)[0]
    for name in FORMAT_NAMES.values():
        assert name in hint
    options = dict(re.findall(r'<option value="([a-z0-9]*)"[^>]*>([^<]*)</option>', page))
    assert {key: options[key] for key in FORMATS} == FORMAT_NAMES
    assert "Philips" in hint and "SCP-ECG" in hint and "EDF" in hint
