"""The product's WSGI application plus one bare Django view, for load benchmarks only.

    gunicorn bench._bare_wsgi:application

Every path is the product's (ecgreview.wsgi) except BARE_PATH, which a plain Django function view
answers with two bytes. It is resolved through this module's own URLconf, so the product never gets
an extra public endpoint, while the request still crosses the same gunicorn worker, Django handler and
middleware stack as the API: the difference between the two is the reading code itself.
"""

from __future__ import annotations

import os

import django
from django.contrib.auth.decorators import login_not_required
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse
from django.urls import path

BARE_PATH = "/_bench/bare/"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecgreview.settings")


@login_not_required  # the floor: no session, no user, no database
def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path(BARE_PATH.strip("/") + "/", bare)]


class BareHandler(WSGIHandler):
    def resolve_request(self, request):
        if request.path_info == BARE_PATH:
            request.urlconf = __name__  # Django resolves this one request against this module
        return super().resolve_request(request)


django.setup(set_prefix=False)
application = BareHandler()
