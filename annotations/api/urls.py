from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from annotations import views_reading
from annotations.api import batches, imports, reading, views

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
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
