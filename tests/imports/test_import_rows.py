"""The import's rows are the same whether inserted by COPY (PostgreSQL) or by the ORM (any other
database): every column of every exam and reference label, and a bad row fails just as the ORM's would."""

from __future__ import annotations

import h5py
import pytest
from django.db import IntegrityError, connection, transaction

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.models import Dataset, Exam, ReferenceLabel
from annotations.services.imports import rows
from annotations.services.imports.exams import exams_import
from annotations.services.imports.outcomes import ImportOptions
from tests.importing import SAMPLE_FILES, use_private_storage, write_code15, write_exams_csv

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is the PostgreSQL path"),
]


@pytest.fixture
def blobs(settings, tmp_path):
    settings.IDENTIFIERS_POLICY = "keep"
    return use_private_storage(settings, tmp_path)


def _import_all(tmp_path, dataset: str) -> None:
    path, _ = write_code15(tmp_path, exams=[(500 + i, 4096 - 150 * i) for i in range(5)], zero_ids=[0])
    metadata = write_exams_csv(
        tmp_path / "exams.csv",
        [
            {"exam_id": 501, "age": 71, "is_male": "True", "1dAVb": "True", "AF": "1", "patient_id": "77.0"},
            {"exam_id": 503, "age": 30, "is_male": "False", "normal_ecg": "True"},
        ],
    )
    exams_import([path], dataset=dataset, options=ImportOptions(metadata=metadata))
    exams_import([SAMPLE_FILES[name] for name in ("HR06000", "s0010_re", "aecg")], dataset=dataset)


def _rows(dataset: str) -> tuple[list[dict], list[tuple]]:
    exams = list(
        Exam.objects.filter(dataset__name=dataset)
        .order_by("external_id")
        .values(
            *[
                f.attname
                for f in Exam._meta.concrete_fields
                # copy_of: the second import holds the first's waveforms, so its exams are linked copies
                if f.attname not in {"id", "dataset_id", "imported_at", "copy_of_id"}
            ]
        )
    )
    labels = list(
        ReferenceLabel.objects.filter(exam__dataset__name=dataset)
        .order_by("exam__external_id", "code_system", "code")
        .values_list("exam__external_id", "code_system", "code", "likelihood", "source")
    )
    return exams, labels


def test_copy_and_the_orm_store_the_same_rows(blobs, tmp_path, monkeypatch):
    copied = []
    monkeypatch.setattr(rows, "_copy", lambda *a, _copy=rows._copy, **k: copied.append(1) or _copy(*a, **k))
    _import_all(tmp_path, "by-copy")
    assert copied  # the PostgreSQL path really was COPY
    monkeypatch.setattr(rows, "_copies", lambda connection: False)
    _import_all(tmp_path, "by-orm")
    by_copy, by_orm = _rows("by-copy"), _rows("by-orm")
    assert by_copy == by_orm
    exams, labels = by_copy
    copies = Exam.objects.filter(dataset__name="by-orm")
    assert all(exam.copy_of.dataset.name == "by-copy" for exam in copies)
    assert len(exams) == 8 and {label[1] for label in labels} == {"code15", "snomed", "mdc"}
    assert any(exam["identifiers"] for exam in exams) and any(exam["acquired_at"] for exam in exams)
    imported = Exam.objects.filter(dataset__name="by-copy").order_by("pk")
    assert all(exam.imported_at is not None for exam in imported)


def _row(dataset: Dataset, **change) -> dict:
    return {
        "dataset_id": dataset.pk,
        "external_id": "x",
        "sampling_rate": 400.0,
        "n_samples": 10,
        "lead_names": list(STANDARD_LEADS),
        "gain_uv": 1.0,
        "waveform_key": "ab/ab.npy",
        "waveform_sha256": "ab",
        "source_format": "code15",
        **change,
    }


@pytest.mark.parametrize("path", ["copy", "orm"])
def test_a_row_breaking_a_constraint_fails_as_an_integrity_error_either_way(path, monkeypatch):
    if path == "orm":
        monkeypatch.setattr(rows, "_copies", lambda connection: False)
    dataset = Dataset.objects.create(name="d", title="d")
    with pytest.raises(IntegrityError), transaction.atomic():
        rows.exam_rows_insert([_row(dataset, gain_uv=0.0)])
    with pytest.raises(IntegrityError), transaction.atomic():
        rows.exam_rows_insert([_row(dataset), _row(dataset)])  # the same external id twice
    inserted = rows.exam_rows_insert([_row(dataset, external_id="a"), _row(dataset, external_id="b")])
    assert [exam.pk for exam in inserted] == sorted(exam.pk for exam in inserted)
    assert [exam.pk for exam in inserted] == list(
        Exam.objects.filter(dataset=dataset).order_by("external_id").values_list("pk", flat=True)
    )


def test_the_same_waveform_twice_in_one_file_warns_on_the_second(blobs, tmp_path):
    # Both blobs are written by the pool at once, each thread may find the content absent: the warning
    # must not rely on which write saw the other's file.
    path, _ = write_code15(tmp_path, exams=[(900, 4000), (901, 3000), (900, 4000)])
    with h5py.File(path, "r+") as handle:
        handle["exam_id"][2] = 902
        handle["tracings"][2] = handle["tracings"][0]
    report = exams_import([path], dataset="twice")
    outcomes = [(r.record, r.outcome, r.same_as) for f in report.files for r in f.records]
    first = Exam.objects.get(external_id="900").pk
    assert ("902", "duplicate", [first]) in outcomes
    assert [o for o in outcomes if o[1] == "duplicate"] == [("902", "duplicate", [first])]
