"""The hostile corpus (tests/data/hostile, made by make_hostile.py): every file refused, nothing stored."""

import os

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from annotations.models import Exam, ReferenceLabel
from annotations.services.imports.exams import ImportOptions, ImportRefused, exams_import
from tests.data.hostile.make_hostile import gzip_bomb, nested_archive, quadratic_blowup, zip_bomb
from tests.importing import DATA, HOSTILE, blob_files, use_private_storage, write_code15

pytestmark = pytest.mark.django_db


@pytest.fixture
def blobs(settings, tmp_path):
    return use_private_storage(settings, tmp_path)


def refused(blobs, path, message, **options):
    report = exams_import([path], dataset="hostile", options=ImportOptions(**options))
    assert report.files_failed == 1
    error = report.files[0].error
    assert str(path) in error and message in error, error
    assert Exam.objects.count() == 0 and ReferenceLabel.objects.count() == 0
    assert blob_files(blobs) == []
    return error


def test_an_hdf5_external_link_is_refused(blobs):
    refused(blobs, HOSTILE / "hdf5_external_link.h5", "HDF5 external link /tracings -> /etc/passwd")


def test_an_hdf5_dataset_with_external_storage_is_refused(blobs):
    refused(blobs, HOSTILE / "hdf5_external_storage.h5", "keeps its data in external files")


def test_an_hdf5_virtual_dataset_is_refused(blobs):
    refused(blobs, HOSTILE / "hdf5_virtual_dataset.h5", "HDF5 virtual dataset /tracings is refused")


def test_an_hdf5_file_declaring_too_many_records_is_refused_before_reading(blobs):
    refused(blobs, HOSTILE / "hdf5_too_many_records.h5", "declares 2000000 records, more than the limit")


def test_an_hdf5_tracing_declaring_too_many_samples_is_refused(blobs):
    refused(blobs, HOSTILE / "hdf5_too_long.h5", "declares 3000000 samples per lead, more than the limit")


def test_nan_samples_fail_the_whole_file_naming_the_record(blobs):
    refused(blobs, HOSTILE / "hdf5_nan_and_inf.h5", "record 9002: row 1: NaN or infinite samples")


def test_skip_invalid_imports_the_valid_records_and_reports_the_rest(blobs):
    report = exams_import(
        [HOSTILE / "hdf5_nan_and_inf.h5"], dataset="hostile", options=ImportOptions(skip_invalid=True)
    )
    assert report.files_failed == 0
    assert [(r.record, r.outcome) for r in report.files[0].records if r.outcome == "error"] == [
        ("9002", "error"),
        ("9003", "error"),
    ]
    assert list(Exam.objects.values_list("external_id", flat=True)) == ["9001"]
    assert len(blob_files(blobs)) == 1


def test_a_wfdb_header_whose_sample_count_does_not_match_the_data_is_refused(blobs):
    refused(blobs, HOSTILE / "wfdb_short_data.hea", "the sample count does not match the data")


def test_a_wfdb_header_naming_a_signal_file_outside_its_folder_is_refused(blobs):
    refused(blobs, HOSTILE / "wfdb_escape.hea", "'../escape.dat', which points outside its folder")


def test_a_wfdb_header_declaring_ten_billion_samples_is_refused(blobs):
    refused(blobs, HOSTILE / "wfdb_huge.hea", "declares 10000000000 samples per lead")


def test_a_wfdb_header_declaring_200_signals_is_refused(blobs):
    refused(blobs, HOSTILE / "wfdb_many_signals.hea", "declares 200 signals, more than the limit of 64")


def test_xml_with_entity_expansion_is_refused(blobs):
    refused(blobs, HOSTILE / "aecg_billion_laughs.xml", "entity expansion is refused")


def test_xml_with_an_external_entity_is_refused(blobs):
    refused(blobs, HOSTILE / "muse_external_entity.xml", "entity expansion is refused")


def test_a_cpsc_file_with_infinite_samples_is_refused(blobs):
    refused(blobs, HOSTILE / "cpsc_inf.mat", "record cpsc_inf: NaN or infinite samples")


def test_a_ptbxl_database_naming_a_record_outside_its_folder_is_refused(blobs):
    refused(blobs, HOSTILE / "ptbxl_escape", "points outside its folder")


def test_an_hdf5_file_declaring_a_trillion_samples_in_a_few_kb_is_refused_before_reading(blobs):
    refused(blobs, HOSTILE / "hdf5_trillion_samples.h5", "stores 0 bytes of them: expanding over 100x")


def test_a_wfdb_header_declaring_fewer_samples_than_its_data_is_refused(blobs):
    refused(blobs, HOSTILE / "wfdb_long_data.hea", "the sample count does not match the data")


def test_xml_with_an_external_dtd_is_refused_without_fetching_it(blobs):
    refused(blobs, HOSTILE / "aecg_external_dtd.xml", "names its DTD by URL")


def test_xml_with_a_parameter_entity_is_refused(blobs):
    refused(blobs, HOSTILE / "muse_parameter_entity.xml", "entity expansion is refused")


def test_xml_with_a_quadratic_blowup_is_refused(blobs, tmp_path):
    path = tmp_path / "aecg_quadratic.xml"
    path.write_text(quadratic_blowup())
    refused(blobs, path, "entity expansion is refused")


def test_a_cpsc_file_with_nan_samples_is_refused(blobs):
    refused(blobs, HOSTILE / "cpsc_nan.mat", "record cpsc_nan: NaN or infinite samples")


def test_a_ptbxl_database_naming_an_absolute_path_is_refused(blobs):
    refused(blobs, HOSTILE / "ptbxl_absolute", "points outside its folder")


@pytest.mark.parametrize("make", [zip_bomb, nested_archive, gzip_bomb])
def test_an_archive_given_by_path_is_refused_unopened(blobs, tmp_path, make):
    path = make(tmp_path / "tracings.h5")  # the name says HDF5; the bytes say archive
    refused(blobs, path, "archives are not imported")


def test_a_file_over_the_size_limit_is_refused_unread(blobs, settings, tmp_path):
    settings.IMPORT_MAX_FILE_MB = 1
    big = tmp_path / "big.h5"
    with open(big, "wb") as handle:  # sparse: 2 MB on paper, nothing on disk
        handle.truncate(2 * 1024 * 1024)
    refused(blobs, big, "over the import limit of 1 MB")


def test_a_real_file_over_the_size_limit_is_counted_as_one_refused_file_not_its_records(
    blobs, settings, client_for, diego, django_capture_on_commit_callbacks
):
    """The plan counted the records of a file over the limit before refusing it: the job then said
    "Done 24000 / 24000 records read" of a file it never read."""
    from tests.importing import api_import

    write_code15(settings.IMPORT_ROOT, exams=[(i, 4096) for i in range(1, 7)], name="big.hdf5")
    assert (settings.IMPORT_ROOT / "big.hdf5").stat().st_size > 1024 * 1024
    settings.IMPORT_MAX_FILE_MB = 1
    client = client_for(diego)
    job = api_import(client, django_capture_on_commit_callbacks, "big", ["big.hdf5"])
    shown = client.get(f"/api/v1/imports/{job}/").json()
    assert (shown["total"], shown["done"], shown["created"]) == (1, 1, 0)
    assert "over the import limit of 1 MB" in str(shown)


def test_paths_outside_the_import_root_are_refused_for_uploads_and_the_api(blobs, settings):
    with pytest.raises(ImportRefused, match="outside the import root"):
        exams_import(["../../etc"], dataset="x", options=ImportOptions(confine_to=settings.IMPORT_ROOT))
    os.symlink(DATA / "wfdb", settings.IMPORT_ROOT / "link")  # a symlink out is no way around it
    with pytest.raises(ImportRefused, match="outside the import root"):
        exams_import(["link"], dataset="x", options=ImportOptions(confine_to=settings.IMPORT_ROOT))
    assert Exam.objects.count() == 0 and blob_files(blobs) == []


def test_a_failing_file_removes_the_blobs_it_had_already_written(blobs, tmp_path):
    path, _ = write_code15(tmp_path, exams=[(1, 4096), (2, 4096), (3, 4096)])
    import h5py
    import numpy as np

    with h5py.File(path, "r+") as handle:
        handle["tracings"][2, 5, 5] = np.nan  # the last record fails after two blobs were written
    refused(blobs, path, "record 3")


def test_the_whole_hostile_corpus_is_refused_by_the_command_with_nothing_stored(blobs):
    paths = sorted(str(p) for p in HOSTILE.iterdir() if p.name != "make_hostile.py" and p.suffix != ".dat")
    with pytest.raises(CommandError, match=r"\d+ file\(s\) were not imported"):
        call_command("import_exams", *paths, "--no-progress", dataset="hostile")
    assert Exam.objects.count() == 0 and blob_files(blobs) == []


def test_a_record_id_longer_than_an_exam_id_keeps_is_refused_by_name_not_by_the_database(blobs, tmp_path):
    """A WFDB record named in 230 characters (a legal file name) is refused with a message saying which
    field and why; before, the file ended in the database's raw "DataError: value too long"."""
    name = "r" * 230
    source = DATA / "wfdb" / "ptbxl" / "00001_lr"
    header = source.with_suffix(".hea").read_text().replace("00001_lr", name)
    (tmp_path / f"{name}.hea").write_text(header)
    (tmp_path / f"{name}.dat").write_bytes(source.with_suffix(".dat").read_bytes())
    report = exams_import([tmp_path / f"{name}.hea"], dataset="hostile", options=ImportOptions())
    [file] = report.files
    assert "DataError" not in file.error, file.error
    assert "the record id is 230 characters long; an exam id keeps at most 200" in file.error
    assert Exam.objects.count() == 0 and blob_files(blobs) == []


def test_a_refusal_for_missing_leads_names_what_was_found_and_what_could_be_derived(blobs, tmp_path):
    """A hospital's file with V3R, V7 and an unnamed 'ECG 1' instead of V3 to V6: the refusal listed
    III, aVR, aVL and aVF among the missing (they are derived from I and II) and never named the
    non-standard leads it found."""
    import wfdb

    names = ["I", "II", "V1", "V2", "V3R", "V7", "ECG 1"]
    signal = np.tile(np.sin(np.linspace(0, 20, 5000))[:, None], (1, len(names)))
    wfdb.wrsamp(
        "odd_leads",
        fs=500,
        units=["mV"] * len(names),
        sig_name=names,
        p_signal=signal,
        fmt=["16"] * len(names),
        write_dir=str(tmp_path),
    )
    report = exams_import([tmp_path / "odd_leads.hea"], dataset="hostile", options=ImportOptions())
    error = report.files[0].error
    assert "missing lead(s) V3, V4, V5, V6, which cannot be derived" in error, error
    assert "III, aVR, aVL, aVF would be derived from I and II" in error
    assert "of which 'V3R', 'V7', 'ECG 1' are not among the 12 standard leads" in error
    assert Exam.objects.count() == 0 and blob_files(blobs) == []
