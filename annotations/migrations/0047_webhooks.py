"""Webhook subscriptions and their delivery log."""

import uuid

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0046_credentials"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="WebhookSubscription",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("url", models.URLField(max_length=500)),
                ("events", models.JSONField(default=list)),
                ("secret", models.CharField(max_length=100)),
                ("link_base", models.CharField(blank=True, max_length=300)),
                ("active", models.BooleanField(default=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("revoked_at", models.DateTimeField(blank=True, null=True)),
                (
                    "owner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="webhook_subscriptions",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="WebhookDelivery",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("uid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                (
                    "event",
                    models.CharField(
                        choices=[
                            ("batch.completed", "Batch completed"),
                            ("exam.escalated", "Exam escalated to adjudication"),
                            ("release.built", "Release built"),
                            ("import.finished", "Import finished"),
                            ("import.failed", "Import failed"),
                            ("benchmark.result_ready", "Benchmark result ready"),
                        ],
                        max_length=40,
                    ),
                ),
                ("subject", models.CharField(max_length=100)),
                ("payload", models.JSONField()),
                (
                    "state",
                    models.CharField(
                        choices=[("pending", "Pending"), ("delivered", "Delivered"), ("failed", "Failed")],
                        default="pending",
                        max_length=10,
                    ),
                ),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("status_code", models.PositiveSmallIntegerField(blank=True, null=True)),
                ("response_excerpt", models.CharField(blank=True, max_length=500)),
                ("error", models.CharField(blank=True, max_length=500)),
                ("history", models.JSONField(default=list)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("delivered_at", models.DateTimeField(blank=True, null=True)),
                (
                    "subscription",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deliveries",
                        to="annotations.webhooksubscription",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.AddConstraint(
            model_name="webhooksubscription",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("url__startswith", "http://"), ("url__startswith", "https://"), _connector="OR"
                ),
                name="webhook_url_is_http",
            ),
        ),
        migrations.AddConstraint(
            model_name="webhooksubscription",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("active", True), ("revoked_at__isnull", True)),
                    models.Q(("active", False), ("revoked_at__isnull", False)),
                    _connector="OR",
                ),
                name="webhook_revoked_when_inactive",
            ),
        ),
        migrations.AddConstraint(
            model_name="webhooksubscription",
            constraint=models.CheckConstraint(
                condition=models.Q(("secret", ""), _negated=True), name="webhook_has_secret"
            ),
        ),
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due"),
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.UniqueConstraint(
                fields=("subscription", "event", "subject"), name="webhook_delivery_once_per_event"
            ),
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.CheckConstraint(
                condition=models.Q(("state__in", ["pending", "delivered", "failed"])),
                name="webhook_delivery_state_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "event__in",
                        [
                            "batch.completed",
                            "exam.escalated",
                            "release.built",
                            "import.finished",
                            "import.failed",
                            "benchmark.result_ready",
                        ],
                    )
                ),
                name="webhook_delivery_event_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("state", "pending"), _negated=True),
                    ("next_attempt_at__isnull", False),
                    _connector="OR",
                ),
                name="webhook_pending_has_next_attempt",
            ),
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("state", "delivered"), _negated=True),
                    models.Q(
                        ("delivered_at__isnull", False), ("status_code__gte", 200), ("status_code__lt", 300)
                    ),
                    _connector="OR",
                ),
                name="webhook_delivered_has_2xx",
            ),
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.CheckConstraint(
                condition=models.Q(("attempts__lte", 100)), name="webhook_attempts_bounded"
            ),
        ),
    ]
