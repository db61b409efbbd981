from django.conf import settings
from django.urls import path
from django.utils.csp import CSP
from django.utils.decorators import method_decorator
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from annotations import views_reading
from annotations.api import batches, imports, reading, views


@method_decorator(csp_override({**settings.SECURE_CSP, "worker-src": [CSP.SELF, "blob:"]}), name="dispatch")
class RedocView(SpectacularRedocView):
    """Redoc without its web-font links (no CDN) and with its search worker, which Redoc starts from a
    blob: URL, allowed on this page only."""

    template_name = "api/redoc.html"


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its initialiser as a script of this server: the CSP forbids inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", RedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("v1/me/", views.MeView.as_view(), name="api-me"),
    path("v1/taxonomies/", views.TaxonomyListView.as_view(), name="api-taxonomy-list"),
    path("v1/taxonomies/<int:pk>/", views.TaxonomyDetailView.as_view(), name="api-taxonomy-detail"),
    path("v1/worklist/", views.WorklistView.as_view(), name="api-worklist"),
    path("v1/exams/", views.ExamListView.as_view(), name="api-exam-list"),
    # Reading: every id is an assignment of the requesting reader, never an exam id.
    path("v1/reading/next/", reading.NextView.as_view(), name="api-reading-next"),
    path(
        "v1/reading/assignments/<int:pk>/",
        reading.ReadingContextView.as_view(),
        name="api-reading-assignment",
    ),
    path(
        "v1/reading/assignments/<int:assignment_id>/waveform/",
        views_reading.reading_waveform,
        name="api-reading-waveform",
    ),
    path("v1/reading/assignments/<int:pk>/draft/", reading.DraftView.as_view(), name="api-reading-draft"),
    path("v1/reading/assignments/<int:pk>/submit/", reading.SubmitView.as_view(), name="api-reading-submit"),
    path("v1/reading/assignments/<int:pk>/skip/", reading.SkipView.as_view(), name="api-reading-skip"),
    path("v1/imports/", imports.ImportJobCreateView.as_view(), name="api-import-create"),
    path("v1/imports/<int:pk>/", imports.ImportJobDetailView.as_view(), name="api-import-detail"),
    path("v1/batches/", batches.BatchListCreateView.as_view(), name="api-batch-list"),
    path("v1/batches/preview/", batches.BatchPreviewView.as_view(), name="api-batch-preview"),
    path("v1/batches/<int:pk>/progress/", batches.BatchProgressView.as_view(), name="api-batch-progress"),
    path("v1/batches/<int:pk>/exams/", batches.BatchAddExamsView.as_view(), name="api-batch-add-exams"),
    path(
        "v1/batches/<int:pk>/skips/<int:assignment_id>/hand-on/",
        batches.BatchSkipHandOnView.as_view(),
        name="api-batch-skip-hand-on",
    ),
]

# Model suggestions (issue 7).
from annotations.api import suggestions  # noqa: E402

urlpatterns += [
    path(
        "v1/batches/<int:pk>/suggestions/",
        suggestions.BatchSuggestionsView.as_view(),
        name="api-batch-suggestions",
    ),
    path("v1/batches/<int:pk>/evidence/", suggestions.BatchEvidenceView.as_view(), name="api-batch-evidence"),
]

# Agreement and adjudication (issue 6).
from annotations import views_agreement  # noqa: E402
from annotations.api import agreement  # noqa: E402

urlpatterns += [
    path(
        "v1/batches/<int:pk>/agreement/", agreement.BatchAgreementView.as_view(), name="api-batch-agreement"
    ),
    path("v1/adjudication/", agreement.AdjudicationQueueView.as_view(), name="api-adjudication-queue"),
    path(
        "v1/adjudication/<int:batch_id>/<int:exam_id>/",
        agreement.AdjudicationCaseView.as_view(),
        name="api-adjudication-case",
    ),
    path(
        "v1/adjudication/<int:batch_id>/<int:exam_id>/waveform/",
        views_agreement.adjudication_waveform,
        name="api-adjudication-waveform",
    ),
]

# Label releases (issue 8).
from annotations.api import releases  # noqa: E402

urlpatterns += [
    path("v1/releases/", releases.ReleaseListCreateView.as_view(), name="api-release-list"),
    path("v1/releases/<int:pk>/", releases.ReleaseDetailView.as_view(), name="api-release-detail"),
    path(
        "v1/releases/<int:pk>/files/<str:name>", releases.ReleaseFileView.as_view(), name="api-release-file"
    ),
    path("v1/releases/<int:pk>/zip", releases.ReleaseZipView.as_view(), name="api-release-zip"),
]
