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


def load_search(page) -> None:
    """The module in a blank page, its exports set on window.StatementSearch for the checks to call there
    (the module sets no global of its own; a blank page cannot import a file, so it runs inline)."""
    page.set_content("<!doctype html><title>search</title>")
    exports = "\nwindow.StatementSearch = { fold, words, index, rank, choice, TIER };\n"
    page.add_script_tag(type="module", content=MODULE.read_text(encoding="utf-8") + exports)
    page.wait_for_function("() => window.StatementSearch")


@pytest.fixture
def search(page):
    load_search(page)
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
            cases += [(term, c["code"]), (strip_accents(term).lower(), c["code"])]
    wrong = not_first(search, cases)
    assert not wrong, f"{len(wrong)} of {len(cases)}:\n" + "\n".join(wrong)


def not_first(search, cases: list[tuple[str, str]]) -> list[str]:
    """The (query, code) cases whose query does not put that statement first, each said."""
    results = search(*[query for query, _ in cases])
    return [
        f"{query!r} -> {found[:3]}, want {code}"
        for (query, code), found in zip(cases, results, strict=True)
        if not found or found[0][0] != code
    ]


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
    assert fold == ["extrassistoles ventriculares", "bav 1 grau", "bav 1 grau", "2x1"]
    assert search("", "  ", "?!") == [[], [], []]
    assert search("zzz")[0] == []


def test_every_statement_comes_first_for_its_own_terms_in_every_shipped_taxonomy(page):
    """The same on the other shipped taxonomies, whose statements are worded on their own. Where one
    statement's synonym is another's code (PTB-XL: PSVT), the code wins, as the tiers say."""
    from annotations.services.taxonomy import SHIPPED_DIR

    load_search(page)
    for name in ("code15.json", "ptbxl-scp.json", "cpsc2018.json"):
        classes = json.loads((SHIPPED_DIR / name).read_text(encoding="utf-8"))["classes"]
        codes = {c["code"].lower() for c in classes}
        cases = [
            (c["code"], query)
            for c in classes
            for term in [c["code"], c["name"], c.get("name_pt"), *c.get("synonyms", [])]
            if term
            for query in (term, strip_accents(term).lower())
            if query.lower() not in codes or query.lower() == c["code"].lower()
        ]
        found = page.evaluate(
            "([classes, qs]) => { const idx = StatementSearch.index(classes); return qs.map(q =>"
            " (StatementSearch.rank(idx, q)[0] || {statement: {}}).statement.code || null); }",
            [classes, [query for _, query in cases]],
        )
        wrong = [
            f"{q!r} -> {got}, want {code}" for (code, q), got in zip(cases, found, strict=True) if got != code
        ]
        assert not wrong, f"{name}: {len(wrong)} of {len(cases)}:\n" + "\n".join(wrong)


def test_phrasings_of_one_statement_read_alike(search):
    """What the ranking compares: the words left when spelling, ordinals, abbreviations and prepositions
    are set aside. Each pair below must read as the same words."""
    alike = [
        ("extra-sístoles ventriculares", "extrassístoles ventriculares"),
        ("bloqueio divisional antero-superior", "bloqueio divisional anterossuperior"),
        ("marca-passo", "marcapasso"),
        ("non-sustained VT", "nonsustained VT"),
        ("BAV de primeiro grau", "bloqueio atrioventricular 1º grau"),
        ("bloqueio A-V de 2º grau Mobitz II", "bloqueio atrioventricular 2 grau mobitz 2"),
        ("third degree AV block", "3rd degree atrioventricular block"),
        ("supradesnivelamento de ST", "supradesnivelamento do ST"),
    ]
    words = search.page.evaluate("pairs => pairs.map(p => p.map(StatementSearch.words))", alike)
    different = [
        f"{a!r} {wa} != {b!r} {wb}" for (a, b), (wa, wb) in zip(alike, words, strict=True) if wa != wb
    ]
    assert not different, "\n".join(different)
    # A query of nothing but prepositions still searches (the first letters typed), and a word that is
    # only a prefix does not swallow the one being typed after it.
    assert search.page.evaluate("['de', 'extra s'].map(StatementSearch.words)") == [["de"], ["extra", "s"]]


# (what a reader working in PTB-XL's statements types, the statement it means). Before 1.0.3.2 "RBBB" and
# "right bundle branch block" chose the incomplete block, "prolonged PR" first-degree AV block (PTB-XL has
# LPR), "SVE" the voltage criteria, "bigeminy" the ventricular premature complex.
PTBXL_PHRASES = [
    ("RBBB", "CRBBB"),
    ("right bundle branch block", "CRBBB"),
    ("bloqueio de ramo direito", "CRBBB"),
    ("LBBB", "CLBBB"),
    ("left bundle branch block", "CLBBB"),
    ("incomplete RBBB", "IRBBB"),
    ("prolonged PR", "LPR"),
    ("PR longo", "LPR"),
    ("first degree AV block", "1AVB"),
    ("BAV de 1º grau", "1AVB"),
    ("paroxysmal SVT", "PSVT"),
    ("supraventricular tachycardia", "SVTAC"),
    ("SVE", "LVH"),
    ("SVE por voltagem", "VCLVH"),
    ("bigeminy", "BIGU"),
    ("ventricular bigeminy", "PVC"),
    ("trigeminy", "TRIGU"),
    ("T wave inversion", "INVT"),
    ("ST depression", "STD_"),
    ("ST elevation", "STE_"),
    ("second degree AV block", "2AVB"),
    ("Wenckebach", "2AVB"),
    ("premature atrial contraction", "PAC"),
    ("low voltage", "LVOLT"),
    ("normal sinus rhythm", "SR"),
    ("inferior MI", "IMI"),
    ("anteroseptal MI", "ASMI"),
    ("atrial fibrillation", "AFIB"),
    ("Q waves", "QWAVE"),
]


def test_a_reader_in_ptbxl_statements_finds_the_one_meant(page):
    from annotations.services.taxonomy import SHIPPED_DIR

    load_search(page)
    classes = json.loads((SHIPPED_DIR / "ptbxl-scp.json").read_text(encoding="utf-8"))["classes"]
    found = page.evaluate(
        "([classes, qs]) => { const idx = StatementSearch.index(classes); return qs.map(q =>"
        " (StatementSearch.rank(idx, q)[0] || {statement: {}}).statement.code || null); }",
        [classes, [query for query, _ in PTBXL_PHRASES]],
    )
    wrong = [
        f"{q!r} -> {got}, want {code}"
        for (q, code), got in zip(PTBXL_PHRASES, found, strict=True)
        if got != code
    ]
    assert not wrong, f"{len(wrong)} of {len(PTBXL_PHRASES)}:\n" + "\n".join(wrong)


def test_the_closest_statements_come_only_when_no_statement_has_every_word(search):
    """Tier 4 lists the statements sharing the most words, and never joins a list that has a full match;
    a single unknown word, or a query sharing only a number, lists nothing."""
    closest, full, single, number = search("área inativa inferior", "flutter atrial", "xyzzy", "xyzzy 2 grau")
    assert closest[0] == ["EIA", 4] and {tier for _, tier in closest} == {4}
    assert full[0] == ["AFL", 1] and all(tier < 4 for _, tier in full)
    assert single == []
    assert all(code.startswith(("AVB", "1dAVb")) for code, _ in number)  # "grau": the degrees of block
    mobitz_two, mobitz_one = search("BAV 2º grau tipo II", "BAV 2º grau tipo I")
    assert [mobitz_two[0][0], mobitz_one[0][0]] == ["AVB2_M2", "AVB2_M1"]  # the numbers tell them apart


def test_the_closest_statements_never_say_the_opposite_of_the_query(search):
    """A query that says short, incomplete or right is never closest to a statement that says long,
    complete or left and not what was typed: Enter would choose the opposite finding."""
    short, incomplete, right = search("QT curto", "BRD incompleto", "sobrecarga direita discreta")
    assert "LONG_QT" not in [code for code, _ in short]
    assert incomplete[0][0] == "IRBBB" and "RBBB" not in [code for code, _ in incomplete]
    assert right and not any(code in ("LVH_RE", "LVH_V", "LAE") for code, _ in right)
    both = search("bloqueio ramo direito bdas isolado")[0]
    assert both and both[0][0] == "RBBB_LAFB"  # a statement saying both sides is not the opposite


def test_a_negative_t_wave_is_never_handed_the_subendocardial_ischaemia(search):
    """In the nomenclature of the Brazilian Society of Cardiology's guideline on ECG reports, a negative,
    symmetric T wave is subepicardial ischaemia and subendocardial ischaemia a tall positive one. TNMG
    2026.1 gave SENDO_ISCH the synonyms of a negative T wave, so "T negativa" and "isquemia subepicárdica"
    chose it (a cardiologist's walk through the reader page)."""
    results = search("T negativa", "inversão de onda T", "onda T invertida", "isquemia subepicárdica")
    for query, found in zip(
        ("T negativa", "inversão de onda T", "onda T invertida", "isquemia subepicárdica"),
        results,
        strict=True,
    ):
        assert not found or found[0][0] != "SENDO_ISCH", (query, found[:3])
    assert search("isquemia subendocárdica")[0][0] == ["SENDO_ISCH", 1]


# A cardiologist's walk through the reader page typed 427 phrasings; these chose the wrong statement, or
# nothing where a statement is meant (the typos it also found are left to the reader).
MEANT = [
    ("FA provável", "AF"),
    ("TV provável", "VT"),
    ("possible LAE", "LAE"),
    ("consider RVH", "RVH"),
    ("BAV Mobitz 2", "AVB2_M2"),
    ("AV block Mobitz II", "AVB2_M2"),
    ("Mobitz 2 AV block", "AVB2_M2"),
    ("Mobitz type 2", "AVB2_M2"),
    ("BAV completo", "AVB3"),
    ("bloqueio AV completo", "AVB3"),
    ("bloqueio atrioventricular completo", "AVB3"),
    ("intervalo PR prolongado", "1dAVb"),
    ("intervalo PR longo", "1dAVb"),
    ("intervalo PR aumentado", "1dAVb"),
    ("prolonged PR interval", "1dAVb"),
    ("PR interval prolonged", "1dAVb"),
    ("IAM antigo", "EIA"),
    ("IAM prévio", "EIA"),
    ("PVCs", "VPB"),
    ("frequent PVCs", "VPB"),
    ("ESVs", "VPB"),
    ("VPCs", "VPB"),
    ("PACs", "SVPB"),
    ("APCs", "SVPB"),
    ("anterior STEMI", "STEMI"),
    ("inferior STEMI", "STEMI"),
    ("STEMI inferior", "STEMI"),
    ("IAM de parede inferior", "STEMI"),
    ("IAM anterior extenso", "STEMI"),
    ("flutter atrial com BAV 2:1", "AFL"),
    ("flutter com condução 2:1", "AFL"),
    ("zona inativa", "EIA"),
    ("zona inativa inferior", "EIA"),
    ("zona eletricamente inativa", "EIA"),
    ("sem alterações", "NORM"),
    ("ECG sem alterações", "NORM"),
    # "tipo" says nothing of which block: the 2:1 block, not Mobitz I, whose "2° grau tipo I" holds every
    # other word of the query (a walk stored Mobitz I for a 2:1 block).
    ("BAV de segundo grau tipo 2:1", "AVB2_21"),
    ("BAV tipo 2:1", "AVB2_21"),
    ("BAV 2º grau tipo 2:1", "AVB2_21"),
    # A word no statement has says nothing of which statement is meant, after the word that does.
    ("FA crônica", "AF"),
    ("afib with RVR", "AF"),
    ("TV polimórfica", "VT"),
    ("QT prolongation", "LONG_QT"),
    ("marcapasso VVI", "PACE"),
    ("tremor muscular", "Q_BASELINE"),
    # A statement's words before its negation still find it ("... that does not prevent analysis").
    ("baseline interference", "Q_BASELINE"),
    # Negations that name what the statement's own negating term says is absent, or are still typed.
    ("TV não sustentada", "NSVT"),
    ("sem alterações significativas", "NORM"),
    ("FA de alta resposta ventricular", "AF"),
    ("FA com baixa resposta ventricular", "AF"),
]
# Queries that name nothing the taxonomy holds, or say a finding is absent: nothing may come first that
# would store a finding.
NOT = [
    ("QT curto", {"SHORT_PR", "LONG_QT"}),
    ("QTc curto", {"SHORT_PR", "LONG_QT"}),
    ("intervalo QT curto", {"SHORT_PR", "LONG_QT"}),
    ("short QT", {"SHORT_PR", "LONG_QT"}),
    ("short QTc", {"SHORT_PR", "LONG_QT"}),
    ("IAM sem supra de ST", {"STEMI", "SEPI_INJ"}),
    ("sem supra de ST", {"STEMI", "SEPI_INJ"}),
    ("não há supra de ST", {"STEMI", "SEPI_INJ"}),
    ("ausência de FA", {"AF"}),
    ("sem BRD", {"RBBB", "Q_NOSIGNAL_BLOCKING"}),
    ("sem sinais de isquemia", {"SENDO_ISCH", "Q_NOSIGNAL_BLOCKING"}),
    ("isquemia subepicárdica", {"SEPI_INJ", "SENDO_ISCH", "STEMI"}),
    ("subepicardial ischemia", {"SEPI_INJ", "SENDO_ISCH", "STEMI"}),
    ("ondas T negativas simétricas", {"SENDO_ISCH"}),
]


def test_report_phrasings_choose_the_statement_meant(search):
    wrong = not_first(search, MEANT)
    assert not wrong, f"{len(wrong)} of {len(MEANT)}:\n" + "\n".join(wrong)


def test_a_negated_or_absent_finding_chooses_none_of_the_statements_it_names(search):
    results = search(*[query for query, _ in NOT])
    wrong = [
        f"{query!r} -> {found[:3]}"
        for (query, never), found in zip(NOT, results, strict=True)
        if found and found[0][0] in never
    ]
    assert not wrong, f"{len(wrong)} of {len(NOT)}:\n" + "\n".join(wrong)


# Misspellings a cardiologist's walk through the reader page typed: the statement meant, read as spelt.
MISSPELT = [
    ("bradcardia sinusal", "SB"),
    ("bradcardia", "SB"),
    ("bloqueio de ramo esqerdo", "LBBB"),
    ("bloqueio completo de ramo esqerdo", "LBBB"),
    ("hipertrofia ventricular esqerda", "LVH_RE"),
    ("sobrecarga atrial esqerda", "LAE"),
    ("BAV Wenkebach", "AVB2_M1"),
    ("Wenkebach", "AVB2_M1"),
    ("fibrilacao atrail", "AF"),
    ("flutter atrail", "AFL"),
    ("taquicardia ventricualr", "VT"),
    ("taquicardia supraventricualr", "SVT"),
    ("ritmo sinsual", "SR"),
    ("ritmo juncinal", "JR"),
    ("BRD incompelto", "IRBBB"),
    ("Intervalo PR cuto", "SHORT_PR"),
    ("QT lonog", "LONG_QT"),
    ("BDSA", "LAFB"),
]


def test_a_misspelt_word_is_read_as_the_statements_word_and_says_how_it_was_read(search):
    ranked = search.page.evaluate(
        "qs => qs.map(q => StatementSearch.rank(window.idx, q).slice(0, 1)"
        ".map(m => [m.statement.code, m.tier, m.readAs]))",
        [query for query, _ in MISSPELT],
    )
    spelling = search.page.evaluate("StatementSearch.TIER.SPELLING")
    wrong = [
        f"{query!r} -> {found}, want {code}"
        for (query, code), found in zip(MISSPELT, ranked, strict=True)
        if not found or found[0][:2] != [code, spelling]
    ]
    assert not wrong, f"{len(wrong)} of {len(MISSPELT)}:\n" + "\n".join(wrong)
    assert ranked[0][0][2] == "bradicardia sinusal"  # of two readings, the one a name has
    assert dict(zip([q for q, _ in MISSPELT], ranked, strict=True))["Wenkebach"][0][2] == "wenckebach"
    # Said as the names write the words, with their accents and doubled letters, the query's own words
    # as typed: a walk read "fibrilacao atrial" and "aritmia sinusal", a misspelling of its own.
    read = search.page.evaluate(
        "qs => qs.map(q => StatementSearch.rank(window.idx, q)[0].readAs)",
        ["arritimia sinusal", "Fibrilação atrail", "bradcardia sinusal"],
    )
    assert read == ["arritmia sinusal", "Fibrilação atrial", "bradicardia sinusal"], read


def test_a_misspelling_never_turns_a_finding_into_its_opposite_or_its_absence_into_it(search):
    """A misspelt negation still negates, a misspelt side or length still opposes the other; a word
    that reads two ways choosing different statements chooses none."""
    absent, negative, short_qt, wide = search(
        "ausensia de FA", "ondas T negatvias simétricas", "intervalo QT cutro", "onda T invetida"
    )
    assert not absent or absent[0][0] != "AF"
    assert not negative or negative[0][0] != "SENDO_ISCH"
    assert not short_qt or short_qt[0][0] not in {"SHORT_PR", "LONG_QT"}
    assert not wide or wide[0][0] != "SENDO_ISCH"
    # Abbreviations are never respelt: an unknown three-letter one stays unknown.
    assert search("XRZ")[0] == []


TYPO_STUDY = """classes => {
  // Every word of five letters or more of every name and synonym, misspelt four ways (a middle letter
  // left out, two middle letters swapped, a middle letter changed, the last two swapped).
  const idx = StatementSearch.index(classes), tally = {right: 0, none: 0, wrong: []};
  for (const c of classes) for (const term of [c.name, c.name_pt, ...(c.synonyms || [])]) {
    const words = term.split(' ');
    words.forEach((w, i) => {
      if (w.length < 5 || !/^[\\p{L}]+$/u.test(w)) return;
      const m = Math.floor(w.length / 2), n = w.length;
      const typos = new Set([w.slice(0, m) + w.slice(m + 1), w.slice(0, m) + w[m + 1] + w[m] + w.slice(m + 2),
        w.slice(0, m) + 'x' + w.slice(m + 1), w.slice(0, n - 2) + w[n - 1] + w[n - 2]]);
      typos.delete(w);
      for (const typo of typos) {
        const query = [...words.slice(0, i), typo, ...words.slice(i + 1)].join(' ');
        const found = StatementSearch.rank(idx, query);
        if (!found.length) tally.none++;
        else if (found[0].statement.code === c.code) tally.right++;
        else tally.wrong.push(query + ' -> ' + found[0].statement.code + ', want ' + c.code);
      }
    });
  }
  return tally;
}"""


@pytest.mark.parametrize(
    ("taxonomy", "most_wrong"),
    [("tnmg.json", 5), ("ptbxl-scp.json", 0), ("cpsc2018.json", 0), ("code15.json", 0)],
)
def test_a_simulated_typo_study_finds_the_statement_meant_and_almost_never_another(
    page, taxonomy, most_wrong
):
    """Known truth: each misspelt name means its own statement. Before misspellings were read, TNMG's
    4,304 such queries chose it 2,533 times, nothing 1,508 times and another statement 263 times; the
    five left choose by a prefix or form that is a word of another statement ("Corell" starts "corrente")."""
    from annotations.services.taxonomy import SHIPPED_DIR

    load_search(page)
    classes = json.loads((SHIPPED_DIR / taxonomy).read_text(encoding="utf-8"))["classes"]
    tally = page.evaluate(TYPO_STUDY, classes)
    asked = tally["right"] + tally["none"] + len(tally["wrong"])
    assert len(tally["wrong"]) <= most_wrong, "\n".join(tally["wrong"])
    assert tally["right"] >= 0.99 * asked, tally


def test_among_the_closest_a_whole_word_outranks_the_start_of_one(search):
    """'inferior MI' names no statement whole; its 'MI' is a whole word of EIA's 'old MI' and only the
    start of MAR's 'marcapasso migratório': Enter must not record the multifocal atrial rhythm."""
    typed, finished = search("inferior MI", "inferior MI ")
    assert typed[0] == ["EIA", 4], typed[:3]
    assert finished[0] == ["EIA", 4], finished[:3]
    # In any order of the statements (the reader page lists them by group, MAR before EIA), a statement
    # that has MI as a word comes first: the old infarction, or the acute one (STEMI), never MAR.
    reordered = search.page.evaluate(
        "classes => StatementSearch.rank(StatementSearch.index(classes.slice().reverse()), 'inferior MI')"
        ".slice(0, 2).map(m => m.statement.code)",
        search.classes,
    )
    assert set(reordered) <= {"EIA", "STEMI"}, reordered


def _chosen(search, *queries: str) -> list[str | None]:
    """What Enter would choose for each query: the statement the page highlights, or None."""
    return search.page.evaluate(
        "qs => qs.map(q => { const c = StatementSearch.choice(StatementSearch.rank(window.idx, q));"
        " return c ? c.code : null; })",
        list(queries),
    )


# Findings the taxonomy has no statement of, whose words the repolarization statements share equally: a
# cardiologist's walk typed them and Enter handed on the first of three by the taxonomy's order alone.
UNDECIDED = ["T negativa", "ondas T negativas", "T wave inversion", "inverted T waves", "onda T invertida"]


def test_enter_chooses_none_where_the_closest_words_do_not_tell_the_statements_apart(search):
    results = search(*UNDECIDED)
    assert all(len({code for code, _ in found[:3]}) >= 2 for found in results if found), results
    assert _chosen(search, *UNDECIDED) == [None] * len(UNDECIDED)


def test_enter_chooses_the_closest_statement_where_its_words_single_it_out(search):
    """The qualified phrasings tier 4 exists for still go in with Enter, as do full matches and typos."""
    queries = ["área inativa inferior", "BAV 2º grau tipo II", "flutter atrial com BAV 2:1", "anterior STEMI"]
    queries += [query for query, _ in MEANT] + [query for query, _ in MISSPELT]
    ranked = [found[0][0] if found else None for found in search(*queries)]
    assert _chosen(search, *queries) == ranked
    assert _chosen(search, "", "xyzzy") == [None, None]


# Queries whose words match two statements equally on every ranking rule: the taxonomy's order alone made
# the first one first (a cardiologist's walk: "bloqueio" chose the bifascicular block, "alteração de
# repolarização" the primary one).
ALIKE = [
    "bloqueio de ramo",
    "bloqueio",
    "alteração de repolarização",
    "extrassístole",
    "Mobitz",
    "BAV 2 grau",
]


def test_enter_chooses_none_where_the_query_matches_statements_equally(search):
    results = search(*ALIKE)
    assert all(len(found) >= 2 for found in results), results
    assert _chosen(search, *ALIKE) == [None] * len(ALIKE)
    assert _chosen(search, "bloqueio de ramo direito", "extrassístole ventricular", "Mobitz II") == [
        "RBBB",
        "VPB",
        "AVB2_M2",
    ]


def test_a_statement_whose_name_adds_no_number_the_query_lacks_is_still_chosen_among_the_closest(search):
    """ "bloqueio AV nodal de primeiro grau": no term has "nodal", so the closest tier lists the AV
    blocks; the first-degree one holds the query's number and no other, Mobitz I's "2° grau Mobitz I" a
    second one, so the query does tell them apart. A re-walk found Enter choosing nothing for "first
    degree heart block" (now a synonym of 1dAVb, as "bloqueio cardíaco de 1º grau" is since the graded
    bundle branch blocks of TNMG 2026.5 hold "de 1º grau" too)."""
    closest = search("bloqueio AV nodal de primeiro grau")[0]
    assert closest[0] == ["1dAVb", 4] and closest[1] == ["AVB2_M1", 4]
    assert _chosen(search, "bloqueio AV nodal de primeiro grau") == ["1dAVb"]
    assert _chosen(search, "bloqueio cardíaco de primeiro grau", "first degree heart block") == ["1dAVb"] * 2
    assert _chosen(search, "T negativa") == [None]


# Queries that name a kind of finding and leave its degree, type or grade unsaid: the first listed was
# the one whose name adds the fewest words ("AV block": the advanced block; "BAV 2": the 2:1 block;
# "heart block": the complete block), or, among the closest, the one sharing most words whatever its
# degree ("2nd degree heart block": the first-degree block), and Enter stored it.
UNSAID = {
    "AV block": {"AVB_ADV", "AVB3", "1dAVb"},
    "bloqueio AV": {"AVB_ADV", "AVB3", "1dAVb"},
    "heart block": {"AVB3", "1dAVb"},
    "BAV 2": {"AVB2_21", "AVB2_M1", "AVB2_M2"},
    "BAV de 2º grau": {"AVB2_21", "AVB2_M1", "AVB2_M2"},
    "2nd degree heart block": {"AVB2_21", "AVB2_M1", "AVB2_M2"},
    "second degree heart block": {"AVB2_21", "AVB2_M1", "AVB2_M2"},
}


def test_enter_chooses_none_where_the_query_leaves_the_degree_or_type_unsaid(search):
    results = search(*UNSAID)
    for (query, meant), found in zip(UNSAID.items(), results, strict=True):
        assert meant <= {code for code, _ in found[:4]}, (query, found[:4])
    assert _chosen(search, *UNSAID) == [None] * len(UNSAID)


def test_a_query_on_its_way_to_one_statement_is_still_chosen(search):
    """What a query leaves unsaid of the first statement begins what it leaves of the others: the first is
    what it is on its way to ("bloqueio de ramo dir": the right bundle branch block, not the bifascicular
    blocks that add a fascicle to it). A number left unsaid never is: it is a degree, a type or a ratio."""
    queries = ["bloqueio de ramo dir", "Subepicardial injury current", "fibrilação atr", "BAV 1", "BAV 3"]
    assert _chosen(search, *queries) == ["RBBB", "SEPI_INJ", "AF", "1dAVb", "AVB3"]
    assert _chosen(search, "BAV 2", "Mobitz", "a") == [None, None, None]


# Queries a cardiologist's walk typed that stored a statement saying otherwise: the normal ECG for an
# abnormal one ("com alterações" read as "sem alterações" with its "sem" left out; "anormal" respelt as
# "normal"), the ST-elevation infarction for a non-ST-elevation one, the atrial flutter for a ventricular
# one, the bifascicular block for a trifascicular one, the finding an English "no" or "not" negates, a
# normal ECG for a normal axis, and the junctional escape for a complete AV block with one.
NEVER_CHOSEN = {
    "ECG com alterações": "NORM",
    "ECG alterado": "NORM",
    "ECG anormal": "NORM",
    "ECG anormal para idade": "NORM",
    "NSTEMI": "STEMI",
    "flutter ventricular": "AFL",
    "bloqueio trifascicular": "RBBB_LAFB",
    "no ST elevation": "REPOL_NS",
    "no sinus rhythm": "SR",
    "not sinus rhythm": "SR",
    "eixo normal para idade": "NORM",
    "BAVT com escape juncional": "ESC_J",
    "ausência de sinal": "Q_NOSIGNAL_BLOCKING",
    # A re-walk of the same 534 queries: a negation that says nothing of what a statement's own negating
    # term says, a qualifier no statement has, a word found only inside another.
    "not normal": "NORM",
    "ECG limítrofe": "NORM",
    "accelerated junctional rhythm": "AIVR",
}


def test_a_query_saying_otherwise_never_chooses_the_statement_it_resembles(search):
    chosen = _chosen(search, *NEVER_CHOSEN)
    wrong = [
        (query, got)
        for (query, resembled), got in zip(NEVER_CHOSEN.items(), chosen, strict=True)
        if got == resembled
    ]
    assert not wrong, wrong
    assert chosen == [None] * len(NEVER_CHOSEN), list(zip(NEVER_CHOSEN, chosen, strict=True))
    # Whole, the statements are still found, and their negations too.
    assert _chosen(search, "ECG sem alterações", "STEMI", "ausência de FA", "flutter atrial") == [
        "NORM",
        "STEMI",
        None,
        "AFL",
    ]
