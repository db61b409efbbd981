"""Specific agreement and the exams-with-a-finding figures as a coordinator gets them: through the API, the
agreement page, the classes CSV and `manage.py agreement_report`, each checked against the two-reader
formulas worked out by hand for a six-exam batch; and on CODE-test's two cardiologists, against
2a/(2a+b+c) counted here from the label files."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse

from annotations.services.agreement.compute import batch_agreement_compute
from tests.agreement.test_agreement_tables import download, number
from tests.agreement.test_code_test import CODES, N_EXAMS, import_code_test, labels
from tests.factories import ExamFactory, batch_for, read

pytestmark = pytest.mark.django_db

# ana and bruno on six exams. RBBB: a=1 (exam 0), b=1 (exam 1), c=1 (exam 3), d=3: PSA 2/4, NSA 6/8,
# prevalence index |1-3|/6, bias index 0. AF: a=1, d=5: PSA 1, NSA 1, prevalence index 4/6.
# Exams with a finding: 0, 1, 3, 5; exact on 0 and 5 (1/2); Jaccard 1, 0, 1/2, 1 (mean 5/8).
READS = [
    (["RBBB"], ["RBBB"]),
    (["RBBB"], []),
    ([], []),
    (["AF"], ["AF", "RBBB"]),
    ([], []),
    (["1dAVb"], ["1dAVb"]),
]


@pytest.fixture
def code15(db):
    from annotations.services.taxonomy import SHIPPED_DIR, taxonomy_load, taxonomy_read_file

    return taxonomy_load(taxonomy_read_file(SHIPPED_DIR / "code15.json")).taxonomy


@pytest.fixture
def computed(ana, bruno, diego, code15):
    exams = ExamFactory.create_batch(len(READS))
    batch = batch_for(code15, diego, [ana, bruno], exams, name="Tables")
    for exam, (of_ana, of_bruno) in zip(exams, READS, strict=True):
        read(ana, batch, exam, of_ana)
        read(bruno, batch, exam, of_bruno)
    batch_agreement_compute(batch.pk)
    return batch


def test_the_api_gives_specific_agreement_per_class_and_the_exams_with_a_finding(client, diego, computed):
    client.force_login(diego)
    api = client.get(reverse("api-batch-agreement", args=[computed.pk])).json()
    rows = {row["code"]: row for row in api["classes"]}
    rbbb, af = rows["RBBB"], rows["AF"]
    assert rbbb["positive_specific_agreement"] == pytest.approx(0.5)
    assert rbbb["negative_specific_agreement"] == pytest.approx(0.75)
    assert rbbb["prevalence_index"] == pytest.approx(1 / 3) and rbbb["bias_index"] == 0
    low, high = rbbb["positive_specific_agreement_ci"]
    assert 0.0 <= low <= 0.5 <= high <= 1.0
    assert af["positive_specific_agreement"] == 1 and af["prevalence_index"] == pytest.approx(4 / 6)
    assert rows["ST"]["positive_specific_agreement"] is None  # nobody marked it: undefined
    assert rows["ST"]["negative_specific_agreement"] == 1
    findings = api["exams_with_findings"]
    assert findings["n"] == 4
    assert findings["exact_match_rate"] == pytest.approx(0.5)
    assert findings["mean_jaccard"] == pytest.approx(5 / 8)
    assert findings["exact_match_rate_ci"][0] <= 0.5 <= findings["exact_match_rate_ci"][1]


def test_the_classes_csv_and_the_report_carry_the_columns(client, diego, computed):
    rows = {row["code"]: row for row in download(client, diego, computed, "classes")}
    rbbb = rows["RBBB"]
    assert number(rbbb["positive_specific_agreement"]) == pytest.approx(0.5)
    assert number(rbbb["negative_specific_agreement"]) == pytest.approx(0.75)
    assert number(rbbb["prevalence_index"]) == pytest.approx(1 / 3)
    assert number(rbbb["bias_index"]) == 0
    low, high = (number(rbbb[f"positive_specific_agreement_ci_{b}"]) for b in ("lower", "upper"))
    assert low <= 0.5 <= high
    assert rows["ST"]["positive_specific_agreement"] == ""
    out = io.StringIO()
    call_command(
        "agreement_report", "--batch", str(computed.pk), "--table", "classes", "--format", "csv", stdout=out
    )
    assert list(csv.DictReader(io.StringIO(out.getvalue()))) == list(rows.values())


def test_the_page_shows_the_pair_of_columns_and_the_line_on_exams_with_a_finding(client, diego, computed):
    client.force_login(diego)
    page = client.get(reverse("batch-agreement", args=[computed.pk])).content.decode()
    assert "PSA" in page and "NSA" in page
    row = next(line for line in page.split("<tr>") if ">RBBB</td>" in line)
    assert "0.50" in row and "0.75" in row
    assert 'id="exams-with-findings"' in page
    line = page.split('id="exams-with-findings"')[1].split("</p>")[0]
    assert "The 4 exams" in line and "0.50" in line and "0.63" in line  # 5/8 rounds half up


def test_code_test_cardiologists_specific_agreement_is_2a_over_2a_b_c(tmp_path, client, diego, code15):
    batch = import_code_test(tmp_path, diego, ["cardiologist1", "cardiologist2"])
    batch_agreement_compute(batch.pk)
    rows = {row["code"]: row for row in download(client, diego, batch, "classes")}
    left, right = labels("cardiologist1"), labels("cardiologist2")
    for c, code in enumerate(CODES):
        x, y = left[:, c], right[:, c]
        a, b = int(((x == 1) & (y == 1)).sum()), int(((x == 1) & (y == 0)).sum())
        cc, d = int(((x == 0) & (y == 1)).sum()), int(((x == 0) & (y == 0)).sum())
        row = rows[code]
        assert float(row["positive_specific_agreement"]) == pytest.approx(2 * a / (2 * a + b + cc), abs=1e-12)
        assert float(row["negative_specific_agreement"]) == pytest.approx(2 * d / (2 * d + b + cc), abs=1e-12)
        assert float(row["prevalence_index"]) == pytest.approx(abs(a - d) / N_EXAMS, abs=1e-12)
        assert float(row["bias_index"]) == pytest.approx(abs(b - cc) / N_EXAMS, abs=1e-12)
        assert float(row["positive_specific_agreement_ci_lower"]) <= float(row["positive_specific_agreement"])
        assert float(row["positive_specific_agreement"]) <= float(row["positive_specific_agreement_ci_upper"])
    client.force_login(diego)
    findings = client.get(reverse("api-batch-agreement", args=[batch.pk])).json()["exams_with_findings"]
    any_finding = (left == 1).any(axis=1) | (right == 1).any(axis=1)
    assert findings["n"] == int(any_finding.sum())
    exact = (left == right).all(axis=1)[any_finding]
    assert findings["exact_match_rate"] == pytest.approx(float(exact.mean()), abs=1e-12)
    inter = ((left == 1) & (right == 1)).sum(axis=1)[any_finding]
    union = ((left == 1) | (right == 1)).sum(axis=1)[any_finding]
    assert findings["mean_jaccard"] == pytest.approx(float(np.mean(inter / union)), abs=1e-12)
