"""Coordinators browse and export the audit trail (it is written only by services, never edited)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext_lazy as _

from annotations.errors import Invalid
from annotations.roles import Role
from annotations.selectors.audit import AuditFilter, AuditPage, audit_events, audit_export_chunks, audit_page
from annotations.selectors.audit.words import audit_action_choices, audit_lines
from annotations.services.audit import audit_export_record
from annotations.views.access import client_ip, role_required


class AuditFilterForm(forms.Form):
    # Chosen from the actions in words; any other value (a prefix such as "annotation." in the address)
    # still filters, and is kept in the list (audit_action_choices).
    action = forms.CharField(required=False, max_length=60, label=_("Action"), widget=forms.Select)
    actor = forms.CharField(required=False, max_length=150, label=_("Actor"))
    target_type = forms.CharField(required=False, max_length=60, label=_("Target type"))
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label=_("Since"))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label=_("Until"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].widget.choices = audit_action_choices(self.data.get("action", ""))

    def wanted(self) -> AuditFilter:
        data = self.cleaned_data if self.is_valid() else {}
        values: dict[str, Any] = {
            name: data.get(name) or ("" if name not in ("since", "until") else None) for name in self.fields
        }
        return AuditFilter(**values)


@role_required(Role.COORDINATOR)
def audit_list(request):
    form = AuditFilterForm(request.GET or None)
    error, status = "", 200
    try:
        page = audit_page(
            request.user,
            form.wanted(),
            older=request.GET.get("older", ""),
            newer=request.GET.get("newer", ""),
        )
    except Invalid as refused:
        error, status = refused.message, 400
        page = AuditPage(events=[], older=None, newer=None)
    filters = {name: value for name, value in request.GET.items() if name in form.fields and value}
    return render(
        request,
        "annotations/audit/list.html",
        {
            "form": form,
            "page": page,
            "lines": audit_lines(page.events),
            "query": urlencode(filters),
            "older_query": urlencode({**filters, "older": page.older}) if page.older else "",
            "newer_query": urlencode({**filters, "newer": page.newer}) if page.newer else "",
            "error": error,
        },
        status=status,
    )


@role_required(Role.COORDINATOR)
def audit_export(request):
    """The filtered trail as CSV, streamed in constant memory; the export itself is audited."""
    form = AuditFilterForm(request.GET or None)
    wanted = form.wanted()
    audit_export_record(actor=request.user, filters=vars(wanted), ip_address=client_ip(request))
    response = StreamingHttpResponse(
        audit_export_chunks(audit_events(request.user, wanted)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="audit.csv"'
    return response


urlpatterns = [
    path("audit/", audit_list, name="audit"),
    path("audit/export.csv", audit_export, name="audit-export"),
]
