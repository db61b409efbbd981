"""The same waveform imported under two datasets (CinC 2021 holds PTB-XL's records, a hospital exports an
archive twice) is two exams, linked at import. One batch never holds both: a reader would read the same
ECG twice, the second time not blind; nor does one release, whose train/test splits it would leak across."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from annotations.models import AuditEvent, BatchExam, Exam
from annotations.selectors.releases.plan import ExportRefused, export_plan
from annotations.services.imports.exams import exams_import
from tests.factories import ExamFactory, batch_for
from tests.importing import SAMPLE_FILES, use_private_storage

pytestmark = pytest.mark.django_db


@pytest.fixture
def copies(settings, tmp_path):
    """cpsc/A1986 and its copy copy/A1986, each dataset with two exams of its own."""
    use_private_storage(settings, tmp_path)
    exams_import([SAMPLE_FILES["A1986"]], dataset="cpsc")
    exams_import([SAMPLE_FILES["A1986"]], dataset="copy")
    ExamFactory.create_batch(2, dataset=Exam.objects.get(dataset__name="cpsc").dataset)
    ExamFactory.create_batch(2, dataset=Exam.objects.get(dataset__name="copy").dataset)
    return Exam.objects.get(dataset__name="cpsc", external_id="A1986"), Exam.objects.get(
        dataset__name="copy", external_id="A1986"
    )


def test_the_import_links_a_copy_to_the_first_exam_of_its_waveform(copies):
    first, copy = copies
    assert copy.copy_of_id == first.pk and first.copy_of_id is None


def test_the_designer_leaves_a_copy_out_of_the_batch_and_says_so(copies, client_for, diego, ana, bruno, tnmg):
    first, copy = copies
    client = client_for(diego)
    spec = {
        "name": "Both datasets",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk, bruno.pk],
        "readers_per_exam": 2,
        "criteria": {"datasets": ["cpsc", "copy"]},
    }
    preview = client.post("/api/v1/batches/preview/", spec, content_type="application/json").json()
    assert preview["exams"] == 5 and preview["copies_left_out"] == 1
    created = client.post("/api/v1/batches/", spec, content_type="application/json")
    held = set(BatchExam.objects.filter(batch_id=created.json()["id"]).values_list("exam_id", flat=True))
    assert first.pk in held and copy.pk not in held and len(held) == 5

    page = client.post(
        "/batches/new/",
        {
            "name": "Page",
            "taxonomy": tnmg.pk,
            "readers": [ana.pk, bruno.pk],
            "readers_per_exam": 2,
            "suggestion_mode": "hidden",
            "datasets": ["cpsc", "copy"],
            "strata": 4,
            "gold_fraction": 0,
            "retest_fraction": 0,
            "min_pair_overlap": 0,
            "seed": 1,
            "sex": "",
            "action": "preview",
            # ana and bruno hold these exams in the batch just made: say why they may again.
            "exclude_seen_offered": "1",
            "independence_off_reason": "the same design previewed on the page",
        },
    ).content.decode()
    assert "1 exam left out: the same waveform as another chosen exam" in page
    # Six exams match; the copy is one of them, left out before the sample: 5 of 6, not 5 of 5.
    assert "5 of 6 matching exams" in page


def test_adding_exams_skips_a_copy_of_a_waveform_the_batch_holds(copies, client_for, diego, ana, bruno, tnmg):
    first, copy = copies
    batch = batch_for(tnmg, diego, [ana, bruno], [first], name="cpsc")
    response = client_for(diego).post(
        f"/api/v1/batches/{batch.pk}/exams/",
        {"criteria": {"datasets": ["copy"]}},
        content_type="application/json",
    )
    assert response.status_code == 201 and response.json()["added"] == 2
    assert response.json()["copies_left_out"] == 1
    assert not BatchExam.objects.filter(batch=batch, exam=copy).exists()
    assert AuditEvent.objects.filter(action="batch.add_exams").latest("pk").after["copies_left_out"] == 1


def test_adding_exams_says_how_many_copies_it_left_out_on_the_dashboard_and_the_command(
    copies, client_for, diego, ana, bruno, tnmg, capsys
):
    first, _copy = copies
    batch = batch_for(tnmg, diego, [ana, bruno], [first], name="cpsc")
    page = client_for(diego).post(
        f"/batches/{batch.pk}/add-exams/", {"datasets": ["copy"], "sample_size": 1}, follow=True
    )
    text = page.content.decode()
    assert "1 exams added to the batch." in text
    assert "1 matching exam left out: the same waveform as an exam the batch holds or takes" in text
    call_command("batch_add_exams", str(batch.pk), "--coordinator", "diego", "--dataset", "copy")
    out = capsys.readouterr().out
    assert "1 exams added" in out and "1 matching exam left out" in out


def test_a_release_of_batches_holding_an_exam_and_its_copy_is_refused_naming_both(
    copies, diego, ana, bruno, tnmg
):
    first, copy = copies
    one = batch_for(tnmg, diego, [ana, bruno], [first], name="one")
    two = batch_for(
        tnmg,
        diego,
        [ana, bruno],
        [copy],
        name="two",
        exclude_seen=False,
        independence_off_reason="the same readers read the copy",
    )
    with pytest.raises(ExportRefused) as refused:
        export_plan([one.pk, two.pk])
    assert "cpsc/A1986" in str(refused.value) and "copy/A1986" in str(refused.value)


def test_an_adjudicator_who_read_a_copy_of_the_waveform_never_gets_its_dispute(
    copies, client_for, ana, bruno, carla, diego, tnmg
):
    """carla, reader and adjudicator, read copy/A1986 in one batch: cpsc/A1986, the same ECG, is an exam she
    read, so its dispute in another batch is neither in her queue nor open to her (404), as for the exam."""
    from annotations.services.agreement.compute import batch_agreement_compute
    from annotations.services.reading import LabelInput, annotation_submit
    from tests.reading.helpers import queue

    first, copy = copies
    carla.groups.add(*ana.groups.all())
    batch_for(tnmg, diego, [carla], [copy], name="copy")
    disputed = batch_for(tnmg, diego, [ana, bruno], [first], name="first")
    for reader, codes in ((ana, ["SB", "1dAVb"]), (bruno, ["SB"])):
        annotation_submit(
            actor=reader,
            assignment=queue(disputed, reader)[0],
            labels=[LabelInput(c) for c in codes],
            revision=0,
        )
    batch_agreement_compute(disputed.pk)
    client = client_for(carla)
    assert client.get("/api/v1/adjudication/").json() == []
    assert client.get(f"/api/v1/adjudication/{disputed.pk}/{first.pk}/").status_code == 404
    # carla is the only adjudicator: the coordinator's dashboard says the dispute waits for nobody.
    page = client_for(diego).get(f"/batches/{disputed.pk}/").content.decode()
    assert 'id="stuck-disputes"' in page, "the dashboard is silent about a dispute no adjudicator may take"
    assert "cpsc/A1986" in page.split('id="stuck-disputes"', 1)[1].split("</p>", 1)[0]


def test_a_reader_who_read_a_copy_elsewhere_is_kept_from_the_exam_when_the_designer_is_asked(
    copies, client_for, ana, bruno, diego, tnmg
):
    """ana read copy/A1986 in another batch: designing a batch of cpsc, the preview counts cpsc/A1986 as
    held by her elsewhere, and "keep readers away from exams they know" keeps it from her."""
    first, copy = copies
    batch_for(tnmg, diego, [ana], [copy], name="copy")
    spec = {
        "name": "cpsc",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk, bruno.pk],
        "readers_per_exam": 1,
        "criteria": {"datasets": ["cpsc"]},
        "exclude_seen": True,
    }
    client = client_for(diego)
    preview = client.post("/api/v1/batches/preview/", spec, content_type="application/json").json()
    assert {row["reader"]: row["read"] for row in preview["seen_elsewhere"]} == {"ana": 1, "bruno": 0}
    created = client.post("/api/v1/batches/", spec, content_type="application/json").json()
    holder = (
        BatchExam.objects.get(batch_id=created["id"], exam=first).batch.assignments.get(exam=first).reader
    )
    assert holder == bruno


def test_when_only_copies_are_left_to_add_the_dashboard_says_so_in_a_sentence(
    copies, client_for, diego, ana, bruno, tnmg
):
    first, _copy = copies
    batch = batch_for(tnmg, diego, [ana, bruno], [first], name="cpsc")
    page = client_for(diego).post(f"/batches/{batch.pk}/add-exams/", {"datasets": ["copy"]}, follow=True)
    assert "2 exams added" in page.content.decode()
    again = client_for(diego).post(f"/batches/{batch.pk}/add-exams/", {"datasets": ["copy"]}, follow=True)
    said = "every exam matching these criteria is in the batch already; 1 more are copies of waveforms"
    assert f"{said} it holds, which a batch never takes twice" in again.content.decode()
