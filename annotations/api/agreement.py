"""Agreement results (coordinators) and adjudication (adjudicators) over the API. Thin: the selectors
decide what each role sees (adjudicators: pseudonyms only), the services write."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.permissions import IsCoordinator
from annotations.selectors.agreement.summary import (
    agreement_dashboard,
    agreement_for_coordinator,
    consensus_method_counts,
)


class BatchAgreementView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        batch, result = agreement_for_coordinator(request.user, pk)
        if result is None:
            return Response(
                {"batch": batch.pk, "computed_at": None, "consensus": consensus_method_counts(batch)}
            )
        dashboard = agreement_dashboard(result)
        return Response(
            {
                "batch": batch.pk,
                "algorithm_version": result.algorithm_version,
                "read_count": result.read_count,
                "exam_count": result.exam_count,
                "reader_count": result.reader_count,
                "disputed_count": result.disputed_count,
                "computed_at": result.computed_at,
                "consensus": consensus_method_counts(batch),
                "classes": dashboard["all_classes"],
                "readers": dashboard["readers"],
                "pairs": [
                    {"reader": row["username"], "mean_kappa": [c["kappa"] for c in row["cells"]]}
                    for row in dashboard["matrix"]
                ],
                "exams": dashboard["exams"],
                "rule": dashboard["consensus_rule"],
                # Which interval is shown (over exams, or over exams and readers), and its resamples.
                "bootstrap": dashboard["bootstrap"],
                "pairs_by_class": (result.results or {}).get("pairs_by_class", []),
                "reader_classes": dashboard["reader_classes"],
                "consensus_summary": dashboard["consensus_summary"],
            }
        )


urlpatterns = [
    path("v1/batches/<int:pk>/agreement/", BatchAgreementView.as_view(), name="api-batch-agreement"),
]
