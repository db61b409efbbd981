"""The admin site, for coordinators only.

Domain rows are written by services (which audit and enforce the rules), so the admin shows them
read-only; user accounts are the admin's real job, and every change there is audited too.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group, User
from django.forms.models import model_to_dict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from annotations import models
from annotations.roles import Role, has_role
from annotations.selectors.users import username_taken
from annotations.services.audit import audit_record
from annotations.services.users import user_set_roles
from ecgreview.client_address import client_ip


class CoordinatorAdminSite(admin.AdminSite):
    site_header = "ECG Review administration"
    site_title = "ECG Review admin"
    # Declared for the access-matrix test, as role_required and the API permission classes do.
    required_roles = frozenset({Role.COORDINATOR})

    def has_permission(self, request) -> bool:
        user = request.user
        return user.is_active and (user.is_superuser or any(has_role(user, r) for r in self.required_roles))

    @method_decorator(never_cache)
    @login_not_required
    def login(self, request, extra_context=None):
        """One way in: the site's login form, which counts failures and audits every attempt. The admin's
        own form would let a locked-out name be tried again here."""
        from django.contrib.auth.views import redirect_to_login

        if request.user.is_authenticated and self.has_permission(request):
            from django.shortcuts import redirect

            return redirect(self.index_url())
        if request.user.is_authenticated:
            # Signed in but no coordinator: the login form would send them straight back here, round
            # and round. They are told no instead.
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("the administration is for coordinators")
        return redirect_to_login(request.GET.get("next") or self.index_url())

    def index_url(self) -> str:
        from django.urls import reverse

        return reverse(f"{self.name}:index")


coordinator_admin = CoordinatorAdminSite(name="admin")


def _is_coordinator(request) -> bool:
    return request.user.is_superuser or has_role(request.user, Role.COORDINATOR)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_module_permission(self, request):
        return _is_coordinator(request)

    def has_view_permission(self, request, obj=None):
        return _is_coordinator(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AccountChangeForm(UserChangeForm):
    """The admin's account form under the People page's naming rule: no name another account holds in
    any case (the login matches names case-folded, so `ANA` beside `ana` would be one person to it)."""

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if username_taken(username, exclude_pk=self.instance.pk):
            raise forms.ValidationError(_("the username “%(name)s” is taken") % {"name": username})
        return username


class AuditedUserAdmin(UserAdmin):
    """User management for coordinators; nobody edits their own groups or superuser flag."""

    form = AccountChangeForm

    def user_change_password(self, request, id, form_url=""):
        """Nobody chooses another person's password: a coordinator resets it on the People page, which
        hands over a one-time password its holder must replace (audited there). One's own password is
        changed on one's own form, which asks for the current one. Nothing is changed here."""
        if str(request.user.pk) == str(id):
            return redirect(reverse("password-change"))
        messages.info(
            request,
            _(
                "Passwords are reset on the People page: the person gets a one-time password and must "
                "replace it when they sign in."
            ),
        )
        return redirect(reverse("people"))

    def has_module_permission(self, request):
        return _is_coordinator(request)

    def has_view_permission(self, request, obj=None):
        return _is_coordinator(request)

    def has_add_permission(self, request):
        return _is_coordinator(request)

    def has_change_permission(self, request, obj=None):
        return _is_coordinator(request)

    def has_delete_permission(self, request, obj=None):
        return False  # accounts that did work are deactivated, never deleted

    def get_readonly_fields(self, request, obj=None):
        fields = ["last_login", "date_joined", "is_superuser", "user_permissions"]
        if obj is not None and obj.pk == request.user.pk:
            fields += ["groups", "is_staff", "is_active"]
        return fields

    def save_model(self, request, obj, form, change):
        before = {k: form.initial.get(k) for k in form.changed_data} if change else None
        super().save_model(request, obj, form, change)
        self._audit_before = before

    def save_related(self, request, form, formsets, change):
        # Roles change through the one service that checks and audits them (and keeps is_staff in step
        # with the coordinator role), not through the form's own many-to-many save.
        groups = form.cleaned_data.pop("groups", None) if "groups" in form.changed_data else None
        super().save_related(request, form, formsets, change)
        user = form.instance
        if groups is not None:
            roles = {Role(group.name) for group in groups if group.name in {role.value for role in Role}}
            user_set_roles(user=user, roles=roles, actor=request.user)
        after = {k: v for k, v in model_to_dict(user, fields=form.changed_data).items() if k != "password"}
        if "groups" in after:
            after["groups"] = sorted(g.name for g in user.groups.all())
        audit_record(
            actor=request.user,
            action="user.change" if change else "user.create",
            target=user,
            before=_jsonable(getattr(self, "_audit_before", None)),
            after=_jsonable(after),
            ip_address=client_ip(request),
        )


def _plain(value):
    """A value the audit trail can store as JSON: groups by name, anything else by its text."""
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if hasattr(value, "__iter__"):
        return sorted(str(getattr(item, "name", item)) for item in value)
    return str(value)


def _jsonable(values):
    if values is None:
        return None
    return {k: _plain(v) for k, v in values.items() if k != "password"}


class GroupsReadOnly(ReadOnlyAdmin, GroupAdmin):
    pass


@admin.register(models.Taxonomy, site=coordinator_admin)
class TaxonomyAdmin(ReadOnlyAdmin):
    list_display = ["key", "version", "name", "is_default", "frozen_at", "loaded_at"]


@admin.register(models.DiagnosticClass, site=coordinator_admin)
class DiagnosticClassAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "name_pt", "group", "kind", "taxonomy"]
    list_filter = ["taxonomy", "kind", "group"]
    search_fields = ["code", "name", "name_pt"]


@admin.register(models.Dataset, site=coordinator_admin)
class DatasetAdmin(ReadOnlyAdmin):
    list_display = ["name", "title", "licence", "created_at"]


@admin.register(models.Exam, site=coordinator_admin)
class ExamAdmin(ReadOnlyAdmin):
    list_display = ["external_id", "dataset", "age", "sex", "sampling_rate", "n_samples", "source_format"]
    list_filter = ["dataset", "source_format", "sex"]
    search_fields = ["external_id"]


@admin.register(models.ReviewBatch, site=coordinator_admin)
class ReviewBatchAdmin(ReadOnlyAdmin):
    list_display = ["name", "taxonomy", "readers_per_exam", "suggestion_mode", "status", "created_at"]


@admin.register(models.Assignment, site=coordinator_admin)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ["batch", "reader", "exam", "read_round", "position", "status"]
    list_filter = ["batch", "status"]


@admin.register(models.AuditEvent, site=coordinator_admin)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "actor_username", "action", "target_type", "target_id", "ip_address"]
    list_filter = ["action"]
    search_fields = ["actor_username", "action", "target_id"]


coordinator_admin.register(User, AuditedUserAdmin)
coordinator_admin.register(Group, GroupsReadOnly)
