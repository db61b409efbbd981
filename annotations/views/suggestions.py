"""Coordinator pages about model suggestions: the evidence report of a batch."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import path

from annotations.roles import Role
from annotations.selectors.batches.access import batch_for_coordinator
from annotations.selectors.suggestions.evidence import batch_evidence
from annotations.views.access import role_required


@role_required(Role.COORDINATOR)
def batch_evidence_view(request, batch_id: int):
    batch = batch_for_coordinator(request.user, batch_id)
    return render(
        request, "annotations/suggestions/evidence.html", {"batch": batch, "evidence": batch_evidence(batch)}
    )


urlpatterns = [
    path("batches/<int:batch_id>/evidence/", batch_evidence_view, name="batch-evidence"),
]
