"""The API's JSON parser: DRF's, refusing what Python's json module accepts but the app cannot keep.

- A lone surrogate ("\\ud800") is valid JSON and a valid Python str, but no UTF-8: PostgreSQL, SQLite
  and every file the app writes would fail on it later, inside a transaction, as a server error.
- Nesting deep enough to exhaust the interpreter's recursion raises RecursionError, which DRF's parser
  does not catch. No request of this API nests more than a few levels, so MAX_DEPTH is generous.
Both answer 400 with a detail naming the problem, before any view runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.loads(stream.read().decode(encoding))
        except RecursionError:
            raise _too_deep() from None
        except ValueError as error:
            raise ParseError(_("JSON parse error - %(error)s") % {"error": error}) from None
        _check(data)
        return data


def _check(data: Any) -> None:
    """Walks the parsed body without recursion: its depth, and every key and string's encoding."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            _encodable(value)
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            for key in value:
                _encodable(key)
            items: Iterable[Any] = value.values()
        else:
            items = value
        pending.extend((item, depth + 1) for item in items)


def _too_deep() -> ParseError:
    return ParseError(_("JSON parse error: nested deeper than %(depth)d levels.") % {"depth": MAX_DEPTH})


def _encodable(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ParseError(
            _("JSON parse error: a string holds a lone surrogate (\\ud800-\\udfff), which is not text.")
        ) from None
