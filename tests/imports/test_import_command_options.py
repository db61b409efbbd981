"""The import command checks its options as the import API does: an amplitude scale outside the range
the API accepts (negative flips every tracing, 0 blanks it, NaN blames the file) is refused before any
file is read."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from annotations.models import Exam

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("scale", ["-1", "0", "nan", "inf", "5000", "abc"])
def test_an_amplitude_scale_outside_the_apis_range_is_refused(scale, tmp_path):
    with pytest.raises(CommandError, match="amplitude scale"):
        call_command(
            "import_exams", str(tmp_path), "--dataset", "d", "--amplitude-scale", scale, "--no-progress"
        )
    assert not Exam.objects.exists()


def test_the_api_and_the_command_share_the_range(client_for, diego):
    answer = client_for(diego).post(
        "/api/v1/imports/",
        {"dataset": "d", "paths": ["x"], "amplitude_scale": -1},
        content_type="application/json",
    )
    assert answer.status_code == 400 and "amplitude_scale" in answer.json()


def test_export_labels_refuses_a_folder_in_use_and_a_date_that_is_not_one(tmp_path):
    """Its files would mix with what the folder holds (a backup, say), and the card would carry the text
    'notadate' as its release date."""
    used = tmp_path / "used"
    used.mkdir()
    (used / "MANIFEST.json").write_text("{}")
    with pytest.raises(CommandError, match="is not empty"):
        call_command("export_labels", "--batch", "1", "--out", str(used))
    with pytest.raises(CommandError, match="an ISO 8601 date"):
        call_command("export_labels", "--batch", "1", "--out", str(tmp_path / "new"), "--date", "notadate")
    assert not (tmp_path / "new").exists()


def test_a_metadata_file_that_is_not_there_is_named_before_anything_is_read(tmp_path):
    """With DICOM input a missing --metadata was ignored; with HDF5 the HDF5 file was blamed."""
    with pytest.raises(CommandError, match=r"metadata file .*nonexist\.csv not found"):
        call_command(
            "import_exams",
            str(tmp_path),
            "--dataset",
            "d",
            "--metadata",
            str(tmp_path / "nonexist.csv"),
            "--no-progress",
        )
    assert not Exam.objects.exists()
