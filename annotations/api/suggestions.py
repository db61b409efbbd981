"""Suggestion progress and evidence over the API, for coordinators."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.permissions import IsCoordinator
from annotations.selectors.batches.access import batch_for_coordinator
from annotations.selectors.suggestions.evidence import batch_evidence
from annotations.selectors.suggestions.summary import batch_suggestion_progress
from annotations.services.suggestions import exam_occlusion_request, suggestion_evidence_request


class RationaleSerializer(serializers.Serializer):
    """Why a rule-based provider scored a code as it did; models give none (null)."""

    criterion = serializers.CharField(help_text="The rule's short name, e.g. “Sokolow-Lyon voltage”.")
    # Named like an attribute of DRF's Field: the serializer's metaclass moves it off the class.
    source = serializers.CharField(help_text="Where the rule is published.")  # type: ignore[assignment]
    finding = serializers.CharField(help_text="The measured values that met it, as a reader writes them.")


class SuggestionFailureSerializer(serializers.Serializer):
    exam_id = serializers.IntegerField()
    exam = serializers.CharField()
    error = serializers.CharField(allow_blank=True)


class ProviderProgressSerializer(serializers.Serializer):
    provider = serializers.CharField()
    version = serializers.CharField(help_text="The newest version among the batch's exams.")
    ok = serializers.IntegerField()
    failed = serializers.IntegerField()
    missing = serializers.IntegerField()
    unmapped_codes = serializers.ListField(
        child=serializers.CharField(), help_text="Provider codes the batch's taxonomy has no class for."
    )
    failures = SuggestionFailureSerializer(many=True)


class SuggestionProgressSerializer(serializers.Serializer):
    exams = serializers.IntegerField()
    providers = ProviderProgressSerializer(many=True)


class ProviderClassSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    threshold = serializers.FloatField()
    n = serializers.IntegerField()
    positives = serializers.IntegerField()
    negatives = serializers.IntegerField()
    tp = serializers.IntegerField()
    fp = serializers.IntegerField()
    tn = serializers.IntegerField()
    fn = serializers.IntegerField()
    sensitivity = serializers.FloatField(allow_null=True)
    specificity = serializers.FloatField(allow_null=True)
    auc = serializers.FloatField(allow_null=True, help_text="Undefined (null) with one class only.")


class ProviderAgreementSerializer(serializers.Serializer):
    provider = serializers.CharField()
    version = serializers.CharField()
    classes = ProviderClassSerializer(many=True)


class BiasClassSerializer(serializers.Serializer):
    code = serializers.CharField()
    reads = serializers.IntegerField()
    blind_agreed = serializers.IntegerField()
    blind_disagreed = serializers.IntegerField()
    toward = serializers.IntegerField()
    away = serializers.IntegerField()
    toward_rate = serializers.FloatField(allow_null=True)
    away_rate = serializers.FloatField(allow_null=True)


class AutomationBiasSerializer(serializers.Serializer):
    reader = serializers.CharField()
    reads_compared = serializers.IntegerField()
    toward = serializers.IntegerField()
    away = serializers.IntegerField()
    classes = BiasClassSerializer(many=True)


class EvidenceSerializer(serializers.Serializer):
    batch = serializers.IntegerField()
    suggestion_mode = serializers.CharField()
    state = serializers.ChoiceField(
        choices=["ready", "computing"],
        help_text="ready: the figures of the batch's current consensus and scores. computing: the worker "
        "is computing those (seconds for a large batch); consensus_rows and providers are the last "
        "figures computed, as of computed_at (null and empty before the first). Ask again.",
    )
    computed_at = serializers.DateTimeField(allow_null=True)
    consensus_rows = serializers.IntegerField(allow_null=True)
    providers = ProviderAgreementSerializer(many=True)
    automation_bias = AutomationBiasSerializer(many=True)


class BatchSuggestionsView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(responses=SuggestionProgressSerializer)
    def get(self, request, pk: int):
        """Follow the model suggestions of a batch's exams

        Coordinators only (404 for an unknown batch). Per provider, for its newest version among the
        batch's exams: how many exams it scored, failed on (the first failures listed with their errors) or
        has not scored yet, and the codes it scores that the batch's taxonomy has no statement for."""
        progress = batch_suggestion_progress(batch_for_coordinator(request.user, pk))
        return Response(SuggestionProgressSerializer(progress).data)


class BatchEvidenceView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(responses=EvidenceSerializer)
    def get(self, request, pk: int):
        """Compare the models with the consensus and measure automation bias

        Coordinators only (404 for an unknown batch). Per provider and statement, the model against the
        batch's consensus (threshold, true and false positives and negatives, sensitivity, specificity,
        AUC); and in two-stage batches, per reader, how often a revised read moved toward the suggestion or
        away from it. Never waits for the comparison: `state` "computing" means the background worker was
        asked for the current figures and the answer holds the last ones computed (as of `computed_at`);
        ask again until it is "ready"."""
        evidence = batch_evidence(batch_for_coordinator(request.user, pk))
        if evidence["state"] == "computing":
            suggestion_evidence_request(pk)
        return Response(EvidenceSerializer(evidence).data)


class OcclusionQueuedSerializer(serializers.Serializer):
    queued = serializers.ListField(child=serializers.IntegerField(), help_text="Suggestions being explained.")


class ExamOcclusionView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(request=None, responses={202: OcclusionQueuedSerializer})
    def post(self, request, exam_id: int):
        """Ask for occlusion sensitivity of an exam's suggestions

        Coordinators only (404 for an unknown exam). Queues, on the models queue, the occlusion of the
        newest suggestion of each configured provider that offers it (at most 40 model calls each), and
        answers 202 with the suggestions queued; the bands appear on the exam page once computed. 409 when
        no configured model can explain this exam's suggestions this way. Audited."""
        queued = exam_occlusion_request(actor=request.user, exam_id=exam_id)
        return Response(OcclusionQueuedSerializer({"queued": queued}).data, status=status.HTTP_202_ACCEPTED)


urlpatterns = [
    path(
        "v1/batches/<int:pk>/suggestions/",
        BatchSuggestionsView.as_view(),
        name="api-batch-suggestions",
    ),
    path("v1/batches/<int:pk>/evidence/", BatchEvidenceView.as_view(), name="api-batch-evidence"),
    path("v1/exams/<int:exam_id>/occlusion/", ExamOcclusionView.as_view(), name="api-exam-occlusion"),
]
