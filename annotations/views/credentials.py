"""Two-factor sign-in set up by each account for itself, and API tokens handed out on the People page.

Secrets (the TOTP key as a QR code, recovery codes, a token) are shown in the one response that makes
them and never cached; every change goes through services.credentials (a transaction and an audit row).
"""

from __future__ import annotations

import base64
from binascii import unhexlify

import segno
from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.cache import add_never_cache_headers
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from annotations.errors import ApplicationError
from annotations.models import TokenScope
from annotations.roles import Role
from annotations.selectors.credentials import recovery_codes_left
from annotations.selectors.users import account_get
from annotations.services.credentials.tokens import api_token_create, api_token_revoke
from annotations.services.credentials.two_factor import (
    recovery_codes_renew,
    totp_device_confirm,
    totp_device_start,
    two_factor_device,
    two_factor_disable,
    two_factor_enrolled,
    two_factor_required,
)
from annotations.views.access import _client_ip, role_required, signed_in
from annotations.views.users import _page
from ecgreview.middleware import TwoFactorEnrolmentRequiredMiddleware

coordinator_only = role_required(Role.COORDINATOR)


class CodeForm(forms.Form):
    code = forms.CharField(max_length=32, label=gettext_lazy("Code from the app"))


class TokenForm(forms.Form):
    user = forms.IntegerField(widget=forms.HiddenInput)
    name = forms.CharField(max_length=100, label=gettext_lazy("Token name"))
    scope = forms.ChoiceField(choices=TokenScope.choices, label=gettext_lazy("Scope"))
    days = forms.IntegerField(min_value=1, label=gettext_lazy("Days"))
    benchmark = forms.IntegerField(min_value=1, required=False, label=gettext_lazy("Benchmark"))


def _qr_svg(url: str) -> str:
    # segno writes the SVG here, on the server: the page loads nothing from elsewhere.
    return mark_safe(segno.make(url, error="m").svg_inline(scale=4, border=2))  # noqa: S308 (our own SVG)


def _two_factor_page(request, *, device=None, codes=None, error="", status=200):
    enrolled = two_factor_enrolled(request.user)
    context = {
        "enrolled": enrolled,
        "required": two_factor_required(request.user),
        "must": bool(request.session.get(TwoFactorEnrolmentRequiredMiddleware.SESSION_KEY)),
        "codes_left": recovery_codes_left(request.user) if enrolled else None,
        "codes": codes,
        "form": CodeForm(),
        "error": error,
    }
    if device is not None:
        context["qr"] = _qr_svg(device.config_url)
        context["secret"] = base64.b32encode(unhexlify(device.key)).decode()
    response = render(request, "annotations/users/two_factor.html", context, status=status)
    add_never_cache_headers(response)
    return response


@signed_in
def two_factor(request):
    """The account's own two-factor page: off, being set up (the QR code), or on."""
    return _two_factor_page(request)


@require_POST
@signed_in
def two_factor_start(request):
    try:
        device = totp_device_start(user=request.user, ip=_client_ip(request))
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("two-factor")
    return _two_factor_page(request, device=device)


@require_POST
@signed_in
def two_factor_confirm(request):
    form = CodeForm(request.POST)
    try:
        if not form.is_valid():
            raise ApplicationError(_("Type the six digits the app shows."))
        codes = totp_device_confirm(user=request.user, code=form.cleaned_data["code"], ip=_client_ip(request))
    except ApplicationError as error:
        device = two_factor_device(request.user, confirmed=False)
        return _two_factor_page(request, device=device, error=error.message, status=400)
    request.session.pop(TwoFactorEnrolmentRequiredMiddleware.SESSION_KEY, None)
    messages.success(request, _("Two-factor sign-in is on."))
    return _two_factor_page(request, codes=codes)


@require_POST
@signed_in
def two_factor_recovery_codes(request):
    try:
        codes = recovery_codes_renew(user=request.user, ip=_client_ip(request))
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("two-factor")
    return _two_factor_page(request, codes=codes)


@require_POST
@signed_in
def two_factor_off(request):
    two_factor_disable(actor=request.user, user=request.user, ip=_client_ip(request))
    if two_factor_required(request.user):
        request.session[TwoFactorEnrolmentRequiredMiddleware.SESSION_KEY] = True
    messages.success(request, _("Two-factor sign-in is off."))
    return redirect("two-factor")


@require_POST
@coordinator_only
def person_two_factor_reset(request, user_id: int):
    """A coordinator turns off another account's second factor (a lost phone): it enrols again."""
    account = account_get(request.user, user_id)
    try:
        two_factor_disable(actor=request.user, user=account, ip=_client_ip(request))
        messages.success(
            request, _("Two-factor sign-in of %(user)s is off.") % {"user": account.get_username()}
        )
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect("people")


@require_POST
@coordinator_only
def person_token_create(request):
    """A coordinator hands an account a token; the People page shows it this once."""
    form = TokenForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the token a name, a scope and a number of days."))
        return redirect("people")
    account = account_get(request.user, form.cleaned_data["user"])
    try:
        created = api_token_create(
            actor=request.user,
            user=account,
            name=form.cleaned_data["name"],
            scope=form.cleaned_data["scope"],
            days=form.cleaned_data["days"],
            benchmark_id=form.cleaned_data["benchmark"],
            ip=_client_ip(request),
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("people")
    shown = {"username": account.get_username(), "name": created.token.name, "token": created.secret}
    return _page(request, token_shown=shown)


@require_POST
@coordinator_only
def person_token_revoke(request, token_id: int):
    try:
        token = api_token_revoke(actor=request.user, token_id=token_id, ip=_client_ip(request))
        messages.success(request, _("Token %(name)s is revoked.") % {"name": token.name})
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect("people")


urlpatterns = [
    path("accounts/two-factor/", two_factor, name="two-factor"),
    path("accounts/two-factor/start/", two_factor_start, name="two-factor-start"),
    path("accounts/two-factor/confirm/", two_factor_confirm, name="two-factor-confirm"),
    path("accounts/two-factor/recovery-codes/", two_factor_recovery_codes, name="two-factor-recovery-codes"),
    path("accounts/two-factor/off/", two_factor_off, name="two-factor-off"),
    path("people/<int:user_id>/two-factor/reset/", person_two_factor_reset, name="person-two-factor-reset"),
    path("people/tokens/", person_token_create, name="person-token-create"),
    path("people/tokens/<int:token_id>/revoke/", person_token_revoke, name="person-token-revoke"),
]
