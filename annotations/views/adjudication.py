"""Adjudication pages: the adjudicator's queue and one disputed case. Thin: selectors decide what each
role may see, services write.

Blinding: these pages receive pseudonyms only (selectors.adjudication); readers get 403 on all of them,
as does anyone without the role.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods

from annotations.roles import Role
from annotations.selectors.adjudication import (
    adjudication_case,
    adjudication_case_median,
    adjudication_queue,
    exam_for_adjudicator,
)
from annotations.selectors.reading.priors import case_prior_exams, prior_exam_for_case
from annotations.services.adjudication import (
    AdjudicationError,
    AdjudicationWaiting,
    Decision,
    StaleAdjudication,
    adjudication_decide,
    adjudication_view_record,
)
from annotations.views.access import api_login_required, role_required
from annotations.views.reading import waveform_response

adjudicator_only = role_required(Role.ADJUDICATOR)


@require_GET
@adjudicator_only
def adjudication_queue_view(request):
    return render(request, "annotations/adjudication/queue.html", {"queue": adjudication_queue(request.user)})


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


def _posted(post) -> dict:
    """What a refused form held, to show it again as the adjudicator left it."""
    prefix = "decision-"
    return {
        "answers": {key[len(prefix) :]: value for key, value in post.items() if key.startswith(prefix)},
        "added": post.get("add-statement", ""),
        "rationale": post.get("rationale", ""),
    }


@require_http_methods(["GET", "POST"])
@adjudicator_only
def adjudication_case_view(request, batch_id: int, exam_id: int):
    case = adjudication_case(request.user, batch_id, exam_id)
    # From now on this adjudicator knows the exam was disputed: never handed it to read.
    adjudication_view_record(actor=request.user, batch=case.batch, exam_id=exam_id)
    status, kept = 200, None
    if request.method == "POST":
        try:
            version = int(request.POST.get("version", "-1"))
        except ValueError:
            version = -1
        try:
            decisions = decisions_from_post(
                request.POST, [d.code for d in case.disputed] + [a["code"] for a in case.added]
            )
            adjudication_decide(
                actor=request.user,
                batch=case.batch,
                exam_id=exam_id,
                decisions=decisions,
                rationale=request.POST.get("rationale", ""),
                version=version,
            )
            messages.success(request, _signed_message(case, decisions))
            return redirect("adjudication-queue")
        except StaleAdjudication as error:
            # Another signature came first: its answers are shown; only the rationale typed is kept.
            messages.error(request, _stale_message(error, version))
            status, kept = 409, {"rationale": request.POST.get("rationale", "")}
        except AdjudicationWaiting as error:  # a read still to come: the answers are kept for later
            messages.error(request, str(error))
            status, kept = 409, _posted(request.POST)
        except AdjudicationError as error:  # AdjudicationRefused included: shown, as a 400
            messages.error(request, str(error))
            status, kept = 400, _posted(request.POST)
        case = adjudication_case(request.user, batch_id, exam_id)
    return render(
        request,
        "annotations/adjudication/case.html",
        {
            "case": case,
            "median": adjudication_case_median(case),
            "priors": case_prior_exams(request.user, case.batch, case.exam),
            "waveform_url": reverse("api-adjudication-waveform", args=[batch_id, exam_id]),
            "kept": kept,
        },
        status=status,
    )


def _stale_message(error: StaleAdjudication, sent: int) -> str:
    """The service's words suit the API ("reload to see it"); the page has reloaded the case already,
    so it says what the form below now holds."""
    if sent > error.current:
        return str(error)
    if error.yours:
        return _(
            "You signed this exam meanwhile, from another tab or window (version %(current)s); that "
            "decision is shown below. Sign again only to change it, giving a rationale."
        ) % {"current": error.current}
    return _(
        "Another adjudicator signed this exam meanwhile (version %(current)s); their decision is shown "
        "below. Sign again only to overturn it, giving a rationale."
    ) % {"current": error.current}


@api_login_required
@adjudicator_only
@require_GET
def adjudication_prior_waveform(request, batch_id: int, exam_id: int, n: int):
    """An earlier ECG of the patient, as the exam's readers were offered it, for the adjudication page:
    only through a case the adjudicator has to decide, of a batch that shows earlier ECGs (404 otherwise)."""
    case = adjudication_case(request.user, batch_id, exam_id)
    exam, scope = prior_exam_for_case(request.user, case.batch, case.exam, n)
    return waveform_response(request, exam, scope)


@api_login_required
@adjudicator_only
@require_GET
def adjudication_waveform(request, batch_id: int, exam_id: int):
    """The exam's samples for the adjudication page, in the reader's wire format; only for an exam the
    adjudicator has to decide (404 otherwise, as for an exam they read)."""
    exam = exam_for_adjudicator(request.user, batch_id, exam_id)
    return waveform_response(request, exam, f"adjudication:{request.user.pk}:{batch_id}:{exam_id}")


urlpatterns = [
    path("adjudication/", adjudication_queue_view, name="adjudication-queue"),
    path(
        "adjudication/<int:batch_id>/<int:exam_id>/",
        adjudication_case_view,
        name="adjudication-case",
    ),
]


def _signed_message(case, decisions: list[Decision]) -> str:
    """What was signed, and what is left: a decision that leaves disputed classes open keeps the exam in
    the queue, and a bare "Decision signed." let an adjudicator think the case was closed."""
    signed = {decision.code for decision in decisions}
    open_codes = [d.code for d in case.disputed if d.code not in signed and d.decided_value is None]
    if not open_codes:
        return _("Decision signed.")
    return ngettext(
        "Decision signed. %(n)s disputed class is still open: %(codes)s; the exam stays in your queue.",
        "Decision signed. %(n)s disputed classes are still open: %(codes)s; the exam stays in your queue.",
        len(open_codes),
    ) % {"n": len(open_codes), "codes": ", ".join(open_codes)}
