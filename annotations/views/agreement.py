"""The agreement dashboard and its tables, for coordinators. Thin: selectors decide what each role may
see, services write; readers and adjudicators get 403 here."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from annotations.lib.spreadsheet_csv import spreadsheet_writer
from annotations.roles import Role
from annotations.selectors.agreement.reader_accuracy import batch_reader_accuracy, batch_reader_accuracy_table
from annotations.selectors.agreement.summary import (
    agreement_dashboard,
    agreement_due,
    agreement_for_coordinator,
    consensus_awaiting_adjudication,
    consensus_method_counts,
    open_dispute_count,
)
from annotations.selectors.agreement.tables import TABLES, agreement_table
from annotations.selectors.batches.audits import batch_audit_summaries
from annotations.selectors.jobs import queue_quiet_notice
from annotations.services.agreement.compute import agreement_recompute_request
from annotations.services.agreement.tables import IntervalMethodError, batch_interval_method_set
from annotations.views.access import role_required

coordinator_only = role_required(Role.COORDINATOR)
adjudicator_only = role_required(Role.ADJUDICATOR)


# --- Coordinators -------------------------------------------------------------------------------------
@require_GET
@coordinator_only
def batch_agreement(request, batch_id: int):
    batch, result = agreement_for_coordinator(request.user, batch_id)
    due = agreement_due(batch, result)
    return render(
        request,
        "annotations/agreement/batch.html",
        {
            "batch": batch,
            "result": result,
            "dashboard": agreement_dashboard(result) if result else None,
            "methods": consensus_method_counts(batch),
            "awaiting_adjudication": consensus_awaiting_adjudication(batch),
            "open_disputes": open_dispute_count(batch),
            "due": due,
            # Waited past the sweeps' patience with no worker taking work: say why it is not done.
            "workers": queue_quiet_notice(settings.CELERY_TASK_DEFAULT_QUEUE, due.since) if due.since else "",
            "interval_choice": ((batch.design or {}).get("agreement") or {}).get("intervals", "exams"),
            "accuracy": _page_accuracy(batch) if result else None,
            "audits": batch_audit_summaries(batch),
        },
    )


def _page_accuracy(batch) -> dict:
    """Each reader against consensus, with the per-class rows the page shows: those where the reader
    marked the class or the reference holds it present (every row is in the API and the CSV)."""
    accuracy = batch_reader_accuracy(batch)
    shown = [row for row in accuracy["rows"] if row["tp"] + row["fp"] + row["fn"]]
    return {**accuracy, "shown_rows": shown, "rows_left_out": len(accuracy["rows"]) - len(shown)}


@require_GET
@coordinator_only
def batch_agreement_csv(request, batch_id: int):
    """One stored table as CSV (selectors.agreement_tables.agreement_table, which
    ``manage.py agreement_report`` prints too): classes, readers, pairs, pairs_by_class, reader_classes,
    exams; or reader_accuracy, a release's reader_accuracy.csv for this batch, counted now."""
    batch, result = agreement_for_coordinator(request.user, batch_id)
    table = request.GET.get("table", "classes")
    if table == READER_ACCURACY and result is not None:
        return _reader_accuracy_csv(batch)
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


READER_ACCURACY = "reader_accuracy"


def _reader_accuracy_csv(batch) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}-reader-accuracy.csv"'
    writer = spreadsheet_writer(response)
    header, rows = batch_reader_accuracy_table(batch)
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
urlpatterns = [
    path("batches/<int:batch_id>/agreement/", batch_agreement, name="batch-agreement"),
    path(
        "batches/<int:batch_id>/agreement.csv",
        batch_agreement_csv,
        name="batch-agreement-csv",
    ),
    path(
        "batches/<int:batch_id>/agreement/recompute/",
        batch_agreement_recompute,
        name="batch-agreement-recompute",
    ),
]
