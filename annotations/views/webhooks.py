"""The Webhooks page: a coordinator subscribes a receiver to events (the secret shown this once), revokes
a subscription, and reads the delivery log. Writes go through services.webhooks."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from annotations.errors import ApplicationError
from annotations.models import WebhookEvent
from annotations.roles import Role
from annotations.selectors.webhooks import webhook_deliveries, webhooks_visible
from annotations.services.webhooks.subscriptions import webhook_revoke, webhook_subscribe
from annotations.views.access import _client_ip, role_required

coordinator_only = role_required(Role.COORDINATOR)


class WebhookForm(forms.Form):
    url = forms.CharField(max_length=500, label=gettext_lazy("Receiver address (http or https)"))
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple, label=gettext_lazy("Events")
    )


def _page(request, *, form=None, shown=None, status=200):
    context = {
        "subscriptions": webhooks_visible(request.user),
        "deliveries": webhook_deliveries(request.user),
        "form": form or WebhookForm(),
        "shown": shown,
        "event_labels": dict(WebhookEvent.choices),
    }
    response = render(request, "annotations/webhooks/page.html", context, status=status)
    add_never_cache_headers(response)  # the secret is in the page that creates it
    return response


@coordinator_only
def webhooks(request):
    if request.method != "POST":
        return _page(request)
    form = WebhookForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    try:
        created = webhook_subscribe(
            actor=request.user,
            url=form.cleaned_data["url"],
            events=form.cleaned_data["events"],
            link_base=request.build_absolute_uri("/"),
            ip=_client_ip(request),
        )
    except ApplicationError as error:
        form.add_error("url", error.message)
        return _page(request, form=form, status=400)
    messages.success(request, _("Webhook subscribed. Copy its secret now: it is not shown again."))
    return _page(request, shown={"subscription": created.subscription, "secret": created.secret})


@require_POST
@coordinator_only
def webhook_revoke_view(request, webhook_id: int):
    try:
        webhook_revoke(actor=request.user, subscription_id=webhook_id, ip=_client_ip(request))
        messages.success(request, _("Webhook revoked: nothing more is sent to it."))
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect("webhooks")


urlpatterns = [
    path("webhooks/", webhooks, name="webhooks"),
    path("webhooks/<int:webhook_id>/revoke/", webhook_revoke_view, name="webhook-revoke"),
]
