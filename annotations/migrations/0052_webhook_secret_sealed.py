"""Webhook signing secrets sealed (annotations.lib.sealing) instead of stored as they are. Each secret is
sealed under the key SECRET_KEY gives at the time of the migration; backwards, unsealed again."""

from django.db import migrations, models

from annotations.lib.sealing import seal, unseal
from annotations.services.webhooks.sealing import sealing_keys


def secrets_seal(apps, schema_editor):
    subscriptions = apps.get_model("annotations", "WebhookSubscription")
    keys = sealing_keys()
    for subscription in subscriptions.objects.only("pk", "secret"):
        subscription.secret_sealed = seal(subscription.secret, keys)
        subscription.save(update_fields=["secret_sealed"])


def secrets_unseal(apps, schema_editor):
    subscriptions = apps.get_model("annotations", "WebhookSubscription")
    keys = sealing_keys()
    for subscription in subscriptions.objects.only("pk", "secret_sealed"):
        subscription.secret = unseal(subscription.secret_sealed, keys)
        subscription.save(update_fields=["secret"])


class Migration(migrations.Migration):
    dependencies = [("annotations", "0051_benchmark_failed")]

    operations = [
        migrations.RemoveConstraint(model_name="webhooksubscription", name="webhook_has_secret"),
        migrations.AddField(
            model_name="webhooksubscription",
            name="secret_sealed",
            field=models.TextField(default=""),
            preserve_default=False,
        ),
        migrations.RunPython(secrets_seal, secrets_unseal, elidable=False),
        # A default for the way back: the column is added again to rows that have no secret yet.
        migrations.AlterField(
            model_name="webhooksubscription",
            name="secret",
            field=models.CharField(max_length=100, default=""),
        ),
        migrations.RemoveField(model_name="webhooksubscription", name="secret"),
        migrations.AddConstraint(
            model_name="webhooksubscription",
            constraint=models.CheckConstraint(
                condition=models.Q(("secret_sealed", ""), _negated=True), name="webhook_has_sealed_secret"
            ),
        ),
    ]
