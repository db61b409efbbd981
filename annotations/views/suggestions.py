"""Coordinator pages about model suggestions: the evidence report of a batch, and the exam page's
request for occlusion sensitivity."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from annotations.errors import Conflict
from annotations.roles import Role
from annotations.selectors.batches.access import batch_for_coordinator
from annotations.selectors.suggestions.evidence import batch_evidence
from annotations.services.suggestions import exam_occlusion_request, suggestion_evidence_request
from annotations.views.access import role_required


@role_required(Role.COORDINATOR)
def batch_evidence_view(request, batch_id: int):
    batch = batch_for_coordinator(request.user, batch_id)
    evidence = batch_evidence(batch)
    if evidence["state"] == "computing":
        suggestion_evidence_request(batch.pk)  # the page follows the API until the figures are in
    return render(request, "annotations/suggestions/evidence.html", {"batch": batch, "evidence": evidence})


@require_POST
@role_required(Role.COORDINATOR)
def exam_occlusion(request, exam_id: int):
    try:
        exam_occlusion_request(actor=request.user, exam_id=exam_id)
    except Conflict:
        messages.error(request, _("No model configured here can explain this exam by occlusion."))
    else:
        messages.success(request, _("Occlusion sensitivity queued; reload this page in a minute."))
    return redirect("exam-detail", exam_id=exam_id)


urlpatterns = [
    path("batches/<int:batch_id>/evidence/", batch_evidence_view, name="batch-evidence"),
    path("exams/<int:exam_id>/occlusion/", exam_occlusion, name="exam-occlusion"),
]
