"""Django's {# #} comment ends on its own line: one that runs over a line break is not a comment at all and
shows on the page as text. Longer notes go in {% comment %}."""

from __future__ import annotations

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def test_no_template_comment_runs_over_a_line():
    unclosed = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        for number, line in enumerate(template.read_text().splitlines(), 1):
            opened = line.find("{#")
            if opened >= 0 and "#}" not in line[opened:]:
                unclosed.append(f"{template.relative_to(TEMPLATES)}:{number}")
    assert unclosed == []
