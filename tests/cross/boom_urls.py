"""The project's URLs with one route under /api/ and one page that fail as a bug would (for the 500
tests): everything else, handlers included, is the project's own."""

from django.urls import path

from ecgreview import urls as project


def _boom(request):
    raise RuntimeError("a bug")


urlpatterns = [path("api/v1/boom/", _boom), path("boom/", _boom), *project.urlpatterns]
handler400 = project.handler400
handler500 = project.handler500
