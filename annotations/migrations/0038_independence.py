"""Independent reads become every batch's default: the batches made before write the choice down.

Until now a batch kept its readers away from exams they knew from another batch only when the coordinator
ticked "exclude_seen", and leaving it unticked needed no reason. So no existing batch's "off" was a
considered choice: each batch without a recorded reason (`independence_off_reason`) is made independent
("exclude_seen": true), and from now on every hand-out of it (reassign, rebalance, added exams or readers,
escalation, hand-on) keeps readers away from exams they read, skipped or saw the suggestion of elsewhere.
What was already handed out stays as it is: a read made is never withdrawn. selectors.blinding's
batch_excludes_seen reads a design without the key, or "off" without a reason, the same way.

Going back leaves the designs as they are: true was already what the code made of them.
"""

from django.db import migrations


def independence_write(apps, schema_editor):
    ReviewBatch = apps.get_model("annotations", "ReviewBatch")
    for batch in ReviewBatch.objects.only("pk", "design").iterator():
        design = dict(batch.design or {})
        if design.get("exclude_seen") is True or str(design.get("independence_off_reason") or "").strip():
            continue
        design["exclude_seen"] = True
        design["independence_since"] = "0038_independence"
        ReviewBatch.objects.filter(pk=batch.pk).update(design=design)


class Migration(migrations.Migration):
    dependencies = [("annotations", "0037_read_amendments")]

    operations = [migrations.RunPython(independence_write, migrations.RunPython.noop)]
