"""The reader's JSON API: their own assignments only (404 for any other id), blind to other readers."""

from __future__ import annotations

from typing import ClassVar

from django.urls import path
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.errors import StrictSerializer
from annotations.api.permissions import HasRole, IsReader
from annotations.api.suggestions import RationaleSerializer
from annotations.lib.qualifiers import QUALIFIERS
from annotations.models import Assignment
from annotations.roles import Role
from annotations.selectors.reading.assignments import (
    assignment_for_reader,
    assignment_next_id_for_reader,
    reader_batch_named,
)
from annotations.selectors.reading.context import reading_context
from annotations.selectors.reading.explanations import reading_explanations
from annotations.selectors.reading.preferences import (
    GAINS_MM_MV,
    LAYOUTS,
    LEAD_NAMES,
    SPEEDS_MM_S,
    reader_preferences,
)
from annotations.selectors.reading.refs import assignment_pk, assignment_ref_or_none
from annotations.selectors.reading.serial import ROWS as SERIAL_ROWS
from annotations.selectors.reading.serial import serial_overlay_for_reader
from annotations.selectors.reading.worklist import reader_worklist
from annotations.selectors.taxonomy import taxonomy_size_for_reader
from annotations.services.reading import (
    MAX_REASON,
    READER_SKIP_CODES,
    LabelInput,
    annotation_amend,
    annotation_save_draft,
    annotation_submit,
    assignment_skip,
    reader_preferences_set,
    suggestion_exposure_record,
)
from annotations.views.reading import (
    reading_context_opened,
    reading_prior_waveform,
    reading_waveform,
    view_cookie_set,
)

# What a reader is given to name an assignment: an opaque reference (selectors.reading.refs).
REF_HELP = "An assignment's reference: 22 URL-safe characters, never its database id."


class LabelSerializer(StrictSerializer):
    code = serializers.CharField(max_length=40)
    uncertain = serializers.BooleanField(default=False)
    qualifiers = serializers.ListField(
        child=serializers.CharField(max_length=20),
        default=list,
        max_length=len(QUALIFIERS),
        help_text="Where the finding is (inferior, anterior, septal, lateral, posterior, extensive) and "
        "acute or old: only those the statement declares (the taxonomy's `qualifiers`).",
    )


class SaveSerializer(StrictSerializer):
    labels = LabelSerializer(many=True)
    # Left out, the saved comment and time on task stay as they are (an API client may send only the
    # statements); sent, they replace them.
    comment = serializers.CharField(allow_blank=True, required=False, max_length=4000)
    time_on_task_ms = serializers.IntegerField(min_value=0, required=False)
    revision = serializers.IntegerField(min_value=0)


class SkipSerializer(StrictSerializer):
    # Left out, the code is "other", whose reason is then required: a client that sends a reason alone
    # (as before the list) is understood, and its words kept.
    code = serializers.ChoiceField(
        choices=list(READER_SKIP_CODES),
        default=Assignment.SkipCode.OTHER.value,
        help_text="Why: unreadable, wrong_patient (or lead placement), not_12_leads, duplicate, or other.",
    )
    reason = serializers.CharField(
        max_length=300,
        required=False,
        allow_blank=True,
        default="",
        help_text="The reader's words: required with `other`, refused with any other code.",
    )

    def validate(self, attrs: dict) -> dict:
        reason = attrs["reason"].strip()
        if attrs["code"] == Assignment.SkipCode.OTHER and not reason:
            raise serializers.ValidationError({"reason": _("give a reason for skipping this exam")})
        if attrs["code"] != Assignment.SkipCode.OTHER and reason:
            raise serializers.ValidationError(
                {"reason": _('a reason in your own words goes with the reason "other" only')}
            )
        return {**attrs, "reason": reason}


# --- What the reader's endpoints answer (selectors.reading.context.reading_context) -----------------
class QueueCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    open = serializers.IntegerField()


class ContextAssignmentSerializer(serializers.Serializer):
    id = serializers.CharField(help_text=REF_HELP)
    status = serializers.CharField()
    skip_code = serializers.CharField(allow_blank=True, help_text="Empty unless skipped.")
    skip_reason = serializers.CharField(
        allow_blank=True,
        help_text="The skip's reason as the reader reads it: the listed one, or their words.",
    )
    position = serializers.IntegerField(help_text="1-based place in the reader's queue.")
    batch = serializers.CharField()
    batch_id = serializers.IntegerField()
    suggestion_mode = serializers.CharField()
    queue = QueueCountsSerializer()
    page_url = serializers.CharField()


class ContextExamSerializer(serializers.Serializer):
    """The patient's context (acquisition moment, age, sex); no dataset, no external id, no patient id."""

    acquired_at = serializers.DateTimeField(
        allow_null=True, help_text="When the exam was recorded; null where its file did not say."
    )

    age = serializers.IntegerField(allow_null=True)
    sex = serializers.CharField()
    sampling_rate = serializers.FloatField()
    n_samples = serializers.IntegerField()
    lead_names = serializers.ListField(child=serializers.CharField())
    gain_uv = serializers.FloatField()
    waveform_url = serializers.CharField()
    waveform_etag = serializers.CharField()
    device_measurements = serializers.DictField(
        child=serializers.FloatField(),
        allow_null=True,
        help_text="The recording cart's own measurements (heart_rate_bpm, rr_ms, pr_ms, qrs_ms, qt_ms, "
        "qtc_ms, axes in degrees...) when the batch was designed to show them: empty where the exam's file "
        "gave none, null in a batch that does not show them.",
    )


class ContextQualifierSerializer(serializers.Serializer):
    key = serializers.CharField()
    # Named like an attribute of DRF's Field: the serializer's metaclass moves it off the class.
    label = serializers.CharField(  # type: ignore[assignment]
        help_text="The qualifier in the page's language."
    )


class ContextClassSerializer(serializers.Serializer):
    code = serializers.CharField()
    # Named like an attribute of DRF's Field: the serializer's metaclass moves it off the class.
    label = serializers.CharField(help_text="The name in the page's language.")  # type: ignore[assignment]
    name = serializers.CharField()
    name_pt = serializers.CharField(allow_blank=True)
    synonyms = serializers.ListField(child=serializers.CharField())
    kind = serializers.CharField()
    qualifiers = ContextQualifierSerializer(many=True, help_text="Those a read may add, in display order.")


class ContextGroupSerializer(serializers.Serializer):
    key = serializers.CharField()
    # Named like an attribute of DRF's Field: the serializer's metaclass moves it off the class.
    label = serializers.CharField()  # type: ignore[assignment]
    classes = ContextClassSerializer(many=True)


class ContextTaxonomySerializer(serializers.Serializer):
    groups = ContextGroupSerializer(many=True)
    exclusive_sets = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))

    # A frozen taxonomy's statement list is one dict per taxonomy and language, shared between requests
    # (selectors.reading.context): it is written out once per process, not on every exam opened (written
    # each time, it cost 4 ms of an 80-statement list's context). Kept with the dict itself, so that an id
    # is never reused while its entry stands.
    _written: ClassVar[dict[int, tuple[dict, dict]]] = {}

    def to_representation(self, instance):
        kept = self._written.get(id(instance))
        if kept is not None and kept[0] is instance:
            return kept[1]
        written = super().to_representation(instance)
        if len(self._written) >= 64:  # a handful of taxonomies and languages, and unfrozen ones; bounded
            self._written.clear()
        self._written[id(instance)] = (instance, written)
        return written


class ReadLabelSerializer(serializers.Serializer):
    """A statement of a read as the API answers it (annotations.lib.qualifiers.label_snapshot)."""

    code = serializers.CharField()
    uncertain = serializers.BooleanField()
    qualifiers = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Left out where none was chosen."
    )


class BlindReadSerializer(serializers.Serializer):
    labels = ReadLabelSerializer(many=True)


class ContextAnnotationSerializer(serializers.Serializer):
    stage = serializers.CharField(allow_null=True)
    status = serializers.CharField(allow_null=True)
    revision = serializers.IntegerField()
    labels = ReadLabelSerializer(many=True)
    comment = serializers.CharField(allow_blank=True)
    time_on_task_ms = serializers.IntegerField()
    blind = BlindReadSerializer(
        allow_null=True, help_text="The blind read, once a two-stage read is revised."
    )


class SuggestedScoreSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    score = serializers.FloatField()
    suggested = serializers.BooleanField()
    rationale = RationaleSerializer(
        allow_null=True,
        help_text="Why a rule scored the statement, from the provider code it maps to; null where none.",
    )


class ContextSuggestionSerializer(serializers.Serializer):
    provider = serializers.CharField(help_text="The provider's key, as settings and the evidence name it.")
    title = serializers.CharField(help_text="Its name in the reader's language, as the page shows it.")
    version = serializers.CharField()
    scores = SuggestedScoreSerializer(many=True)
    measurements = serializers.DictField(child=serializers.FloatField(allow_null=True))


class FiducialMarksSerializer(serializers.Serializer):
    """Milliseconds relative to R; null where the provider measured no interval for the mark."""

    p_on_ms = serializers.FloatField(allow_null=True)
    qrs_on_ms = serializers.FloatField(allow_null=True, help_text="Found on the median beat itself.")
    qrs_off_ms = serializers.FloatField(allow_null=True, help_text="QRS onset + the provider's QRS.")
    t_off_ms = serializers.FloatField(allow_null=True, help_text="QRS onset + the provider's QT.")


class MedianBeatSerializer(serializers.Serializer):
    sampling_rate = serializers.FloatField()
    start_ms = serializers.FloatField(help_text="Time of the first sample relative to R (negative).")
    n_beats = serializers.IntegerField(help_text="Beats in the median, edge beats left out.")
    qrs_onset_ms = serializers.FloatField(allow_null=True)
    leads = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField()), help_text="Microvolts per lead."
    )
    marks = FiducialMarksSerializer()


class MeasurementDifferenceSerializer(serializers.Serializer):
    difference = serializers.FloatField(help_text="Provider minus cart; an axis the shorter way round.")
    tolerance = serializers.FloatField()
    exceeds = serializers.BooleanField(help_text="The difference is larger than the tolerance.")


class MedianPanelSerializer(serializers.Serializer):
    provider = serializers.CharField(help_text="The provider's key, as settings and the evidence name it.")
    title = serializers.CharField(help_text="Its name in the reader's language, as the page shows it.")
    measurements = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        help_text="Global HR, PR, QRS, QT, QTc (Bazett, Fridericia) and P/QRS/T axes the provider stored.",
    )
    beat = MedianBeatSerializer(allow_null=True, help_text="Null when no usable R-peak series was found.")
    device = serializers.DictField(
        child=serializers.FloatField(),
        allow_null=True,
        help_text="The recording cart's own values of the same measurements, beside the provider's, in a "
        "batch designed to show the cart's measurements; null in any other.",
    )
    differences = serializers.DictField(
        child=MeasurementDifferenceSerializer(),
        help_text="Per measurement both give (with a tolerance): provider minus cart, the tolerance and "
        "whether the difference exceeds it. Empty where the cart's values are not shown.",
    )
    tolerances = serializers.DictField(
        child=serializers.FloatField(),
        help_text="The largest difference not marked, per measurement: PR and QRS 10 ms and QT 25 ms "
        "(IEC 60601-2-25:2011, mean difference on the CSE database); heart rate 5 bpm and the axes 15 "
        "degrees (this project's choice).",
    )


class BlindIntervalsSerializer(serializers.Serializer):
    cart = serializers.DictField(
        child=serializers.FloatField(),
        allow_null=True,
        help_text="The recording cart's own global measurements ({} where its file gave none); null where "
        "the setting is none.",
    )
    computed = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        allow_null=True,
        help_text="HR, RR, PR, QRS, QT, QTc (Bazett, Fridericia; qtc_ms, a cart's own formula, is null) and "
        "P/QRS/T axes computed from the signal; null unless the setting is cart_and_computed, or where the "
        "strip has no usable R peaks.",
    )


class BlindBeatSerializer(MedianBeatSerializer):
    # Named like an attribute of DRF's Field: the serializer's metaclass moves it off the class.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=["cart", "computed"], help_text="Whose beat is drawn."
    )
    n_beats = serializers.IntegerField(allow_null=True, help_text="Null for the cart's beat.")


class BlindStSerializer(serializers.Serializer):
    j = serializers.DictField(child=serializers.FloatField(), help_text="mm (10 mm = 1 mV) at J, per lead.")
    j60 = serializers.DictField(child=serializers.FloatField(), help_text="mm at J + 60 ms, per lead.")


class BlindMeasurementsSerializer(serializers.Serializer):
    """Measurements of the signal, by the batch's blind_measurements setting: never a statement, a score,
    a model's name or a suggestion, so they are sent before the blind read too."""

    setting = serializers.CharField(
        help_text="The batch's blind_measurements: none, cart or cart_and_computed."
    )
    beat = BlindBeatSerializer(
        allow_null=True,
        help_text="The cart's representative beat where it was kept, else (cart_and_computed) the computed "
        "median beat; marks from the computed intervals, all null unless cart_and_computed.",
    )
    intervals = BlindIntervalsSerializer()
    st_mm = BlindStSerializer(
        allow_null=True, help_text="ST level against the PR baseline; null unless cart_and_computed."
    )


class PriorExamSerializer(serializers.Serializer):
    """An earlier ECG of the same patient: its waveform and date, nothing anybody said about it."""

    n = serializers.IntegerField(help_text="1 for the most recent earlier exam, then 2, 3.")
    acquired_on = serializers.DateField()
    sampling_rate = serializers.FloatField()
    n_samples = serializers.IntegerField()
    lead_names = serializers.ListField(child=serializers.CharField())
    gain_uv = serializers.FloatField()
    waveform_url = serializers.CharField(help_text="Through this assignment only; fetched when opened.")
    waveform_etag = serializers.CharField()
    overlay_url = serializers.CharField(
        required=False, help_text="The reader's only: both median beats and the changes (SerialOverlayView)."
    )


class ReturnedReadSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text="The coordinator's words.")
    at = serializers.DateTimeField()


class CorrectionSerializer(serializers.Serializer):
    """Whether the reader may amend the read now (AmendView), and why it came back to them."""

    amendable = serializers.BooleanField(help_text="A submitted read of an open exam: the page offers Amend.")
    refusal = serializers.CharField(
        allow_null=True, help_text="Why a submitted read can no longer be amended."
    )
    returned = ReturnedReadSerializer(
        allow_null=True, help_text="Set while a read a coordinator returned waits to be submitted again."
    )


class ReadingContextSerializer(serializers.Serializer):
    assignment = ContextAssignmentSerializer()
    exam = ContextExamSerializer()
    taxonomy = ContextTaxonomySerializer()
    annotation = ContextAnnotationSerializer()
    suggestion = ContextSuggestionSerializer(
        allow_null=True, help_text="Null unless the batch shows it now (never while prefetching)."
    )
    median = MedianPanelSerializer(
        allow_null=True, help_text="Median beat and measurements: sent exactly when the suggestion is."
    )
    measurements = BlindMeasurementsSerializer(
        help_text="The exam's beat, intervals, axes and ST levels as the batch's blind_measurements "
        "setting shows them, blind reads included."
    )
    priors = PriorExamSerializer(
        many=True,
        help_text="The patient's earlier exams (at most three, newest first) when the batch was designed "
        "with serial comparison; empty otherwise.",
    )
    next_assignment_id = serializers.CharField(allow_null=True, help_text=REF_HELP)
    correction = CorrectionSerializer()


class DraftSavedSerializer(serializers.Serializer):
    revision = serializers.IntegerField()
    stage = serializers.CharField()
    status = serializers.CharField()


class SubmittedSerializer(serializers.Serializer):
    done = serializers.BooleanField(
        help_text="False when a two-stage blind read was stored and the exam continues with its suggestion."
    )
    # Named like an attribute of DRF's Field: the serializer's metaclass moves it off the class.
    context = ReadingContextSerializer(  # type: ignore[assignment]
        required=False, help_text="When not done: the same exam, revised."
    )
    next_assignment_id = serializers.CharField(
        allow_null=True, required=False, help_text="When done. " + REF_HELP
    )


class SkippedSerializer(serializers.Serializer):
    done = serializers.BooleanField()
    next_assignment_id = serializers.CharField(allow_null=True, help_text=REF_HELP)


class NextAssignmentSerializer(serializers.Serializer):
    next_assignment_id = serializers.CharField(allow_null=True, help_text=REF_HELP)


def _valid(serializer_class, request, pk: int) -> dict:
    """The request's validated body; a reader learns nothing about another reader's assignment from a
    bad body either: what is not theirs answers 404 before any 400."""
    data = serializer_class(data=request.data)
    if not data.is_valid():
        assignment_for_reader(request.user, pk)
        raise serializers.ValidationError(data.errors)
    return data.validated_data


# A list this short costs nothing to validate; a longer one is first checked against the size of the
# assignment's taxonomy (one query), before each of its entries is validated.
LABELS_CHECKED_FREELY = 16


def _labels_within_taxonomy(request, pk: int) -> None:
    labels = request.data.get("labels") if isinstance(request.data, dict) else None
    if not isinstance(labels, list) or len(labels) <= LABELS_CHECKED_FREELY:
        return
    size = taxonomy_size_for_reader(request.user, pk)  # 404 first for what is not the reader's
    if len(labels) > size:
        message = _("at most %(size)s statements: the taxonomy has no more") % {"size": size}
        raise serializers.ValidationError({"labels": [message]})


def _save_arguments(request, pk: int, body=SaveSerializer) -> dict:
    """A save's arguments from its body; `body` a SaveSerializer, or one that adds fields (an amendment's)."""
    _labels_within_taxonomy(request, pk)
    values = _valid(body, request, pk)
    return {
        "labels": [
            LabelInput(code=item["code"], uncertain=item["uncertain"], qualifiers=tuple(item["qualifiers"]))
            for item in values["labels"]
        ],
        "comment": values.get("comment"),
        "time_on_task_ms": values.get("time_on_task_ms"),
        "revision": values["revision"],
    }


class ReadingContextView(APIView):
    permission_classes = [IsReader]

    @extend_schema(
        responses=ReadingContextSerializer,
        parameters=[
            OpenApiParameter("prefetch", str, enum=["1"], description="1: asked ahead of time (see above)."),
            OpenApiParameter("from", str, description="With prefetch: the reference of the exam on screen."),
        ],
    )
    def get(self, request, pk: int):
        """Open one of the reader's exams

        Readers only, on their own assignments: another reader's, or one in a batch that is no longer
        active, answers 404 like one that does not exist. Returns what the reader page needs: the
        exam's age, sex and waveform geometry, the batch's statements, the reader's own current read, the
        suggestion and median beat when the batch's mode shows them now, the patient's earlier ECGs when
        the batch offers them, and the next assignment's id; nothing of any other reader. A suggestion
        shown from the start is recorded as shown to this reader (audited the first time), and the answer
        is never cached. With `prefetch=1` (and `from=<id of the exam on screen>`) the page asks ahead of
        time: the suggestion and median beat are left out and nothing is recorded."""
        assignment = assignment_for_reader(request.user, pk)
        if request.query_params.get("prefetch") != "1":
            # Never kept: the read and the suggestion change, and the reader page asks for them on every
            # load, also when the browser reuses the page itself.
            response = Response(
                ReadingContextSerializer(reading_context_opened(request.user, assignment)).data
            )
            add_never_cache_headers(response)
            return response
        coming_from = request.query_params.get("from", "")
        context = reading_context(
            request.user, assignment, prefetch=True, coming_from=assignment_pk(coming_from)
        )
        return Response(ReadingContextSerializer(context).data)


class DraftView(APIView):
    permission_classes = [IsReader]

    @extend_schema(request=SaveSerializer, responses=DraftSavedSerializer)
    def put(self, request, pk: int):
        """Save a draft of a read

        Readers only, on their own assignment of an active batch (404 otherwise, also before a malformed
        body is answered; the reader's own assignment in a batch closed meanwhile answers 409 with
        `batch_closed: true` and the batch's name and closing date in `detail`). Send the statements
        chosen, the comment, the time on task (kept up to a day) and the `revision` last received (0
        before the first save); returns the new revision. A comment or time on task left out keeps the
        one saved before. A save from an older revision answers 409 with the current `revision`, and
        one to a read already submitted or skipped 409; an unknown or repeated statement answers 400.
        Exclusive sets are checked at submit only. Every save keeps a revision of the read and an audit
        row; the first marks the assignment in progress."""
        arguments = _save_arguments(request, pk)
        # The service checks that the assignment is this reader's (404) in the query that locks it; a
        # stale revision answers 409 with the current one, a closed read 409, a bad label 400.
        annotation = annotation_save_draft(actor=request.user, assignment=pk, **arguments)
        return Response(DraftSavedSerializer(annotation).data)


class SubmitView(APIView):
    permission_classes = [IsReader]

    @extend_schema(request=SaveSerializer, responses=SubmittedSerializer)
    def post(self, request, pk: int):
        """Submit a read and get the next exam

        Readers only, on their own assignment of an active batch (404 otherwise; 409 with `batch_closed`
        for their own in a batch closed meanwhile, as for a draft save). The body and the 409 answers are
        a draft save's. 400 says what to correct: no statement chosen (allowed only where the
        taxonomy is a "none of these" list), an unknown or repeated statement, or statements the taxonomy's
        exclusive sets forbid together, each such pair named. In a two-stage batch whose exam has a
        suggestion, the first submit stores the blind read and answers `done: false` with the same exam's
        context: the suggestion is now shown (and recorded as shown), and the revised read starts from the
        same statements. Otherwise it answers `done: true` with the id of the reader's next exam in the
        batch (null when none is left). Audited; a submitted first read queues the batch's agreement
        recomputation, and may escalate the exam when the reads disagree and the batch's design says so."""
        arguments = _save_arguments(request, pk)
        # The service checks that the assignment is this reader's (404) in the query that locks it.
        result = annotation_submit(actor=request.user, assignment=pk, **arguments)
        if result.suggestion_revealed is not None:
            # Two-stage: the blind read is stored; the same exam continues with the suggestion shown.
            context = reading_context(request.user, result.assignment)
            return Response(SubmittedSerializer({"done": False, "context": context}).data)
        assignment = result.assignment
        following = assignment_next_id_for_reader(
            request.user, batch_id=assignment.batch_id, after=assignment
        )
        return Response(
            SubmittedSerializer({"done": True, "next_assignment_id": assignment_ref_or_none(following)}).data
        )


class SkipView(APIView):
    permission_classes = [IsReader]

    @extend_schema(request=SkipSerializer, responses=SkippedSerializer)
    def post(self, request, pk: int):
        """Skip an exam with a reason and get the next exam

        Readers only, on their own assignment of an active batch (404 otherwise; 409 with `batch_closed`
        for their own in a batch closed meanwhile, as for a draft save). The `code` is one of unreadable,
        wrong_patient (or lead placement suspected), not_12_leads, duplicate or other; `reason`, at most 300
        characters, is required with other (the default code) and refused with the others (400, nothing
        changed); a saved draft is kept. Answers the id of the reader's next exam in the batch (null when
        none is left). 409 when the read is already submitted or skipped, and when a two-stage blind read
        is already submitted: it counts, so the revision must be submitted instead. Audited; a coordinator
        may hand the skipped exam on to another reader."""
        body = _valid(SkipSerializer, request, pk)
        assignment = assignment_skip(
            actor=request.user, assignment=pk, code=body["code"], reason=body["reason"]
        )
        following = assignment_next_id_for_reader(
            request.user, batch_id=assignment.batch_id, after=assignment
        )
        return Response(
            SkippedSerializer({"done": True, "next_assignment_id": assignment_ref_or_none(following)}).data
        )


class NextView(APIView):
    permission_classes = [IsReader]

    @extend_schema(
        responses=NextAssignmentSerializer,
        parameters=[OpenApiParameter("batch", int, description="Only this batch of the caller's.")],
    )
    def get(self, request):
        """Find the reader's next exam

        Readers only. Answers the id of the caller's next assignment, in their own randomised queue: unread
        exams first, then drafts; with `batch=<id>` within that batch, otherwise across their active
        batches, unread exams of the soonest-due batch first. Null when nothing is left. Records nothing.
        400 when `batch` is not a batch id; 404 for a batch the caller has no exam in."""
        batch_id = reader_batch_named(request.user, request.query_params.get("batch"))
        following = assignment_next_id_for_reader(request.user, batch_id=batch_id)
        return Response(
            NextAssignmentSerializer({"next_assignment_id": assignment_ref_or_none(following)}).data
        )


class ScalarOutputSerializer(serializers.Serializer):
    provider = serializers.CharField(help_text="The provider's key, as settings and the evidence name it.")
    title = serializers.CharField(help_text="Its name in the reader's language, as the page shows it.")
    name = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    unit = serializers.CharField(allow_blank=True)
    sd = serializers.FloatField(allow_null=True, help_text="Standard deviation, when the model gives one.")


class RelevanceBandSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    score = serializers.FloatField()
    provider = serializers.CharField()
    method = serializers.ChoiceField(choices=["provider", "occlusion"])
    leads = serializers.IntegerField(help_text="12 (standard lead order) or 1 (one band for all leads).")
    bins = serializers.IntegerField()
    bin_ms = serializers.FloatField(help_text="Bin j covers [j * bin_ms, (j + 1) * bin_ms) of the exam.")
    # Named like an attribute of DRF's Field: the serializer's metaclass moves it off the class.
    data = serializers.CharField(  # type: ignore[assignment]
        help_text="Base64 of leads x bins bytes, lead-major; 255 is the peak."
    )


class ExplanationsSerializer(serializers.Serializer):
    scalars = ScalarOutputSerializer(many=True, allow_null=True, help_text="Null unless the mode shows them.")
    bands = RelevanceBandSerializer(
        many=True, allow_null=True, help_text="Null until the reader's read is submitted; never when hidden."
    )


class ExplanationsView(APIView):
    """Scalars and relevance bands, as the batch's suggestion mode allows (selectors.reading.explanations);
    what is sent is recorded as shown, like the suggestion itself."""

    permission_classes = [IsReader]

    @extend_schema(responses=ExplanationsSerializer)
    def get(self, request, pk: int):
        """Get the models' scalar outputs and relevance bands for an exam

        Readers only, on their own assignment of an active batch (404 otherwise). What is sent follows the
        batch's suggestion mode, and what is not shown yet is null. Scalar outputs (a model's estimate,
        with its standard deviation when it gives one) come from the start in "shown" batches and once the
        blind read is submitted in "two_stage" ones; relevance bands (where in the tracing a statement's
        score came from) only once the reader has submitted a read of the assignment; neither ever in "hidden"
        batches. The suggestions whose output is sent are recorded as shown to the reader, like the
        suggestion itself."""
        explanations, shown = reading_explanations(request.user, pk)
        if shown:
            assignment = assignment_for_reader(request.user, pk)
            for suggestion in shown:
                suggestion_exposure_record(
                    actor=request.user, assignment=assignment, suggestion=suggestion, stage="revised"
                )
        return Response(ExplanationsSerializer(explanations).data)


class SerialBeatSerializer(serializers.Serializer):
    sampling_rate = serializers.FloatField()
    start_ms = serializers.FloatField(help_text="Where the beat starts, in ms from its R peak (negative).")
    n_beats = serializers.IntegerField()
    qrs_onset_ms = serializers.FloatField(allow_null=True, help_text="Where the two beats are aligned.")
    leads = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField()), help_text="µV"
    )


class SerialSideSerializer(serializers.Serializer):
    acquired_on = serializers.DateField()
    beat = SerialBeatSerializer(allow_null=True, help_text="Null where the strip has no usable R peaks.")


class SerialRowSerializer(serializers.Serializer):
    key = serializers.ChoiceField(choices=SERIAL_ROWS)
    earlier = serializers.FloatField(allow_null=True)
    current = serializers.FloatField(allow_null=True)
    change = serializers.FloatField(allow_null=True, help_text="current - earlier")


class SerialMeasurementsSerializer(serializers.Serializer):
    # Named like an attribute of DRF's Field: the serializer's metaclass moves it off the class.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=["computed", "cart"],
        allow_null=True,
        help_text="computed: measured from the signals, where the reader may see computed measurements; "
        "cart: the recording carts' own, where the batch shows them; null: neither (no rows).",
    )
    rows = SerialRowSerializer(many=True)


class SerialOverlaySerializer(serializers.Serializer):
    earlier = SerialSideSerializer()
    current = SerialSideSerializer()
    measurements = SerialMeasurementsSerializer()


class SerialOverlayView(APIView):
    permission_classes = [IsReader]

    @extend_schema(responses=SerialOverlaySerializer)
    def get(self, request, pk: int, n: int):
        """Get an earlier ECG's median beats over the exam's

        Readers only, on their own assignment of an active batch designed with serial comparison, for one
        of the earlier exams the context lists (404 otherwise). Both exams' median beats (µV, aligned on
        QRS onset by the page) with their acquisition dates, and heart rate, PR, QRS, QT, QTc and axes of
        both with the change, from measurements the batch already shows its readers (`source`)."""
        return Response(SerialOverlaySerializer(serial_overlay_for_reader(request.user, pk, n)).data)


class WorklistEntrySerializer(serializers.Serializer):
    batch_id = serializers.IntegerField()
    batch_name = serializers.CharField()
    due_date = serializers.DateField(allow_null=True)
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    drafts = serializers.IntegerField()
    skipped = serializers.IntegerField()
    remaining = serializers.IntegerField()


class WorklistView(APIView):
    @extend_schema(responses=WorklistEntrySerializer(many=True))
    def get(self, request):
        """List the caller's active batches with their own progress

        Any signed-in account; one that holds no assignment gets an empty list. One entry per active batch
        in which the caller holds exams, the soonest due first: how many exams they were given, have
        submitted, hold as drafts, skipped and have left. The caller's own counts only: nothing of other
        readers."""
        entries = reader_worklist(request.user)
        return Response(WorklistEntrySerializer(entries, many=True).data)


# --- View preferences: how the reader likes the ECG drawn, on every machine ------------------------------
class ReadsEcgs(HasRole):
    """Readers, and adjudicators, whose case page draws the ECG with the same tools."""

    roles = frozenset({Role.READER, Role.ADJUDICATOR})


def _one_of(allowed: tuple[float, ...], unit: str):
    def check(value: float) -> None:
        if value not in allowed:
            shown = ", ".join(f"{v:g}" for v in allowed)
            raise serializers.ValidationError(
                _("one of %(values)s %(unit)s") % {"values": shown, "unit": unit}
            )

    return check


class ReaderPreferencesSerializer(serializers.Serializer):
    layout = serializers.ChoiceField(choices=LAYOUTS)
    speed = serializers.FloatField(help_text="Paper speed, mm/s: 12.5, 25 or 50.")
    gain = serializers.FloatField(help_text="Gain, mm/mV: 5, 10 or 20.")
    lead_names = serializers.ChoiceField(choices=LEAD_NAMES, help_text="I, II, III or DI, DII, DIII.")


class ReaderPreferencesChangeSerializer(StrictSerializer):
    """Any of the preferences; those left out keep their value."""

    layout = serializers.ChoiceField(choices=LAYOUTS, required=False)
    speed = serializers.FloatField(required=False, validators=[_one_of(SPEEDS_MM_S, "mm/s")])
    gain = serializers.FloatField(required=False, validators=[_one_of(GAINS_MM_MV, "mm/mV")])
    lead_names = serializers.ChoiceField(choices=LEAD_NAMES, required=False)


class ReaderPreferencesView(APIView):
    permission_classes = [ReadsEcgs]

    @extend_schema(responses=ReaderPreferencesSerializer)
    def get(self, request):
        """Get how the caller likes the ECG drawn

        Readers and adjudicators. Returns the layout (3x4, 6x2 or 12x1), paper speed (mm/s), gain (mm/mV)
        and the limb leads' names (I, II, III or DI, DII, DIII). A preference never set reads as the
        standard one: 3x4, 25 mm/s, 10 mm/mV, and the lead names of the request's language."""
        return Response(ReaderPreferencesSerializer(reader_preferences(request.user)).data)

    @extend_schema(request=ReaderPreferencesChangeSerializer, responses=ReaderPreferencesSerializer)
    def put(self, request):
        """Change how the caller likes the ECG drawn

        Readers and adjudicators. Send any of the preferences; those left out keep their value, and a value
        outside the allowed ones answers 400 naming them. Returns every preference as now stored, and sets
        a cookie so that the browser no longer reuses reader pages it kept with the old ones. Not audited:
        a preference says how the paper is drawn, not what was read."""
        data = ReaderPreferencesChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reader_preferences_set(actor=request.user, values=dict(data.validated_data))
        preferences = reader_preferences(request.user)
        response = Response(ReaderPreferencesSerializer(preferences).data)
        view_cookie_set(response, preferences)  # the reader pages the browser kept carry the old ones
        return response


# --- A reader amends their own submitted read (services.reading: corrections) -------------------------
class AmendSerializer(SaveSerializer):
    reason = serializers.CharField(
        max_length=MAX_REASON, help_text="Why the read is amended: kept with the revision, and released."
    )


class AmendedSerializer(serializers.Serializer):
    revision = serializers.IntegerField()
    # Named like an attribute of DRF's Field: the serializer's metaclass moves it off the class.
    context = ReadingContextSerializer(  # type: ignore[assignment]
        help_text="The same exam, as its reader now sees it."
    )


class AmendView(APIView):
    permission_classes = [IsReader]

    @extend_schema(request=AmendSerializer, responses=AmendedSerializer)
    def post(self, request, pk: int):
        """Amend one's own submitted read

        Readers only, on their own assignment of an active batch (404 otherwise, also before a malformed
        body is answered; 409 with `batch_closed` for their own in a batch closed meanwhile). The body is a
        submit's (statements, comment, the `revision` last received) plus a required `reason` (400 when
        missing or blank). The amendment is a new revision of the read: the earlier ones stay in the trail
        and in releases (read_history.csv). In a two-stage batch it changes the revised read; the blind read
        is never changed. 409 when the read is not submitted, when an adjudicator has started on the exam
        (the message says so), or from an older revision (with the current `revision`); 400 for
        statements a submit would refuse. Audited; agreement and consensus are recomputed after it."""
        arguments = _save_arguments(request, pk, AmendSerializer)
        reason = _valid(AmendSerializer, request, pk)["reason"]
        arguments.pop("time_on_task_ms", None)  # the time on task stays the first read's
        amended = annotation_amend(actor=request.user, assignment=pk, reason=reason, **arguments)
        assignment = assignment_for_reader(request.user, pk)
        context = reading_context(request.user, assignment)
        return Response(AmendedSerializer({"revision": amended.revision, "context": context}).data)


urlpatterns = [
    path("v1/reading/preferences/", ReaderPreferencesView.as_view(), name="api-reading-preferences"),
    path("v1/worklist/", WorklistView.as_view(), name="api-worklist"),
    path("v1/reading/next/", NextView.as_view(), name="api-reading-next"),
    path(
        "v1/reading/assignments/<ref:pk>/",
        ReadingContextView.as_view(),
        name="api-reading-assignment",
    ),
    path(
        "v1/reading/assignments/<ref:assignment_id>/waveform/",
        reading_waveform,
        name="api-reading-waveform",
    ),
    path(
        "v1/reading/assignments/<ref:assignment_id>/priors/<int:n>/waveform/",
        reading_prior_waveform,
        name="api-reading-prior-waveform",
    ),
    path(
        "v1/reading/assignments/<ref:pk>/priors/<int:n>/overlay/",
        SerialOverlayView.as_view(),
        name="api-reading-prior-overlay",
    ),
    path("v1/reading/assignments/<ref:pk>/draft/", DraftView.as_view(), name="api-reading-draft"),
    path("v1/reading/assignments/<ref:pk>/submit/", SubmitView.as_view(), name="api-reading-submit"),
    path("v1/reading/assignments/<ref:pk>/skip/", SkipView.as_view(), name="api-reading-skip"),
    path("v1/reading/assignments/<ref:pk>/amend/", AmendView.as_view(), name="api-reading-amend"),
    path(
        "v1/reading/assignments/<ref:pk>/explanations/",
        ExplanationsView.as_view(),
        name="api-reading-explanations",
    ),
]
