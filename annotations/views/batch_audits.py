"""Coordinator pages for re-adjudication audits: designing one (beside the batch designer) and what it
found. The audit log's pages are annotations.views.audit."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from annotations.errors import Invalid
from annotations.models import ReviewBatch
from annotations.models.batches import SEED_MAX
from annotations.roles import Role
from annotations.selectors.batches.access import batch_for_coordinator
from annotations.selectors.batches.audits import audit_findings, audits_made_of, is_audit
from annotations.services.batches.audits import audit_batch_create
from annotations.views.access import role_required

coordinator_only = role_required(Role.COORDINATOR)


class AuditForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    audit_of = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Batches to audit"),
        queryset=ReviewBatch.objects.none(),
        help_text=gettext_lazy("Closed batches, or batches whose every slot was read or skipped."),
    )
    auditors = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Auditors"),
        queryset=get_user_model().objects.none(),
        help_text=gettext_lazy(
            "Readers who read the sample blind; an adjudicator among them is compared with the batches' "
            "adjudicators. Nobody is handed an exam they read or whose dispute they saw."
        ),
    )
    sample_size = forms.IntegerField(label=gettext_lazy("Sample size"), min_value=1, required=False)
    sample_fraction = forms.FloatField(
        label=gettext_lazy("or sample fraction"), min_value=0.0, max_value=1.0, required=False
    )
    seed = forms.IntegerField(label=gettext_lazy("Seed"), min_value=0, max_value=SEED_MAX, initial=0)
    readers_per_exam = forms.IntegerField(label=gettext_lazy("Auditors per exam"), min_value=1, initial=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A design without "kind" has a NULL there, which NOT (kind = 'audit') would drop too.
        not_audits = Q(design__kind__isnull=True) | ~Q(design__kind="audit")
        batches = ReviewBatch.objects.filter(not_audits).exclude(status=ReviewBatch.Status.DRAFT)
        self.fields["audit_of"].queryset = batches.order_by("-created_at")
        readers = get_user_model().objects.filter(is_active=True, groups__name=Role.READER.value)
        self.fields["auditors"].queryset = readers.order_by("username").distinct()


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
    path("batches/new/audit/", audit_new, name="audit-new"),
    path("batches/<int:batch_id>/audit/", audit_detail, name="audit-detail"),
]
