"""Reads of webhook subscriptions and their delivery log: a coordinator's own, nobody else's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from annotations.errors import NotFound
from annotations.models import WebhookDelivery, WebhookSubscription
from annotations.roles import Role, has_role

if TYPE_CHECKING:
    from django.contrib.auth.models import User

LOG_LENGTH = 100


def webhooks_visible(requester: User) -> QuerySet[WebhookSubscription]:
    """The requester's own subscriptions, newest first (revoked ones included); none for a non-coordinator."""
    if not has_role(requester, Role.COORDINATOR):
        return WebhookSubscription.objects.none()
    return WebhookSubscription.objects.filter(owner=requester)


def webhook_get(requester: User, subscription_id: int) -> WebhookSubscription:
    subscription = webhooks_visible(requester).filter(pk=subscription_id).first()
    if subscription is None:
        raise NotFound(_("No such webhook."))
    return subscription


def webhook_deliveries(requester: User, subscription_id: int | None = None) -> list[WebhookDelivery]:
    """The newest LOG_LENGTH deliveries of one of the requester's subscriptions, or of all of them."""
    if subscription_id is not None:
        rows = WebhookDelivery.objects.filter(subscription=webhook_get(requester, subscription_id))
    else:
        rows = WebhookDelivery.objects.filter(subscription__in=webhooks_visible(requester))
    return list(rows.select_related("subscription")[:LOG_LENGTH])
