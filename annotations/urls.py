"""The web pages: one include per capability; each views module lists its own routes."""

from django.urls import include, path

urlpatterns = [
    path("", include("annotations.views.home")),
    path("", include("annotations.views.auth")),
    path("", include("annotations.views.users")),
    path("", include("annotations.views.credentials")),
    path("", include("annotations.views.taxonomy")),
    path("", include("annotations.views.exams")),
    path("", include("annotations.views.imports")),
    path("", include("annotations.views.batches")),
    path("", include("annotations.views.reading")),
    path("", include("annotations.views.suggestions")),
    path("", include("annotations.views.agreement")),
    path("", include("annotations.views.adjudication")),
    path("", include("annotations.views.releases")),
    path("", include("annotations.views.benchmarks")),
    path("", include("annotations.views.webhooks")),
    path("", include("annotations.views.audit")),
]
