"""Coordinator pages for review batches: the designer, the progress dashboard and batch changes."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from annotations.errors import ApplicationError, Forbidden, Invalid
from annotations.forms import (
    AddExamsForm,
    AddReadersForm,
    AuditForm,
    BatchDesignForm,
    HandOnForm,
    ReassignForm,
)
from annotations.models import ReviewBatch
from annotations.roles import Role
from annotations.selectors.agreement.tables import stored_reader_quality
from annotations.selectors.batches.access import batch_for_coordinator
from annotations.selectors.batches.audits import (
    audit_findings,
    audits_made_of,
    batch_audit_summaries,
    is_audit,
)
from annotations.selectors.batches.overview import batch_overview
from annotations.selectors.batches.plan import batch_plan, plan_exam_page
from annotations.selectors.batches.progress import (
    EXAM_PAGE_SIZE,
    EXAM_STATES,
    ExamTableError,
    batch_exam_table,
    batch_exams_without_adjudicator,
    batch_progress,
)
from annotations.selectors.batches.returns import batch_exam_named
from annotations.selectors.batches.wording import kept_back_text, poor_left_out_text
from annotations.selectors.suggestions.summary import batch_suggestion_progress
from annotations.services.batches.audits import audit_batch_create
from annotations.services.batches.lifecycle import BatchDesignError, batch_close, batch_create_from_plan
from annotations.services.batches.queues import batch_add_matching_exams, batch_add_readers, batch_reassign
from annotations.services.batches.returns import assignment_return
from annotations.services.batches.skips import assignment_hand_on
from annotations.views.access import role_required

coordinator_only = role_required(Role.COORDINATOR)

EXAM_STATE_LABELS = {
    "reading": gettext_lazy("Being read"),
    "short": gettext_lazy("Skipped, short of reads"),
    "awaiting_agreement": gettext_lazy("Read, awaiting agreement"),
    "disputed": gettext_lazy("Disputed"),
    "consensus": gettext_lazy("Consensus reached"),
}


@coordinator_only
def batch_list(request):
    return render(request, "annotations/batches/list.html", {"batches": batch_overview(request.user)})


@coordinator_only
def batch_new(request):
    form = BatchDesignForm(request.POST or None, user=request.user)
    plan = None
    if request.method == "POST" and form.is_valid():
        try:
            creating = request.POST.get("action") == "create"
            plan = batch_plan(request.user, form.spec(), preview=not creating)
            if creating:
                batch = batch_create_from_plan(plan=plan, actor=request.user)
                messages.success(
                    request, _("Batch %(name)s created and started.") % {"name": repr(batch.name)}
                )
                return redirect("batch-detail", batch_id=batch.pk)
        except Invalid as error:  # the plan's, the design's and the selection's refusals alike
            form.add_error(None, str(error))
    exams = plan and plan_exam_page(
        plan, _int(request.POST.get("exam_page"), 1), _int(request.POST.get("exam_page_size"), 50)
    )
    return render(request, "annotations/batches/new.html", {"form": form, "plan": plan, "plan_exams": exams})


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _exam_table(request, batch):
    """The per-exam table's page from the query string: ?exam_status=&exam_after=&exam_page_size=."""
    try:
        after = request.GET.get("exam_after")
        size = request.GET.get("exam_page_size")
        return batch_exam_table(
            request.user,
            batch,
            state=request.GET.get("exam_status") or None,
            after=int(after) if after else None,
            size=int(size) if size else EXAM_PAGE_SIZE,
        )
    except ValueError as error:
        if isinstance(error, ExamTableError):
            raise
        raise ExamTableError(_("exam_after and exam_page_size must be whole numbers")) from error


@coordinator_only
def batch_detail(request, batch_id: int):
    batch = batch_for_coordinator(request.user, batch_id)
    try:
        exams = _exam_table(request, batch)
    except ExamTableError as error:
        return HttpResponseBadRequest(str(error))
    return render(
        request,
        "annotations/batches/detail.html",
        {
            "batch": batch,
            "progress": batch_progress(request.user, batch),
            "quality": stored_reader_quality(batch),
            "reassign_form": ReassignForm(batch=batch),
            "add_readers_form": AddReadersForm(batch=batch),
            "add_exams_form": AddExamsForm(user=request.user),
            "exams": exams,
            "exam_states": [(key, EXAM_STATE_LABELS[key]) for key in EXAM_STATES],
            "stuck_disputes": batch_exams_without_adjudicator(request.user, batch),
            "audits": batch_audit_summaries(batch),
        },
    )


@never_cache
@coordinator_only
def batch_suggestions_fragment(request, batch_id: int):
    """The dashboard's suggestions section, which the page fetches once it is up and again while some
    are waiting: counting them is a request of its own (a fifth of the dashboard's time at 100 k exams),
    so the page and its reading progress do not wait for it."""
    batch = batch_for_coordinator(request.user, batch_id)
    return render(
        request,
        "annotations/batches/_suggestions.html",
        {"batch": batch, "suggestions": batch_suggestion_progress(batch)},
    )


@coordinator_only
def batch_progress_json(request, batch_id: int):
    batch = batch_for_coordinator(request.user, batch_id)
    return JsonResponse(batch_progress(request.user, batch))


def _change(request, batch_id: int, change) -> object:
    batch = batch_for_coordinator(request.user, batch_id)
    try:
        message = change(batch)
        messages.success(request, message)
    except (BatchDesignError, Forbidden) as error:
        messages.error(request, str(error))
    return redirect("batch-detail", batch_id=batch.pk)


@require_POST
@coordinator_only
def batch_close_view(request, batch_id: int):
    def close(batch):
        batch_close(batch=batch, actor=request.user)
        return _("Batch closed.")

    return _change(request, batch_id, close)


@require_POST
@coordinator_only
def batch_reassign_view(request, batch_id: int):
    def reassign(batch):
        form = ReassignForm(request.POST, batch=batch)
        if not form.is_valid():
            problems = [problem for errors in form.errors.values() for problem in errors]
            raise BatchDesignError("; ".join(map(str, problems)) if problems else _("choose both readers"))
        outcome = batch_reassign(
            batch=batch,
            from_reader=form.cleaned_data["from_reader"],
            to_reader=form.cleaned_data["to_reader"],
            actor=request.user,
        )
        return _reassign_said(
            outcome,
            form.cleaned_data["from_reader"].get_username(),
            form.cleaned_data["to_reader"].get_username(),
        )

    return _change(request, batch_id, reassign)


def _reassign_said(outcome: dict, reader: str, to: str) -> str:
    """The reassign's outcome in words: what moved, and what happened to each kind of slot that did not."""
    if outcome["reader_left"]:
        return " ".join(_left_said(outcome, reader, to) + _drafts_said(outcome, reader))
    said = [
        _("%(moved)s unread exams moved; %(kept)s kept.")
        % {
            "moved": outcome["moved"],
            "kept": outcome["kept_because_already_assigned"]
            + outcome["kept_because_dispute_seen"]
            + outcome.get("kept_because_seen_elsewhere", 0)
            + outcome.get("kept_because_retest_follows", 0),
        }
    ]
    return " ".join(said + _kept_said(outcome, reader, to) + _drafts_said(outcome, reader))


def _kept_said(outcome: dict, reader: str, to: str) -> list[str]:
    """Why the exams that did not move stayed, one sentence per reason that applied."""
    said = []
    if outcome["kept_because_already_assigned"]:
        said.append(
            ngettext(
                "%(n)s exam stays with %(reader)s: %(to)s already reads it in this batch.",
                "%(n)s exams stay with %(reader)s: %(to)s already reads them in this batch.",
                outcome["kept_because_already_assigned"],
            )
            % {"n": outcome["kept_because_already_assigned"], "reader": reader, "to": to}
        )
    if outcome["kept_because_dispute_seen"]:
        said.append(
            ngettext(
                "%(n)s exam stays with %(reader)s: %(to)s saw its dispute, so cannot read it blind.",
                "%(n)s exams stay with %(reader)s: %(to)s saw their disputes, so cannot read them blind.",
                outcome["kept_because_dispute_seen"],
            )
            % {"n": outcome["kept_because_dispute_seen"], "reader": reader, "to": to}
        )
    if outcome.get("kept_because_seen_elsewhere"):
        said.append(
            ngettext(
                "%(n)s exam stays with %(reader)s: %(to)s read it in another batch, and this batch keeps "
                "readers away from exams they read elsewhere.",
                "%(n)s exams stay with %(reader)s: %(to)s read them in another batch, and this batch keeps "
                "readers away from exams they read elsewhere.",
                outcome["kept_because_seen_elsewhere"],
            )
            % {"n": outcome["kept_because_seen_elsewhere"], "reader": reader, "to": to}
        )
    if outcome.get("kept_because_retest_follows"):
        said.append(
            ngettext(
                "%(n)s exam stays with %(reader)s: they re-read it later for test-retest.",
                "%(n)s exams stay with %(reader)s: they re-read them later for test-retest.",
                outcome["kept_because_retest_follows"],
            )
            % {"n": outcome["kept_because_retest_follows"], "reader": reader}
        )
    return said


def _left_said(outcome: dict, reader: str, to: str) -> list[str]:
    """A reader who left keeps nothing: what moved, and what waits under Skipped exams to be handed on."""
    said = [_("%(moved)s unread exams moved.") % {"moved": outcome["moved"]}]
    if outcome["set_aside_untaken"]:
        said.append(
            ngettext(
                "%(n)s unread exam of %(reader)s, who left the study, set aside: %(to)s may not read it "
                "(already reads it, saw its dispute or read it elsewhere). Hand it on under Skipped exams to "
                "a reader who may read it (add one to the batch if none may).",
                "%(n)s unread exams of %(reader)s, who left the study, set aside: %(to)s may not read them "
                "(already reads them, saw their disputes or read them elsewhere). Hand them on under Skipped "
                "exams to a reader who may read them (add one to the batch if none may).",
                outcome["set_aside_untaken"],
            )
            % {"n": outcome["set_aside_untaken"], "reader": reader, "to": to}
        )
    return said


def _drafts_said(outcome: dict, reader: str) -> list[str]:
    """What became of the leaving reader's drafts and retests, one sentence per kind that happened."""
    said = []
    if outcome["drafts_handed_on"]:
        said.append(
            ngettext(
                "%(n)s draft of a reader who left handed on as a new read (the draft is kept, read by "
                "no one).",
                "%(n)s drafts of a reader who left handed on as new reads (the drafts are kept, read by "
                "no one).",
                outcome["drafts_handed_on"],
            )
            % {"n": outcome["drafts_handed_on"]}
        )
    if outcome["drafts_kept"]:
        said.append(
            ngettext(
                "%(n)s draft stays with %(reader)s, who is still reading.",
                "%(n)s drafts stay with %(reader)s, who is still reading.",
                outcome["drafts_kept"],
            )
            % {"n": outcome["drafts_kept"], "reader": reader}
        )
    if outcome.get("retests_too_close"):
        said.append(
            ngettext(
                "%(n)s retest re-read withdrawn: too few of %(reader)s's exams were left between it and its "
                "first read to re-read it blind.",
                "%(n)s retest re-reads withdrawn: too few of %(reader)s's exams were left between them and "
                "their first reads to re-read them blind.",
                outcome["retests_too_close"],
            )
            % {"n": outcome["retests_too_close"], "reader": reader}
        )
    if outcome["retests_withdrawn"]:
        said.append(
            ngettext(
                "%(n)s retest re-read withdrawn: a retest measures its own reader.",
                "%(n)s retest re-reads withdrawn: a retest measures its own reader.",
                outcome["retests_withdrawn"],
            )
            % {"n": outcome["retests_withdrawn"]}
        )
    return said


@require_POST
@coordinator_only
def batch_add_readers_view(request, batch_id: int):
    def add(batch):
        form = AddReadersForm(request.POST, batch=batch)
        if not form.is_valid():
            raise BatchDesignError(_("choose at least one reader"))
        readers = list(form.cleaned_data["readers"])
        added = batch_add_readers(batch=batch, readers=readers, actor=request.user)
        said = _("Readers added; %(moved)s unread exams moved to them.") % {"moved": added.moved}
        if added.gold_added:
            # Gold exams go to every reader who may read them, besides the exams moved.
            said = _(
                "Readers added; %(moved)s unread exams moved to them, and %(gold)s gold exams given to them "
                "(the batch's gold exams, which every reader reads, but those a newcomer may not read)."
            ) % {"moved": added.moved, "gold": added.gold_added}
        return " ".join(filter(None, [said, kept_back_text(added.kept_back)]))

    return _change(request, batch_id, add)


@require_POST
@coordinator_only
def batch_skip_hand_on_view(request, batch_id: int, assignment_id: int):
    form = HandOnForm(request.POST)

    def hand_on(batch):
        if not form.is_valid():
            raise BatchDesignError(_("choose a reader"))
        reader = form.cleaned_data["reader"]
        assignment_hand_on(actor=request.user, batch=batch, assignment_id=assignment_id, reader=reader)
        return _("The skipped exam was handed to %(reader)s.") % {"reader": reader.get_username()}

    return _change(request, batch_id, hand_on)


def copies_left_out_text(n: int) -> str:
    return ngettext(
        "%(n)s matching exam left out: the same waveform as an exam the batch holds or takes (a copy, "
        "linked at import).",
        "%(n)s matching exams left out: the same waveform as an exam the batch holds or takes (copies, "
        "linked at import).",
        n,
    ) % {"n": n}


def form_problems(form) -> str:
    """A refused form's errors as one sentence, each field named by its label in the page's language (the
    field's name, sample_size, meant nothing to a coordinator reading Portuguese)."""
    parts = []
    for name, errors in form.errors.items():
        said = " ".join(errors)
        field = form.fields.get(name)
        parts.append(f"{field.label}: {said}" if field is not None and field.label else said)
    return "; ".join(parts)


@require_POST
@coordinator_only
def batch_add_exams_view(request, batch_id: int):
    form = AddExamsForm(request.POST, user=request.user)

    def add(batch):
        if not form.is_valid():
            raise BatchDesignError(form_problems(form))
        outcome = batch_add_matching_exams(
            batch=batch,
            criteria=form.criteria(),
            actor=request.user,
            sample_size=form.cleaned_data["sample_size"],
            seed=form.cleaned_data["seed"] or 0,
        )
        said = _("%(added)s exams added to the batch.") % {"added": outcome.added}
        if outcome.copies_left_out:
            said += " " + copies_left_out_text(outcome.copies_left_out)
        poor = outcome.poor_left_out
        if poor.exams:
            said += " " + poor_left_out_text(poor.exams, poor.flags)
        return " ".join(filter(None, [said, kept_back_text(outcome.kept_back)]))

    return _change(request, batch_id, add)


def _reader_id(raw: str | None) -> int:
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise Invalid(_("choose the reader"))
    return int(raw)


@require_POST
@coordinator_only
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


# --- Re-adjudication audits -----------------------------------------------------------------------------
def _create(request, form: AuditForm) -> ReviewBatch:
    values = form.cleaned_data
    return audit_batch_create(
        name=values["name"],
        source_batch_ids=[batch.pk for batch in values["audit_of"]],
        auditors=list(values["auditors"]),
        actor=request.user,
        seed=values["seed"],
        sample_size=values["sample_size"],
        sample_fraction=values["sample_fraction"],
        readers_per_exam=values["readers_per_exam"],
    )


@coordinator_only
def audit_new(request):
    form = AuditForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            batch = _create(request, form)
        except Invalid as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request, _("Audit batch %(name)s created and started.") % {"name": repr(batch.name)}
            )
            return redirect("audit-detail", batch_id=batch.pk)
    return render(request, "annotations/audits/new.html", {"form": form})


@require_GET
@coordinator_only
def audit_detail(request, batch_id: int):
    """An audit's findings; for any other batch, the audits made of it."""
    batch = batch_for_coordinator(request.user, batch_id)
    if not is_audit(batch):
        return render(
            request, "annotations/audits/of_batch.html", {"batch": batch, "audits": audits_made_of(batch.pk)}
        )
    return render(request, "annotations/audits/detail.html", {"batch": batch, "found": audit_findings(batch)})


urlpatterns = [
    path("batches/", batch_list, name="batches"),
    path("batches/new/", batch_new, name="batch-new"),
    path("batches/new/audit/", audit_new, name="audit-new"),
    path("batches/<int:batch_id>/audit/", audit_detail, name="audit-detail"),
    path("batches/<int:batch_id>/", batch_detail, name="batch-detail"),
    path("batches/<int:batch_id>/progress.json", batch_progress_json, name="batch-progress"),
    path("batches/<int:batch_id>/suggestions/", batch_suggestions_fragment, name="batch-suggestions"),
    path("batches/<int:batch_id>/close/", batch_close_view, name="batch-close"),
    path("batches/<int:batch_id>/reassign/", batch_reassign_view, name="batch-reassign"),
    path("batches/<int:batch_id>/add-readers/", batch_add_readers_view, name="batch-add-readers"),
    path("batches/<int:batch_id>/add-exams/", batch_add_exams_view, name="batch-add-exams"),
    path(
        "batches/<int:batch_id>/skips/<int:assignment_id>/hand-on/",
        batch_skip_hand_on_view,
        name="batch-skip-hand-on",
    ),
    path("batches/<int:batch_id>/returns/", batch_return_view, name="batch-return"),
]
