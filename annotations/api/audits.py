"""Re-adjudication audits over the API, for coordinators: create one, and read what it found."""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.errors import StrictSerializer
from annotations.api.permissions import IsCoordinator
from annotations.api.schema import MAX_ID
from annotations.errors import Conflict
from annotations.models.batches import SEED_MAX
from annotations.selectors.batches.access import batch_for_coordinator
from annotations.selectors.batches.audits import audit_accounts, audit_findings, audits_made_of, is_audit
from annotations.services.batches.audits import audit_batch_create


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
    id = serializers.IntegerField()
    audit_of = serializers.ListField(child=serializers.IntegerField())
    sample = serializers.IntegerField()
    population = serializers.IntegerField(help_text="Exams of the audited batches that have a consensus.")
    seed = serializers.IntegerField()


class AuditFindingsSerializer(serializers.Serializer):
    audit_batch = serializers.IntegerField()
    audit_of = serializers.ListField(child=serializers.IntegerField())
    sample = serializers.IntegerField()
    population = serializers.IntegerField()
    seed = serializers.IntegerField()
    exams_read = serializers.IntegerField()
    finite_population_correction = serializers.FloatField()
    classes = serializers.ListField(child=serializers.DictField(), help_text="Per class error rates.")
    classes_never_marked = serializers.IntegerField()
    adjudicators = serializers.DictField(help_text="Adjudicator against adjudicator on adjudicated cells.")


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
        design = batch.design
        keys = ("audit_of", "sample", "population", "seed")
        return Response({"id": batch.pk, **{k: design[k] for k in keys}}, status=status.HTTP_201_CREATED)


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
        return Response(audit_findings(batch))


urlpatterns = [
    path("v1/batches/audits/", AuditCreateView.as_view(), name="api-audit-create"),
    path("v1/batches/<int:pk>/audit/", AuditFindingsView.as_view(), name="api-audit-findings"),
]
