"""The batch designer's reference-label criterion reads the codes each exam's row keeps (one index-only
scan at CODE-II size, no join with millions of label rows), and chooses exactly the exams the label
table says: after a real import, for exams whose codes did not fit their row, whatever the case of a
code, and on an archive migrated from before the codes were kept."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotations.lib.reference_codes import OVERFLOW, reference_codes_text
from annotations.models import BatchExam, Exam, ImportJob, ReferenceLabel
from annotations.tasks import imports_run
from tests.factories import DatasetFactory, ExamFactory, add_reference_labels
from tests.importing import DATA, use_private_storage

pytestmark = pytest.mark.django_db


def labelled(*labels: str) -> set[int]:
    """The exams with any of `labels` ("system:code"), from the label table itself."""
    wanted = {tuple(label.split(":", 1)) for label in labels}
    rows = ReferenceLabel.objects.values_list("exam_id", "code_system", "code")
    return {exam for exam, system, code in rows if (system, code) in wanted}


def chosen(client, tnmg, readers, labels: list[str], dataset: str | None = None) -> tuple[int, set[int]]:
    """What the designer matches for the labels (the preview's count), and the exams of a batch created
    from every one of them through the API."""
    criteria = {"reference_labels": labels, **({"datasets": [dataset]} if dataset else {})}
    body = {
        "name": "By label",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [r.pk for r in readers],
        "readers_per_exam": 1,
        "criteria": criteria,
        # Each call designs a batch of exams the same readers hold from the calls before.
        "exclude_seen": False,
        "independence_off_reason": "the same exams chosen by label again",
    }
    preview = client.post("/api/v1/batches/preview/", body, content_type="application/json")
    if preview.status_code == 400 and preview.json().get("detail") == "no exam matches the criteria":
        return 0, set()
    assert preview.status_code == 200, preview.content
    matching = preview.json()["matching"]
    made = client.post("/api/v1/batches/", {**body, "sample_size": matching}, content_type="application/json")
    assert made.status_code == 201, made.content
    return matching, set(
        BatchExam.objects.filter(batch_id=made.json()["id"]).values_list("exam_id", flat=True)
    )


def test_imported_exams_keep_their_labels_codes_and_the_designer_chooses_by_them(
    settings, tmp_path, client_for, diego, ana, tnmg, django_capture_on_commit_callbacks
):
    use_private_storage(settings, tmp_path)
    shutil.copytree(DATA / "ptbxl", settings.IMPORT_ROOT / "ptbxl")
    shutil.copytree(DATA / "wfdb" / "cinc2021", settings.IMPORT_ROOT / "cinc")
    client = client_for(diego)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            "/api/v1/imports/",
            data=json.dumps({"dataset": "mixed", "paths": ["ptbxl", "cinc"]}),
            content_type="application/json",
        )
    assert response.status_code == 201, response.content
    imports_run.apply(args=(response.json()["id"],)).get()
    assert ImportJob.objects.get().created == 5
    for exam in Exam.objects.all():
        pairs = exam.reference_labels.values_list("code_system", "code")
        assert pairs.exists() and exam.reference_codes == reference_codes_text(pairs)
    systems = dict(ReferenceLabel.objects.values_list("code", "code_system"))
    codes = sorted(systems)
    for labels in ([f"{systems[codes[0]]}:{codes[0]}"], [f"{systems[c]}:{c}" for c in codes[1:4]]):
        matching, batch = chosen(client, tnmg, [ana], labels, dataset="mixed")
        assert batch == labelled(*labels) and matching == len(batch) > 0


@pytest.fixture
def archive():
    """Exams with labels that test the criterion's edges: a code that is another's prefix, a code with
    a colon, the same code in two systems, one label in lower case, and an exam with none."""
    exams = ExamFactory.create_batch(6, dataset=DatasetFactory(name="archive"))
    add_reference_labels(exams[0], ("tnmg", "AF"), ("tnmg", "SR"))
    add_reference_labels(exams[1], ("tnmg", "AFL"))
    add_reference_labels(exams[2], ("code15", "AF"))
    add_reference_labels(exams[3], ("tnmg", "af"))
    add_reference_labels(exams[4], ("snomed", "a:b"), ("tnmg", "NORM"))
    return exams


@pytest.mark.parametrize(
    "labels, which",
    [
        (["tnmg:AF"], [0]),
        (["tnmg:A"], []),
        (["tnmg:af"], [3]),
        (["code15:AF", "tnmg:AFL"], [1, 2]),
        (["snomed:a"], []),
        (["tnmg:AF", "tnmg:AF", "tnmg:NORM"], [0, 4]),
    ],
)
def test_a_label_matches_whole_and_in_its_own_case_and_system(
    archive, client_for, diego, ana, tnmg, labels, which
):
    matching, batch = chosen(client_for(diego), tnmg, [ana], labels)
    assert batch == {archive[i].pk for i in which} == labelled(*labels)
    assert matching == len(which)


def test_the_pool_reads_no_label_table_until_an_exams_codes_overflow(archive, client_for, diego, ana, tnmg):
    client = client_for(diego)
    with CaptureQueriesContext(connection) as queries:
        _, batch = chosen(client, tnmg, [ana], ["tnmg:AF"])
    pools = [q["sql"] for q in queries.captured_queries if "reference_codes" in q["sql"]]
    assert pools and not any("annotations_referencelabel" in sql for sql in pools)
    assert batch == {archive[0].pk}

    crowded = ExamFactory(dataset=archive[0].dataset)
    snomed = [("snomed", str(426177001 + i)) for i in range(80)]
    add_reference_labels(crowded, *snomed, ("tnmg", "AF"))
    assert crowded.reference_codes == OVERFLOW
    _, batch = chosen(client, tnmg, [ana], ["tnmg:AF"])
    assert batch == {archive[0].pk, crowded.pk} == labelled("tnmg:AF")
    assert chosen(client, tnmg, [ana], ["snomed:426177050"]) == (1, {crowded.pk})
    assert chosen(client, tnmg, [ana], ["tnmg:SR"]) == (1, {archive[0].pk})


def test_the_texts_are_sorted_whole_and_fit_the_designers_index():
    assert reference_codes_text([]) == ""
    assert reference_codes_text([("tnmg", "SR"), ("code15", "RBBB"), ("tnmg", "SR")]) == (
        "\ncode15:RBBB\ntnmg:SR\n"
    )
    assert reference_codes_text([("x", "line\nbreak")]) == OVERFLOW
    long = [("snomed", str(10**8 + i)) for i in range(70)]  # 16 bytes each: 1,121 in all
    assert reference_codes_text(long) == OVERFLOW
    assert reference_codes_text(long[:50]).count("\n") == 51


def test_the_migration_fills_the_codes_as_the_importer_writes_them(archive):
    """An archive from before the codes were kept: the migration's backfill (one UPDATE on PostgreSQL,
    the importer's own function on SQLite) gives every exam the text an import would have."""
    backfill = __import__("annotations.migrations.0022_exam_reference_codes", fromlist=["backfill"]).backfill
    unicode = ExamFactory(dataset=archive[0].dataset)
    add_reference_labels(
        unicode, ("ptbxl", "Z"), ("ptbxl", "É"), ("ptbxl", "e"), ("PTBXL", "a"), ("ptb", "x")
    )
    crowded = ExamFactory(dataset=archive[0].dataset)
    add_reference_labels(crowded, *[("snomed", str(10**8 + i)) for i in range(70)])
    odd = ExamFactory(dataset=archive[0].dataset)
    add_reference_labels(odd, ("statement", "two\nlines"))
    expected = dict(Exam.objects.values_list("pk", "reference_codes"))
    assert expected[crowded.pk] == expected[odd.pk] == OVERFLOW and expected[archive[5].pk] == ""
    Exam.objects.update(reference_codes="")
    backfill(apps, SimpleNamespace(connection=connection))
    assert dict(Exam.objects.values_list("pk", "reference_codes")) == expected


def test_an_exam_created_with_labels_keeps_them_and_their_codes_in_one_audited_write():
    from annotations.models import AuditEvent
    from tests.factories import make_exam

    exam = make_exam(reference_labels=[("tnmg", "AF", 0.9), ("code15", "AF")], source_format="device")
    rows = set(exam.reference_labels.values_list("code_system", "code", "likelihood", "source"))
    assert rows == {("tnmg", "AF", 0.9, "device"), ("code15", "AF", None, "device")}
    assert exam.reference_codes == "\ncode15:AF\ntnmg:AF\n"
    audit = AuditEvent.objects.get(action="exam.create", target_id=str(exam.pk))
    assert audit.after["reference_labels"] == ["tnmg:AF", "code15:AF"]
