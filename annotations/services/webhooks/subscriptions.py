"""Webhook subscriptions: made (the secret shown once) and revoked by coordinators; each write one
transaction and an audit row. The secret never enters the audit trail."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from annotations.errors import Forbidden, Invalid, NotFound
from annotations.lib.sealing import seal
from annotations.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from annotations.roles import Role, has_role
from annotations.services.audit import audit_record
from annotations.services.webhooks.addresses import webhook_url_check
from annotations.services.webhooks.sealing import sealing_keys

if TYPE_CHECKING:
    from django.contrib.auth.models import User

SECRET_PREFIX = "whsec_"


@dataclass(frozen=True)
class CreatedWebhook:
    subscription: WebhookSubscription
    secret: str  # shown in the response that creates it, never again


def _require_coordinator(actor: User) -> None:
    if not has_role(actor, Role.COORDINATOR):
        raise Forbidden(_("Only coordinators manage webhooks."))


def _events(events: Iterable[str] | None) -> list[str]:
    known = list(WebhookEvent.values)
    chosen = list(dict.fromkeys(events or []))
    unknown = [e for e in chosen if e not in known]
    if unknown or not chosen:
        raise Invalid(
            _("Choose one or more events among %(events)s.") % {"events": ", ".join(known)},
            extra={"unknown": unknown} if unknown else None,
        )
    return [e for e in known if e in chosen]  # in the list's order, whatever the request's


def webhook_subscribe(
    *, actor: User, url: str, events: Iterable[str] | None, link_base: str = "", ip: str | None = None
) -> CreatedWebhook:
    """A coordinator's subscription to `events`, delivered to `url`; payload links start with `link_base`
    (this server's address as the request reached it)."""
    _require_coordinator(actor)
    url = webhook_url_check(url)
    chosen = _events(events)
    secret = SECRET_PREFIX + secrets.token_hex(32)
    with transaction.atomic():
        subscription = WebhookSubscription.objects.create(
            owner=actor,
            url=url,
            events=chosen,
            secret_sealed=seal(secret, sealing_keys()),
            link_base=link_base.rstrip("/")[:300],
        )
        audit_record(
            actor=actor,
            action="webhook.subscribe",
            target=subscription,
            after={"url": url, "events": chosen},
            ip_address=ip,
        )
    return CreatedWebhook(subscription=subscription, secret=secret)


def webhook_revoke(*, actor: User, subscription_id: int, ip: str | None = None) -> WebhookSubscription:
    """Stop a subscription: nothing more is sent to it, deliveries still waiting included; its log stays.
    The owner's own only (another's answers as missing); revoking twice is not an error."""
    _require_coordinator(actor)
    with transaction.atomic():
        subscription = (
            WebhookSubscription.objects.select_for_update().filter(pk=subscription_id, owner=actor).first()
        )
        if subscription is None:
            raise NotFound(_("No such webhook."))
        if not subscription.active:
            return subscription
        subscription.active, subscription.revoked_at = False, timezone.now()
        subscription.save(update_fields=["active", "revoked_at"])
        cancelled = WebhookDelivery.objects.filter(
            subscription=subscription, state=WebhookDelivery.State.PENDING
        ).update(state=WebhookDelivery.State.FAILED, error="subscription revoked", next_attempt_at=None)
        audit_record(
            actor=actor,
            action="webhook.revoke",
            target=subscription,
            before={"active": True},
            after={"active": False, "deliveries_cancelled": cancelled},
            ip_address=ip,
        )
    return subscription
