"""Webhook deliveries: queued inside the transaction of the event they announce, sent after its commit by
a Celery task (services.jobs.dispatch), signed, tried again with exponential back-off, and given up after
WEBHOOK_MAX_ATTEMPTS.

Each delivery is sent at most once at a time: an attempt claims its row with a conditional UPDATE (the
attempt count it read and the time it was due), so a twin message, a sweep and a back-off timer that
meet find it taken and leave. A delivered or given-up delivery is never sent again. The receiver sees
the same body and delivery id on every attempt (X-ECGReview-Delivery), to drop a repeat of one it
already acted on: a delivery whose answer was lost (a timeout) is sent again.

The signature (X-ECGReview-Signature: t=<unix time>,v1=<hex>) is HMAC-SHA256 with the subscription's
secret over "<t>.<body>": a receiver that checks it and refuses a `t` older than a few minutes cannot be
fed a recorded delivery again (docs/webhooks.md).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotations.errors import Invalid
from annotations.lib.sealing import Unreadable, unseal
from annotations.models import WebhookDelivery, WebhookSubscription
from annotations.roles import Role, has_role
from annotations.services.audit import audit_record
from annotations.services.jobs.dispatch import CATCH_UP_PRIORITY, task_enqueue, task_enqueue_on_commit
from annotations.services.webhooks.addresses import vetted_connection, webhook_url_check
from annotations.services.webhooks.sealing import sealing_keys

if TYPE_CHECKING:
    from datetime import datetime

logger = logging.getLogger(__name__)
DELIVER_TASK = "annotations.tasks.webhooks_deliver"
SYSTEM_ACTOR = "system:webhooks"
EXCERPT = 500
UNREADABLE_SECRET = (
    "The signing secret cannot be read: SECRET_KEY changed without the old key in SECRET_KEY_FALLBACKS. "
    "Put it back among the fallbacks, or subscribe again for a new secret."
)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _linked(value: Any, base: str, key: str = "") -> Any:
    """The event's data with its links made absolute: a path under a key ending in "url"."""
    if isinstance(value, dict):
        return {k: _linked(v, base, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_linked(v, base) for v in value]
    if isinstance(value, str) and key.endswith("url") and value.startswith("/"):
        return base + value
    return value


def _receiving(event: str) -> list[WebhookSubscription]:
    """The active subscriptions to `event` whose owner may still see what it announces: an active
    coordinator (a subscription outlives a role taken away, but receives nothing while it is)."""
    subscriptions = WebhookSubscription.objects.filter(active=True, owner__is_active=True).select_related(
        "owner"
    )
    return [s for s in subscriptions if event in s.events and has_role(s.owner, Role.COORDINATOR)]


def subscribed_to(event: str) -> bool:
    """Whether any subscription may receive `event`: the hot paths (every read submitted) ask first."""
    return bool(_receiving(event))


def webhook_event_emit(event: str, *, subject: str, data: dict[str, Any]) -> int:
    """Queue `event` about `subject` ("release:7") for every subscription to it, inside the caller's
    transaction (a rolled-back event announces nothing); sent after the commit. An event already queued
    for a subscription is not queued twice. Returns how many deliveries were queued."""
    subscriptions = _receiving(event)
    if not subscriptions:
        return 0
    now = timezone.now()
    rows = []
    for subscription in subscriptions:
        uid = uuid.uuid4()
        base = (settings.WEBHOOK_LINK_BASE or subscription.link_base).rstrip("/")
        payload = {
            "id": str(uid),
            "event": event,
            "occurred_at": now.isoformat(),
            "data": _linked(data, base),
        }
        rows.append(
            WebhookDelivery(
                uid=uid,
                subscription=subscription,
                event=event,
                subject=subject,
                payload=payload,
                next_attempt_at=now,
            )
        )
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    queued = list(WebhookDelivery.objects.filter(uid__in=[r.uid for r in rows]).values_list("pk", flat=True))
    if queued:
        audit_record(
            actor=None,
            actor_username=SYSTEM_ACTOR,
            action="webhook.queue",
            after={"event": event, "subject": subject, "deliveries": len(queued)},
        )
    for pk in queued:
        task_enqueue_on_commit(DELIVER_TASK, pk)
    return len(queued)


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    excerpt: str
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not an address to follow: it could lead where the address check refuses."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _VettedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = vetted_connection


class _VettedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, still under the receiver's name (SNI and certificate check)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = vetted_connection


class _VettedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_VettedHTTPConnection, req)


class _VettedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_VettedHTTPSConnection, req, context=self._context)  # type: ignore[attr-defined]  # set by HTTPSHandler.__init__


def _opener() -> urllib.request.OpenerDirector:
    proxy = settings.WEBHOOK_PROXY
    if proxy:
        return urllib.request.build_opener(
            urllib.request.ProxyHandler({"http": proxy, "https": proxy}), _NoRedirect
        )
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}), _VettedHTTPHandler, _VettedHTTPSHandler, _NoRedirect
    )


def _read(response: Any) -> str:
    try:
        text: str = response.read(EXCERPT).decode("utf-8", "replace")
        return text
    except Exception:
        return ""


def _post(delivery: WebhookDelivery) -> Answer:
    subscription = delivery.subscription
    try:
        webhook_url_check(subscription.url)
    except Invalid as refusal:
        return Answer(None, "", refusal.message[:EXCERPT])
    try:
        secret = unseal(subscription.secret_sealed, sealing_keys())
    except Unreadable:
        return Answer(None, "", UNREADABLE_SECRET)
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "ECG-Review-Webhooks/1",
        "X-ECGReview-Event": delivery.event,
        "X-ECGReview-Delivery": str(delivery.uid),
        "X-ECGReview-Signature": signature(secret, int(time.time()), body),
    }
    # webhook_url_check allowed http(s) only, just above.
    request = urllib.request.Request(subscription.url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with _opener().open(request, timeout=settings.WEBHOOK_TIMEOUT_S) as response:
            return Answer(response.status, _read(response), "")
    except urllib.error.HTTPError as error:
        return Answer(error.code, _read(error), "")
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return Answer(None, "", str(reason)[:EXCERPT] or type(error).__name__)


def _back_off(attempt: int) -> int:
    """Seconds before attempt `attempt` + 1: WEBHOOK_BACKOFF_S, doubled each time, at most an hour's worth."""
    delay: int = min(settings.WEBHOOK_BACKOFF_S * 2 ** (attempt - 1), settings.WEBHOOK_MAX_BACKOFF_S)
    return delay


def _claim(delivery: WebhookDelivery, now: datetime) -> bool:
    """Take the due delivery for one attempt; False when another attempt took it first. While the attempt
    runs its next attempt is due only after the longest the request may take, so the sweep picks up an
    attempt whose worker died in the middle."""
    lease = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_S + 60)
    with transaction.atomic():
        return bool(
            WebhookDelivery.objects.filter(
                pk=delivery.pk,
                state=WebhookDelivery.State.PENDING,
                attempts=delivery.attempts,
                next_attempt_at=delivery.next_attempt_at,
            ).update(attempts=F("attempts") + 1, next_attempt_at=lease)
        )


def _may_receive(subscription: WebhookSubscription) -> bool:
    owner = subscription.owner
    return subscription.active and owner.is_active and has_role(owner, Role.COORDINATOR)


def webhook_deliver(delivery_id: int) -> WebhookDelivery | None:
    """One attempt at a due delivery; nothing for one delivered, given up, not yet due or being tried.
    A failed attempt schedules the next after its back-off, up to WEBHOOK_MAX_ATTEMPTS."""
    delivery = WebhookDelivery.objects.select_related("subscription__owner").filter(pk=delivery_id).first()
    now = timezone.now()
    due = delivery is not None and (delivery.next_attempt_at is None or delivery.next_attempt_at <= now)
    if delivery is None or delivery.state != WebhookDelivery.State.PENDING or not due:
        return delivery
    if not _may_receive(delivery.subscription):
        return _record(
            delivery,
            delivery.attempts,
            Answer(None, "", "the subscription may no longer receive"),
            final=True,
        )
    if not _claim(delivery, now):
        return delivery
    attempt = delivery.attempts + 1
    answer = _post(delivery)
    return _record(delivery, attempt, answer, final=answer.ok or attempt >= settings.WEBHOOK_MAX_ATTEMPTS)


def _record(delivery: WebhookDelivery, attempt: int, answer: Answer, *, final: bool) -> WebhookDelivery:
    now = timezone.now()
    wait = None if final else _back_off(attempt)
    state = (
        WebhookDelivery.State.DELIVERED
        if answer.ok
        else WebhookDelivery.State.FAILED
        if final
        else WebhookDelivery.State.PENDING
    )
    step = {
        "attempt": attempt,
        "at": now.isoformat(),
        "status_code": answer.status_code,
        "error": answer.error,
        "retry_in_s": wait,
    }
    with transaction.atomic():
        locked = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        locked.state = state
        locked.attempts = max(locked.attempts, attempt)
        locked.status_code = answer.status_code
        locked.response_excerpt = answer.excerpt[:EXCERPT]
        locked.error = answer.error[:EXCERPT]
        locked.history = [*locked.history, step][-settings.WEBHOOK_MAX_ATTEMPTS - 5 :]
        locked.next_attempt_at = now + timedelta(seconds=wait) if wait is not None else None
        locked.delivered_at = now if answer.ok else None
        locked.save()
        action = {"delivered": "webhook.deliver", "failed": "webhook.give_up"}.get(state, "webhook.retry")
        audit_record(
            actor=None,
            actor_username=SYSTEM_ACTOR,
            action=action,
            target=locked.subscription,
            after={
                "delivery": str(locked.uid),
                "event": locked.event,
                **{k: v for k, v in step.items() if k != "at"},
            },
        )
        if wait is not None:
            pk = locked.pk
            transaction.on_commit(lambda: task_enqueue(DELIVER_TASK, pk, countdown=wait))
    return locked


def webhooks_sweep_run() -> int:
    """Queue again the deliveries due for WEBHOOK_SWEEP_AFTER_S whose message never came (the broker was
    down when the event happened, Redis lost its data, a worker died in the middle of an attempt): beat,
    every WEBHOOK_SWEEP_SECONDS. A delivery queued twice is sent once (webhook_deliver). Returns how
    many were queued."""
    cutoff = timezone.now() - timedelta(seconds=settings.WEBHOOK_SWEEP_AFTER_S)
    due = list(
        WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING, next_attempt_at__lte=cutoff)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[: settings.JOBS_SWEEP_LIMIT]
    )
    sent = sum(task_enqueue(DELIVER_TASK, pk, priority=CATCH_UP_PRIORITY) for pk in due)
    if due:
        logger.info("webhooks sweep queued %s of %s deliveries left waiting", sent, len(due))
    return sent


def webhooks_resume() -> int:
    """On the embedded default, before a new web process serves (manage.py resume_jobs): one attempt at
    each delivery now due that the last process left (stopped before sending it, or while it waited out a
    back-off; no beat runs the sweep there). A failed one waits for its back-off in the new process's
    background thread. Returns how many were tried."""
    due = list(
        WebhookDelivery.objects.filter(
            state=WebhookDelivery.State.PENDING, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)
    )
    for pk in due:
        webhook_deliver(pk)
    return len(due)
