"""Webhooks: a coordinator's subscription to events, and the log of each delivery to it.

The signing secret is kept sealed (annotations.lib.sealing, under a key derived from SECRET_KEY), not as a
digest like an API token's: the server needs it back to sign every delivery (HMAC-SHA256). A copy of the
database alone therefore signs nothing. It is shown once, in the response that creates it, and never in
a list, a page or the audit trail.

A delivery is one event for one subscription, unique per (subscription, event, subject): an event noticed
twice (a redelivered task, a batch closed after its last read) is delivered once.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class WebhookEvent(models.TextChoices):
    BATCH_COMPLETED = "batch.completed", _("Batch completed")
    EXAM_ESCALATED = "exam.escalated", _("Exam escalated to adjudication")
    RELEASE_BUILT = "release.built", _("Release built")
    IMPORT_FINISHED = "import.finished", _("Import finished")
    IMPORT_FAILED = "import.failed", _("Import failed")
    BENCHMARK_RESULT = "benchmark.result_ready", _("Benchmark result ready")


class WebhookSubscription(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    url = models.URLField(max_length=500)
    # The event names (WebhookEvent values) this subscription receives; at least one.
    events = models.JSONField(default=list)
    secret_sealed = models.TextField()
    # Where the payloads' links point: this server's address as the subscribing request reached it.
    link_base = models.CharField(max_length=300, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(url__startswith="http://") | Q(url__startswith="https://"),
                name="webhook_url_is_http",
            ),
            models.CheckConstraint(
                condition=Q(active=True, revoked_at__isnull=True) | Q(active=False, revoked_at__isnull=False),
                name="webhook_revoked_when_inactive",
            ),
            models.CheckConstraint(condition=~Q(secret_sealed=""), name="webhook_has_sealed_secret"),
        ]

    def __str__(self) -> str:
        return f"webhook {self.pk} → {self.url}"


class WebhookDelivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    # What the event is about ("release:7"): with the subscription and the event, the delivery's identity.
    subject = models.CharField(max_length=100)
    payload = models.JSONField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # Each attempt: when, its answer (status code or error) and the back-off that followed.
    history = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event", "subject"], name="webhook_delivery_once_per_event"
            ),
            models.CheckConstraint(
                condition=Q(state__in=["pending", "delivered", "failed"]), name="webhook_delivery_state_known"
            ),
            models.CheckConstraint(
                condition=Q(
                    event__in=[
                        "batch.completed",
                        "exam.escalated",
                        "release.built",
                        "import.finished",
                        "import.failed",
                        "benchmark.result_ready",
                    ]
                ),
                name="webhook_delivery_event_known",
            ),
            models.CheckConstraint(
                condition=~Q(state="pending") | Q(next_attempt_at__isnull=False),
                name="webhook_pending_has_next_attempt",
            ),
            models.CheckConstraint(
                condition=~Q(state="delivered")
                | Q(delivered_at__isnull=False, status_code__gte=200, status_code__lt=300),
                name="webhook_delivered_has_2xx",
            ),
            models.CheckConstraint(condition=Q(attempts__lte=100), name="webhook_attempts_bounded"),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due")]

    def __str__(self) -> str:
        return f"{self.event} {self.subject} → webhook {self.subscription_id}"
