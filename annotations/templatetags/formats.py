"""`format_name`: an exam's source format as people call it ("GE MUSE XML"), from the readers' own list, as
the import page names them; a source no reader has (synthetic, bench) keeps its stored word."""

from __future__ import annotations

from django import template

from annotations.lib.formats.registry import FORMAT_NAMES

register = template.Library()


@register.filter
def format_name(key: str) -> str:
    return FORMAT_NAMES.get(key, key)
