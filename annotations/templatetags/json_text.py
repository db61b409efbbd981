"""`as_json`: a stored JSON value written as JSON on a page (true, null, double quotes), as the CSV export and
the API write it, not as Python's text of the decoded object (True, None, single quotes)."""

from __future__ import annotations

import json

from django import template

register = template.Library()


@register.filter
def as_json(value) -> str:
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)
