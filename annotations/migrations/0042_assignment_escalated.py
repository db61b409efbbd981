from django.db import migrations, models


def mark_escalation_reads(apps, schema_editor):
    """Earlier escalations are known from their audit rows (batch.escalate_add_reader names the batch
    exam, the exam and the reader added). A slot handed on from such a read (a skip, a reader who left)
    is an escalation read too, so the marks follow the ``replaces`` chain."""
    AuditEvent = apps.get_model("annotations", "AuditEvent")
    BatchExam = apps.get_model("annotations", "BatchExam")
    Assignment = apps.get_model("annotations", "Assignment")
    rows = AuditEvent.objects.filter(action="batch.escalate_add_reader", target_type="annotations.batchexam")
    for target_id, after in rows.values_list("target_id", "after").iterator():
        member = BatchExam.objects.filter(pk=target_id).values_list("batch_id", "exam_id").first()
        if member is None or not isinstance(after, dict) or "reader" not in after:
            continue
        marked = list(
            Assignment.objects.filter(
                batch_id=member[0], exam_id=member[1], reader_id=after["reader"], read_round=1
            ).values_list("pk", flat=True)
        )
        while marked:
            Assignment.objects.filter(pk__in=marked).update(escalated=True)
            marked = list(Assignment.objects.filter(replaces_id__in=marked).values_list("pk", flat=True))


class Migration(migrations.Migration):
    dependencies = [("annotations", "0041_exam_reference_coverage")]

    operations = [
        migrations.AddField(
            model_name="assignment",
            name="escalated",
            field=models.BooleanField(
                db_default=False,
                default=False,
                help_text="Added by escalation to a disputed exam: used for consensus, not for agreement.",
            ),
        ),
        migrations.RunPython(mark_escalation_reads, migrations.RunPython.noop),
    ]
