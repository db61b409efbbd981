"""CODE-test scored against its gold standard as imported reference labels: the tracings' stand-ins come in
with the gold standard as their exams.csv (no normal column: 681 of 827 exams mark no class), and the
cardiologists, the resident and student groups and the study network (at the paper's thresholds) as
external readers. Each reader's sensitivity, specificity and kappa per class against the reference, as
the agreement CSV and `agreement_report` give them, equal scikit-learn's on all 827 exams."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse
from sklearn.metrics import cohen_kappa_score, confusion_matrix

from annotations.models import ReviewBatch
from annotations.services.agreement.compute import batch_agreement_compute
from tests.agreement.test_code_test import (
    CODES,
    DATA,
    GROUPS,
    N_EXAMS,
    code15,  # noqa: F401 (the fixture)
    labels,
    reads_args,
    write_code_test_hdf5,
)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
# Ribeiro et al. 2020, the thresholds at which the paper reports the network (1dAVb ... ST).
THRESHOLDS = np.array([0.124, 0.07, 0.05, 0.278, 0.390, 0.174])
READERS = ["cardiologist1", "cardiologist2", *GROUPS, "dnn"]


def reader_labels(name: str) -> np.ndarray:
    if name == "dnn":
        return (np.load(DATA / "dnn_scores.npy") >= THRESHOLDS).astype(int)
    return labels(name)


@pytest.fixture
def scored(tmp_path, diego, code15, client) -> dict[tuple[str, str], dict]:  # noqa: F811
    folder = tmp_path / "code-test"
    folder.mkdir()
    hdf5 = write_code_test_hdf5(folder / "ecg_tracings.hdf5", N_EXAMS)
    gold = labels("gold_standard")
    with open(folder / "exams.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["exam_id", *CODES])
        writer.writerows([i, *row] for i, row in enumerate(gold))
    call_command("import_exams", str(hdf5), "--dataset", "code-test", "--no-progress", stdout=io.StringIO())
    args = reads_args(diego)
    for name in READERS:
        path = tmp_path / f"{name}.csv"
        np.savetxt(path, reader_labels(name), fmt="%d", delimiter=",", header=",".join(CODES), comments="")
        args += ["--reader", f"{name}={path}"]
    call_command("import_reads", *args, stdout=io.StringIO())
    batch = ReviewBatch.objects.get(name="CODE-test")
    batch_agreement_compute(batch.pk)
    client.force_login(diego)
    response = client.get(reverse("batch-agreement-csv", args=[batch.pk]), {"table": "reader_classes"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    out = io.StringIO()
    call_command(
        "agreement_report",
        "--batch",
        str(batch.pk),
        "--table",
        "reader_classes",
        "--format",
        "csv",
        stdout=out,
    )
    assert list(csv.DictReader(io.StringIO(out.getvalue()))) == rows
    return {(r["reader"], r["code"]): r for r in rows if r["reference"] == "reference_labels"}


def test_every_reader_against_the_gold_standard_equals_scikit_learn_on_all_827_exams(scored, capsys):
    gold = labels("gold_standard")
    for name in READERS:
        theirs = reader_labels(name)
        for c, code in enumerate(CODES):
            row = scored[(name, code)]
            tn, fp, fn, tp = confusion_matrix(gold[:, c], theirs[:, c], labels=[0, 1]).ravel()
            assert (int(row["n"]), int(row["n_positive"]), int(row["n_negative"])) == (
                N_EXAMS,
                tp + fn,
                tn + fp,
            )
            assert float(row["sensitivity"]) == pytest.approx(tp / (tp + fn), abs=1e-12), (name, code)
            assert float(row["specificity"]) == pytest.approx(tn / (tn + fp), abs=1e-12), (name, code)
            assert float(row["kappa"]) == pytest.approx(cohen_kappa_score(gold[:, c], theirs[:, c]), abs=1e-9)
    with capsys.disabled():
        print("\nnetwork vs gold, per class: specificity on negatives")
        for code in CODES:
            row = scored[("dnn", code)]
            print(
                f"  {code:6} {float(row['specificity']):.3f} on {row['n_negative']}, "
                f"kappa {float(row['kappa']):.3f}"
            )
