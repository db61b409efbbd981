"""Dates in one format per language everywhere: English pages write 2026-11-29 and 2026-11-29 09:20 (ISO
order, ecgreview/formats/en), Portuguese pages 29/11/2026 and 29/11/2026 09:20 (Django's pt_BR). Templates,
messages and page scripts all take the short formats; a machine-read value (an input's value, a <time>'s
datetime attribute, the API's ISO 8601) is not a date a person reads."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings

from annotations.models import Exam
from tests.cross.test_i18n import _pages, _visible, study  # noqa: F401

ROOT = Path(settings.BASE_DIR)
SHORT = {"SHORT_DATE_FORMAT", "SHORT_DATETIME_FORMAT"}
# A machine value: the ISO moment of a <time datetime>, or the value of an <input type="date">.
MACHINE = {"c", "Y-m-d"}


def test_templates_write_dates_in_the_short_formats_only():
    wrong = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for used in re.findall(r"""\|date:["']([^"']*)["']|{% now ["']([^"']*)["']""", line):
                fmt = used[0] or used[1]
                machine = fmt in MACHINE and re.search(r'(datetime|value)="\{\{[^}]*\|date:', line)
                if fmt not in SHORT and not machine:
                    wrong.append(f"{path.relative_to(ROOT)}:{number}: {fmt}")
            if re.search(r"\|date(?![:\w])", line):
                wrong.append(f"{path.relative_to(ROOT)}:{number}: |date without a format")
    assert wrong == []


def test_python_messages_write_dates_in_the_short_formats_only():
    wrong = []
    for path in sorted((ROOT / "annotations").rglob("*.py")):
        if "migrations" in path.parts or "lib" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"date_format\(.{0,200}?,\s*\"([^\"]+)\"\s*\)", text, re.S):
            if match.group(1) not in SHORT:
                wrong.append(f"{path.relative_to(ROOT)}: date_format(..., {match.group(1)!r})")
        # A date put into a sentence as isoformat() is the API's form, not a page's.
        for match in re.finditer(r"\"(date|when|since|until)\": [^,}\n]*isoformat\(\)", text):
            wrong.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    assert wrong == []


def test_page_scripts_format_dates_through_the_pages_locale_only():
    """static/js/ecg/locale.js (its stamp, day and clock) writes every date and time a script shows,
    as the templates do; no script formats one its own way."""
    wrong = []
    for path in sorted((ROOT / "static" / "js").rglob("*.js")):
        if path.name == "locale.js":
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in (r"Intl\.DateTimeFormat", r"toLocale(Date|Time)?String", r"toISOString\(\)\.slice"):
            if re.search(pattern, text):
                wrong.append(f"{path.relative_to(ROOT)}: {pattern}")
        if re.search(r"function day\(", text):
            wrong.append(f"{path.relative_to(ROOT)}: its own day()")
    assert wrong == []


ENGLISH_WRONG = re.compile(
    r"\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b(Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\.? \d"
)
PORTUGUESE_WRONG = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2} de [a-zç]+ de \d{4}")


@pytest.mark.django_db
def test_rendered_pages_show_dates_in_their_languages_one_format(client, study, ana, carla, diego):  # noqa: F811
    Exam.objects.update(acquired_at=datetime(2024, 3, 12, 9, 40, tzinfo=UTC))
    personas = {"ana": ana, "carla": carla, "diego": diego}
    seen = {"en": 0, "pt-br": 0}
    for language, wrong, right in (
        ("en", ENGLISH_WRONG, re.compile(r"\b20\d\d-\d\d-\d\d\b")),
        ("pt-br", PORTUGUESE_WRONG, re.compile(r"\b\d\d/\d\d/20\d\d\b")),
    ):
        for persona, pages in _pages(study).items():
            client.force_login(personas[persona])
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
            for url, _, _ in pages:
                visible = "\n".join(_visible(client.get(url).getvalue().decode()))
                assert not wrong.search(visible), (language, url, wrong.search(visible).group(0))
                seen[language] += len(right.findall(visible))
    assert seen["en"] >= 3 and seen["pt-br"] >= 3, seen


def test_page_scripts_take_their_words_from_the_pages_locale_only():
    """One translator (translator() of static/js/ecg/locale.js) reads a page's <template id="strings">
    for every script; no page keeps a copy of its own, and a module that calls it imports it from there."""
    copies = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "static" / "js").rglob("*.js"))
        if path.name != "locale.js"
        and re.search(r"function t\(key|\.content\.querySelectorAll\(\"\[data-key\]\"\)", path.read_text())
    ]
    assert copies == []
    users = {
        str(path.relative_to(ROOT)): path.read_text()
        for path in sorted((ROOT / "static" / "js").rglob("*.js"))
        if path.name != "locale.js" and re.search(r"\btranslator\(", path.read_text())
    }
    assert users, "no page module calls translator(): this test no longer looks at anything"
    imported = re.compile(r'import \{[^}]*\btranslator\b[^}]*\} from "(\.\./)+ecg/locale\.js";')
    assert [name for name, text in users.items() if not imported.search(text)] == []
