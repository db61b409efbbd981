"""The coordinator's page action that returns a submitted read to its reader (services.corrections)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from annotations.errors import ApplicationError, Invalid
from annotations.roles import Role
from annotations.selectors.batches.access import batch_for_coordinator
from annotations.selectors.batches.returns import batch_exam_named
from annotations.services.corrections import assignment_return
from annotations.views.access import role_required


def _reader_id(raw: str | None) -> int:
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise Invalid(_("choose the reader"))
    return int(raw)


@require_POST
@role_required(Role.COORDINATOR)
def batch_return_view(request, batch_id: int):
    batch = batch_for_coordinator(request.user, batch_id)
    try:
        exam_id = batch_exam_named(batch, request.POST.get("exam", ""))
        assignment_return(
            actor=request.user,
            batch=batch,
            reader_id=_reader_id(request.POST.get("reader")),
            exam_id=exam_id,
            reason=request.POST.get("reason", ""),
        )
        messages.success(request, _("The read was returned to its reader, with your reason."))
    except ApplicationError as error:
        messages.error(request, error.message or str(error))
    return redirect("batch-detail", batch_id=batch.pk)


urlpatterns = [
    path("batches/<int:batch_id>/returns/", batch_return_view, name="batch-return"),
]
