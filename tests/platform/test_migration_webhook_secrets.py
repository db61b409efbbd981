"""The migration that seals webhook secrets: a subscription made before it keeps signing with the secret
its receiver holds, and the secret is no longer in the table."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

from annotations.lib.sealing import unseal
from annotations.services.webhooks.sealing import sealing_keys
from tests.migrating import apps_at, apps_at_latest

BEFORE = [("annotations", "0051_benchmark_failed")]
AFTER = [("annotations", "0052_webhook_secret_sealed")]
SECRET = "whsec_" + "ab" * 32


@pytest.mark.django_db(transaction=True)
def test_secrets_stored_as_they_were_are_sealed_and_still_read():
    old = apps_at(BEFORE)
    owner = old.get_model("auth", "User").objects.create(username="coordinator")
    old.get_model("annotations", "WebhookSubscription").objects.create(
        owner=owner, url="https://hooks.example.org/in", events=["release.built"], secret=SECRET
    )
    new = apps_at(AFTER)
    sealed = new.get_model("annotations", "WebhookSubscription").objects.get().secret_sealed
    assert SECRET not in sealed and unseal(sealed, sealing_keys()) == SECRET
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM annotations_webhooksubscription")
        assert SECRET not in repr(cursor.fetchall())
    assert settings.SECRET_KEY  # the key it was sealed with
    back = apps_at(BEFORE)  # and back: the secret as it was
    assert back.get_model("annotations", "WebhookSubscription").objects.get().secret == SECRET
    apps_at_latest()
