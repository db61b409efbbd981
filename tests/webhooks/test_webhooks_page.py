"""The Webhooks page over HTTP: coordinators only; the secret in the one response that subscribes (never
cached), revoking, the log, and the page in Portuguese."""

from __future__ import annotations

import pytest

from annotations.lib.sealing import unseal
from annotations.models import WebhookSubscription
from annotations.services.webhooks.sealing import sealing_keys

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_receivers_allowed(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True


def test_the_page_is_for_coordinators(client_for, ana, carla, client):
    assert client_for(ana).get("/webhooks/").status_code == 403
    assert client_for(carla).get("/webhooks/").status_code == 403
    assert client.logout() is None and client.get("/webhooks/").status_code == 302


def test_a_coordinator_subscribes_sees_the_secret_once_and_revokes(client_for, diego):
    page = client_for(diego)
    assert "No webhooks yet." in page.get("/webhooks/").content.decode()
    answer = page.post("/webhooks/", {"url": "http://127.0.0.1:9/hook", "events": ["release.built"]})
    assert answer.status_code == 200
    subscription = WebhookSubscription.objects.get()
    html = answer.content.decode()
    secret = unseal(subscription.secret_sealed, sealing_keys())
    assert secret in html and "no-store" in answer["Cache-Control"]
    again = page.get("/webhooks/").content.decode()
    assert secret not in again and "http://127.0.0.1:9/hook" in again
    listed = again.split('id="webhook-subscriptions"', 1)[1].split("</table>", 1)[0]
    assert "<td>Release built</td>" in listed  # the event in words, not its wire name
    revoked = page.post(f"/webhooks/{subscription.pk}/revoke/")
    assert revoked.status_code == 302
    subscription.refresh_from_db()
    assert subscription.active is False


def test_a_refused_address_is_said_on_the_form(client_for, diego):
    answer = client_for(diego).post("/webhooks/", {"url": "ftp://example.org/x", "events": ["release.built"]})
    assert answer.status_code == 400
    assert "http:// or https://" in answer.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_the_page_in_portuguese(client_for, diego, settings):
    page = client_for(diego)
    page.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"
    html = page.get("/webhooks/").content.decode()
    assert "Registro de entregas" in html and "Inscrever um receptor" in html
