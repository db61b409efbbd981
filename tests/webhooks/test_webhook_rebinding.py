"""A receiver's host name is resolved once per attempt, and the delivery connects to the address that was
checked: a DNS answer that turns to this server's loopback between the check and the connection (DNS
rebinding) reaches nothing. Names here are answered by a stand-in resolver, as a rebinding DNS server
would answer them; the receiver and the deliveries are real."""

from __future__ import annotations

import socket

import pytest

from annotations.models import WebhookDelivery
from annotations.services.webhooks.deliveries import webhook_event_emit
from tests.webhooks.receiver import receiver
from tests.webhooks.test_webhooks_api import deliver_due, subscribe

pytestmark = pytest.mark.django_db
HOST = "hooks.rebinding.test"
PUBLIC = "93.184.216.34"  # a global address: the check lets it through


@pytest.fixture
def dns(monkeypatch):
    """Answers for HOST in turn (the last one repeated); every other name is resolved as usual."""
    answers: list[str] = []
    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host != HOST:
            return real(host, port, *args, **kwargs)
        address = answers.pop(0) if len(answers) > 1 else answers[0]
        asked.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers, asked


def test_a_name_that_turns_to_loopback_after_the_check_reaches_nothing(client_for, diego, settings, dns):
    answers, asked = dns
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    with receiver() as hook:
        port = int(hook.url.rsplit(":", 1)[1].split("/")[0])
        # The subscription's check and the delivery's check see a public address; the connection's
        # own lookup would then find this server's loopback.
        answers[:] = [PUBLIC, PUBLIC, "127.0.0.1"]
        made = subscribe(client_for(diego), f"http://{HOST}:{port}/hook", events=["import.finished"])
        assert made.status_code == 201, made.content
        webhook_event_emit("import.finished", subject="import/1", data={"id": 1})
        deliver_due()
        assert hook.requests == []
        delivery = WebhookDelivery.objects.get()
        assert delivery.state == "pending" and "loopback" in delivery.error
        assert asked[-1] == "127.0.0.1"


def test_a_name_is_delivered_to_the_checked_address_under_its_own_name(client_for, diego, settings, dns):
    answers, asked = dns
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    with receiver() as hook:
        port = int(hook.url.rsplit(":", 1)[1].split("/")[0])
        answers[:] = ["127.0.0.1"]
        made = subscribe(client_for(diego), f"http://{HOST}:{port}/hook", events=["import.finished"])
        assert made.status_code == 201, made.content
        webhook_event_emit("import.finished", subject="import/1", data={"id": 1})
        deliver_due()
        (received,) = hook.wait_for(1)
        assert received.headers["host"] == f"{HOST}:{port}"
        assert WebhookDelivery.objects.get().state == "delivered"
        assert len(asked) == 3  # the subscription's check, the delivery's, the connection's
