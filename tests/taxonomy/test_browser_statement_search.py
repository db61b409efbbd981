"""Statement search on the reader page, in Chromium: what the reader types and chooses is what is stored.

One page load runs the whole table: for each query, `/`, type, and the highlighted statement must be the
expected one, Enter must choose exactly it, and Enter again takes it back off before the next query.
"""

from __future__ import annotations

import pytest

from annotations.models import Assignment
from annotations.services.taxonomy import SHIPPED_DIR, taxonomy_load, taxonomy_read_file
from tests.browser import screenshot_path
from tests.reading.helpers import queue, ref, shared_batch
from tests.reading.test_browser_reader import chosen, log_in, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# (what a cardiologist types, the statement it must choose). English and Brazilian Portuguese, codes,
# abbreviations, names, synonyms, and names typed without their accents.
QUERIES = [
    # the cases that chose the wrong statement or found nothing
    ("VPB", "VPB"),
    ("LAFB", "LAFB"),
    ("PAC", "SVPB"),
    ("sinus rhythm", "SR"),
    ("ventricular premature", "VPB"),
    ("extrassístoles ventriculares", "VPB"),
    ("PVC", "VPB"),
    ("1st degree", "1dAVb"),
    ("BAV 1", "1dAVb"),
    ("ritmo sinusal", "SR"),
    ("QTc", "LONG_QT"),
    # English: codes, abbreviations, names
    ("RBBB", "RBBB"),
    ("LBBB", "LBBB"),
    ("rbbb_lafb", "RBBB_LAFB"),
    ("IRBBB", "IRBBB"),
    ("LPFB", "LPFB"),
    ("AF", "AF"),
    ("afib", "AF"),
    ("atrial flutter", "AFL"),
    ("WPW", "WPW"),
    ("LVH", "LVH_RE"),
    ("RVH", "RVH"),
    ("LAE", "LAE"),
    ("complete heart block", "AVB3"),
    ("Wenckebach", "AVB2_M1"),
    ("mobitz II", "AVB2_M2"),
    ("2:1 AV block", "AVB2_21"),
    ("NSVT", "NSVT"),
    ("ventricular tachycardia", "VT"),
    ("SVT", "SVT"),
    ("sinus bradycardia", "SB"),
    ("sinus tachycardia", "ST"),
    ("sinus arrhythmia", "SA"),
    ("NSR", "SR"),
    ("left axis deviation", "LAD"),
    ("right axis", "RAD"),
    ("long QT", "LONG_QT"),
    ("short PR", "SHORT_PR"),
    ("early repolarization", "ERP"),
    ("poor R wave progression", "PRWP"),
    ("ST elevation", "SEPI_INJ"),
    ("STEMI", "STEMI"),
    ("pacemaker", "PACE"),
    ("lead reversal", "Q_ELECTRODES"),
    ("baseline wander", "Q_BASELINE"),
    ("normal", "NORM"),
    # Brazilian Portuguese: abbreviations and names, with and without accents
    ("extrassistole ventricular", "VPB"),
    ("ESV", "VPB"),
    ("BAV 1º grau", "1dAVb"),
    ("bav 1o grau", "1dAVb"),
    ("BRD", "RBBB"),
    ("BRE", "LBBB"),
    ("BDAS", "LAFB"),
    ("BDPI", "LPFB"),
    ("BAVT", "AVB3"),
    ("fibrilação atrial", "AF"),
    ("fibrilacao atrial", "AF"),
    ("FA", "AF"),
    ("flutter atrial", "AFL"),
    ("bradicardia sinusal", "SB"),
    ("taquicardia sinusal", "ST"),
    ("área eletricamente inativa", "EIA"),
    ("area eletricamente inativa", "EIA"),
    ("SVE", "LVH_RE"),
    ("sobrecarga atrial esquerda", "LAE"),
    ("SAD", "RAE"),
    ("extrassístole supraventricular", "SVPB"),
    ("ESSV", "SVPB"),
    ("TVNS", "NSVT"),
    ("taquicardia ventricular sustentada", "VT"),
    ("repolarização precoce", "ERP"),
    ("repolarizacao precoce", "ERP"),
    ("QT longo", "LONG_QT"),
    ("PR curto", "SHORT_PR"),
    ("ritmo juncional", "JR"),
    ("ritmo atrial ectopico", "EAR"),
    ("pre-excitacao", "WPW"),
    ("marcapasso", "PACE"),
    ("troca de eletrodos", "Q_ELECTRODES"),
    ("baixa voltagem periferica", "LOWV_LIMB"),
    ("progressao lenta de R", "PRWP"),
    ("supra de ST", "SEPI_INJ"),
    ("infra de ST", "SENDO_INJ"),
    ("bloqueio divisional anterossuperior", "LAFB"),
    ("dissociacao AV", "AVDISS"),
    ("escape juncional", "ESC_J"),
    ("ECG normal", "NORM"),
    ("arritmia sinusal", "SA"),
    ("taquicardia atrial multifocal", "MAT"),
    ("Brugada", "BRUGADA"),
    ("suspeita de Brugada", "BRUGADA_SUSP"),
    ("efeito digitalico", "REPOL_DIG"),
    # Phrased as reports write them rather than as the taxonomy does: ordinals in words, "AV", the
    # prepositions, the hyphenated spelling from before the 2009 reform, a noun where the name has the
    # adjective, a plural. Before, some found nothing and some chose a neighbour: "extra-sístoles
    # ventriculares" the supraventricular ones, "bloqueio AV de 1º grau" Mobitz I, "supradesnivelamento de
    # ST" an acute infarction, "bloqueio divisional antero-superior" the bifascicular block.
    ("bloqueio AV de 1º grau", "1dAVb"),
    ("bloqueio av 1 grau", "1dAVb"),
    ("BAV de primeiro grau", "1dAVb"),
    ("bloqueio atrioventricular de primeiro grau", "1dAVb"),
    ("BAV de segundo grau Mobitz I", "AVB2_M1"),
    ("second degree AV block Mobitz 2", "AVB2_M2"),
    ("bloqueio AV de terceiro grau", "AVB3"),
    ("bloqueio AV 2:1", "AVB2_21"),
    ("AV block 1", "1dAVb"),
    ("extra-sístoles ventriculares", "VPB"),
    ("extra-sístole supraventricular", "SVPB"),
    ("bloqueio divisional antero-superior", "LAFB"),
    ("bloqueio divisional postero-inferior", "LPFB"),
    ("supradesnivelamento de ST", "SEPI_INJ"),
    ("sobrecarga de átrio esquerdo", "LAE"),
    ("sobrecarga de ventrículo esquerdo", "LVH_RE"),
    ("hipertrofia de ventrículo direito", "RVH"),
    ("marca-passo", "PACE"),
    ("taquicardia supra-ventricular", "SVT"),
    ("non-sustained VT", "NSVT"),
    ("premature ventricular contractions", "VPB"),
    ("ventricular extrasystoles", "VPB"),
    ("bloqueio do ramo direito", "RBBB"),
    ("eixo desviado para a esquerda", "LAD"),
    # BRD and BRE are the bundle branch blocks: qualified as incomplete they are the conduction delays,
    # which the closest list used to give to the complete block because "BRD" is its synonym.
    ("BRD incompleto", "IRBBB"),
    ("BRE incompleto", "ILBBB"),
    ("BRD", "RBBB"),
    # Graded as Brazilian reports grade them: the first and second degrees are the conduction delays, the
    # third the complete block. "BRD de 1º grau" chose the complete block.
    ("BRD de 1º grau", "IRBBB"),
    ("BRD 2o grau", "IRBBB"),
    ("BRE de 1º grau", "ILBBB"),
    ("BRD de 3º grau", "RBBB"),
    ("BRE de 3º grau", "LBBB"),
    ("bloqueio de ramo direito de 1º grau", "IRBBB"),
    # A hedge, a frequency or a severity is not which finding: read as the finding itself (the reader marks
    # it uncertain with u). Once closest matches; now found whole.
    ("flutter atrial 2:1", "AFL"),
    ("ESV isoladas", "VPB"),
    ("extrassístoles ventriculares frequentes", "VPB"),
    ("extrassístoles supraventriculares isoladas", "SVPB"),
    ("BAV 2º grau tipo II", "AVB2_M2"),
    ("BAV 2º grau tipo I", "AVB2_M1"),
    ("taquicardia sinusal leve", "ST"),
    ("FA provável", "AF"),
    ("possible LAE", "LAE"),
    ("frequent PVCs", "VPB"),
    # Found by a cardiologist's walk choosing a neighbour or nothing.
    ("intervalo PR prolongado", "1dAVb"),
    ("BAV Mobitz 2", "AVB2_M2"),
    ("BAV completo", "AVB3"),
    ("IAM antigo", "EIA"),
    ("anterior STEMI", "STEMI"),
    ("flutter atrial com BAV 2:1", "AFL"),
    ("BAV de segundo grau tipo 2:1", "AVB2_21"),
]


def highlighted(page) -> str | None:
    return page.evaluate(
        "(document.querySelector('#statements .stmt.focus') || {dataset: {}}).dataset.code || null"
    )


def past_qualifiers(page) -> None:
    """A statement that says where (the inactive area, an injury current...) opens its qualifier chooser
    when chosen: Enter goes on from it, to the search."""
    if page.is_visible("#qualifier-chooser"):
        page.keyboard.press("Enter")


def search(page, query: str, *, typed: bool = True) -> None:
    """`/` then the query: typed key by key, or entered at once as a paste would (one input event)."""
    page.keyboard.press("/")
    if typed:
        page.keyboard.type(query)
    else:
        page.keyboard.insert_text(query)


def open_first_exam(page, live_server, batch, reader) -> Assignment:
    first = queue(batch, reader)[0]
    log_in(page, live_server, reader.username)
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    return first


def test_enter_chooses_the_statement_each_query_means_in_both_languages(
    live_server, page, ana, bruno, diego, tnmg
):
    assert len(QUERIES) >= 60
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)
    first = open_first_exam(page, live_server, batch, ana)
    wrong = []
    for number, (query, expected) in enumerate(QUERIES):
        search(page, query, typed=number < 11)  # the first ones key by key, as they were reported
        shown = highlighted(page)
        page.keyboard.press("Enter")
        got = chosen(page)
        past_qualifiers(page)
        page.keyboard.press("Enter")  # the same highlighted statement: off again before the next query
        left = chosen(page)
        page.keyboard.press("Escape")
        if (shown, got, left) != (expected, expected, "nothing yet"):
            wrong.append(
                f"{query!r}: highlighted {shown}, Enter chose {got!r}, left {left!r}; want {expected}"
            )
    assert not wrong, f"{len(wrong)} of {len(QUERIES)} queries:\n" + "\n".join(wrong)

    # The list shows the matching statements, best first. Right or left, "bloqueio de ramo" does not say:
    # nothing is highlighted until the reader moves to one (before, the taxonomy's order chose the right).
    search(page, "bloqueio de ramo")
    rows = page.evaluate(
        "Array.from(document.querySelectorAll('#statements .stmt')).filter(r => r.offsetParent !== null)"
        ".map(r => [r.dataset.code, r.getBoundingClientRect().top])"
    )
    codes = [code for code, _ in sorted(rows, key=lambda row: row[1])]
    assert codes[:2] == ["RBBB", "LBBB"] and "AF" not in codes and "NORM" not in codes
    assert highlighted(page) is None
    assert (
        page.inner_text("#no-match")
        == "Several statements match “bloqueio de ramo” equally: choose one with ↓ or the mouse."
    )
    page.keyboard.press("Enter")
    assert chosen(page) == "nothing yet"
    # Down and up move the highlight, which is visible; Enter chooses the highlighted one.
    page.keyboard.press("ArrowDown")
    assert highlighted(page) == "RBBB"
    assert page.evaluate(
        "getComputedStyle(document.querySelector('#statements .stmt.focus')).outlineStyle"
    ) not in ("", "none")
    page.screenshot(path=screenshot_path("reader-search"))
    page.keyboard.press("ArrowDown")
    assert highlighted(page) == "LBBB"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    assert chosen(page) == "LBBB"
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")

    # What is chosen by search is what is stored.
    for query in ("PVC", "BAV 1", "ritmo sinusal", "BRD", "sobrecarga atrial esquerda"):
        search(page, query)
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
    with page.expect_response(lambda response: "/submit/" in response.url) as submitted:
        page.keyboard.press("Enter")
    assert submitted.value.status == 200
    read = first.annotations.get()
    assert sorted(label.diagnostic_class.code for label in read.labels.all()) == [
        "1dAVb",
        "LAE",
        "RBBB",
        "SR",
        "VPB",
    ]


def test_after_esc_the_chosen_statement_keeps_focus_and_u_marks_it_uncertain(
    live_server, page, ana, bruno, diego, tnmg
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)
    first = open_first_exam(page, live_server, batch, ana)
    search(page, "PVC")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    assert page.input_value("#search") == ""
    assert highlighted(page) == "VPB"
    page.keyboard.press("u")
    assert chosen(page) == "VPB?"
    # Esc without choosing keeps the highlighted statement in focus too.
    search(page, "ritmo sinusal")
    page.keyboard.press("Escape")
    assert highlighted(page) == "SR"
    page.keyboard.press(" ")
    assert chosen(page) == "SR, VPB?"
    with page.expect_response(lambda response: "/submit/" in response.url) as submitted:
        page.keyboard.press("Enter")
    assert submitted.value.status == 200
    read = first.annotations.get()
    assert sorted((label.diagnostic_class.code, label.uncertain) for label in read.labels.all()) == [
        ("SR", False),
        ("VPB", True),
    ]


# Reports qualify a statement with words no name carries (where, how often, how fast): the statement
# qualified is the one meant, and the list says it shows the closest ones.
CLOSEST_QUERIES = [
    ("área inativa inferior", "EIA"),
    ("AEI inferior", "EIA"),
    ("inferior wall old infarction", "EIA"),
    ("flutter atrial com condução variável", "AFL"),
    ("atrial fibrillation with rapid ventricular response", "AF"),
    ("taquicardia ventricular monomórfica não sustentada", "NSVT"),
    ("taquicardia ventricular monomórfica sustentada", "VT"),
]


def test_words_no_statement_has_list_the_closest_statements_and_say_so(
    live_server, page, ana, bruno, diego, tnmg
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)
    open_first_exam(page, live_server, batch, ana)
    wrong = []
    for query, expected in CLOSEST_QUERIES:
        search(page, query, typed=False)
        shown, notice = highlighted(page), page.inner_text("#no-match")
        page.keyboard.press("Enter")
        got = chosen(page)
        past_qualifiers(page)
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        if (shown, got) != (expected, expected) or "closest" not in notice or query not in notice:
            wrong.append(f"{query!r}: highlighted {shown}, Enter chose {got!r}, notice {notice!r}")
    assert not wrong, f"{len(wrong)} of {len(CLOSEST_QUERIES)}:\n" + "\n".join(wrong)
    # A query that has all its words in a statement shows no notice; one that has none, nothing else.
    search(page, "flutter atrial", typed=False)
    assert highlighted(page) == "AFL" and not page.is_visible("#no-match")
    page.keyboard.press("Escape")
    search(page, "xyzzy plugh", typed=False)
    assert highlighted(page) is None
    assert page.inner_text("#no-match") == "No statement matches “xyzzy plugh”."
    page.keyboard.press("Escape")
    search(page, "área inativa inferior", typed=False)
    page.screenshot(path=screenshot_path("reader-search-closest"))


def test_where_the_closest_are_alike_enter_chooses_nothing_until_the_reader_picks_one(
    live_server, page, ana, bruno, diego, tnmg
):
    """Before, "T negativa" (a negative T wave, which no TNMG statement names) highlighted the primary
    repolarization abnormality, first of three alike by the taxonomy's order, and Enter stored it; in
    English, "T wave inversion" stored the nonspecific one (a cardiologist's walk)."""
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)
    first = open_first_exam(page, live_server, batch, ana)
    for query in ("T negativa", "T wave inversion"):
        search(page, query)
        listed = page.evaluate(
            "[...document.querySelectorAll('#statements .stmt:not([hidden])')]"
            ".sort((a, b) => a.style.order - b.style.order).map(r => r.dataset.code)"
        )
        assert set(listed) == {"REPOL_PRIM", "REPOL_NS", "REPOL_SEC"}, listed
        assert highlighted(page) is None
        assert "as close" in page.inner_text("#no-match") and query in page.inner_text("#no-match")
        page.keyboard.press("Enter")
        assert chosen(page) == "nothing yet"
        page.keyboard.press("Escape")
    search(page, "T negativa")
    page.screenshot(path=screenshot_path("reader-search-undecided"))
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert highlighted(page) == "REPOL_NS"
    page.keyboard.press("Enter")
    assert chosen(page) == "REPOL_NS"
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.getElementById('save-state').textContent === 'Draft saved'")
    draft = Assignment.objects.get(pk=first.pk).annotations.get(is_current=True)
    assert [label.diagnostic_class.code for label in draft.labels.all()] == ["REPOL_NS"]


def test_a_misspelt_query_chooses_the_statement_meant_and_says_how_it_was_read(
    live_server, page, ana, bruno, diego, tnmg
):
    """Before, "bloqueio de ramo esqerdo" highlighted the right bundle branch block (the closest by the
    words both blocks share) and Enter stored it; "bradcardia" found nothing."""
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)
    first = open_first_exam(page, live_server, batch, ana)
    for query, expected, read_as in (
        ("bloqueio de ramo esqerdo", "LBBB", "bloqueio de ramo esquerdo"),
        ("bradcardia sinusal", "SB", "bradicardia sinusal"),
    ):
        search(page, query)
        assert highlighted(page) == expected, query
        assert page.inner_text("#no-match") == f"No statement has “{query}”; read as “{read_as}”."
        page.keyboard.press("Enter")
        if expected == "SB":
            page.screenshot(path=screenshot_path("reader-search-respelt"))
        page.keyboard.press("Escape")
    assert chosen(page) == "SB, LBBB"  # in the taxonomy's order
    with page.expect_response(lambda response: "/submit/" in response.url) as submitted:
        page.keyboard.press("Enter")
    assert submitted.value.status == 200
    read = first.annotations.get()
    assert sorted(label.diagnostic_class.code for label in read.labels.all()) == ["LBBB", "SB"]


# A CODE-15% batch read in Portuguese: what a Brazilian cardiologist types, and the statement it means.
CODE15_QUERIES = [("FA", "AF"), ("BRD", "RBBB"), ("BRE", "LBBB"), ("BAV 1", "1dAVb"), ("bradicardia", "SB")]


def test_a_code15_batch_in_portuguese_shows_tnmg_names_and_finds_what_readers_type(
    live_server, browser, ana, bruno, diego
):
    """CODE-15%'s six classes are TNMG statements: in Portuguese they read as TNMG reports write them, and
    the abbreviations Brazilian readers type find them."""
    code15 = taxonomy_load(taxonomy_read_file(SHIPPED_DIR / "code15.json")).taxonomy
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=code15)
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="pt-BR")
    page = context.new_page()
    open_first_exam(page, live_server, batch, ana)
    names = {code: page.inner_text(f"#stmt-{code} .name") for code in ("AF", "RBBB", "1dAVb", "ST")}
    assert names == {
        "AF": "Fibrilação atrial",
        "RBBB": "Bloqueio de ramo direito",
        "1dAVb": "Bloqueio atrioventricular de 1° grau",
        "ST": "Taquicardia sinusal",
    }
    assert "Anormalidades" in page.inner_text("#statements")
    wrong = []
    for query, expected in CODE15_QUERIES:
        search(page, query)
        shown = highlighted(page)
        page.keyboard.press("Escape")
        if shown != expected:
            wrong.append(f"{query!r}: highlighted {shown}; want {expected}")
    assert not wrong, "\n".join(wrong)
    page.screenshot(path=screenshot_path("reader-code15-pt-br"))
    context.close()


def test_a_query_leaving_the_degree_unsaid_lists_the_blocks_and_enter_waits(
    live_server, page, ana, bruno, diego, tnmg
):
    """ "AV block" highlighted the advanced block (its name adds one word to the query) and "BAV 2" the
    2:1 block, and Enter stored them; a block's degree or type is the reader's to say."""
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)
    first = open_first_exam(page, live_server, batch, ana)
    for query, listed in (
        ("AV block", {"AVB_ADV", "AVB3", "1dAVb"}),
        ("BAV 2", {"AVB2_21", "AVB2_M1", "AVB2_M2"}),
    ):
        search(page, query)
        shown = page.evaluate(
            "[...document.querySelectorAll('#statements .stmt:not([hidden])')]"
            ".sort((a, b) => a.style.order - b.style.order).slice(0, 4).map(r => r.dataset.code)"
        )
        assert listed <= set(shown), shown
        assert highlighted(page) is None
        notice = page.inner_text(
            "#no-match"
        )  # "matches equally" or "does not single out", as they tie or not
        assert query in notice and "choose one with ↓" in notice, notice
        page.keyboard.press("Enter")
        assert chosen(page) == "nothing yet"
        page.keyboard.press("Escape")
    # Found only inside another word ("ventricular" in "atrioventricular"): listed, not chosen, and said so.
    search(page, "flutter ventricular")
    assert highlighted(page) is None
    assert page.inner_text("#no-match").startswith("“flutter ventricular” does not single out one statement")
    page.keyboard.press("Escape")
    search(page, "BAV de segundo grau tipo 2:1")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.getElementById('save-state').textContent === 'Draft saved'")
    draft = Assignment.objects.get(pk=first.pk).annotations.get(is_current=True)
    assert [label.diagnostic_class.code for label in draft.labels.all()] == ["AVB2_21"]
