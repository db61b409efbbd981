"""Forms of the coordinator pages: they validate input and turn it into selector/service arguments."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from annotations.models import QUALITY_FLAG_CHOICES, QualityGrade, ReviewBatch
from annotations.models.batches import SEED_MAX
from annotations.roles import Role, has_role
from annotations.selectors.batches.access import batch_readers
from annotations.selectors.batches.audits import audit_source_choices, auditor_choices
from annotations.selectors.batches.plan import BatchSpec
from annotations.selectors.batches.progress import batch_reader_candidates
from annotations.selectors.batches.spec import batch_spec, exam_criteria
from annotations.selectors.exams.browse import dataset_names
from annotations.selectors.exams.selection import ExamCriteria, scored_statements
from annotations.selectors.taxonomy import taxonomy_list, taxonomy_superseded
from annotations.selectors.users import account_of, active_readers
from annotations.services.batches.criteria import criteria_problems


def choice_field(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    """The form's field of that name, which is a choice field (its choices are set per request)."""
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    return field


def model_choice_field(form: forms.BaseForm, name: str) -> forms.ModelChoiceField:
    """The form's field of that name, which chooses among rows (its query is set per request)."""
    field = form.fields[name]
    assert isinstance(field, forms.ModelChoiceField)
    return field


# The blank choice of Django's select boxes; Django's own pt_BR catalogue lacks it, so the project's
# catalogue carries its translation (project catalogues take precedence).
BLANK_CHOICE_LABEL = gettext_noop("- Select an option -")


class ExamCriteriaForm(forms.Form):
    """The exam criteria both coordinator forms offer (the designer's, and adding exams to a running batch),
    with a window of a model's score for a statement chosen among the (provider, statement) pairs exams
    carry scores for (selection.scored_statements), as "provider:code"."""

    datasets = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label=_("Datasets")
    )
    age_min = forms.IntegerField(required=False, min_value=0, max_value=130, label=_("Age min"))
    age_max = forms.IntegerField(required=False, min_value=0, max_value=130, label=_("Age max"))
    sex = forms.ChoiceField(
        required=False, label=_("Sex"), choices=[("", _("Any")), ("F", _("Female")), ("M", _("Male"))]
    )
    reference_labels = forms.CharField(
        required=False,
        label=_("Reference labels"),
        help_text=_("Comma-separated SYSTEM:CODE, e.g. code15:RBBB, snomed:426177001."),
    )
    quality_grades = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Signal quality"),
        choices=[*QualityGrade.choices, ("", _("not checked yet"))],
        help_text=_("None ticked: any quality but poor, which a batch takes only when ticked."),
    )
    quality_without = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Leave out exams with"),
        choices=QUALITY_FLAG_CHOICES,
    )
    score_window = forms.ChoiceField(
        required=False,
        label=_("Model score"),
        help_text=_("Keep the exams whose newest score from this model for this statement lies between:"),
    )
    suggestion_min = forms.FloatField(required=False, min_value=0, max_value=1, label=_("lowest"))
    suggestion_max = forms.FloatField(required=False, min_value=0, max_value=1, label=_("highest"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        choice_field(self, "datasets").choices = [(name, name) for name in dataset_names()]
        self.scored = {f"{s.provider}:{s.code}": s for s in scored_statements(user)}
        self.score_choices = [(key, f"{s.provider} · {s.code} — {s.name}") for key, s in self.scored.items()]
        choice_field(self, "score_window").choices = [("", _("any: no window")), *self.score_choices]

    def clean(self):
        """The criteria together, checked as the API checks them (services.batches.criteria); the window's
        model and statement are one field here."""
        data = super().clean() or {}
        provider, code = self.scored_pair(data.get("score_window") or "")
        for name, problem in criteria_problems(
            {**data, "suggestion_provider": provider, "suggestion_code": code}
        ).items():
            self.add_error(
                "score_window" if name in ("suggestion_provider", "suggestion_code") else name, problem
            )
        return data

    def scored_pair(self, key: str) -> tuple[str | None, str | None]:
        chosen = self.scored.get(key)
        return (chosen.provider, chosen.code) if chosen else (None, None)

    def criteria_data(self) -> dict:
        """The cleaned data with the window's provider and code named as ExamCriteria names them."""
        data = dict(self.cleaned_data)
        data["suggestion_provider"], data["suggestion_code"] = self.scored_pair(data.get("score_window", ""))
        return data


class TaxonomyChoiceField(forms.ModelChoiceField):
    """Each version by name, an older one marked with the version that superseded it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.superseded: dict[int, str] = {}

    def label_from_instance(self, obj) -> str:
        newer = self.superseded.get(obj.pk)
        label = str(obj)
        return (
            label
            if newer is None
            else _("%(taxonomy)s · superseded by %(version)s")
            % {
                "taxonomy": label,
                "version": newer,
            }
        )


class BatchDesignForm(ExamCriteriaForm):
    name = forms.CharField(max_length=200, label=_("Name"))
    # The default taxonomy is listed first and chosen from the start: a coordinator who leaves the
    # list alone gets the default, not a refused empty choice.
    taxonomy = TaxonomyChoiceField(queryset=taxonomy_list(), label=_("Taxonomy"), empty_label=None)
    readers = forms.ModelMultipleChoiceField(
        queryset=active_readers(), widget=forms.CheckboxSelectMultiple, label=_("Readers")
    )
    readers_per_exam = forms.IntegerField(min_value=1, initial=2, label=_("Readers per exam"))
    suggestion_mode = forms.ChoiceField(
        choices=ReviewBatch.SuggestionMode.choices, label=_("Suggestion mode")
    )
    due_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label=_("Due date")
    )
    sample_size = forms.IntegerField(
        required=False, min_value=1, label=_("Sample size"), help_text=_("Empty: every matching exam.")
    )
    # A model's score for a statement to stratify by, chosen as the window's (ExamCriteriaForm).
    stratify_by = forms.ChoiceField(
        required=False,
        label=_("Stratify by model score"),
        help_text=_("Equal-width score strata, as evenly sampled as they allow: a rare finding is enriched."),
    )
    strata = forms.IntegerField(min_value=1, max_value=10, initial=4, label=_("Strata"))
    gold_fraction = forms.FloatField(min_value=0, max_value=0.5, initial=0, label=_("Gold fraction"))
    retest_fraction = forms.FloatField(min_value=0, max_value=0.5, initial=0, label=_("Retest fraction"))
    min_pair_overlap = forms.IntegerField(min_value=0, initial=0, label=_("Min pair overlap"))
    seed = forms.IntegerField(initial=0, min_value=0, max_value=SEED_MAX, label=_("Seed"))
    escalation = forms.ChoiceField(
        required=False,
        label=_("Escalation"),
        choices=[
            ("", _("None")),
            ("add_reader", _("Add one more reader, then adjudicate what still disagrees")),
            ("add_reader_majority", _("Add one more reader, then the majority decides (ties adjudicated)")),
            ("adjudicate", _("Send to adjudication")),
        ],
        help_text=_("What happens when an exam's reads disagree on any statement."),
    )
    escalation_cap = forms.IntegerField(
        required=False, min_value=1, max_value=5, initial=1, label=_("Most readers added")
    )
    escalation_trigger = forms.ChoiceField(
        required=False,
        label=_("Escalate when"),
        initial="any",
        choices=[
            ("any", _("The reads differ on any statement")),
            ("classes", _("The reads differ on one of the listed statements")),
            ("weighted", _("The statements the reads differ on weigh the threshold or more")),
        ],
        help_text=_(
            "With many statements nearly every exam differs on some: the preview counts each choice."
        ),
    )
    escalation_classes = forms.CharField(
        required=False,
        max_length=2000,
        label=_("Statements that escalate"),
        help_text=_("Codes, comma-separated, e.g. AF, AVB3, STEMI."),
    )
    escalation_weights = forms.CharField(
        required=False,
        max_length=4000,
        label=_("Clinical weights changed"),
        help_text=_(
            "Code=weight, comma-separated, e.g. SB=3, SA=0. The others keep the shipped weights "
            "(4 life-threatening, 3 urgent, 2 significant, 1 moderate, 0.5 minor)."
        ),
    )
    escalation_threshold = forms.FloatField(
        required=False,
        initial=3,
        label=_("Weighted threshold"),
        help_text=_("An exam escalates when its disputed statements weigh this much or more."),
    )
    consensus_method = forms.ChoiceField(
        required=False,
        label=_("Consensus"),
        initial="majority",
        choices=[
            ("majority", _("Majority of the reads")),
            ("latent", _("Latent-class estimate (Dawid-Skene)")),
        ],
        help_text=_(
            "How an exam's reads become its label. The latent estimate weighs each reader by their "
            "estimated accuracy; it needs many exams to estimate it."
        ),
    )
    consensus_threshold = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        initial=0.5,
        label=_("Present above"),
        help_text=_("Share of the reads."),
    )
    latent_margin = forms.FloatField(
        required=False,
        min_value=0,
        max_value=0.49,
        initial=0.1,
        label=_("Latent margin"),
        help_text=_("A latent estimate this close to 0.5 goes to adjudication."),
    )
    exclude_seen = forms.BooleanField(
        required=False,
        initial=True,
        label=_("Keep readers away from exams they know"),
        help_text=_(
            "One person, one independent read per exam: never hand a reader a chosen exam they read, "
            "skipped after opening or saw the suggestion of in any batch (a copy of its waveform counts). "
            "Exams whose dispute they saw are always kept away. To turn this off, say why below."
        ),
    )
    independence_off_reason = forms.CharField(
        required=False,
        max_length=500,
        label=_("Why readers may re-read exams they know"),
        help_text=_("Needed only when the box above is unticked; recorded in the batch and its releases."),
    )
    serial_comparison = forms.BooleanField(
        required=False,
        label=_("Show readers the patient's earlier ECGs"),
        help_text=_(
            "Serial comparison: the three most recent earlier ECGs of the same patient, waveform and date "
            "only, never anything anybody said about them."
        ),
    )
    device_measurements_shown = forms.BooleanField(
        required=False,
        label=_("Show readers the recording cart's measurements"),
        help_text=_(
            "Heart rate, intervals and axes as the cart measured them, where its file gave them, as the "
            "header of a cart's printout shows them. Never the cart's interpretation."
        ),
    )

    blind_measurements = forms.ChoiceField(
        required=False,
        initial="none",
        choices=[
            ("none", _("None")),
            ("cart", _("The cart's beat and measurements")),
            ("cart_and_computed", _("The cart's and those computed from the signal")),
        ],
        label=_("Measurements shown to blind readers"),
        help_text=_(
            "The representative beat, intervals, axes and ST levels beside the leads, before the blind "
            "read too: measurements of the signal, never a statement, a score or a model's opinion. The "
            "cart's where its file gave them; computed ones with fiducial marks."
        ),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        model_choice_field(self, "readers").queryset = active_readers()
        # Read by the taxonomy select's template, to mark versions a newer one replaced.
        self.fields["taxonomy"].superseded = taxonomy_superseded()  # type: ignore[attr-defined]
        choice_field(self, "stratify_by").choices = [
            ("", _("none: a simple random sample")),
            *self.score_choices,
        ]

    def clean_escalation_weights(self) -> dict[str, float]:
        """``"SB=3, SA=0"`` as {code: weight}; whether the codes and weights are usable the escalation
        rule says (selectors.batches.escalation)."""
        weights, given = {}, self.cleaned_data["escalation_weights"]
        for item in filter(None, (part.strip() for part in given.split(","))):
            code, _sep, value = (side.strip() for side in item.partition("="))
            try:
                weights[code] = float(value)
            except ValueError:
                raise forms.ValidationError(
                    _("“%(item)s” is not a statement code with a weight, as in SB=3") % {"item": item}
                ) from None
        return weights

    def spec(self) -> BatchSpec:
        data = self.criteria_data()
        data["stratify_provider"], data["stratify_code"] = self.scored_pair(data["stratify_by"])
        # An unticked box sends nothing, as does a request that never showed the box: only the page, which
        # says it offered the box (exclude_seen_offered), can turn independent reads off.
        if not self.data.get("exclude_seen_offered"):
            data["exclude_seen"] = True
        return batch_spec(
            {
                **data,
                "taxonomy_id": data["taxonomy"].pk,
                "reader_ids": [reader.pk for reader in data["readers"]],
                "criteria": data,  # the criteria are fields of this same form
            }
        )


class _BatchReaderChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        name = obj.get_username()
        if not obj.is_active:
            return _("%(name)s (inactive)") % {"name": name}
        if not has_role(obj, Role.READER):  # still here, but their unread exams wait on nobody
            return _("%(name)s (no longer a reader)") % {"name": name}
        return name


class ReassignForm(forms.Form):
    """From any reader of the batch, a deactivated one included (who left with exams unread: they must be
    movable); to an active reader."""

    from_reader = _BatchReaderChoice(queryset=active_readers(), label=_("From reader"))
    to_reader = forms.ModelChoiceField(queryset=active_readers(), label=_("To reader"))

    def __init__(self, *args, batch: ReviewBatch, **kwargs):
        super().__init__(*args, **kwargs)
        model_choice_field(self, "from_reader").queryset = batch_readers(batch)

    def clean(self):
        data = super().clean() or {}
        if "to_reader" in self.errors:
            # Why the account cannot take the exams, rather than "Select a valid choice".
            self.errors["to_reader"] = self.error_class(
                [_not_a_reader_to_hand_to(self.data.get("to_reader"))]
            )
        if data.get("from_reader") and data.get("from_reader") == data.get("to_reader"):
            raise forms.ValidationError(_("choose two different readers"))
        return data


def _not_a_reader_to_hand_to(value) -> str:
    """Why `value` (a submitted account id) is no active reader: none given, no such account, deactivated,
    or without the reader role."""
    if value in (None, ""):
        return str(_("choose the reader to hand the exams to"))
    account = account_of(value)
    if account is None:
        return str(_("no account with id %(id)s") % {"id": value})
    name = account.get_username()
    if not account.is_active:
        return str(_("%(name)s is deactivated") % {"name": name})
    return str(_("%(name)s is not a reader") % {"name": name})


class HandOnForm(forms.Form):
    reader = forms.ModelChoiceField(queryset=active_readers(), label=_("Reader"))


class AddReadersForm(forms.Form):
    """Offers, and accepts, only readers not yet in the batch."""

    readers = forms.ModelMultipleChoiceField(queryset=active_readers(), label=_("Readers"))

    def __init__(self, *args, batch: ReviewBatch, **kwargs):
        super().__init__(*args, **kwargs)
        model_choice_field(self, "readers").queryset = batch_reader_candidates(batch)


class AddExamsForm(ExamCriteriaForm):
    """The designer's exam criteria, for adding exams to a running batch."""

    sample_size = BatchDesignForm.base_fields["sample_size"]
    seed = forms.IntegerField(required=False, initial=0, min_value=0, max_value=SEED_MAX, label=_("Seed"))

    def criteria(self) -> ExamCriteria:
        return exam_criteria(self.criteria_data())


class AuditForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    audit_of = forms.ModelMultipleChoiceField(
        label=_("Batches to audit"),
        queryset=audit_source_choices().none(),
        help_text=_("Closed batches, or batches whose every slot was read or skipped."),
    )
    auditors = forms.ModelMultipleChoiceField(
        label=_("Auditors"),
        queryset=auditor_choices().none(),
        help_text=_(
            "Readers who read the sample blind; an adjudicator among them is compared with the batches' "
            "adjudicators. Nobody is handed an exam they read or whose dispute they saw."
        ),
    )
    sample_size = forms.IntegerField(label=_("Sample size"), min_value=1, required=False)
    sample_fraction = forms.FloatField(
        label=_("or sample fraction"), min_value=0.0, max_value=1.0, required=False
    )
    seed = forms.IntegerField(label=_("Seed"), min_value=0, max_value=SEED_MAX, initial=0)
    readers_per_exam = forms.IntegerField(label=_("Auditors per exam"), min_value=1, initial=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        model_choice_field(self, "audit_of").queryset = audit_source_choices()
        model_choice_field(self, "auditors").queryset = auditor_choices()
