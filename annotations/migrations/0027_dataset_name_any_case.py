from django.db import migrations, models
from django.db.models.functions import Lower


def rename_spellings(apps, schema_editor):
    """Datasets whose names differ only in case ("demo", "Demo") were allowed before: the first keeps its
    name and each later one takes its id as a suffix ("Demo-7"), so that no exam moves and the rename
    is in the audit trail; an operator may merge them afterwards knowingly."""
    Dataset = apps.get_model("annotations", "Dataset")
    AuditEvent = apps.get_model("annotations", "AuditEvent")
    taken = {name.lower() for name in Dataset.objects.values_list("name", flat=True)}
    seen: set[str] = set()
    for dataset in Dataset.objects.order_by("pk"):
        if dataset.name.lower() not in seen:
            seen.add(dataset.name.lower())
            continue
        before = dataset.name
        while dataset.name.lower() in taken:  # "Demo-7" may be a dataset's name already
            dataset.name = f"{dataset.name[:90]}-{dataset.pk}"
        taken.add(dataset.name.lower())
        seen.add(dataset.name.lower())
        dataset.save(update_fields=["name"])
        AuditEvent.objects.create(
            actor_username="migration 0027",
            action="dataset.rename",
            target_type="annotations.dataset",
            target_id=str(dataset.pk),
            before={"name": before},
            after={"name": dataset.name},
        )


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0026_reference_label_code_any_case"),
    ]

    operations = [
        migrations.RunPython(rename_spellings, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="dataset",
            constraint=models.UniqueConstraint(Lower("name"), name="dataset_name_any_case_unique"),
        ),
    ]
