"""The one error model of the application: what services and selectors raise when they refuse.

Each class says what the refusal means over HTTP (`status`), so the API answers every one of them in one
place (annotations/api/errors.py) and the pages turn NotFound and Forbidden into the project's 404 and
403 pages (annotations/views/errors.py). Pure Python: services, selectors, commands and tasks raise and
catch these without importing Django's or DRF's exceptions.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ApplicationError(Exception):
    """A refusal the caller can act on. `message` is the body's "detail"; `extra` is merged into the
    body next to it (e.g. the current version on a stale write, so the client can reload)."""

    status: ClassVar[int] = 400

    def __init__(self, message: str = "", extra: dict[str, Any] | None = None):
        super().__init__(*((message,) if message else ()))
        self.message = message
        self.extra: dict[str, Any] = dict(extra or {})


class Invalid(ApplicationError, ValueError):
    """Input the caller must correct (400). A ValueError too, as these refusals always were."""

    status = 400


class Forbidden(ApplicationError, PermissionError):
    """The caller may not do this at all (403). A PermissionError too, as these refusals always were."""

    status = 403

    def __init__(self, message: str = "", extra: dict[str, Any] | None = None):
        # PermissionError is an OSError, whose constructor reads two arguments as (errno, strerror):
        # ApplicationError passes the message alone, so str() is the message.
        ApplicationError.__init__(self, message, extra)


class NotFound(ApplicationError):
    """No such object for this caller (404): what is not theirs answers exactly as what does not exist."""

    status = 404


class Conflict(ApplicationError):
    """The object's current state forbids the write (409): stale, closed, already done."""

    status = 409
