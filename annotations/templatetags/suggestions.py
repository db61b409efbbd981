"""{% batch_suggestions batch as s %}: a batch's suggestion progress for the coordinator batch page.

A tag rather than view context so the page's view (shared with the agreement work) stays untouched.
"""

from __future__ import annotations

from django import template

from annotations.models import ReviewBatch
from annotations.selectors.suggestions.summary import batch_suggestion_progress

register = template.Library()


@register.simple_tag
def batch_suggestions(batch: ReviewBatch) -> dict:
    return batch_suggestion_progress(batch)
