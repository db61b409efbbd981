from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from annotations.api import views

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("v1/me/", views.MeView.as_view(), name="api-me"),
    path("v1/taxonomies/", views.TaxonomyListView.as_view(), name="api-taxonomy-list"),
    path("v1/taxonomies/<int:pk>/", views.TaxonomyDetailView.as_view(), name="api-taxonomy-detail"),
    path("v1/worklist/", views.WorklistView.as_view(), name="api-worklist"),
    path("v1/exams/", views.ExamListView.as_view(), name="api-exam-list"),
]
