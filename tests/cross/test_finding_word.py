"""One Portuguese word for a finding: "achado", as the statements a reader picks are called
(test_i18n.test_a_statement_has_one_name_and_it_is_achado). The measured finding under a suggested
statement ("Finding: QRS 132 ms") read "Observado" beside them, and a reader took it for another thing."""

from __future__ import annotations

import re

from tests.cross.test_i18n import catalogue  # noqa: F401

OTHER_WORDS = re.compile(r"observad|constataç|laudo|descobert|verificad", re.I)


def test_a_finding_is_an_achado_in_every_message(catalogue):  # noqa: F811
    findings = [
        e for e in catalogue if re.search(r"\bfindings?\b", e["msgid"] + (e["msgid_plural"] or ""), re.I)
    ]
    assert findings
    for entry in findings:
        for text in entry["msgstr"].values():
            assert re.search(r"\bachados?\b", text, re.I), (entry["msgid"], text)
            assert not OTHER_WORDS.search(text), (entry["msgid"], text)
