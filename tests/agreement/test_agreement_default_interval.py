# ruff: noqa: F811
"""The default interval a coordinator gets: over readers too from three readers on, over patients where a
patient has several exams, and no interval, with the reason, for a class with too few positives."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotations.services.agreement.compute import batch_agreement_compute
from tests.agreement.test_agreement_tables import carol, code15, download  # noqa: F401
from tests.factories import ExamFactory, batch_for, read

pytestmark = pytest.mark.django_db


def read_all(batch, exams, readers):
    for i, exam in enumerate(exams):
        for j, reader in enumerate(readers):
            codes = ["LBBB"] if i == 0 else []  # one positive exam for LBBB
            if (i + j) % 3 == 0:
                codes.append("RBBB")
            read(reader, batch, exam, codes)


def test_three_readers_get_intervals_over_readers_by_default_and_too_few_positives_get_none(
    client,
    ana,
    bruno,
    carol,
    diego,
    code15,
):
    exams = ExamFactory.create_batch(12)
    batch = batch_for(code15, diego, [ana, bruno, carol], exams, name="Tables")
    read_all(batch, exams, [ana, bruno, carol])
    batch_agreement_compute(batch.pk)

    client.force_login(diego)
    api = client.get(reverse("api-batch-agreement", args=[batch.pk])).json()
    assert api["bootstrap"]["method"] == "exams_and_readers"
    assert "readers" in api["bootstrap"]["note"] and "default" in api["bootstrap"]["note"]
    classes = {row["code"]: row for row in api["classes"]}
    assert classes["LBBB"]["fleiss_kappa"] == 1.0 and classes["LBBB"]["fleiss_kappa_ci"] == [None, None]
    assert classes["LBBB"]["interval_note"] == "too few positives"
    assert classes["RBBB"]["interval_note"] == "" and None not in classes["RBBB"]["krippendorff_alpha_ci"]
    rows = {row["code"]: row for row in download(client, diego, batch, "classes")}
    assert (
        rows["LBBB"]["interval_note"] == "too few positives" and rows["LBBB"]["fleiss_kappa_ci_lower"] == ""
    )
    assert rows["RBBB"]["interval_method"] == "exams_and_readers"
    page = client.get(reverse("batch-agreement", args=[batch.pk])).content.decode()
    assert "too few positives" in page


def test_two_readers_get_intervals_over_exams_and_the_note_says_why(client, ana, bruno, diego, code15):
    exams = ExamFactory.create_batch(8)
    batch = batch_for(code15, diego, [ana, bruno], exams, name="Tables")
    read_all(batch, exams, [ana, bruno])
    batch_agreement_compute(batch.pk)
    client.force_login(diego)
    boot = client.get(reverse("api-batch-agreement", args=[batch.pk])).json()["bootstrap"]
    assert boot["method"] == "exams" and "three readers" in boot["note"]


def test_a_coordinators_choice_still_wins_and_patients_are_resampled_whole(
    client,
    ana,
    bruno,
    carol,
    diego,
    code15,
):
    exams = [ExamFactory(patient_pseudo_id=f"P{i // 2}") for i in range(10)] + [
        ExamFactory(patient_pseudo_id="")
    ]
    batch = batch_for(code15, diego, [ana, bruno, carol], exams, name="Tables")
    batch.design = {**batch.design, "agreement": {"intervals": "exams"}}
    batch.save(update_fields=["design"])
    read_all(batch, exams, [ana, bruno, carol])
    batch_agreement_compute(batch.pk)
    client.force_login(diego)
    boot = client.get(reverse("api-batch-agreement", args=[batch.pk])).json()["bootstrap"]
    assert boot["method"] == "exams" and boot["unit"] == "patients"
    assert "patients" in boot["description"] and "conditional" in boot["description"]
