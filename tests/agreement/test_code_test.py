"""A real reader study as the check: CODE-test's label files imported as external readers' reads onto a
CODE-test-shaped HDF5 (no exam_id), agreement computed through the service, and every per-class kappa
between the two cardiologists and between each group and the gold standard equal to scikit-learn's.

Also: the HDF5 importer's row-i-is-exam-i rule, "none of these" reads, the reads importer's refusals,
and `manage.py agreement_report` printing what the CSV download gives."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import h5py
import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from sklearn.metrics import cohen_kappa_score

from annotations.models import (
    AgreementResult,
    Annotation,
    Assignment,
    AuditEvent,
    Exam,
    ReviewBatch,
)
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.taxonomy import SHIPPED_DIR, taxonomy_load, taxonomy_read_file
from tests.factories import batch_for

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent.parent / "data" / "code-test"
CODES = ["1dAVb", "RBBB", "LBBB", "SB", "AF", "ST"]
GROUPS = ["cardiology_residents", "emergency_residents", "medical_students"]
N_EXAMS = 827


@pytest.fixture
def code15(db):
    return taxonomy_load(taxonomy_read_file(SHIPPED_DIR / "code15.json")).taxonomy


def write_code_test_hdf5(path: Path, n_exams: int, n_samples: int = 256) -> Path:
    """CODE-test's layout: only a `tracings` dataset (exams, samples, 12) at 400 Hz, no `exam_id`.
    Synthetic, seeded tracings, shorter than the real 4096 samples."""
    rng = np.random.default_rng(0)
    tracings = (rng.standard_normal((n_exams, n_samples, 12)) * 0.1).astype(np.float32)
    with h5py.File(path, "w") as handle:
        handle.create_dataset("tracings", data=tracings)
    return path


def labels(name: str) -> np.ndarray:
    with open(DATA / f"{name}.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return np.array([[int(row[code]) for code in CODES] for row in rows])


def reads_args(diego) -> list[str]:
    """import_reads' options for the CODE-test batch, the readers left to add."""
    return [
        "--dataset",
        "code-test",
        "--batch",
        "CODE-test",
        "--taxonomy",
        "code15",
        "--user",
        diego.username,
    ]


def import_code_test(tmp_path, diego, readers: list[str]) -> ReviewBatch:
    hdf5 = write_code_test_hdf5(tmp_path / "ecg_tracings.hdf5", N_EXAMS)
    call_command("import_exams", str(hdf5), "--dataset", "code-test", "--no-progress")
    args = reads_args(diego)
    for name in readers:
        args += ["--reader", f"{name}={DATA / f'{name}.csv'}"]
    out = io.StringIO()
    call_command("import_reads", *args, stdout=out)
    assert f"{N_EXAMS * len(readers)} reads" in out.getvalue()
    return ReviewBatch.objects.get(name="CODE-test")


def test_a_code_hdf5_without_exam_id_numbers_its_rows_from_zero(tmp_path):
    hdf5 = write_code_test_hdf5(tmp_path / "ecg_tracings.hdf5", 5)
    call_command("import_exams", str(hdf5), "--dataset", "code-test", "--no-progress")
    assert sorted(Exam.objects.filter(dataset__name="code-test").values_list("external_id", flat=True)) == [
        "0",
        "1",
        "2",
        "3",
        "4",
    ]


def test_code_test_per_class_kappa_equals_scikit_learn(tmp_path, client, diego, code15):
    readers = ["cardiologist1", "cardiologist2", *GROUPS, "gold_standard"]
    batch = import_code_test(tmp_path, diego, readers)
    result = batch_agreement_compute(batch.pk)
    assert (result.read_count, result.exam_count, result.reader_count) == (N_EXAMS * 6, N_EXAMS, 6)

    # The external readers hold the reads, and none of them can sign in.
    for account in get_user_model().objects.filter(username__in=readers):
        assert not account.is_active and not account.has_usable_password()
        assert not client.login(username=account.username, password="")
    event = AuditEvent.objects.get(action="reads.import")
    files = {f["reader"]: f for f in event.after["files"]}
    assert files["cardiologist1"]["rows"] == N_EXAMS and len(files["gold_standard"]["sha256"]) == 64

    client.force_login(diego)
    response = client.get(reverse("batch-agreement-csv", args=[batch.pk]), {"table": "pairs_by_class"})
    downloaded = list(csv.DictReader(io.StringIO(response.content.decode())))
    kappa = {(r["reader_a"], r["reader_b"], r["code"]): r for r in downloaded}

    def ours(a: str, b: str, code: str) -> dict:
        return kappa.get((a, b, code)) or kappa[(b, a, code)]

    compared = [("cardiologist1", "cardiologist2")] + [(group, "gold_standard") for group in GROUPS]
    for a, b in compared:
        left, right = labels(a), labels(b)
        for c, code in enumerate(CODES):
            expected = cohen_kappa_score(left[:, c], right[:, c])
            row = ours(a, b, code)
            assert float(row["kappa"]) == pytest.approx(expected, abs=1e-9), (a, b, code)
            assert int(row["n"]) == N_EXAMS
            assert float(row["kappa_ci_lower"]) <= float(row["kappa"]) <= float(row["kappa_ci_upper"])

    # The report command prints the same table as the download, from the same serialiser.
    out = io.StringIO()
    call_command(
        "agreement_report",
        "--batch",
        str(batch.pk),
        "--table",
        "pairs_by_class",
        "--format",
        "csv",
        stdout=out,
    )
    assert list(csv.DictReader(io.StringIO(out.getvalue()))) == downloaded
    text = io.StringIO()
    call_command("agreement_report", "--batch", str(batch.pk), "--table", "classes", stdout=text)
    assert text.getvalue().splitlines()[0].split()[:2] == ["code", "name"]
    assert len(text.getvalue().splitlines()) == 1 + len(CODES)


def write_labels(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    return path


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        ([*CODES, "NORM"], [["0"] * 7] * 5, "unknown columns 'NORM'"),
        (CODES, [["0"] * 6] * 4, "4 rows, but the dataset holds 5 exams"),
        (CODES, [["0"] * 6] * 4 + [["0", "2", "0", "0", "0", "0"]], "row 6, column RBBB: '2' is not 0 or 1"),
        (["exam_id", *CODES], [["7", *["0"] * 6]], "exam '7' is not in the dataset"),
    ],
)
def test_bad_label_files_are_refused_with_a_clear_message_and_nothing_stored(
    tmp_path, diego, code15, header, rows, message
):
    hdf5 = write_code_test_hdf5(tmp_path / "ecg_tracings.hdf5", 5)
    call_command("import_exams", str(hdf5), "--dataset", "code-test", "--no-progress")
    good = write_labels(tmp_path / "good.csv", CODES, [["0"] * 6] * 5)
    bad = write_labels(tmp_path / "bad.csv", header, rows)
    users_before = get_user_model().objects.count()
    with pytest.raises(CommandError, match=message):
        call_command(
            "import_reads",
            "--dataset",
            "code-test",
            "--batch",
            "Refused",
            "--taxonomy",
            "code15",
            "--reader",
            f"first={good}",
            "--reader",
            f"second={bad}",
            "--user",
            diego.username,
        )
    assert not ReviewBatch.objects.exists() and not Assignment.objects.exists()
    assert get_user_model().objects.count() == users_before
    assert not AuditEvent.objects.filter(action="reads.import").exists()


def test_reads_with_an_exam_id_column_go_into_an_existing_batch(tmp_path, diego, code15):
    hdf5 = write_code_test_hdf5(tmp_path / "ecg_tracings.hdf5", 5)
    call_command("import_exams", str(hdf5), "--dataset", "code-test", "--no-progress")
    first = write_labels(tmp_path / "a.csv", CODES, [["1", "0", "0", "0", "0", "0"]] + [["0"] * 6] * 4)
    second = write_labels(tmp_path / "b.csv", ["exam_id", *CODES], [["3", "0", "1", "0", "0", "0", "0"]])
    common = ["--dataset", "code-test", "--batch", "Study", "--taxonomy", "code15", "--user", diego.username]
    call_command("import_reads", *common, "--reader", f"a={first}", stdout=io.StringIO())
    call_command("import_reads", *common, "--reader", f"b={second}", stdout=io.StringIO())
    batch = ReviewBatch.objects.get(name="Study")
    reads = Annotation.objects.filter(assignment__batch=batch, status="submitted", is_current=True)
    assert reads.filter(assignment__reader__username="a").count() == 5
    only = reads.get(assignment__reader__username="b")
    assert only.assignment.exam.external_id == "3" and [
        x.diagnostic_class.code for x in only.labels.all()
    ] == ["RBBB"]
    with pytest.raises(CommandError, match="already has reads"):
        call_command("import_reads", *common, "--reader", f"b={second}", stdout=io.StringIO())
    # A name an active account uses is never borrowed for an external reader.
    with pytest.raises(CommandError, match="can sign in"):
        call_command("import_reads", *common, "--reader", f"{diego.username}={first}", stdout=io.StringIO())


def test_a_readers_file_saved_by_a_spreadsheet_in_portuguese_imports_as_the_original(tmp_path, diego, code15):
    """Semicolons between fields and a byte order mark first, as Excel (Brazil) saves CSV."""
    hdf5 = write_code_test_hdf5(tmp_path / "ecg_tracings.hdf5", 2)
    call_command("import_exams", str(hdf5), "--dataset", "code-test", "--no-progress")
    path = tmp_path / "a.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (";".join(CODES) + "\r\n1;0;0;0;0;1\r\n0;1;0;0;0;0\r\n").encode())
    common = ["--dataset", "code-test", "--batch", "Study", "--taxonomy", "code15", "--user", diego.username]
    call_command("import_reads", *common, "--reader", f"a={path}", stdout=io.StringIO())
    reads = Annotation.objects.filter(assignment__batch__name="Study", status="submitted", is_current=True)
    marked = {
        read.assignment.exam.external_id: sorted(label.diagnostic_class.code for label in read.labels.all())
        for read in reads
    }
    assert marked == {"0": sorted([CODES[0], CODES[5]]), "1": [CODES[1]]}


def test_an_empty_read_is_an_answer_only_where_the_taxonomy_says_none_of_these(
    client, ana, diego, tnmg, code15
):
    from tests.factories import ExamFactory

    exam = ExamFactory()
    for taxonomy, expected in ((code15, 200), (tnmg, 400)):
        # One exam read under two taxonomies: independence off.
        batch = batch_for(taxonomy, diego, [ana], [exam], name=taxonomy.key, again=True)
        assignment = Assignment.objects.get(batch=batch, reader=ana)
        client.force_login(ana)
        response = client.post(
            reverse("api-reading-submit", args=[assignment.pk]),
            {"labels": [], "revision": 0},
            content_type="application/json",
        )
        assert response.status_code == expected, response.content
        assignment.refresh_from_db()
        assert (assignment.status == "submitted") == (expected == 200)
    assert code15.none_of_these and not tnmg.none_of_these
    assert AgreementResult.objects.count() == 0


def test_imported_reads_have_no_time_on_task_on_the_dashboard(tmp_path, client, diego, code15):
    """Nobody timed a read made elsewhere: the dashboard shows no quartiles for it, not 0 s."""
    batch = import_code_test(tmp_path, diego, ["cardiologist1"])
    client.force_login(diego)
    progress = client.get(f"/batches/{batch.pk}/progress.json").json()
    (reader,) = progress["readers"]
    assert reader["done"] == N_EXAMS
    assert (reader["q1_seconds"], reader["median_seconds"], reader["q3_seconds"]) == (None, None, None)


def test_a_file_pooling_several_people_is_declared_and_said_so(tmp_path, diego, code15):
    """CODE-test's resident and student files each pool two people. Imported plainly, each counts as one
    reader and nothing says otherwise; declared with --pooled, the import says so, the audit row and the
    batch's design keep it, and the release card counts it."""
    hdf5 = write_code_test_hdf5(tmp_path / "ecg_tracings.hdf5", N_EXAMS)
    call_command("import_exams", str(hdf5), "--dataset", "code-test", "--no-progress")
    base = reads_args(diego)
    out = io.StringIO()
    call_command("import_reads", *base, "--reader", f"cardiologist1={DATA / 'cardiologist1.csv'}", stdout=out)
    assert "each file counts as one person" in out.getvalue()
    out = io.StringIO()
    call_command(
        "import_reads",
        *base,
        "--reader",
        f"cardiology_residents={DATA / 'cardiology_residents.csv'}",
        "--pooled",
        "cardiology_residents",
        stdout=out,
    )
    said = out.getvalue()
    assert "cardiology_residents pools several people in one file" in said
    batch = ReviewBatch.objects.get(name="CODE-test")
    assert batch.design["pooled_readers"] == ["cardiology_residents"]
    files = AuditEvent.objects.filter(action="reads.import").order_by("pk").last().after["files"]
    assert files[0]["pooled"] is True
    with pytest.raises(CommandError, match="--pooled names no --reader: nobody"):
        call_command(
            "import_reads", *base, "--reader", f"x={DATA / 'cardiologist2.csv'}", "--pooled", "nobody"
        )
