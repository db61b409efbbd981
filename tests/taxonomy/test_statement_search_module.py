"""static/js/ecg/statements.js on its own, in Chromium (no server): every statement of the shipped
TNMG taxonomy comes first for its code, its names and each of its synonyms, typed with or without
accents, and the tiers order as documented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotations.services.taxonomy import DEFAULT_TAXONOMY_FILE

pytestmark = pytest.mark.browser

MODULE = Path(__file__).resolve().parents[2] / "static" / "js" / "ecg" / "statements.js"


@pytest.fixture
def search(page):
    page.set_content("<!doctype html><title>search</title>")
    page.add_script_tag(path=str(MODULE))
    classes = json.loads(DEFAULT_TAXONOMY_FILE.read_text(encoding="utf-8"))["classes"]
    page.evaluate("classes => { window.idx = StatementSearch.index(classes); }", classes)

    def rank(*queries: str) -> list[list[list]]:
        return page.evaluate(
            "qs => qs.map(q => StatementSearch.rank(window.idx, q).map(m => [m.statement.code, m.tier]))",
            list(queries),
        )

    rank.page = page
    rank.classes = classes
    return rank


def strip_accents(text: str) -> str:
    import unicodedata

    return "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")


def test_every_statement_comes_first_for_its_code_names_and_synonyms(search):
    cases = []
    for c in search.classes:
        for term in [c["code"], c["name"], c["name_pt"], *c.get("synonyms", [])]:
            cases += [(c["code"], term), (c["code"], strip_accents(term).lower())]
    results = search(*[query for _, query in cases])
    wrong = [
        f"{query!r} -> {found[:3]}, want {code}"
        for (code, query), found in zip(cases, results, strict=True)
        if not found or found[0][0] != code
    ]
    assert not wrong, f"{len(wrong)} of {len(cases)}:\n" + "\n".join(wrong)


def test_tiers_code_then_synonym_then_word_prefix_then_substring(search):
    lafb, pac, sinus = search("LAFB", "PAC", "sinus rhythm")
    assert lafb[:2] == [["LAFB", 0], ["RBBB_LAFB", 2]]  # the code, then a code that starts with it
    assert pac[0] == ["SVPB", 1] and ["PACE", 2] in pac  # an abbreviation beats the start of a word
    assert sinus[0] == ["SR", 1] and ["SA", 3] in sinus  # "rhythm" inside "arrhythmia" is a substring
    assert [tier for _, tier in pac] == sorted(tier for _, tier in pac)


def test_folding_ignores_accents_case_punctuation_and_ordinal_marks(search):
    fold = search.page.evaluate(
        "qs => qs.map(StatementSearch.fold)",
        ["Extrassístoles  VENTRICULARES", "BAV 1º grau", "bav 1o grau", "2:1"],
    )
    assert fold == ["extrassistoles ventriculares", "bav 1 grau", "bav 1 grau", "2 1"]
    assert search("", "  ", "?!") == [[], [], []]
    assert search("zzz")[0] == []
