"""The PTB Diagnostic ECG Database gives each record's date only in a header comment ("# ECG date:
01/10/1990", day first); its header line has no base date. The exam keeps that date, so that a coordinator
can filter and sort by it and a patient's records come in their order. Read independently with wfdb."""

from __future__ import annotations

import re
import shutil
from datetime import date

import pytest
import wfdb

from tests.importing import DATA, api_import, use_private_storage

pytestmark = pytest.mark.django_db
PTB = DATA / "wfdb/ptbdb/s0010_re.hea"


def _ptb_date() -> date:
    header = wfdb.rdheader(str(PTB.with_suffix("")))
    assert header.base_date is None
    (line,) = [c for c in header.comments if c.lower().startswith("ecg date")]
    day, month, year = map(int, re.search(r"(\d+)/(\d+)/(\d+)", line).groups())
    return date(year, month, day)


def test_a_ptb_record_keeps_the_date_its_header_comment_gives(
    client_for, diego, settings, tmp_path, django_capture_on_commit_callbacks
):
    assert _ptb_date() == date(1990, 10, 1)
    use_private_storage(settings, tmp_path)
    folder = settings.IMPORT_ROOT / "ptb"
    folder.mkdir(parents=True)
    for path in PTB.parent.glob("s0010_re.*"):
        shutil.copy(path, folder / path.name)
    client = client_for(diego)
    api_import(client, django_capture_on_commit_callbacks, "ptb", ["ptb"])
    (exam,) = client.get("/api/v1/exams/?dataset=ptb").json()["results"]
    assert exam["acquired_at"][:10] == "1990-10-01", exam["acquired_at"]
    on_the_day = client.get("/api/v1/exams/?dataset=ptb&acquired_from=1990-10-01&acquired_to=1990-10-01")
    assert [e["id"] for e in on_the_day.json()["results"]] == [exam["id"]]
