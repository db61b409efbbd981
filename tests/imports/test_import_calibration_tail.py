"""A cart's trailing calibration block (zeros, a 1 mV pulse on every lead, zeros) is no part of the
patient's ECG: the HL7 aECG reader trims it as the Philips reader does, and the import report says so."""

from __future__ import annotations

import re

import pytest

from annotations.models import Exam
from annotations.services.imports.exams import exams_import
from tests.importing import DATA, use_private_storage

pytestmark = pytest.mark.django_db
EXAMPLE = DATA / "hl7-aecg" / "Example_aECG.xml"  # 12 leads, 5000 samples at 500 Hz, 2.5 uV per count


@pytest.fixture
def blobs(settings, tmp_path):
    return use_private_storage(settings, tmp_path)


def with_tail(tmp_path, pulse: int) -> object:
    """The example with 0.1 s of zeros, 0.2 s at `pulse` counts and 0.1 s of zeros after every lead."""
    tail = " 0" * 50 + f" {pulse}" * 100 + " 0" * 50
    text = EXAMPLE.read_text(encoding="utf-8")
    text = re.sub(
        r"(<digits>)(.*?)(</digits>)", lambda m: m.group(1) + m.group(2) + tail + m.group(3), text, flags=re.S
    )
    path = tmp_path / "with_tail.xml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_trailing_1_mv_calibration_pulse_is_trimmed_and_reported(blobs, tmp_path):
    report = exams_import([with_tail(tmp_path, pulse=400)], dataset="aecg")
    [file] = report.files
    assert file.ok, file.error
    assert Exam.objects.get().n_samples == 5000  # the 200 samples of the block are gone
    [record] = file.records
    assert record.message == (
        "the trailing 1 mV calibration pulse and the zeros around it (0.40 s) were trimmed"
    )


def test_a_trailing_plateau_of_another_height_is_the_patients_and_kept(blobs, tmp_path):
    report = exams_import([with_tail(tmp_path, pulse=250)], dataset="aecg")
    [file] = report.files
    assert file.ok, file.error
    assert Exam.objects.get().n_samples == 5200
    assert file.records[0].message == ""
