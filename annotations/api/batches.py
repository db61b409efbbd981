"""Batch design and progress over the API, for coordinators."""

from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.errors import StrictSerializer
from annotations.api.permissions import IsCoordinator
from annotations.api.schema import MAX_ID
from annotations.errors import Conflict, Invalid
from annotations.lib.ecg.blind_measurements import SETTINGS as BLIND_MEASUREMENT_SETTINGS
from annotations.lib.ecg.quality import EXAM_FLAGS
from annotations.models import ReviewBatch
from annotations.models.batches import SEED_MAX
from annotations.selectors.batches.access import batch_for_coordinator, newcomers_named, reassign_pair
from annotations.selectors.batches.audits import audit_accounts, audit_findings, audits_made_of, is_audit
from annotations.selectors.batches.overview import batch_exam_count, batch_overview
from annotations.selectors.batches.plan import BatchPlan, BatchSpec, batch_plan
from annotations.selectors.batches.progress import (
    EXAM_PAGE_SIZE,
    EXAM_PAGE_SIZE_MAX,
    EXAM_STATES,
    batch_exam_table,
    batch_progress,
)
from annotations.selectors.batches.spec import batch_spec, exam_criteria
from annotations.selectors.users import active_account
from annotations.services.batches.audits import audit_batch_create
from annotations.services.batches.criteria import criteria_problems
from annotations.services.batches.lifecycle import ESCALATIONS, batch_close, batch_create_from_plan
from annotations.services.batches.queues import batch_add_matching_exams, batch_add_readers, batch_reassign
from annotations.services.batches.returns import assignment_return
from annotations.services.batches.skips import assignment_hand_on
from annotations.services.reading import MAX_REASON as RETURN_REASON_MAX


class CriteriaSerializer(StrictSerializer):
    datasets = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, default=list
    )
    imported_from = serializers.DateField(required=False, allow_null=True, default=None)
    imported_to = serializers.DateField(required=False, allow_null=True, default=None)
    acquired_from = serializers.DateField(required=False, allow_null=True, default=None)
    acquired_to = serializers.DateField(required=False, allow_null=True, default=None)
    age_min = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=130
    )
    age_max = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=130
    )
    sex = serializers.ChoiceField(choices=["F", "M", "U"], required=False, allow_null=True, default=None)
    reference_labels = serializers.ListField(
        child=serializers.RegexField(r"^[\w.-]+:[\w.+-]+$", max_length=100), required=False, default=list
    )
    suggestion_provider = serializers.CharField(
        required=False,
        allow_null=True,
        default=None,
        max_length=100,
        help_text="With suggestion_code: keep the exams this provider scored for the class, those whose "
        "score lies in [suggestion_min, suggestion_max] when either is given.",
    )
    suggestion_code = serializers.CharField(
        required=False,
        allow_null=True,
        default=None,
        max_length=40,
        help_text="The class's code (in any taxonomy).",
    )
    suggestion_min = serializers.FloatField(
        required=False,
        allow_null=True,
        default=None,
        min_value=0,
        max_value=1,
        help_text="Lowest score kept (inclusive). An exam's score is its provider's newest computed "
        "version's, as the strata read it: an older version's score does not count.",
    )
    suggestion_max = serializers.FloatField(
        required=False,
        allow_null=True,
        default=None,
        min_value=0,
        max_value=1,
        help_text="Highest score kept (inclusive), of the newest version's score as suggestion_min.",
    )
    quality_grades = serializers.ListField(
        child=serializers.ChoiceField(choices=["good", "acceptable", "poor", ""]),
        required=False,
        default=list,
        help_text="Signal-quality grades to keep (any of them); an empty string keeps exams with no report. "
        "None given: every grade but poor (poor_left_out counts what that leaves out).",
    )
    quality_without = serializers.ListField(
        child=serializers.ChoiceField(choices=list(EXAM_FLAGS)),
        required=False,
        default=list,
        help_text="Signal-quality flags an exam must not carry.",
    )

    def validate(self, attrs: dict) -> dict:
        """What the fields allow one by one, the criteria may still not allow together: the one check the
        designer page asks too (services.batches.criteria), in the same words."""
        if problems := criteria_problems(attrs):
            raise serializers.ValidationError(problems)
        return attrs


# Where a field sent beside "criteria" belongs; said when the request is refused, in its language.
INSIDE_CRITERIA = gettext_lazy('inside "criteria"')


class BatchSpecSerializer(StrictSerializer):
    belongs_elsewhere = dict.fromkeys(CriteriaSerializer().fields.keys(), INSIDE_CRITERIA)

    name = serializers.CharField(max_length=200)
    taxonomy_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    reader_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), min_length=1
    )
    readers_per_exam = serializers.IntegerField(min_value=1)
    criteria = CriteriaSerializer(required=False)
    sample_size = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    stratify_provider = serializers.CharField(
        required=False,
        allow_null=True,
        default=None,
        max_length=100,
        help_text="With stratify_code and sample_size: draw the sample evenly over equal-width strata of "
        "this provider's newest score for the class (refused without a sample size, or without the code).",
    )
    stratify_code = serializers.CharField(
        required=False,
        allow_null=True,
        default=None,
        max_length=40,
        help_text="The class's code (in any taxonomy) whose score the strata divide.",
    )
    strata = serializers.IntegerField(required=False, default=4, min_value=1, max_value=10)
    gold_fraction = serializers.FloatField(required=False, default=0.0, min_value=0, max_value=0.5)
    retest_fraction = serializers.FloatField(required=False, default=0.0, min_value=0, max_value=0.5)
    min_pair_overlap = serializers.IntegerField(required=False, default=0, min_value=0)
    suggestion_mode = serializers.ChoiceField(
        choices=ReviewBatch.SuggestionMode.choices, required=False, default=ReviewBatch.SuggestionMode.HIDDEN
    )
    due_date = serializers.DateField(required=False, allow_null=True, default=None)
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=SEED_MAX)
    escalation = serializers.ChoiceField(
        choices=list(ESCALATIONS),
        required=False,
        allow_null=True,
        default=None,
        help_text="When an exam's reads disagree: add_reader (up to escalation_cap, then adjudicate what "
        "still disagrees), add_reader_majority (then the consensus rule decides; ties are adjudicated) or "
        "adjudicate.",
    )
    escalation_cap = serializers.IntegerField(required=False, default=1, min_value=1, max_value=5)
    escalation_trigger = serializers.ChoiceField(
        choices=["any", "classes", "weighted"],
        required=False,
        default="any",
        help_text="What escalates an exam: reads differing on any class, only on one of escalation_classes, "
        "or (weighted) on classes whose clinical weights add up to escalation_threshold. With many classes "
        "nearly every exam differs somewhere.",
    )
    escalation_classes = serializers.ListField(
        child=serializers.CharField(max_length=40),
        required=False,
        default=list,
        help_text='With escalation_trigger "classes": the codes of the taxonomy whose disagreement '
        "escalates (refused empty, or naming a code the taxonomy lacks).",
    )
    escalation_weights = serializers.DictField(
        child=serializers.FloatField(),
        required=False,
        default=dict,
        help_text='With escalation_trigger "weighted": weights by class code overriding the shipped '
        "clinical weights (taxonomies/weights/clinical-weights.json); each 0 or more, naming a class of "
        "the taxonomy.",
    )
    escalation_threshold = serializers.FloatField(
        required=False,
        allow_null=True,
        default=None,
        help_text='With escalation_trigger "weighted" (required there, above 0): an exam escalates when the '
        "weights of the classes its reads differ on add up to this. Given with another trigger, the "
        "preview still counts what it would escalate.",
    )
    consensus_method = serializers.ChoiceField(
        choices=["majority", "latent"],
        required=False,
        default="majority",
        help_text="How an exam's reads become its label: the majority, or the latent-class (Dawid-Skene) "
        "estimate.",
    )
    consensus_threshold = serializers.FloatField(
        required=False, default=0.5, min_value=0, max_value=1, help_text="Present above this share."
    )
    latent_margin = serializers.FloatField(
        required=False,
        default=0.1,
        min_value=0,
        max_value=0.49,
        help_text="A latent estimate this close to 0.5 goes to adjudication.",
    )
    exclude_seen = serializers.BooleanField(
        required=False,
        default=True,
        help_text="Independent reads (the default): keep each reader away from chosen exams they read, "
        "skipped after opening or saw the suggestion of in any batch, a copy of the waveform counting as "
        "the exam (exams whose dispute they opened are always kept away). False needs "
        "independence_off_reason.",
    )
    independence_off_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=500,
        help_text="Why readers may be handed exams they know (with exclude_seen false; 400 without it). "
        "Recorded in the batch's design, its audit row and its releases' provenance.",
    )
    serial_comparison = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Show each reader the patient's earlier ECGs (the three most recent of the same dataset "
        "and patient, waveform and acquisition date only) beside the exam being read.",
    )
    device_measurements_shown = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Show each reader the recording cart's own measurements of the exam (heart rate, RR, PR, "
        "QRS, QT, QTc, axes), where its file gave them; never the cart's interpretation. The same as "
        'blind_measurements "cart".',
    )
    blind_measurements = serializers.ChoiceField(
        choices=list(BLIND_MEASUREMENT_SETTINGS),
        required=False,
        default="none",
        help_text="What readers see of the exam's measurements, blind reads included (the reading context's "
        "`measurements`): none; cart (the cart's representative beat and global measurements, where its "
        "file gave them); cart_and_computed (those, and the beat, intervals, axes, fiducial marks and ST "
        "levels computed from the signal). Never a statement, a score or a model's opinion. Recorded in "
        "the batch's design, its audit row and its releases' provenance.",
    )

    def spec(self) -> BatchSpec:
        return batch_spec(self.validated_data)


class SeenElsewhereSerializer(serializers.Serializer):
    reader = serializers.CharField()
    read = serializers.IntegerField(help_text="Chosen exams the reader holds a read of in another batch.")
    skipped = serializers.IntegerField(help_text="Of those, exams the reader skipped.")
    suggestion = serializers.IntegerField(help_text="Chosen exams whose suggestion the reader was shown.")
    dispute = serializers.IntegerField(help_text="Chosen exams whose adjudication case the reader opened.")


class KeptBackReasonsSerializer(serializers.Serializer):
    saw_dispute = serializers.IntegerField(help_text="Opened the exam's adjudication case or decided it.")
    read_before = serializers.IntegerField(help_text="Read it, or holds it to read, in another batch.")
    skipped_after_opening = serializers.IntegerField(help_text="Opened it in another batch and skipped it.")
    saw_suggestion = serializers.IntegerField(help_text="Was shown its model suggestion in another batch.")


class KeptBackReaderSerializer(KeptBackReasonsSerializer):
    reader = serializers.CharField()
    exams = serializers.IntegerField()


class PoorLeftOutSerializer(serializers.Serializer):
    exams = serializers.IntegerField(
        help_text="Matching exams left out for a poor signal: no grade was asked for in quality_grades, "
        "which then takes every grade but poor."
    )
    flags = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="How many of them carry each quality flag (an exam counts under each of its flags).",
    )


class KeptBackSerializer(serializers.Serializer):
    exams = serializers.IntegerField(help_text="Exams kept from at least one reader.")
    by_reason = KeptBackReasonsSerializer(
        help_text="Reader-exam pairs kept, each under its first reason; a copy of the waveform counts as "
        "the exam."
    )
    by_reader = KeptBackReaderSerializer(many=True, help_text="Readers kept from any exam, by name.")


class StrataSerializer(serializers.Serializer):
    edges = serializers.ListField(
        child=serializers.FloatField(), help_text="Stratum boundaries on the score, lowest first."
    )
    available = serializers.ListField(
        child=serializers.IntegerField(), help_text="Matching exams in each stratum."
    )
    taken = serializers.ListField(child=serializers.IntegerField(), help_text="Exams sampled from each.")


class LatentNoteSerializer(serializers.Serializer):
    never_used = serializers.ChoiceField(
        choices=["readers", "exams"],
        allow_null=True,
        help_text="Why the latent estimate will decide nothing in this batch: too few readers per exam, or "
        "fewer exams than a class needs with a positive read; null when it may decide some classes.",
    )
    min_reads = serializers.IntegerField(help_text="Reads of an exam the latent estimate needs.")
    min_positive_exams = serializers.IntegerField(
        help_text="Exams (each with min_reads reads) with a positive read of a class that it needs to "
        "decide that class; a class below it is decided by majority."
    )


class EscalationTriggerCountSerializer(serializers.Serializer):
    trigger = serializers.CharField()
    classes = serializers.ListField(child=serializers.CharField())
    threshold = serializers.FloatField(required=False, help_text="The weighted trigger's threshold.")
    escalated = serializers.IntegerField(help_text="Of exams_read, those this trigger would escalate.")


class EscalationEstimateSerializer(serializers.Serializer):
    exams_read = serializers.IntegerField(help_text="Chosen exams with two or more earlier designed reads.")
    triggers = EscalationTriggerCountSerializer(many=True)
    note = serializers.CharField(help_text="The estimate, or why there is none, in words.")


class PlanSerializer(serializers.Serializer):
    """Reads a BatchPlan (selectors.batches.plan)."""

    matching = serializers.IntegerField(
        help_text="Matching exams the sample is drawn from, one per waveform: `copies_left_out` are not "
        "counted here, so the criteria matched `matching + copies_left_out`."
    )
    exams = serializers.IntegerField(source="exam_count")
    copies_left_out = serializers.IntegerField(
        help_text="Matching exams left out: the same waveform as another matching exam (linked at import)."
    )
    sample_size = serializers.IntegerField(
        source="spec.sample_size", allow_null=True, help_text="The sample asked for; null: all."
    )
    sample_shortfall = serializers.IntegerField(
        help_text="How many exams fewer than sample_size match the criteria (all of them are taken); 0 "
        "when the sample is met or none was asked for."
    )
    warnings = serializers.ListField(
        child=serializers.CharField(),
        help_text="What to know before creating, in words; unlike problems, none stops the batch.",
    )
    gold_exams = serializers.IntegerField(source="gold_exam_count")
    readers = serializers.ListField(source="reader_names", child=serializers.CharField())
    pair_overlap = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
    problems = serializers.ListField(child=serializers.CharField())
    seen_elsewhere = SeenElsewhereSerializer(many=True)
    kept_back = KeptBackSerializer(
        help_text="How many exams the design keeps from whom, and why (independent reads, disputes seen)."
    )
    poor_left_out = PoorLeftOutSerializer()
    strata = StrataSerializer(
        source="stratified", allow_null=True, help_text="The strata of a stratified sample, else null."
    )
    escalation_estimate = EscalationEstimateSerializer(
        allow_null=True,
        help_text="With an escalation: how many of the chosen exams each trigger would escalate, judged on "
        "those read twice or more in other batches; none when no chosen exam was (the note says so). Null "
        "without an escalation.",
    )
    latent_note = LatentNoteSerializer(
        allow_null=True,
        help_text="Under the latent consensus rule, where it stops deciding (the majority decides there); "
        "null under the majority rule.",
    )


class BatchCreatedSerializer(PlanSerializer):
    """Reads a (batch, plan) pair: the new batch's id, and the plan it was made from."""

    id = serializers.IntegerField()

    def to_representation(self, instance: tuple[ReviewBatch, BatchPlan]) -> dict[str, Any]:
        batch, plan = instance
        return {"id": batch.pk, **PlanSerializer(plan, context=self.context).data}


class BatchRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()
    readers_per_exam = serializers.IntegerField()
    suggestion_mode = serializers.CharField()
    exam_count = serializers.IntegerField()
    read_count = serializers.IntegerField(help_text="Slots to read, skipped ones included.")
    reads_done = serializers.IntegerField()
    reads_skipped = serializers.IntegerField(
        help_text="Slots their reader skipped (one handed on to another reader is a new slot beside it)."
    )
    exams_disputed = serializers.IntegerField(
        help_text="Exams with a disputed class that no adjudicator has decided yet."
    )


class BatchListCreateView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(responses=BatchRowSerializer(many=True))
    def get(self, request):
        """List the batches

        Coordinators only. Every batch, newest first, with its status, readers per exam and suggestion
        mode, and its counts: exams, read slots, reads submitted, and exams with a disputed class no
        adjudicator has decided yet."""
        return Response(BatchRowSerializer(batch_overview(request.user), many=True).data)

    @extend_schema(request=BatchSpecSerializer, responses={201: BatchCreatedSerializer})
    def post(self, request):
        """Design and start a batch

        Coordinators only. Takes the design a preview takes (exam criteria and sample, taxonomy version,
        readers and readers per exam, gold and retest fractions, suggestion mode, consensus and escalation
        rules...) and creates the batch, active at once, each reader's queue in its own seeded random
        order. Answers 201 with the batch's id and the plan it was made from. 400 with the reason when it
        cannot be made: an unknown taxonomy, unknown or inactive accounts or accounts that are not readers,
        no matching exam, too few exams with reference labels for the gold fraction, a design goal the
        exams cannot meet. Freezes the taxonomy version, is audited, and queues the model suggestions of
        the batch's exams."""
        incoming = BatchSpecSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        plan = batch_plan(request.user, incoming.spec())
        batch = batch_create_from_plan(plan=plan, actor=request.user)
        return Response(BatchCreatedSerializer((batch, plan)).data, status=status.HTTP_201_CREATED)


class BatchPreviewView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(request=BatchSpecSerializer, responses=PlanSerializer)
    def post(self, request):
        """Preview a batch design without creating it

        Coordinators only. Takes the body that creates a batch and writes nothing. Returns how many exams
        match and would be taken (copies of one waveform left out), the gold exams, the readers and how
        many exams each pair of them would share, the problems the design could not avoid, per reader how
        many chosen exams they read, saw a suggestion of or saw the dispute of elsewhere, the strata of a
        stratified sample, and where the latent consensus rule would leave deciding to the majority. 400
        with the reason, as on creation."""
        incoming = BatchSpecSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        return Response(PlanSerializer(batch_plan(request.user, incoming.spec(), preview=True)).data)


class ProgressBatchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()
    serial_comparison = serializers.BooleanField(help_text="Readers are shown the patient's earlier ECGs.")
    device_measurements_shown = serializers.BooleanField(
        help_text="Readers are shown the recording cart's measurements."
    )
    blind_measurements = serializers.CharField(
        help_text="What readers see of the exam's measurements: none, cart or cart_and_computed."
    )


class CoverageSerializer(serializers.Serializer):
    exams = serializers.IntegerField()
    exams_complete = serializers.IntegerField(help_text="Nothing open, and as many first reads as needed.")
    reads = serializers.IntegerField()
    reads_done = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text="A skip is not a read.")


class ReaderProgressSerializer(serializers.Serializer):
    reader_id = serializers.IntegerField()
    username = serializers.CharField()
    total = serializers.IntegerField()
    done = serializers.IntegerField(help_text="Submitted reads only.")
    skipped = serializers.IntegerField()
    drafts = serializers.IntegerField()
    median_seconds = serializers.FloatField(allow_null=True)
    q1_seconds = serializers.FloatField(allow_null=True)
    q3_seconds = serializers.FloatField(allow_null=True)
    last_activity = serializers.DateTimeField(allow_null=True)
    gold_exact = serializers.IntegerField()
    gold_read = serializers.IntegerField()
    remaining = serializers.IntegerField()
    left = serializers.BooleanField(help_text="The reader is deactivated, or no longer a reader.")


class CandidateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class SkipRowSerializer(serializers.Serializer):
    assignment_id = serializers.IntegerField()
    reader = serializers.CharField()
    reader_id = serializers.IntegerField()
    exam_id = serializers.IntegerField()
    exam = serializers.CharField()
    read_round = serializers.IntegerField()
    code = serializers.CharField(help_text="The listed reason's code; system for the system's closures.")
    reason = serializers.CharField(
        allow_blank=True, help_text="A listed reason in the caller's language, or the words given with other."
    )
    skipped_at = serializers.DateTimeField(allow_null=True)
    handed_to = serializers.CharField(allow_null=True)
    candidates = CandidateSerializer(many=True, help_text="Readers the slot may be handed on to.")


class SkipCountSerializer(serializers.Serializer):
    code = serializers.CharField()
    # Named like an attribute of DRF's Field: the serializer's metaclass moves it off the class.
    label = serializers.CharField(help_text="In the caller's language.")  # type: ignore[assignment]
    count = serializers.IntegerField()


class DepartedReaderSerializer(serializers.Serializer):
    username = serializers.CharField()
    unread = serializers.IntegerField(help_text="Exams still theirs to read.")


class BatchProgressSerializer(serializers.Serializer):
    batch = ProgressBatchSerializer()
    reads_done = serializers.IntegerField()
    skipped = serializers.IntegerField()
    coverage = CoverageSerializer()
    readers = ReaderProgressSerializer(many=True)
    reads_per_day = serializers.ListField(
        child=serializers.ListField(child=serializers.JSONField(), min_length=2, max_length=2),
        help_text="[ISO date, reads submitted that day] pairs, oldest first.",
    )
    skips = SkipRowSerializer(many=True)
    skip_counts = SkipCountSerializer(
        many=True, help_text="The readers' skips per listed reason (the system's closures are not counted)."
    )
    waiting_on_departed = DepartedReaderSerializer(
        many=True,
        help_text="Readers who left the study (deactivated, or no longer readers) with exams still theirs "
        "to read: nobody reads those until they are reassigned. Empty once the batch is closed.",
    )


class BatchProgressView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(responses=BatchProgressSerializer)
    def get(self, request, pk: int):
        """Follow the progress of a batch

        Coordinators only (404 for an unknown batch). Returns how far the exams and reads are, per reader
        their reads submitted, drafts, skips and exams left, their reading times (median and quartiles),
        last activity and gold exams matched, the reads submitted per day, and every skipped exam with its
        reason, whom it was handed to, and the readers it may be handed on to."""
        batch = batch_for_coordinator(request.user, pk)
        return Response(BatchProgressSerializer(batch_progress(request.user, batch)).data)


class HandOnSerializer(StrictSerializer):
    reader_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class HandOnResultSerializer(serializers.Serializer):
    """Reads the new Assignment."""

    assignment_id = serializers.IntegerField(source="pk")
    reader = serializers.CharField(source="reader.username")
    exam_id = serializers.IntegerField()


class BatchSkipHandOnView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(request=HandOnSerializer, responses={201: HandOnResultSerializer})
    def post(self, request, pk: int, assignment_id: int):
        """Hand a skipped exam on to another reader of the batch

        Coordinators only (404 for an unknown batch, or a slot that is not in it). Gives the skipped slot's
        exam to the reader `reader_id` as a new unread exam, at a random place in their queue, so nothing
        tells them someone skipped it. Answers 201 with the new assignment. 400 when the account is
        unknown, inactive or not a reader of the batch; 409 when the batch is closed, the slot is not
        skipped, is a retest re-read or was already handed on, or the reader already holds the exam in any
        batch, adjudicated it or saw its dispute. Audited."""
        batch = batch_for_coordinator(request.user, pk)
        incoming = HandOnSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        reader = active_account(incoming.validated_data["reader_id"])
        if reader is None:
            raise Invalid(_("no such user"))
        new = assignment_hand_on(actor=request.user, batch=batch, assignment_id=assignment_id, reader=reader)
        return Response(HandOnResultSerializer(new).data, status=status.HTTP_201_CREATED)


class AddExamsSerializer(StrictSerializer):
    belongs_elsewhere = dict.fromkeys(CriteriaSerializer().fields.keys(), INSIDE_CRITERIA)

    criteria = CriteriaSerializer(required=False)
    sample_size = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=SEED_MAX)


class AddExamsResultSerializer(serializers.Serializer):
    added = serializers.IntegerField()
    exams = serializers.IntegerField(help_text="Exams the batch holds now.")
    copies_left_out = serializers.IntegerField(
        help_text="Matching exams not added: the same waveform as an exam the batch holds or takes."
    )
    kept_back = KeptBackSerializer(help_text="The added exams kept from whom, and why.")
    poor_left_out = PoorLeftOutSerializer()


class BatchExamRowSerializer(serializers.Serializer):
    exam_id = serializers.IntegerField()
    exam = serializers.CharField(help_text="dataset/external id")
    is_gold = serializers.BooleanField(help_text="A gold exam: every reader reads it and it scores them.")
    submitted = serializers.IntegerField(help_text="First reads submitted.")
    target = serializers.IntegerField(help_text="First reads the exam is to have.")
    skips = serializers.IntegerField()
    disputes = serializers.IntegerField(help_text="Classes disputed and not yet adjudicated.")
    state = serializers.ChoiceField(choices=EXAM_STATES)


class BatchExamPageSerializer(serializers.Serializer):
    rows = BatchExamRowSerializer(many=True)
    next_after = serializers.IntegerField(
        allow_null=True, help_text="Pass as `after` for the next page; null on the last one."
    )
    state = serializers.CharField()
    size = serializers.IntegerField()


class BatchAddExamsView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=list(EXAM_STATES), description="Only exams in this state."),
            OpenApiParameter("after", int, description="The `next_after` of the page before."),
            OpenApiParameter(
                "page_size", int, description=f"1 to {EXAM_PAGE_SIZE_MAX}; {EXAM_PAGE_SIZE} by default."
            ),
        ],
        responses={200: BatchExamPageSerializer},
    )
    def get(self, request, pk: int):
        """The batch's exams, a page at a time, as the dashboard's exam table lists them

        Coordinators only (404 for an unknown batch). Each exam with whether it is a gold exam, its first
        reads submitted against its target, its skips, its open disputes and its state (reading, short of
        reads, awaiting agreement, disputed, consensus), in the batch's order. 400 for an unknown state or
        a page size or key that is not a whole number in range."""
        batch = batch_for_coordinator(request.user, pk)
        query = request.query_params
        size = whole_number(query.get("page_size"), "page_size")
        page = batch_exam_table(
            request.user,
            batch,
            state=query.get("status") or None,
            after=whole_number(query.get("after"), "after"),
            size=EXAM_PAGE_SIZE if size is None else size,
        )
        return Response(BatchExamPageSerializer(page).data)

    @extend_schema(request=AddExamsSerializer, responses={201: AddExamsResultSerializer})
    def post(self, request, pk: int):
        """Add exams matching the designer's criteria to a running batch

        Coordinators only (404 for an unknown batch). Takes the designer's criteria and an optional sample
        size and seed; the matching exams the batch does not hold yet (nor copies of waveforms it holds)
        join the end of its readers' queues, loads kept within one exam of each other. Answers 201 with how
        many were added, how many exams the batch holds now and how many matching exams were left out as
        copies of a waveform it holds or takes. 400 when no matching exam is missing from
        the batch; 409 when the batch is closed or the new exams cannot each be given enough readers.
        Audited; the new exams' model suggestions are queued."""
        batch = batch_for_coordinator(request.user, pk)
        incoming = AddExamsSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        # A closed batch, or queues that cannot place the exams, is BatchStateConflict: 409.
        outcome = batch_add_matching_exams(
            batch=batch,
            criteria=exam_criteria(data.get("criteria")),
            actor=request.user,
            sample_size=data["sample_size"],
            seed=data["seed"],
        )
        added = {**vars(outcome), "exams": batch_exam_count(batch)}
        return Response(AddExamsResultSerializer(added).data, status=status.HTTP_201_CREATED)


class BatchClosedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    closed_at = serializers.DateTimeField()


class BatchCloseView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(request=None, responses={200: BatchClosedSerializer})
    def post(self, request, pk: int):
        """Close a batch

        Coordinators only (404 for an unknown batch). Its unread exams are no longer handed out; what was
        read stays, and its agreement, adjudication and releases go on. Closing a closed batch changes
        nothing and answers the same. Audited (with how many exams were left unread)."""
        batch = batch_close(batch=batch_for_coordinator(request.user, pk), actor=request.user)
        return Response(BatchClosedSerializer(batch).data)


class AddReadersSerializer(StrictSerializer):
    reader_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        min_length=1,
        max_length=1000,
        help_text="Accounts to add: each an active reader not yet in the batch "
        "(GET /api/v1/users/?role=reader lists them).",
    )


class ReadersAddedSerializer(serializers.Serializer):
    readers = serializers.ListField(child=serializers.CharField(), help_text="The readers added, by name.")
    moved = serializers.IntegerField(help_text="Unread exams moved to them from the batch's other readers.")
    gold_added = serializers.IntegerField(
        help_text="Gold exams given to them: every reader reads the batch's gold exams "
        "(but those they may not read blind)."
    )
    kept_back = KeptBackSerializer(
        help_text="The batch's unread and gold exams the newcomers may not be handed, from whom and why."
    )


class BatchAddReadersView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(request=AddReadersSerializer, responses={201: ReadersAddedSerializer})
    def post(self, request, pk: int):
        """Add readers to a running batch

        Coordinators only (404 for an unknown batch). Unread exams move from the most to the least loaded
        readers until every load is within one, never an exam a newcomer may not read blind (one whose
        dispute they saw or, where the batch excludes them, one they read elsewhere); each newcomer also
        gets the batch's gold exams. 400 naming each id that is not an active reader outside the batch;
        409 when the batch is closed. Audited."""
        batch = batch_for_coordinator(request.user, pk)
        incoming = AddReadersSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        readers = newcomers_named(batch, incoming.validated_data["reader_ids"])
        added = batch_add_readers(batch=batch, readers=readers, actor=request.user)
        named = {**vars(added), "readers": [reader.get_username() for reader in readers]}
        return Response(ReadersAddedSerializer(named).data, status=status.HTTP_201_CREATED)


class ReassignSerializer(StrictSerializer):
    from_reader_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="A reader of the batch, a deactivated one included."
    )
    to_reader_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="An active reader.")


class ReassignedSerializer(serializers.Serializer):
    moved = serializers.IntegerField(help_text="Unread exams now in the new reader's queue.")
    kept_because_already_assigned = serializers.IntegerField()
    kept_because_dispute_seen = serializers.IntegerField()
    kept_because_seen_elsewhere = serializers.IntegerField()
    kept_because_retest_follows = serializers.IntegerField()
    kept_back = KeptBackSerializer(
        help_text="The exams kept from the new reader by blinding (dispute seen, or known from another "
        "batch), by reason."
    )
    reader_left = serializers.BooleanField(help_text="The first reader is deactivated or no longer a reader.")
    drafts_handed_on = serializers.IntegerField()
    drafts_kept = serializers.IntegerField(help_text="Drafts a reader still reading keeps.")
    set_aside_untaken = serializers.IntegerField()
    retests_withdrawn = serializers.IntegerField()
    retests_too_close = serializers.IntegerField()


class BatchReassignView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(request=ReassignSerializer, responses={200: ReassignedSerializer})
    def post(self, request, pk: int):
        """Hand one reader's unread exams to another

        Coordinators only (404 for an unknown batch). Moves the first reader's unread exams to the end of
        the second's queue, but those the second holds already or may not read blind; the answer counts
        each kind kept. A reader still reading keeps their drafts and the first reads they re-read later;
        a reader who left (deactivated, or no longer a reader) keeps nothing. 400 when either account is
        not what it must be or both are the same; 409 when the batch is closed. Audited."""
        batch = batch_for_coordinator(request.user, pk)
        incoming = ReassignSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        from_reader, to_reader = reassign_pair(
            batch, incoming.validated_data["from_reader_id"], incoming.validated_data["to_reader_id"]
        )
        outcome = batch_reassign(
            batch=batch, from_reader=from_reader, to_reader=to_reader, actor=request.user
        )
        return Response(ReassignedSerializer(outcome).data)


def whole_number(value: str | None, name: str) -> int | None:
    """A query parameter that must be a whole number, None when absent; Invalid naming it otherwise."""
    if value in (None, ""):
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise Invalid(_("%(name)s must be a whole number") % {"name": name})
    return int(value)


# --- A coordinator returns a submitted read to its reader (services.batches.returns) -------------------
class ReturnSerializer(StrictSerializer):
    reader_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    exam_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    read_round = serializers.IntegerField(
        min_value=1, max_value=2, default=1, help_text="2 for a test-retest re-read."
    )
    reason = serializers.CharField(
        max_length=RETURN_REASON_MAX,
        help_text="Why the read goes back: shown to its reader, kept, and released.",
    )


class ReturnedSerializer(serializers.Serializer):
    """Reads the returned Assignment."""

    assignment_id = serializers.IntegerField(source="pk")
    status = serializers.CharField()


class BatchReturnView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(request=ReturnSerializer, responses=ReturnedSerializer)
    def post(self, request, pk: int):
        """Return a submitted read to its reader

        Coordinators only (404 for an unknown batch, or when the reader holds no read of the exam in it).
        The read of exam `exam_id` by reader `reader_id` (ids as the batch's progress and exam table give
        them) becomes its reader's draft again, statements kept, with the `reason` (required, 400 without)
        shown to them on the exam and on their worklist; it no longer counts until they submit it again.
        The earlier revisions stay; in a two-stage batch the blind read stays stored and submitted. 409 when
        the batch is closed, the read is not submitted, or an adjudicator has started on the exam.
        Audited; agreement and consensus are recomputed after it."""
        batch = batch_for_coordinator(request.user, pk)
        incoming = ReturnSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        values = incoming.validated_data
        slot = assignment_return(
            actor=request.user,
            batch=batch,
            reader_id=values["reader_id"],
            exam_id=values["exam_id"],
            read_round=values["read_round"],
            reason=values["reason"],
        )
        return Response(ReturnedSerializer(slot).data)


# --- Re-adjudication audits -----------------------------------------------------------------------------


class AuditSpecSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    audit_of = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        min_length=1,
        max_length=100,
        help_text="The batches to audit, each closed or with every slot read or skipped.",
    )
    auditor_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        min_length=1,
        max_length=1000,
        help_text="Readers who read the sample blind (GET /api/v1/users/?role=reader); an adjudicator who "
        "also reads is compared with the source batches' adjudicators.",
    )
    sample_size = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    sample_fraction = serializers.FloatField(required=False, allow_null=True, default=None)
    seed = serializers.IntegerField(min_value=0, max_value=SEED_MAX)
    readers_per_exam = serializers.IntegerField(required=False, default=1, min_value=1)
    due_date = serializers.DateField(required=False, allow_null=True, default=None)


class AuditCreatedSerializer(serializers.Serializer):
    """Reads the audit batch: its id, and the sample its design records."""

    id = serializers.IntegerField()
    audit_of = serializers.ListField(source="design.audit_of", child=serializers.IntegerField())
    sample = serializers.IntegerField(source="design.sample")
    population = serializers.IntegerField(
        source="design.population", help_text="Exams of the audited batches that have a consensus."
    )
    seed = serializers.IntegerField(source="design.seed")


def _interval(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.FloatField(allow_null=True), min_length=2, max_length=2, help_text=help_text
    )


class AuditClassSerializer(serializers.Serializer):
    """One class that a released or audit label marked present in the sample, or with a cell left out."""

    code = serializers.CharField()
    compared = serializers.IntegerField(help_text="Cells both the release and the audit decided.")
    # Named like an attribute of DRF's Field: the serializer's metaclass moves it off the class.
    errors = serializers.IntegerField(  # type: ignore[assignment]
        help_text="Compared cells where the release and the audit differ."
    )
    error_rate = serializers.FloatField(allow_null=True)
    error_ci = _interval("Wilson interval of error_rate; [null, null] when undefined.")
    false_positives = serializers.IntegerField()
    audit_negatives = serializers.IntegerField()
    false_positive_rate = serializers.FloatField(allow_null=True)
    false_positive_ci = _interval("Wilson interval of false_positive_rate.")
    false_negatives = serializers.IntegerField()
    audit_positives = serializers.IntegerField()
    false_negative_rate = serializers.FloatField(allow_null=True)
    false_negative_ci = _interval("Wilson interval of false_negative_rate.")
    released_undecided = serializers.IntegerField(help_text="Cells left out: undecided in the release.")
    audit_ties = serializers.IntegerField(help_text="Cells left out: tied among the audit's reads.")
    estimated_errors = serializers.FloatField(
        allow_null=True, help_text="error_rate x population: the expected wrong labels of the class."
    )
    estimated_errors_ci = _interval("The interval of estimated_errors.")


class AdjudicatorAgreementSerializer(serializers.Serializer):
    cells = serializers.IntegerField()
    exams = serializers.IntegerField()
    agreements = serializers.IntegerField()
    agreement = serializers.FloatField(allow_null=True, help_text="Percent agreement; null: no cell.")
    agreement_ci = _interval("Wilson interval of agreement.")
    kappa = serializers.FloatField(allow_null=True, help_text="Cohen's kappa; null: undefined.")
    kappa_ci = _interval("Percentile bootstrap interval over exams.")


class AuditFindingsSerializer(serializers.Serializer):
    audit_batch = serializers.IntegerField()
    audit_of = serializers.ListField(child=serializers.IntegerField())
    sample = serializers.IntegerField()
    population = serializers.IntegerField()
    seed = serializers.IntegerField()
    exams_read = serializers.IntegerField()
    finite_population_correction = serializers.FloatField()
    classes = AuditClassSerializer(many=True, help_text="Per class error rates.")
    classes_never_marked = serializers.IntegerField()
    adjudicators = AdjudicatorAgreementSerializer(
        help_text="Adjudicator against adjudicator on adjudicated cells."
    )


class AuditCreateView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(request=AuditSpecSerializer, responses={201: AuditCreatedSerializer})
    def post(self, request):
        """Create a re-adjudication audit batch

        Coordinators only. Draws a seeded simple random sample (sample_size, or sample_fraction of the
        population) of the audited batches' exams that have a consensus and creates an active batch of
        it, read blind by the auditors (no suggestion shown, nobody handed an exam they read or whose
        dispute they saw). 400, creating nothing, for an open batch, a sample larger than the population,
        no auditor, or accounts that cannot read blind. Audited."""
        incoming = AuditSpecSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        values = incoming.validated_data
        batch = audit_batch_create(
            name=values["name"],
            source_batch_ids=values["audit_of"],
            auditors=audit_accounts(values["auditor_ids"]),
            actor=request.user,
            seed=values["seed"],
            sample_size=values["sample_size"],
            sample_fraction=values["sample_fraction"],
            readers_per_exam=values["readers_per_exam"],
            due_date=values["due_date"],
        )
        return Response(AuditCreatedSerializer(batch).data, status=status.HTTP_201_CREATED)


class AuditFindingsView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(responses=AuditFindingsSerializer)
    def get(self, request, pk: int):
        """What a re-adjudication audit found

        Coordinators only. 409 for a batch that is no audit, with the ids of the audits made of it
        (`audits`). Per class: the released labels' error rate
        against the majority of the audit's reads (Wilson interval), false-positive and false-negative
        rates, the cells left out (undecided in the release, tied in the audit); the sample, the population
        and the finite population correction; and, on the cells the audited batches had adjudicated, the
        adjudicators against auditors who are other adjudicators (percent agreement, Cohen's kappa)."""
        batch = batch_for_coordinator(request.user, pk)
        if not is_audit(batch):
            raise Conflict(
                _("batch “%(batch)s” is no audit; the audits of it are listed under “audits”")
                % {"batch": batch.name},
                extra={"audits": [audit.pk for audit in audits_made_of(batch.pk)]},
            )
        return Response(AuditFindingsSerializer(audit_findings(batch)).data)


urlpatterns = [
    path("v1/batches/", BatchListCreateView.as_view(), name="api-batch-list"),
    path("v1/batches/preview/", BatchPreviewView.as_view(), name="api-batch-preview"),
    path("v1/batches/audits/", AuditCreateView.as_view(), name="api-audit-create"),
    path("v1/batches/<int:pk>/audit/", AuditFindingsView.as_view(), name="api-audit-findings"),
    path("v1/batches/<int:pk>/progress/", BatchProgressView.as_view(), name="api-batch-progress"),
    path("v1/batches/<int:pk>/exams/", BatchAddExamsView.as_view(), name="api-batch-add-exams"),
    path("v1/batches/<int:pk>/close/", BatchCloseView.as_view(), name="api-batch-close"),
    path("v1/batches/<int:pk>/readers/", BatchAddReadersView.as_view(), name="api-batch-add-readers"),
    path("v1/batches/<int:pk>/reassign/", BatchReassignView.as_view(), name="api-batch-reassign"),
    path(
        "v1/batches/<int:pk>/skips/<int:assignment_id>/hand-on/",
        BatchSkipHandOnView.as_view(),
        name="api-batch-skip-hand-on",
    ),
    path("v1/batches/<int:pk>/returns/", BatchReturnView.as_view(), name="api-batch-return"),
]
