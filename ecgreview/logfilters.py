"""Logging filters for the console handler (settings.LOGGING)."""

from __future__ import annotations

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """A refused request (a 4xx: a reader asking for another reader's exam, a stale form) is the client's
    doing, not a fault of the server: its one line says which request and why, and the traceback Django
    attaches to it (PermissionDenied, Http404 raised deep in a selector) is left out. Server errors keep
    theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if record.name.startswith("django.") and status is not None and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
