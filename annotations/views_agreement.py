"""Agreement dashboard (coordinators) and adjudication pages (adjudicators). Thin: selectors decide
what each role may see, services write.

Blinding: the adjudication pages receive pseudonyms only (selectors.agreement); readers get 403 on all
of these pages, as does anyone without the role.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotations.roles import Role
from annotations.selectors.agreement import (
    adjudication_case,
    adjudication_queue,
    agreement_dashboard,
    agreement_for_coordinator,
    batch_read_state,
    consensus_method_counts,
    exam_for_adjudicator,
)
from annotations.selectors.agreement_tables import TABLES, agreement_table
from annotations.services.adjudication import (
    AdjudicationError,
    Decision,
    StaleAdjudication,
    adjudication_decide,
    adjudication_view_record,
)
from annotations.services.agreement import agreement_recompute_request
from annotations.services.agreement_tables import IntervalMethodError, batch_interval_method_set
from annotations.spreadsheet_csv import spreadsheet_writer
from annotations.views import api_login_required, role_required
from annotations.views_reading import waveform_response

coordinator_only = role_required(Role.COORDINATOR)
adjudicator_only = role_required(Role.ADJUDICATOR)


# --- Coordinators -------------------------------------------------------------------------------------
@require_GET
@coordinator_only
def batch_agreement(request, batch_id: int):
    batch, result = agreement_for_coordinator(request.user, batch_id)
    read_count, _latest = batch_read_state(batch.pk)
    return render(
        request,
        "annotations/batch_agreement.html",
        {
            "batch": batch,
            "result": result,
            "dashboard": agreement_dashboard(result) if result else None,
            "methods": consensus_method_counts(batch),
            "reads_now": read_count,
            "stale": result is None or result.read_count != read_count,
            "interval_choice": ((batch.design or {}).get("agreement") or {}).get("intervals", "exams"),
        },
    )


@require_GET
@coordinator_only
def batch_agreement_csv(request, batch_id: int):
    """One stored table as CSV (selectors.agreement_tables.agreement_table, which
    ``manage.py agreement_report`` prints too): classes, readers, pairs, pairs_by_class, reader_classes."""
    batch, result = agreement_for_coordinator(request.user, batch_id)
    table = request.GET.get("table", "classes")
    if table not in TABLES:
        table = "classes"  # the parameter is checked by value; anything else gives the default table
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}-agreement-{table}.csv"'
    writer = spreadsheet_writer(response)  # names and codes could start a formula
    if result is None:
        writer.writerow(["no agreement computed yet"])
        return response
    header, rows = agreement_table(result, table)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    return response


@require_POST
@coordinator_only
def batch_agreement_recompute(request, batch_id: int):
    batch, _result = agreement_for_coordinator(request.user, batch_id)
    if "intervals" in request.POST:  # the form also chooses which bootstrap the intervals come from
        try:
            batch_interval_method_set(batch=batch, method=request.POST["intervals"], actor=request.user)
        except IntervalMethodError as error:
            return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
    if agreement_recompute_request(batch.pk):
        messages.success(request, _("Recomputation queued; this page shows it when it is done."))
    else:
        messages.info(request, _("A recomputation is already queued (or the queue is unreachable)."))
    return redirect("batch-agreement", batch_id=batch.pk)


# --- Adjudicators -------------------------------------------------------------------------------------
@require_GET
@adjudicator_only
def adjudication_queue_view(request):
    return render(request, "annotations/adjudication_queue.html", {"queue": adjudication_queue(request.user)})


def decisions_from_post(post, codes: list[str]) -> list[Decision]:
    """The form sends decision-<code> = present|absent for each class the adjudicator decided, and
    add-statement = <code> for a statement no reader marked that the adjudicator adds as present."""
    decisions = []
    for code in codes:
        answer = post.get(f"decision-{code}")
        if answer in ("present", "absent"):
            decisions.append(Decision(code=code, value=answer == "present"))
    added = (post.get("add-statement") or "").strip()
    if added and added not in codes:
        decisions.append(Decision(code=added, value=True))
    return decisions


@require_http_methods(["GET", "POST"])
@adjudicator_only
def adjudication_case_view(request, batch_id: int, exam_id: int):
    case = adjudication_case(request.user, batch_id, exam_id)
    # From now on this adjudicator knows the exam was disputed: never handed it to read.
    adjudication_view_record(actor=request.user, batch=case.batch, exam_id=exam_id)
    status = 200
    if request.method == "POST":
        try:
            version = int(request.POST.get("version", "-1"))
        except ValueError:
            version = -1
        try:
            adjudication_decide(
                actor=request.user,
                batch=case.batch,
                exam_id=exam_id,
                decisions=decisions_from_post(
                    request.POST, [d.code for d in case.disputed] + [a["code"] for a in case.added]
                ),
                rationale=request.POST.get("rationale", ""),
                version=version,
            )
            messages.success(request, _("Decision signed."))
            return redirect("adjudication-queue")
        except StaleAdjudication as error:
            messages.error(request, str(error))
            status = 409
        except (AdjudicationError, PermissionError) as error:
            messages.error(request, str(error))
            status = 400
        case = adjudication_case(request.user, batch_id, exam_id)
    return render(
        request,
        "annotations/adjudication_case.html",
        {
            "case": case,
            "waveform_url": reverse("api-adjudication-waveform", args=[batch_id, exam_id]),
        },
        status=status,
    )


@api_login_required
@adjudicator_only
@require_GET
def adjudication_waveform(request, batch_id: int, exam_id: int):
    """The exam's samples for the adjudication page, in the reader's wire format; only for an exam the
    adjudicator has to decide (404 otherwise, as for an exam they read)."""
    exam = exam_for_adjudicator(request.user, batch_id, exam_id)
    return waveform_response(request, exam, f"adjudication:{request.user.pk}:{batch_id}:{exam_id}")
