"""Adjudication over the API: the adjudicator's queue and one disputed case (read it, sign decisions)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.errors import StrictSerializer
from annotations.api.permissions import IsAdjudicator
from annotations.api.reading import PriorExamSerializer
from annotations.models import Exam
from annotations.selectors.adjudication import (
    adjudication_case,
    adjudication_queue,
)
from annotations.selectors.reading.priors import case_prior_exams
from annotations.services.adjudication import Decision, adjudication_decide, adjudication_view_record
from annotations.views.adjudication import adjudication_prior_waveform, adjudication_waveform


class QueueItemSerializer(serializers.Serializer):
    batch_id = serializers.IntegerField()
    batch_name = serializers.CharField()
    exam_id = serializers.IntegerField()
    exam_label = serializers.CharField()
    open_classes = serializers.IntegerField()
    escalated = serializers.BooleanField()


class AdjudicationQueueView(APIView):
    permission_classes = [IsAdjudicator]

    # A list of queue items (it was declared as one object, which every client reading the schema broke on).
    @extend_schema(operation_id="v1_adjudication_queue", responses=QueueItemSerializer(many=True))
    def get(self, request):
        """List the exams waiting for adjudication

        Adjudicators only. One entry per batch and exam with disputed classes that no adjudicator has
        decided yet, oldest batch first, closed batches included: the exam's dataset and id, how many
        classes are open, and whether the exam was escalated. An exam the caller holds a read of in any
        batch (or of a copy of its waveform) is never listed."""
        return Response(QueueItemSerializer(adjudication_queue(request.user), many=True).data)


class DecisionSerializer(StrictSerializer):
    code = serializers.CharField(max_length=40)
    value = serializers.BooleanField()


class DecideSerializer(StrictSerializer):
    decisions = DecisionSerializer(many=True)
    rationale = serializers.CharField(allow_blank=True, required=False, default="", max_length=4000)
    version = serializers.IntegerField(min_value=0)


# --- What a case answers (selectors.adjudication.AdjudicationCase) -------------------------------------
class CaseExamSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    # Named like an attribute of DRF's Field: the serializer's metaclass moves it off the class.
    label = serializers.CharField()  # type: ignore[assignment]
    sampling_rate = serializers.FloatField()
    n_samples = serializers.IntegerField()
    lead_names = serializers.ListField(child=serializers.CharField())
    acquired_at = serializers.DateTimeField(
        allow_null=True, help_text="When the exam was recorded, as the readers were told; null if unknown."
    )
    age = serializers.IntegerField(allow_null=True, help_text="In years, as the readers were told.")
    sex = serializers.ChoiceField(choices=Exam.Sex.choices, help_text="F, M, or U (unknown).")
    device_measurements = serializers.DictField(
        child=serializers.FloatField(),
        help_text="The recording cart's own measurements, where the exam's file gave them (heart_rate_bpm, "
        "rr_ms, pr_ms, qrs_ms, qt_ms, qtc_ms, axes in degrees...).",
    )


class DisputedClassSerializer(serializers.Serializer):
    class_id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    reason = serializers.CharField()
    votes = serializers.ListField(
        child=serializers.ListField(child=serializers.JSONField(), min_length=2, max_length=2),
        help_text="[pseudonym, marked] pairs, in pseudonym order.",
    )
    positive_votes = serializers.IntegerField()
    total_votes = serializers.IntegerField()
    probability = serializers.FloatField(allow_null=True)
    suggestion_score = serializers.FloatField(allow_null=True)
    decided_value = serializers.BooleanField(allow_null=True)
    decided_rationale = serializers.CharField(allow_blank=True)
    uncertain = serializers.ListField(
        child=serializers.CharField(), help_text="Pseudonyms who marked it present but uncertain."
    )


class AgreedPresentSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    method = serializers.CharField()


class ReaderNoteSerializer(serializers.Serializer):
    reader = serializers.CharField(help_text="The batch's pseudonym.")
    comment = serializers.CharField(allow_blank=True)
    uncertain = serializers.ListField(child=serializers.CharField())


class AddedStatementSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    value = serializers.BooleanField()


class AddableStatementSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    group = serializers.CharField(help_text="The taxonomy's group, named in the caller's language.")


class SignedDecisionSerializer(serializers.Serializer):
    adjudicator = serializers.CharField()
    decided_at = serializers.DateTimeField()
    decisions = serializers.DictField(
        child=serializers.BooleanField(), help_text="Class code: value decided."
    )
    rationale = serializers.CharField(allow_blank=True)
    version = serializers.IntegerField()


class AdjudicationCaseSerializer(serializers.Serializer):
    batch = serializers.IntegerField()
    exam = CaseExamSerializer()
    version = serializers.IntegerField()
    disputed = DisputedClassSerializer(many=True)
    agreed_present = AgreedPresentSerializer(many=True)
    suggestion_provider = serializers.CharField(
        allow_null=True,
        help_text="The suggestion's provider, named in the adjudicator's language, and its version.",
    )
    readers = ReaderNoteSerializer(many=True)
    added = AddedStatementSerializer(many=True)
    addable = AddableStatementSerializer(many=True)
    history = SignedDecisionSerializer(many=True, help_text="Every signed decision, newest first.")
    priors = PriorExamSerializer(
        many=True, help_text="The patient's earlier ECGs the batch offered its readers, newest first."
    )


def _case_data(case) -> dict:
    return {
        "batch": case.batch.pk,
        "exam": {
            "id": case.exam.pk,
            "label": str(case.exam),
            "sampling_rate": case.exam.sampling_rate,
            "n_samples": case.exam.n_samples,
            "lead_names": case.exam.lead_names,
            "acquired_at": case.exam.acquired_at,
            "age": case.exam.age,
            "sex": case.exam.sex,
            "device_measurements": dict(case.exam.device_measurements or {}),
        },
        "version": case.version,
        "disputed": case.disputed,
        "agreed_present": [
            {"code": code, "name": name, "method": method} for code, name, method in case.agreed
        ],
        "suggestion_provider": case.suggestion_provider,
        # Readers' comments and uncertainty marks, under the same pseudonyms as the votes.
        "readers": case.readers,
        "added": case.added,
        "addable": case.addable,
        # Every signed decision, newest first: who, when, what, why, at which version.
        "history": case.history,
    }


def _case_answer(user, case) -> dict:
    """The case as the API gives it, with the earlier ECGs its readers were offered (date and waveform
    only, as the readers had them)."""
    return _case_data(case) | {"priors": case_prior_exams(user, case.batch, case.exam)}


class AdjudicationCaseView(APIView):
    permission_classes = [IsAdjudicator]

    @extend_schema(responses=AdjudicationCaseSerializer)
    def get(self, request, batch_id: int, exam_id: int):
        """Open the adjudication case of an exam

        Adjudicators only. 404 when the exam has nothing disputed in the batch, and when the caller holds a
        read of it (or of a copy of its waveform) in any batch: the same answer, which does not confirm
        what they read. Returns the disputed classes with every reader's vote under the batch's pseudonyms
        (Reader A, B...) and the score of the suggestion the readers saw, the classes agreed present, the
        readers' comments and uncertainty marks, the statements that may still be added, every signed
        decision, the earlier ECGs of the patient the batch offered its readers (date and waveform only),
        and the case's `version`, which a decision sends back. Opening a case is recorded (and
        audited) once per adjudicator: from then on no batch hands them this exam to read."""
        case = adjudication_case(request.user, batch_id, exam_id)
        # From now on this adjudicator knows the exam was disputed: never handed it to read.
        adjudication_view_record(actor=request.user, batch=case.batch, exam_id=exam_id)
        return Response(AdjudicationCaseSerializer(_case_answer(request.user, case)).data)

    @extend_schema(request=DecideSerializer, responses=AdjudicationCaseSerializer)
    def post(self, request, batch_id: int, exam_id: int):
        """Sign a decision on an exam's disputed classes

        Adjudicators only, on a case they may open (404 otherwise). Send the `decisions` (a class code,
        present or absent), an optional `rationale` and the case's `version` as last received. One decision
        may settle disputed classes, correct a class decided before, or add a statement no reader marked;
        each class decided becomes "adjudicated" in the consensus. 409 with the current `version` when
        someone signed a decision since, and `signed_by_you` true where that was the same adjudicator
        (another tab or window); 400 with the reason for no decision or a class decided twice, a
        class that cannot be adjudicated here, overturning a signed decision without a rationale, or
        statements the taxonomy's exclusive sets forbid together. Returns the case as it now stands.
        Audited; the batch's suggestion evidence is queued for recomputation."""
        case = adjudication_case(request.user, batch_id, exam_id)
        incoming = DecideSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        # Refusals answer through annotations.api.errors: 400 with the reason, 409 with the current version.
        adjudication_decide(
            actor=request.user,
            batch=case.batch,
            exam_id=exam_id,
            decisions=[Decision(code=d["code"], value=d["value"]) for d in data["decisions"]],
            rationale=data["rationale"],
            version=data["version"],
        )
        case = adjudication_case(request.user, batch_id, exam_id)
        return Response(AdjudicationCaseSerializer(_case_answer(request.user, case)).data)


urlpatterns = [
    path("v1/adjudication/", AdjudicationQueueView.as_view(), name="api-adjudication-queue"),
    path(
        "v1/adjudication/<int:batch_id>/<int:exam_id>/",
        AdjudicationCaseView.as_view(),
        name="api-adjudication-case",
    ),
    path(
        "v1/adjudication/<int:batch_id>/<int:exam_id>/waveform/",
        adjudication_waveform,
        name="api-adjudication-waveform",
    ),
    path(
        "v1/adjudication/<int:batch_id>/<int:exam_id>/priors/<int:n>/waveform/",
        adjudication_prior_waveform,
        name="api-adjudication-prior-waveform",
    ),
]
