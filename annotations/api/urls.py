from typing import Any, cast

from django.conf import settings
from django.urls import include, path, re_path
from django.utils.csp import CSP
from django.utils.decorators import method_decorator
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from annotations.views.errors import api_not_found

# The site's policy (a dict of directive lists, typed loosely by the settings module) plus the worker.
_REDOC_CSP: dict[str, Any] = {**cast(dict[str, Any], settings.SECURE_CSP), "worker-src": [CSP.SELF, "blob:"]}


@method_decorator(csp_override(_REDOC_CSP), name="dispatch")
class RedocView(SpectacularRedocView):
    """Redoc without its web-font links (no CDN) and with its search worker, which Redoc starts from a
    blob: URL, allowed on this page only."""

    template_name = "api/redoc.html"


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its initialiser as a script of this server: the CSP forbids inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", RedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("", include("annotations.api.users")),
    path("", include("annotations.api.credentials")),
    path("", include("annotations.api.taxonomy")),
    path("", include("annotations.api.exams")),
    path("", include("annotations.api.reading")),
    path("", include("annotations.api.imports")),
    path("", include("annotations.api.batches")),
    path("", include("annotations.api.suggestions")),
    path("", include("annotations.api.agreement")),
    path("", include("annotations.api.adjudication")),
    path("", include("annotations.api.releases")),
    path("", include("annotations.api.benchmarks")),
    path("", include("annotations.api.webhooks")),
    # Last: an address no route above takes answers JSON, not the HTML 404 page.
    re_path(r"^(?P<rest>.*)$", api_not_found),
]
