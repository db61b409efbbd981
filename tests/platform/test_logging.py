"""What an operator reads in the server's log: one line per refused request, without a traceback; a
server error with its traceback, once."""

from __future__ import annotations

import io
import logging
import logging.config

import pytest
from django.conf import settings
from django.test import override_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def console():
    """settings.LOGGING applied, its console handler writing to a buffer; pytest's own handlers kept."""
    root = logging.getLogger()
    kept = list(root.handlers), root.level
    logging.config.dictConfig(settings.LOGGING)
    stream = io.StringIO()
    (handler,) = [h for h in root.handlers if h not in kept[0]] or root.handlers[-1:]
    handler.setStream(stream)
    yield stream
    for extra in [h for h in root.handlers if h not in kept[0]]:
        root.removeHandler(extra)
    root.handlers[:] = kept[0]
    root.setLevel(kept[1])


@pytest.mark.parametrize("debug", [True, False])
def test_a_refused_request_is_one_line_without_a_traceback(client_for, ana, console, debug):
    """A walk on `make run` (DEBUG on) found every 403 printed twice, each with a full traceback."""
    with override_settings(DEBUG=debug):
        response = client_for(ana).get("/batches/new/")
    assert response.status_code == 403
    text = console.getvalue()
    assert text.count("Forbidden") == 1, text
    assert "Traceback" not in text, text
    # Django's console handler printed each record a second time under DEBUG: the django logger has none.
    assert logging.getLogger("django").handlers == []


def test_a_server_error_keeps_its_traceback():
    from ecgreview.logfilters import ClientErrorsWithoutTraceback

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = logging.LogRecord(
            "django.request", logging.ERROR, __file__, 1, "Internal Server Error", (), sys.exc_info()
        )
    record.status_code = 500
    assert ClientErrorsWithoutTraceback().filter(record) and record.exc_info is not None
