"""`iso_time`: an ISO 8601 stamp kept as text for a page's script (the dashboard's skips) written as every
page writes times (SHORT_DATETIME_FORMAT of the page's language, in the server's time zone), before the
script first redraws it (static/js/ecg/locale.js writes the same)."""

from __future__ import annotations

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format

register = template.Library()


@register.filter
def iso_time(value) -> str:
    moment = parse_datetime(value) if isinstance(value, str) else value
    if moment is None:
        return ""
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return date_format(moment, "SHORT_DATETIME_FORMAT")
