"""One error model: services and selectors raise annotations.errors classes, the API answers each with its
status and {"detail", **extra} in one handler, the pages turn NotFound and Forbidden into 404 and 403."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import RequestFactory

from annotations.errors import ApplicationError, Conflict, Forbidden, Invalid, NotFound


def test_each_class_carries_its_status_and_stays_the_builtin_it_was():
    assert (Invalid.status, Forbidden.status, NotFound.status, Conflict.status) == (400, 403, 404, 409)
    assert isinstance(Invalid("x"), ValueError)
    assert isinstance(Forbidden("x"), PermissionError)
    refused = Forbidden("only coordinators", extra={"who": 1})
    assert (str(refused), refused.message, refused.extra) == (
        "only coordinators",
        "only coordinators",
        {"who": 1},
    )
    assert str(NotFound()) == ""


def test_every_service_and_selector_refusal_is_an_application_error_with_the_status_the_api_answers():
    from annotations.selectors.batches.plan import BatchPlanError
    from annotations.selectors.batches.progress import ExamTableError
    from annotations.selectors.releases.plan import ExportRefused
    from annotations.services.adjudication import AdjudicationError, StaleAdjudication
    from annotations.services.agreement.compute import AgreementConfigError
    from annotations.services.agreement.tables import IntervalMethodError
    from annotations.services.batches.lifecycle import BatchDesignError
    from annotations.services.batches.skips import HandOnConflict, HandOnError
    from annotations.services.imports.exams import ImportRefused
    from annotations.services.imports.predictions import PredictionsImportError
    from annotations.services.imports.reads import ReadsImportError
    from annotations.services.reading import ReadClosed, ReadingError, StaleRevision
    from annotations.services.taxonomy import TaxonomyError, TaxonomyFrozenError
    from annotations.services.users import UserAdminError

    invalid = [
        BatchPlanError,
        ExamTableError,
        ExportRefused,
        AdjudicationError,
        AgreementConfigError,
        IntervalMethodError,
        BatchDesignError,
        HandOnError,
        ImportRefused,
        PredictionsImportError,
        ReadsImportError,
        ReadingError,
        TaxonomyError,
        TaxonomyFrozenError,
        UserAdminError,
    ]
    for kind in invalid:
        assert issubclass(kind, Invalid) and kind.status == 400, kind
    for kind in (HandOnConflict, ReadClosed, StaleRevision, StaleAdjudication):
        assert issubclass(kind, Conflict) and kind.status == 409, kind
    assert StaleRevision(4).extra == {"revision": 4}
    assert StaleAdjudication(2).extra == {"version": 2, "signed_by_you": False}
    assert StaleAdjudication(2, yours=True).extra == {"version": 2, "signed_by_you": True}


def test_the_api_answers_every_application_error_in_one_handler():
    from annotations.api.errors import exception_handler
    from annotations.services.reading import StaleRevision

    assert settings.REST_FRAMEWORK["EXCEPTION_HANDLER"] == "annotations.api.errors.exception_handler"
    stale = exception_handler(StaleRevision(3), {})
    assert stale.status_code == 409
    assert list(stale.data.items()) == [("detail", str(StaleRevision(3))), ("revision", 3)]
    refused = exception_handler(Invalid("decide at least one disputed class"), {})
    assert (refused.status_code, refused.data) == (400, {"detail": "decide at least one disputed class"})
    assert exception_handler(Conflict("closed"), {}).status_code == 409


def test_not_found_and_forbidden_answer_as_django_s_own_did():
    """What is not the caller's stays indistinguishable from what does not exist: the same body DRF gave
    for Http404 and PermissionDenied, with or without a message."""
    from annotations.api.errors import exception_handler

    for ours, theirs in [
        (NotFound(), Http404()),
        (NotFound("no such assignment"), Http404("no such assignment")),
        (Forbidden(), PermissionDenied()),
        (Forbidden("only coordinators export labels"), PermissionDenied("only coordinators export labels")),
    ]:
        mine, django = exception_handler(ours, {}), exception_handler(theirs, {})
        assert (mine.status_code, mine.data) == (django.status_code, django.data)


def test_the_pages_turn_not_found_and_forbidden_into_the_project_s_404_and_403():
    from annotations.views.errors import ApplicationErrorMiddleware

    middleware = ApplicationErrorMiddleware(lambda request: None)
    request = RequestFactory().get("/")
    with pytest.raises(Http404):
        middleware.process_exception(request, NotFound("no such batch"))
    with pytest.raises(PermissionDenied):
        middleware.process_exception(request, Forbidden())
    # Input errors and conflicts are the views' to show in their forms; anything else is not ours.
    for other in (Invalid("bad"), Conflict("stale"), ApplicationError("x"), RuntimeError("boom")):
        assert middleware.process_exception(request, other) is None
    assert "annotations.views.errors.ApplicationErrorMiddleware" in settings.MIDDLEWARE
