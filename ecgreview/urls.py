"""Top-level URL configuration."""

from django.urls import include, path

from annotations.admin import coordinator_admin

urlpatterns = [
    path("admin/", coordinator_admin.urls),
    path("api/", include("annotations.api.urls")),
    path("", include("annotations.urls")),
]
