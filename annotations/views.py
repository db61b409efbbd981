"""Server-rendered pages. Thin: each view asks a selector or a service and renders."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _

from annotations.models import QUALITY_FLAG_CHOICES, QualityGrade
from annotations.roles import ANY_SIGNED_IN, Role, has_role, user_roles
from annotations.selectors.batches import batch_overview
from annotations.selectors.exams import dataset_list, exam_for_coordinator, exam_list
from annotations.selectors.taxonomy import taxonomy_classes_by_group, taxonomy_get, taxonomy_list
from annotations.selectors.worklist import reader_worklist
from annotations.services.audit import audit_record
from annotations.services.login_throttle import login_failure_record, login_locked, login_success_record
from ecgreview.client_address import client_ip
from ecgreview.middleware import has_nul, without_nul


def role_required(role: Role):
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not has_role(request.user, role):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        # The declaration the access-matrix test reads (functools.wraps carries it through the
        # decorators stacked on top, such as require_GET).
        wrapped.required_roles = frozenset({role})
        return wrapped

    return decorator


def signed_in(view):
    """Declares a page open to any signed-in account, role or not (the middleware already demands the
    login). Wraps rather than marks, so a framework view shared with other projects is left untouched."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        return view(request, *args, **kwargs)

    wrapped.required_roles = ANY_SIGNED_IN
    return wrapped


def api_login_required(view):
    """For the few plain Django views under /api/ (binary downloads): answer anonymous clients exactly
    as the DRF views do, 403 with the same JSON, before any other check can reveal anything."""
    from django.http import JsonResponse

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"detail": "Authentication credentials were not provided."}, status=403)
        return view(request, *args, **kwargs)

    return wrapped


def _client_ip(request) -> str | None:
    return client_ip(request)


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    """Django's login, with successes and failures in the audit trail, and a lockout after repeated
    failures (settings LOGIN_FAILURE_LIMIT within LOGIN_LOCKOUT_MINUTES)."""

    redirect_authenticated_user = True
    # A NUL byte in the form is refused here rather than by RejectNulMiddleware: the attempt is audited.
    checks_nul_in_form = True

    def post(self, request, *args, **kwargs):
        username = (request.POST.get("username") or "")[:150]
        if login_locked(username, _client_ip(request)):
            self._audit_failure("auth.login_locked", username)
            form = self.get_form()
            form.errors.clear()
            minutes = settings.LOGIN_LOCKOUT_MINUTES
            context = self.get_context_data(form=form, locked_minutes=minutes)
            return self.render_to_response(context, status=429)
        if has_nul(request.POST):
            login_failure_record(username, _client_ip(request))
            self._audit_failure("auth.login_failed", username)
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, _("The form holds a character that is not allowed (NUL)."))
            return self.render_to_response(self.get_context_data(form=form), status=400)
        return super().post(request, *args, **kwargs)

    def _audit_failure(self, action: str, username: str) -> None:
        with transaction.atomic():
            audit_record(
                actor=None,
                action=action,
                ip_address=_client_ip(self.request),
                actor_username=without_nul(username),
            )

    def form_valid(self, form):
        response = super().form_valid(form)
        login_success_record(form.get_user().get_username(), _client_ip(self.request))
        with transaction.atomic():
            audit_record(actor=form.get_user(), action="auth.login", ip_address=_client_ip(self.request))
        from annotations.selectors.users import password_must_change

        if password_must_change(form.get_user()):
            # A password a coordinator handed out: replaced before anything else (the middleware holds
            # the session to the password page until then).
            self.request.session["must_change_password"] = True
            return redirect("password-change")
        return response

    def form_invalid(self, form):
        username = (form.data.get("username") or "")[:150]
        login_failure_record(username, _client_ip(self.request))
        self._audit_failure("auth.login_failed", username)
        return super().form_invalid(form)


HOME_QUEUE_ROWS = 20


@signed_in
def home(request):
    roles = user_roles(request.user)
    context = {"roles": sorted(role.value for role in roles)}
    if Role.READER in roles:
        context["worklist"] = reader_worklist(request.user)
    if Role.ADJUDICATOR in roles:
        # The adjudication queue's own selector: it leaves out every exam the user reads anywhere.
        from annotations.selectors.agreement import adjudication_queue

        queue = adjudication_queue(request.user)
        context["adjudication"] = {"items": queue[:HOME_QUEUE_ROWS], "total": len(queue)}
    if Role.COORDINATOR in roles:
        context["batches"] = batch_overview(request.user)[:20]
    return render(request, "annotations/home.html", context)


@signed_in
def taxonomies(request):
    return render(request, "annotations/taxonomy_list.html", {"taxonomies": taxonomy_list()})


@signed_in
def taxonomy_detail(request, taxonomy_id: int):
    taxonomy = taxonomy_get(taxonomy_id)
    return render(
        request,
        "annotations/taxonomy_detail.html",
        {"taxonomy": taxonomy, "groups": taxonomy_classes_by_group(taxonomy)},
    )


@role_required(Role.COORDINATOR)
def exams(request):
    dataset = request.GET.get("dataset") or None
    grade = request.GET.get("quality") or None
    flag = request.GET.get("flag") or None
    listed = exam_list(request.user, dataset=dataset, quality_grade=grade, quality_flag=flag)
    page = Paginator(listed, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "annotations/exam_list.html",
        {
            "page": page,
            "datasets": dataset_list(request.user),
            "dataset": dataset,
            "quality": grade,
            "flag": flag,
            "grades": QualityGrade.choices,
            "flags": QUALITY_FLAG_CHOICES,
        },
    )


def exam_detail(request, exam_id: int):
    exam, batches = exam_for_coordinator(request.user, exam_id)
    report = exam.quality_report or {}
    labels = dict(QUALITY_FLAG_CHOICES)
    leads = [
        {"name": name, **values, "flag_labels": [labels.get(flag, flag) for flag in values.get("flags", [])]}
        for name, values in (report.get("leads") or {}).items()
    ]
    return render(
        request,
        "annotations/exam_detail.html",
        {
            "exam": exam,
            "batches": batches,
            "report": report,
            "leads": leads,
            "flag_labels": [labels.get(flag, flag) for flag in report.get("flags", [])],
            "residuals": sorted((report.get("residuals") or {}).items()),
        },
    )


# Coordinators only; everyone else gets 404 from the selector (a reader must not learn which batches
# hold an exam, not even that the page exists for it). Declared for the access-matrix test.
exam_detail.required_roles = frozenset({Role.COORDINATOR})
