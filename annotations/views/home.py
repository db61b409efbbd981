"""The start page: each role's work, from that role's own selectors."""

from __future__ import annotations

from typing import Any

from django.shortcuts import render
from django.urls import path
from django.views.i18n import set_language

from annotations.roles import Role, user_roles
from annotations.selectors.adjudication import adjudication_queue
from annotations.selectors.batches.overview import batch_overview
from annotations.selectors.reading.worklist import reader_worklist
from annotations.views.access import signed_in

HOME_QUEUE_ROWS = 20


@signed_in
def home(request):
    roles = user_roles(request.user)
    context: dict[str, Any] = {"roles": sorted(role.value for role in roles)}
    if Role.READER in roles:
        context["worklist"] = reader_worklist(request.user)
    if Role.ADJUDICATOR in roles:
        # The adjudication queue's own selector: it leaves out every exam the user reads anywhere.
        queue = adjudication_queue(request.user)
        context["adjudication"] = {"items": queue[:HOME_QUEUE_ROWS], "total": len(queue)}
    if Role.COORDINATOR in roles:
        context["batches"] = batch_overview(request.user, newest=20)
    return render(request, "annotations/home.html", context)


urlpatterns = [
    path("", home, name="home"),
    # What include("django.conf.urls.i18n") would give, with its access declared.
    path("i18n/setlang/", signed_in(set_language), name="set_language"),
]
