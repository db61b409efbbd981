"""A webhook's signing secret is kept sealed (encrypted with a key derived from SECRET_KEY), not as it is:
a copy of the database alone no longer lets anyone sign deliveries. The server unseals it to sign; a
SECRET_KEY rotated with the old one in SECRET_KEY_FALLBACKS still reads it, and one rotated without
says so in the delivery log instead of signing with something else."""

from __future__ import annotations

import pytest
from django.db import connection

from annotations.models import WebhookDelivery
from annotations.services.webhooks.deliveries import webhook_event_emit
from tests.webhooks.receiver import receiver, verify
from tests.webhooks.test_webhooks_api import _local_receivers_allowed, deliver_due, subscribe  # noqa: F401

pytestmark = pytest.mark.django_db


def stored_columns() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM annotations_webhooksubscription")
        return repr(cursor.fetchall())


def test_the_database_holds_no_secret_and_deliveries_are_signed_with_it(client_for, diego):
    with receiver() as hook:
        made = subscribe(client_for(diego), hook.url, events=["import.finished"])
        secret = made.json()["secret"]
        assert secret not in stored_columns() and secret.split("_", 1)[-1] not in stored_columns()
        webhook_event_emit("import.finished", subject="import/1", data={"id": 1})
        deliver_due()
        (received,) = hook.wait_for(1)
        assert verify(secret, received)


def test_a_rotated_secret_key_reads_the_secret_only_with_the_old_key_among_its_fallbacks(
    client_for, diego, settings
):
    with receiver() as hook:
        secret = subscribe(client_for(diego), hook.url, events=["import.finished"]).json()["secret"]
        old_key = settings.SECRET_KEY
        settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "rotated-" + old_key, [old_key]
        webhook_event_emit("import.finished", subject="import/1", data={"id": 1})
        deliver_due()
        assert verify(secret, hook.wait_for(1)[0])

        settings.SECRET_KEY_FALLBACKS = []
        webhook_event_emit("import.finished", subject="import/2", data={"id": 2})
        deliver_due()
        failed = WebhookDelivery.objects.get(subject="import/2")
        assert len(hook.requests) == 1 and failed.state == "pending"
        assert "SECRET_KEY" in failed.error and "subscribe again" in failed.error
