"""`item`: a dict's value for a key the template holds in a variable (a form's posted answer by class
code), which the template language's dot lookup cannot take."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def item(mapping, key):
    return (mapping or {}).get(key)
