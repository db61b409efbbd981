"""The reader's pages and the waveform download. Thin: selectors decide what the reader may see."""

from __future__ import annotations

import hashlib
import json
import logging

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import BadRequest
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseNotModified
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from annotations.errors import Invalid, NotFound
from annotations.models import ReviewBatch
from annotations.roles import Role
from annotations.selectors.reading.assignments import (
    assignment_for_reader,
    assignment_left_off_id_for_reader,
    assignment_next_id_for_reader,
    reader_batch_named,
    waveform_etag,
)
from annotations.selectors.reading.blind_measurements import blind_measurements_setting
from annotations.selectors.reading.context import ReadingContext, reading_context, suggestion_shown_on_open
from annotations.selectors.reading.preferences import reader_preferences
from annotations.selectors.reading.printout import reader_printout
from annotations.selectors.reading.priors import prior_exam_for_reader
from annotations.selectors.reading.refs import assignment_ref
from annotations.selectors.reading.skip_reasons import reader_skip_choices
from annotations.selectors.reading.worklist import reader_batch_name, reader_batch_reads
from annotations.services.exams.wire import waveform_wire
from annotations.services.reading import MAX_COMMENT, suggestion_exposure_record
from annotations.views.access import api_login_required, role_required

logger = logging.getLogger(__name__)


def suggestion_exposed_on_open(user, assignment):
    """The suggestion an exam opened now shows from the start, recorded as shown (what was shown to whom
    and when) before it is handed out, by the page and the API alike; None when it shows none yet."""
    shown = suggestion_shown_on_open(assignment)
    if shown is not None:
        suggestion_exposure_record(actor=user, assignment=assignment, suggestion=shown, stage="revised")
    return shown


def reading_context_opened(user, assignment) -> ReadingContext:
    """The reading context of an exam the reader opens now, its shown suggestion recorded first."""
    return reading_context(user, assignment, shown=suggestion_exposed_on_open(user, assignment))


_SAMPLE_REF = "A" * 22  # any string of a reference's shape reverses; only its place in the path is used


def reading_sheet(user, assignment) -> dict:
    """What the first exam's strips are drawn from, carried by the page: the exam's geometry, the reader's
    own view preferences, and whether the median beat panel takes room beside the strips (from the batch's
    mode alone, so the strips are drawn at their final width). Nothing of the read, the suggestion or
    another reader: only what the reader's own assignment already gives them."""
    exam = assignment.exam
    return {
        "assignment": assignment_ref(assignment.pk),
        "exam": {
            "sampling_rate": exam.sampling_rate,
            "n_samples": exam.n_samples,
            "lead_names": exam.lead_names,
            "gain_uv": exam.gain_uv,
        },
        "preferences": reader_preferences(user),
        # The panel's place under the strips is kept from the start where it will show: a suggestion's
        # median beat, or the blind measurements the batch's setting shows.
        "median_room": assignment.batch.suggestion_mode == ReviewBatch.SuggestionMode.SHOWN
        or blind_measurements_setting(assignment.batch) != "none",
    }


# How long the browser may reuse a reader page without asking: a reload or a reopened exam is then drawn
# at once. Short, because a preference changed on another machine reaches this one's kept pages only
# when they expire (one changed here changes the cookie the page varies on, VIEW_COOKIE).
READER_PAGE_MAX_AGE_S = 600
# Changed whenever the reader's view preferences are saved: a kept reader page, which carries them, is
# then no longer used (the page varies on the Cookie header).
VIEW_COOKIE = "ecg_view"


def reader_page_keepable(response: HttpResponse, request) -> None:
    """Let the browser keep the reader page for READER_PAGE_MAX_AGE_S, for this session only.

    The page is a shell: the exam's geometry, the reader's view preferences and the labelling pane's
    markup, nothing of the read or of a suggestion (the context comes from the API on every load, which
    records a shown suggestion). It varies on the Cookie header, so a kept copy serves only the same
    session, language and preferences: logging out, logging in again, changing language or preferences
    (VIEW_COOKIE) all change that header. A page carrying one-time messages is never kept."""
    if len(messages.get_messages(request)):
        response["Cache-Control"] = "no-store"
        return
    response["Cache-Control"] = f"private, max-age={READER_PAGE_MAX_AGE_S}"
    patch_vary_headers(response, ["Cookie"])


def view_cookie_set(response: HttpResponse, preferences: dict) -> None:
    """Mark the reader's view preferences as changed (VIEW_COOKIE), so that no reader page kept before
    the change is used again. The value only has to differ between preferences; it says nothing else."""
    token = hashlib.sha256(json.dumps(preferences, sort_keys=True).encode()).hexdigest()[:16]
    response.set_cookie(
        VIEW_COOKIE,
        token,
        max_age=365 * 24 * 3600,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


READER_TEMPLATE = "annotations/reading/reader.html"


@require_GET
@role_required(Role.READER)
def reader(request, assignment_id: int):
    """The reader page: what the first exam's strips are drawn from (reading_sheet) and the drawing code,
    so the tracing is drawn as soon as the preloaded waveform is in; the reading context is preloaded from
    the API at the same time and fills the labelling pane (pages/reading.js). The browser may keep the
    page a few minutes (reader_page_keepable): a reopened exam is then drawn without the server."""
    assignment = assignment_for_reader(request.user, assignment_id)
    page = {
        "assignment": assignment,
        "sheet": reading_sheet(request.user, assignment),
        # The reading API's prefix, to which the page appends an assignment's reference and "/".
        "api_base": reverse("api-reading-assignment", args=[_SAMPLE_REF]).removesuffix(f"{_SAMPLE_REF}/"),
        "page_base": reverse("reader", args=[0]).removesuffix("0/"),
        "max_comment": MAX_COMMENT,
        "skip_choices": reader_skip_choices(),
    }
    response = render(request, READER_TEMPLATE, page)
    reader_page_keepable(response, request)
    return response


@require_GET
@role_required(Role.READER)
def reader_print(request, assignment_id: int):
    """A sheet of the reader's own exam and statements for the browser to print (A4 landscape, 25 mm/s,
    10 mm/mV): for the reader's own use, so it carries nothing of another reader's (404 if not theirs)."""
    printout = reader_printout(request.user, assignment_id, rhythm_lead=request.GET.get("rhythm", ""))
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
    """'Continue': the draft the reader left off at, else the next unread exam of their queue, in their
    own randomised order."""
    try:
        batch_id = reader_batch_named(request.user, request.GET.get("batch"))
    except Invalid as refused:
        raise BadRequest(str(refused)) from refused
    except NotFound:
        # A batch that is no longer theirs (their exams were moved to another reader): nothing left there.
        messages.info(request, _("Nothing left to read in this batch. Thank you!"))
        return redirect("home")
    following = assignment_left_off_id_for_reader(
        request.user, batch_id=batch_id
    ) or assignment_next_id_for_reader(request.user, batch_id=batch_id)
    if following is None:
        messages.info(request, _queue_finished(request.user, batch_id))
        return redirect("home")
    return redirect("reader", following)


def _queue_finished(user, batch_id: int | None) -> str:
    """What the end of a queue says: the batch by name, so that a reader of several knows which one."""
    name = reader_batch_name(user, batch_id) if batch_id else ""
    if not name:
        return _("Nothing left to read in this batch. Thank you!")
    return _("Batch “%(batch)s” finished: nothing left to read in your queue. Thank you!") % {"batch": name}


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header admits gzip, as HTTP reads it (RFC 9110, 12.5.3): gzip or its
    alias x-gzip with a quality above zero, or else * with one. Hand-written because neither Django nor
    the standard library parses this header, and its rules fit in these lines."""
    qualities: dict[str, float] = {}
    for item in accept_encoding.lower().split(","):
        coding, *parameters = (part.strip() for part in item.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if coding:
            qualities[coding] = quality
    for coding in ("gzip", "x-gzip"):
        if coding in qualities:
            return qualities[coding] > 0
    return qualities.get("*", 0.0) > 0


def waveform_response(request, exam, scope: str) -> HttpResponse:
    """An exam's samples as int16 little-endian (signal by signal) with their scale in headers, for every
    page that draws an ECG (reader, adjudicator): static/js/ecg/paper.js decodes exactly this.

    Compressed once and stored (see waveform_wire); never compressed per request. The ETag is a token
    of the scope (the reader's assignment, the adjudicator's case) and the content, never the content's
    hash (selectors.reading.waveform_etag): a second visit costs a 304 at most, and two copies of one
    exam do not look alike.
    """
    etag = f'"{waveform_etag(scope, exam)}"'
    response: HttpResponse
    if etag in request.META.get("HTTP_IF_NONE_MATCH", ""):
        response = HttpResponseNotModified()
    else:
        payload = waveform_wire(exam)
        if accepts_gzip(request.META.get("HTTP_ACCEPT_ENCODING", "")):
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
    path("read/<ref:assignment_id>/", reader, name="reader"),
    path("read/<ref:assignment_id>/print/", reader_print, name="reader-print"),
    path("read/batches/<int:batch_id>/", reader_batch_reads_view, name="reader-batch-reads"),
]
