"""The reader's pages and the waveform download. Thin: selectors decide what the reader may see."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseNotModified, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.cache import patch_vary_headers
from django.utils.html import format_html, json_script
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from annotations.models import Assignment, ReviewBatch
from annotations.roles import Role
from annotations.selectors.reading.assignments import (
    assignment_check_for_reader,
    assignment_for_reader,
    assignment_next_id_for_reader,
    reading_context,
    suggestion_shown_on_open,
    waveform_etag,
)
from annotations.selectors.reading.preferences import reader_preferences
from annotations.selectors.reading.printout import reader_printout
from annotations.selectors.reading.priors import prior_exam_for_reader
from annotations.selectors.reading.worklist import reader_batch_reads
from annotations.services.exams.wire import waveform_wire
from annotations.services.reading import suggestion_exposure_record
from annotations.views.access import api_login_required, role_required

logger = logging.getLogger(__name__)


def suggestion_exposed_on_open(user, assignment):
    """The suggestion an exam opened now shows from the start, recorded as shown (what was shown to whom
    and when) before it is handed out, by the page and the API alike; None when it shows none yet."""
    shown = suggestion_shown_on_open(assignment)
    if shown is not None:
        suggestion_exposure_record(actor=user, assignment=assignment, suggestion=shown, stage="revised")
    return shown


def reading_context_opened(user, assignment) -> dict:
    """The reading context of an exam the reader opens now, its shown suggestion recorded first."""
    return reading_context(user, assignment, shown=suggestion_exposed_on_open(user, assignment))


# Where the reader page's embedded context goes: the page is cut there and streamed in two parts.
_CONTEXT_SLOT = mark_safe("<!-- reading context -->")


def reading_sheet(user, assignment) -> dict:
    """What the first exam's strips are drawn from, sent before the reading context is built: the exam's
    geometry, the reader's own view preferences, and whether the median beat panel takes room beside the
    strips (from the batch's mode alone, so the strips are drawn at their final width). Nothing of the read,
    the suggestion or another reader: only what the reader's own assignment already gives them."""
    exam = assignment.exam
    return {
        "assignment": assignment.pk,
        "exam": {
            "sampling_rate": exam.sampling_rate,
            "n_samples": exam.n_samples,
            "lead_names": exam.lead_names,
            "gain_uv": exam.gain_uv,
        },
        "preferences": reader_preferences(user),
        "median_room": assignment.batch.suggestion_mode == ReviewBatch.SuggestionMode.SHOWN,
    }


READER_TEMPLATE = "annotations/reading/reader.html"


def _reader_body(request, page: dict, assignment_id: int) -> tuple[Assignment, str, str]:
    """The reader page's body, cut where the reading context goes, and the assignment it was built from."""
    assignment = assignment_for_reader(request.user, assignment_id)
    sheet = reading_sheet(request.user, assignment)
    body = {**page, "document_part": "body", "assignment": assignment, "sheet": sheet}
    before, after = render_to_string(READER_TEMPLATE, body, request).split(_CONTEXT_SLOT, 1)
    return assignment, before, after


def _reader_body_failed() -> str:
    message = _("The page could not be built. Reload it to try again.")
    return format_html('<body><main><p class="message" role="alert">{}</p></main></body></html>', message)


@require_GET
@role_required(Role.READER)
def reader(request, assignment_id: int):
    """The reader page, carrying its first exam's context and what its strips are drawn from, so the
    tracing is drawn without waiting for another round trip (pages/reading.js reads them).

    Streamed in parts, each leaving as soon as it is ready: the document's head (the preloaded waveform,
    Plotly and the drawing code, which the browser loads and runs while the server goes on); the body up to
    the context, with the exam's geometry and the reader's view preferences (reading_sheet), from which the
    strips are drawn while the context is built (a third of the page's time on the server); then the
    context, which fills the labelling pane."""
    assignment_check_for_reader(request.user, assignment_id)  # a 404 before anything is sent
    # The body is rendered after the response has passed the middleware on its way out, so what they
    # settle there is settled now: the CSRF cookie the page's token needs, and the messages it shows
    # marked as read.
    get_token(request)
    page = {
        "assignment_id": assignment_id,
        "context_slot": _CONTEXT_SLOT,
        "api_base": reverse("api-reading-assignment", args=[0]).removesuffix("0/"),
        "page_base": reverse("reader", args=[0]).removesuffix("0/"),
        "messages": list(messages.get_messages(request)),
    }
    head = render_to_string(READER_TEMPLATE, {**page, "document_part": "head"}, request)

    def parts():
        yield head
        try:
            assignment, before, after = _reader_body(request, page, assignment_id)
        except Exception:
            # The status line has left: the page ends with words, not mid-way (the batch closed meanwhile,
            # the database gone).
            logger.exception("reader page %s: the body failed", assignment_id)
            yield _reader_body_failed()
            return
        yield before
        try:
            # A suggestion in the context is recorded as shown here, as it leaves: a reader who closed the
            # page before it did was shown nothing.
            embedded = json_script(reading_context_opened(request.user, assignment), "reading-context")
        except Exception:
            # The page asks the API instead, which answers with a proper error.
            logger.exception("reader page %s: the embedded reading context failed", assignment_id)
            embedded = ""
        yield embedded
        yield after

    response = StreamingHttpResponse(parts(), content_type="text/html; charset=utf-8")
    response["X-Accel-Buffering"] = "no"  # nginx would hold the first part back until the whole page came
    return response


@require_GET
@role_required(Role.READER)
def reader_print(request, assignment_id: int):
    """A sheet of the reader's own exam and statements for the browser to print (A4 landscape, 25 mm/s,
    10 mm/mV): for the reader's own use, so it carries nothing of another reader's (404 if not theirs)."""
    printout = reader_printout(request.user, assignment_id)
    return render(
        request,
        "annotations/reading/print.html",
        {
            "printout": printout,
            "exam": printout.assignment.exam,
            "waveform_url": reverse("api-reading-waveform", args=[printout.assignment.pk]),
        },
    )


@require_GET
@role_required(Role.READER)
def reader_batch_reads_view(request, batch_id: int):
    """'My reads': the reader's own submitted, skipped and draft reads of one batch (404 if none)."""
    try:
        after, before = (_queue_place(request.GET.get(key)) for key in ("after", "before"))
    except ValueError:
        return HttpResponseBadRequest(_("A page of your reads is named by a queue place (a number)."))
    page = reader_batch_reads(
        request.user, batch_id, after=after, before=before, size=settings.MY_READS_PAGE_SIZE
    )
    return render(request, "annotations/reading/my_reads.html", {"page": page, "batch": page.batch})


def _queue_place(text: str | None) -> int | None:
    if text in (None, ""):
        return None
    place = int(text)
    if place < 0:
        raise ValueError(text)
    return place


@require_GET
@role_required(Role.READER)
def reader_next(request):
    """'Continue': the next unread exam of the reader's queue, in their own randomised order."""
    batch = request.GET.get("batch")
    following = assignment_next_id_for_reader(
        request.user, batch_id=int(batch) if batch and batch.isdigit() else None
    )
    if following is None:
        messages.info(request, _("Nothing left to read in this batch. Thank you!"))
        return redirect("home")
    return redirect("reader", following)


def waveform_response(request, exam, scope: str) -> HttpResponse:
    """An exam's samples as int16 little-endian (signal by signal) with their scale in headers, for every
    page that draws an ECG (reader, adjudicator): static/js/ecg/paper.js decodes exactly this.

    Compressed once and stored (see waveform_wire); never compressed per request. The ETag is a token
    of the scope (the reader's assignment, the adjudicator's case) and the content, never the content's
    hash (selectors.reading.waveform_etag): a second visit costs a 304 at most, and two copies of one
    exam do not look alike.
    """
    etag = f'"{waveform_etag(scope, exam)}"'
    if etag in request.META.get("HTTP_IF_NONE_MATCH", ""):
        response = HttpResponseNotModified()
    else:
        payload = waveform_wire(exam)
        if "gzip" in request.META.get("HTTP_ACCEPT_ENCODING", "").lower():
            response = HttpResponse(payload.gzipped, content_type="application/octet-stream")
            response["Content-Encoding"] = "gzip"
        else:
            response = HttpResponse(payload.raw(), content_type="application/octet-stream")
        response["X-ECG-Sampling-Rate"] = f"{exam.sampling_rate:g}"
        response["X-ECG-Gain-uV"] = repr(exam.gain_uv)
        response["X-ECG-Leads"] = ",".join(exam.lead_names)
        response["X-ECG-Samples"] = str(exam.n_samples)
    response["ETag"] = etag
    response["Cache-Control"] = "private, max-age=3600"
    patch_vary_headers(response, ["Accept-Encoding", "Cookie"])
    return response


@api_login_required
@role_required(Role.READER)
@require_GET
def reading_waveform(request, assignment_id: int):
    """The samples of an exam, served to a reader only through their own assignment (404 otherwise)."""
    assignment = assignment_for_reader(request.user, assignment_id)
    return waveform_response(request, assignment.exam, f"assignment:{assignment.pk}")


@api_login_required
@role_required(Role.READER)
@require_GET
def reading_prior_waveform(request, assignment_id: int, n: int):
    """An earlier ECG of the patient, served only through the reader's own assignment of a batch that shows
    earlier ECGs (404 otherwise), in the same wire format and with the same caching as the exam itself."""
    exam, scope = prior_exam_for_reader(request.user, assignment_id, n)
    return waveform_response(request, exam, scope)


urlpatterns = [
    path("read/next/", reader_next, name="reader-next"),
    path("read/<int:assignment_id>/", reader, name="reader"),
    path("read/<int:assignment_id>/print/", reader_print, name="reader-print"),
    path("read/batches/<int:batch_id>/", reader_batch_reads_view, name="reader-batch-reads"),
]
