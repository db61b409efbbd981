"""The migration that turns skip reasons into codes: a reader's words typed before the list existed are
kept word for word as "other", the system's closures take the system's code and keep their reason, and
every other slot has no code."""

from __future__ import annotations

import pytest

from tests.migrating import apps_at, apps_at_latest, historical_exam

BEFORE = [("annotations", "0035_assignment_reader_day_statistics")]
AFTER = [("annotations", "0036_skip_reasons")]
SET_ASIDE = "set aside: the reader left the study before submitting; the exam went to another reader"


@pytest.mark.django_db(transaction=True)
def test_typed_reasons_become_other_with_their_words_and_closures_the_systems_code():
    old = apps_at(BEFORE)
    reader = old.get_model("auth", "User").objects.create(username="reader")
    taxonomy = old.get_model("annotations", "Taxonomy").objects.create(
        key="t", version="1", name="T", content_sha256="0" * 64
    )
    batch = old.get_model("annotations", "ReviewBatch").objects.create(
        name="b", taxonomy=taxonomy, created_by=reader
    )
    slots = old.get_model("annotations", "Assignment").objects
    shapes = {
        "system": ("skipped", SET_ASIDE, True),
        "reader": ("skipped", "Traçado ilegível, muito ruído", False),
        "silent": ("skipped", "", False),
        "pending": ("pending", "", False),
    }
    for position, (name, (status, reason, system)) in enumerate(shapes.items()):
        slots.create(
            batch=batch,
            exam=historical_exam(old, name, position),
            reader=reader,
            position=position,
            status=status,
            skip_reason=reason,
            closed_by_system=system,
        )
    try:
        new = apps_at(AFTER)
        after = new.get_model("annotations", "Assignment").objects
        coded = {
            row[0]: row[1:] for row in after.values_list("exam__external_id", "skip_code", "skip_reason")
        }
        assert coded == {
            "system": ("system", SET_ASIDE),
            "reader": ("other", "Traçado ilegível, muito ruído"),
            "silent": ("other", "no reason recorded"),
            "pending": ("", ""),
        }
    finally:
        apps_at_latest()
