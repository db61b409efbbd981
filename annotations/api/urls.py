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
]
