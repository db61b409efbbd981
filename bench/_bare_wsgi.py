"""The product's WSGI application plus two reference views, for load benchmarks only.

    gunicorn bench._bare_wsgi:application

Every path is the product's (ecgreview.wsgi) except these two, resolved through this module's own
URLconf, so the product never gets an extra public endpoint, while the requests still cross the same
gunicorn worker, Django handler and middleware stack as the API:

- BARE_PATH: a plain Django function view answering two bytes (no session, no user, no database): the
  floor the issue's ratio is taken against.
- MINIMAL_WRITE_PATH: the least an authenticated write can be on this stack: a DRF view behind the
  product's session authentication and CSRF check that upserts one row with the ORM (the "minimal DRF
  POST" of the performance notes), into a table of its own (MINIMAL_WRITE_TABLE, made by the benchmark).
  It tells how much of the gap to the floor is the stack itself and how much is the reading code.
"""

from __future__ import annotations

import os

import django
from django.contrib.auth.decorators import login_not_required
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse
from django.urls import path

BARE_PATH = "/_bench/bare/"
MINIMAL_WRITE_PATH = "/_bench/minimal-write/"
MINIMAL_WRITE_TABLE = "bench_minimal_write"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecgreview.settings")
django.setup(set_prefix=False)

from django.db import models  # noqa: E402  (models need the app registry django.setup() fills)
from rest_framework.permissions import IsAuthenticated  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402


@login_not_required  # the floor: no session, no user, no database
def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


class MinimalWrite(models.Model):
    """One row per user, upserted: the benchmark creates the table (it is no migration's business)."""

    user_id = models.BigIntegerField(primary_key=True)
    body = models.JSONField()

    class Meta:
        app_label = "annotations"
        managed = False
        db_table = MINIMAL_WRITE_TABLE

    def __str__(self) -> str:
        return f"minimal write of user {self.user_id}"


class MinimalWriteView(APIView):
    permission_classes = [IsAuthenticated]

    def post(self, request):
        MinimalWrite.objects.update_or_create(user_id=request.user.pk, defaults={"body": request.data})
        return Response({"done": True})


urlpatterns = [
    path(BARE_PATH.strip("/") + "/", bare),
    path(MINIMAL_WRITE_PATH.strip("/") + "/", MinimalWriteView.as_view()),
]


class BareHandler(WSGIHandler):
    def resolve_request(self, request):
        if request.path_info in (BARE_PATH, MINIMAL_WRITE_PATH):
            request.urlconf = __name__  # Django resolves this one request against this module
        return super().resolve_request(request)


application = BareHandler()
