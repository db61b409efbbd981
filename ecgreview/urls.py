"""Top-level URL configuration."""

from django.urls import include, path

from annotations.admin import coordinator_admin

urlpatterns = [
    path("admin/", coordinator_admin.urls),
    path("api/", include("annotations.api.urls")),
    path("", include("annotations.urls")),
]

# A request Django refuses before any view sees it (too many files in one upload, a malformed body) is
# answered in the app's words: JSON under /api/, the app's page elsewhere.
handler400 = "annotations.views.errors.bad_request"
# A bug: JSON under /api/ (a script cannot read the HTML page), the app's own page elsewhere.
handler500 = "annotations.views.errors.server_error"
