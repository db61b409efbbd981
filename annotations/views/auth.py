"""Signing in: Django's login with an audit row per attempt and a lockout after repeated failures."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect
from django.urls import path
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _

from annotations.services.auth import login_fail, login_lock_check, login_succeed
from annotations.views.access import _client_ip, signed_in
from ecgreview.middleware import has_nul


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    """Django's login, with successes and failures in the audit trail, and a lockout after repeated
    failures (settings LOGIN_FAILURE_LIMIT within LOGIN_LOCKOUT_MINUTES)."""

    redirect_authenticated_user = True
    # A NUL byte in the form is refused here rather than by RejectNulMiddleware: the attempt is audited.
    checks_nul_in_form = True

    def post(self, request, *args, **kwargs):
        username = request.POST.get("username") or ""  # services.auth trims, then cuts
        if login_lock_check(username, _client_ip(request)):
            form = self.get_form()
            form.errors.clear()
            minutes = settings.LOGIN_LOCKOUT_MINUTES
            context = self.get_context_data(form=form, locked_minutes=minutes)
            return self.render_to_response(context, status=429)
        if has_nul(request.POST):
            login_fail(username, _client_ip(request))
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, _("The form holds a character that is not allowed (NUL)."))
            return self.render_to_response(self.get_context_data(form=form), status=400)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        login_succeed(form.get_user(), _client_ip(self.request))
        from annotations.selectors.users import password_must_change

        if password_must_change(form.get_user()):
            # A password a coordinator handed out: replaced before anything else (the middleware holds
            # the session to the password page until then).
            self.request.session["must_change_password"] = True
            return redirect("password-change")
        return response

    def form_invalid(self, form):
        username = form.data.get("username") or ""
        login_fail(username, _client_ip(self.request))
        return super().form_invalid(form)


urlpatterns = [
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", signed_in(auth_views.LogoutView.as_view()), name="logout"),
]
