"""The language menu names each language in its own words, and pages write dates as their language does:
a Portuguese page offered "Inglês", which one who reads no Portuguese cannot find, and wrote every date in
ISO order, where a Brazilian reader writes 27/11/2026."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.django_db


def _page(client, language: str) -> str:
    client.cookies["django_language"] = language
    return client.get("/", HTTP_ACCEPT_LANGUAGE=language).content.decode()


@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_the_language_menu_names_each_language_in_its_own_words(client_for, ana, language):
    menu = _page(client_for(ana), language).split('name="language"', 1)[1].split("</select>", 1)[0]
    assert re.search(r'<option value="en" lang="en"[^>]*>English</option>', menu), menu
    assert re.search(r'<option value="pt-br" lang="pt-br"[^>]*>Português', menu), menu
    assert "Inglês" not in menu


def test_a_due_date_reads_day_first_in_portuguese_and_iso_in_english(client_for, ana, bruno, diego, tnmg):
    from tests.reading.helpers import shared_batch

    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)
    due = (datetime.now() + timedelta(days=20)).date()
    batch.due_date = due
    batch.save(update_fields=["due_date"])
    client = client_for(ana)
    assert due.strftime("%d/%m/%Y") in _page(client, "pt-br")
    assert due.isoformat() in _page(client, "en")
