"""A dataset's name is one name in any case: importing under "CPSC" after "cpsc" adds to that dataset
instead of opening a second one that every list then shows twice; the database refuses the second row
whatever writes it, and the migration that brings the rule renames any pair already stored."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor

from annotations.models import AuditEvent, Dataset, Exam
from annotations.services.exams.create import dataset_get_or_create
from tests.importing import SAMPLE_FILES, use_private_storage
from tests.imports.test_import_duplicates import upload_job


def test_a_name_in_another_case_is_the_same_dataset(db):
    first = dataset_get_or_create(name="demo")
    assert dataset_get_or_create(name="Demo") == first
    assert dataset_get_or_create(name="DEMO").name == "demo"
    assert Dataset.objects.count() == 1
    assert AuditEvent.objects.filter(action="dataset.create").count() == 1


def test_the_database_refuses_a_second_dataset_differing_only_in_case(db):
    Dataset.objects.create(name="demo")
    with pytest.raises(IntegrityError):
        Dataset.objects.create(name="Demo")


def test_an_upload_under_the_name_in_capitals_goes_into_the_existing_dataset(
    db, settings, tmp_path, client_for, diego, django_capture_on_commit_callbacks
):
    use_private_storage(settings, tmp_path)
    client = client_for(diego)
    upload_job(client, SAMPLE_FILES["A1986"], "cpsc", django_capture_on_commit_callbacks)
    again = upload_job(client, SAMPLE_FILES["A1986"], "CPSC", django_capture_on_commit_callbacks)
    assert [o["outcome"] for o in again.outcomes] == ["unchanged"]  # the same record in the same dataset
    assert list(Dataset.objects.values_list("name", flat=True)) == ["cpsc"]
    assert Exam.objects.count() == 1
    page = client.get(f"/imports/{again.pk}/").content.decode()
    assert "→ cpsc" in page  # the report names the dataset the exams went into


BEFORE = [("annotations", "0026_reference_label_code_any_case")]
AFTER = [("annotations", "0027_dataset_name_any_case")]


@pytest.mark.django_db(transaction=True)
def test_the_migration_renames_stored_pairs_and_records_it():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    datasets = old.get_model("annotations", "Dataset").objects
    kept, later, other = (datasets.create(name=name) for name in ("demo", "Demo", "ptbxl"))
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    names = dict(new.get_model("annotations", "Dataset").objects.values_list("pk", "name"))
    assert names == {kept.pk: "demo", later.pk: f"Demo-{later.pk}", other.pk: "ptbxl"}
    renamed = new.get_model("annotations", "AuditEvent").objects.get(action="dataset.rename")
    assert (renamed.target_id, renamed.before, renamed.after) == (
        str(later.pk),
        {"name": "Demo"},
        {"name": f"Demo-{later.pk}"},
    )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
