"""The People page: coordinators open accounts, set roles, deactivate and reset passwords.

Every change goes through services.users (one transaction and an audit row each); a password the page
hands out is shown in that one response, never stored in clear, and never cached.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from annotations.errors import Forbidden
from annotations.models import TokenScope
from annotations.roles import Role, has_role
from annotations.selectors.benchmarks import benchmarks_for_tokens
from annotations.selectors.credentials import api_tokens_listed, single_sign_on_user_ids, two_factor_user_ids
from annotations.selectors.users import account_get, coordinators_until, people_list, reader_unread_batches
from annotations.services.users import (
    UserAdminError,
    user_change_own_password,
    user_create_with_one_time_password,
    user_reset_password,
    user_set_active,
    user_set_name,
    user_set_roles,
)
from annotations.views.access import role_required, signed_in

coordinator_only = role_required(Role.COORDINATOR)
SESSION_MUST_CHANGE = "must_change_password"

ROLE_CHOICES = [
    (Role.READER.value, gettext_lazy("Reader")),
    (Role.ADJUDICATOR.value, gettext_lazy("Adjudicator")),
    (Role.COORDINATOR.value, gettext_lazy("Coordinator")),
    (Role.SUBMITTER.value, gettext_lazy("Benchmark submitter")),
]


class RolesForm(forms.Form):
    roles = forms.MultipleChoiceField(
        choices=ROLE_CHOICES, required=False, widget=forms.CheckboxSelectMultiple, label=gettext_lazy("Roles")
    )

    def role_set(self) -> set[Role]:
        return {Role(value) for value in self.cleaned_data["roles"]}


class NameForm(forms.Form):
    first_name = forms.CharField(max_length=150, required=False, label=gettext_lazy("Given name"))
    last_name = forms.CharField(max_length=150, required=False, label=gettext_lazy("Family name"))


class NewAccountForm(RolesForm, NameForm):
    username = forms.CharField(max_length=150, label=gettext_lazy("Username"))
    email = forms.EmailField(required=False, label=gettext_lazy("E-mail"))


def _page(request, *, form=None, shown=None, token_shown=None, status=200):
    from django.conf import settings

    people = people_list(request.user)
    enrolled = two_factor_user_ids([p["id"] for p in people])
    linked = single_sign_on_user_ids([p["id"] for p in people])
    for person in people:
        person["two_factor"] = person["id"] in enrolled
        person["single_sign_on"] = person["id"] in linked
    response = render(
        request,
        "annotations/users/people.html",
        {
            "people": people,
            "form": form or NewAccountForm(),
            "role_choices": ROLE_CHOICES,
            "shown": shown,
            "token_shown": token_shown,
            "tokens": api_tokens_listed(request.user),
            "token_benchmarks": benchmarks_for_tokens(request.user),
            "token_scopes": TokenScope.choices,
            # A role map makes the provider's groups the roles of a linked account at each sign-in.
            "sso_provider": settings.OIDC_PROVIDER_NAME,
            "sso_roles_mapped": bool(settings.OIDC_ROLE_MAP),
            "token_default_days": settings.API_TOKEN_DEFAULT_DAYS,
            "token_max_days": settings.API_TOKEN_MAX_DAYS,
        },
        status=status,
    )
    add_never_cache_headers(response)
    return response


@coordinator_only
def people(request):
    if request.method != "POST":
        return _page(request)
    form = NewAccountForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    try:
        user, password = user_create_with_one_time_password(
            username=form.cleaned_data["username"],
            roles=form.role_set(),
            email=form.cleaned_data["email"],
            first_name=form.cleaned_data["first_name"],
            last_name=form.cleaned_data["last_name"],
            actor=request.user,
        )
    except UserAdminError as error:
        form.add_error(None, str(error))
        return _page(request, form=form, status=400)
    return _page(request, shown={"username": user.get_username(), "password": password})


@require_POST
@coordinator_only
def person_roles(request, user_id: int):
    account = account_get(request.user, user_id)
    form = RolesForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Unknown role."))
        return redirect("people")
    try:
        user_set_roles(user=account, roles=form.role_set(), actor=request.user)
        messages.success(request, _("Roles of %(user)s saved.") % {"user": account.get_username()})
        _warn_unread(request, account)
        _warn_former_coordinator(request, account)
    except Forbidden as error:
        messages.error(request, str(error))
    return redirect("people")


@require_POST
@coordinator_only
def person_name(request, user_id: int):
    account = account_get(request.user, user_id)
    form = NameForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("A name is at most 150 characters."))
        return redirect("people")
    try:
        user_set_name(
            user=account,
            first_name=form.cleaned_data["first_name"],
            last_name=form.cleaned_data["last_name"],
            actor=request.user,
        )
        messages.success(request, _("Name of %(user)s saved.") % {"user": account.get_username()})
    except UserAdminError as error:
        messages.error(request, str(error))
    return redirect("people")


def _warn_former_coordinator(request, account) -> None:
    """A reader who was a coordinator saw every reader's labels and is refused as a reader at every
    design and hand-out (selectors.users.blind_refusal): said here, where the role is given."""
    if not has_role(account, Role.READER) or has_role(account, Role.COORDINATOR):
        return
    until = coordinators_until([account.pk]).get(account.pk)
    if until is None:
        return
    messages.warning(
        request,
        _(
            "%(user)s was a coordinator until %(date)s and saw every reader's labels, so will be refused as "
            "a reader in every batch."
        )
        % {"user": account.get_username(), "date": date_format(until.date(), "SHORT_DATE_FORMAT")},
    )


def _warn_unread(request, account) -> None:
    """An account that no longer reads leaves its unread exams where nobody reads them: say where, with
    links to the batches whose page moves them to another reader."""
    if account.is_active and has_role(account, Role.READER):
        return
    batches = reader_unread_batches(request.user, account)
    if not batches:
        return
    listed = format_html_join(
        ", ",
        '<a href="{}">{}</a> ({})',
        ((reverse("batch-detail", args=[b["id"]]), b["name"], b["unread"]) for b in batches),
    )
    count = sum(b["unread"] for b in batches)
    text = ngettext(
        "%(user)s still holds %(count)s unread exam in running batches:",
        "%(user)s still holds %(count)s unread exams in running batches:",
        count,
    ) % {"user": account.get_username(), "count": count}
    after = _("move them to another reader on each batch's page.")
    messages.warning(request, format_html("{} {}; {}", text, listed, after))


@require_POST
@coordinator_only
def person_active(request, user_id: int):
    account = account_get(request.user, user_id)
    active = request.POST.get("active") == "1"
    try:
        user_set_active(user=account, active=active, actor=request.user)
        done = _("%(user)s can sign in.") if active else _("%(user)s is deactivated.")
        messages.success(request, done % {"user": account.get_username()})
        account.refresh_from_db(fields=["is_active"])
        _warn_unread(request, account)
    except Forbidden as error:
        messages.error(request, str(error))
    return redirect("people")


@require_POST
@coordinator_only
def person_reset_password(request, user_id: int):
    account = account_get(request.user, user_id)
    try:
        password = user_reset_password(user=account, actor=request.user)
    except Forbidden as error:
        messages.error(request, str(error))
        return redirect("people")
    return _page(request, shown={"username": account.get_username(), "password": password})


@signed_in
def password_change(request):
    """Any account replaces its own password here; one handed out by a coordinator must be replaced
    before anything else (ecgreview.middleware.PasswordChangeRequiredMiddleware)."""
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user_change_own_password(user=request.user, password=form.cleaned_data["new_password1"])
        update_session_auth_hash(request, request.user)
        request.session.pop(SESSION_MUST_CHANGE, None)
        messages.success(request, _("Your password was changed."))
        return redirect("home")
    status = 400 if request.method == "POST" else 200
    must = bool(request.session.get(SESSION_MUST_CHANGE))
    return render(
        request, "annotations/users/password_change.html", {"form": form, "must": must}, status=status
    )


urlpatterns = [
    path("accounts/password/", password_change, name="password-change"),
    path("people/", people, name="people"),
    path("people/<int:user_id>/roles/", person_roles, name="person-roles"),
    path("people/<int:user_id>/name/", person_name, name="person-name"),
    path("people/<int:user_id>/active/", person_active, name="person-active"),
    path(
        "people/<int:user_id>/reset-password/",
        person_reset_password,
        name="person-reset-password",
    ),
]
