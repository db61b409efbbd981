"""TNMG 2026: sinus rhythm is codable, synonyms travel with the file, and older databases move on cleanly."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from annotations.models import Taxonomy
from annotations.services.taxonomy import (
    DEFAULT_TAXONOMY_FILE,
    SHIPPED_DIR,
    TaxonomyError,
    taxonomy_load,
    taxonomy_read_file,
)
from tests.reading.helpers import labels, queue, ref, shared_batch

pytestmark = pytest.mark.django_db

API = "/api/v1/reading/assignments"
ARCHIVED_2020 = SHIPPED_DIR / "archive" / "tnmg-2020.json"
ARCHIVED_2026 = SHIPPED_DIR / "archive" / "tnmg-2026.json"
ARCHIVED_2026_1 = SHIPPED_DIR / "archive" / "tnmg-2026.1.json"
ARCHIVED_2026_2 = SHIPPED_DIR / "archive" / "tnmg-2026.2.json"
ARCHIVED_2026_3 = SHIPPED_DIR / "archive" / "tnmg-2026.3.json"
ARCHIVED_2026_4 = SHIPPED_DIR / "archive" / "tnmg-2026.4.json"
ARCHIVED_2026_5 = SHIPPED_DIR / "archive" / "tnmg-2026.5.json"


def test_the_shipped_tnmg_is_version_2026_5_with_sinus_rhythm_and_synonyms():
    taxonomy = taxonomy_load(taxonomy_read_file(DEFAULT_TAXONOMY_FILE)).taxonomy
    assert (taxonomy.key, taxonomy.version) == ("tnmg", "2026.6")
    assert taxonomy.classes.count() == 74
    sr = taxonomy.classes.get(code="SR")
    assert (sr.name, sr.name_pt, sr.group, sr.kind) == (
        "Sinus rhythm",
        "Ritmo sinusal",
        "rhythm",
        "diagnostic",
    )
    assert "sinus rhythm" in taxonomy.provenance.lower() and "2020" in taxonomy.provenance
    assert {"PVC", "ESV", "extrassístole ventricular"} <= set(taxonomy.classes.get(code="VPB").synonyms)
    assert {"BAV 1º grau", "1st degree AV block"} <= set(taxonomy.classes.get(code="1dAVb").synonyms)
    assert "BRD" in taxonomy.classes.get(code="RBBB").synonyms
    assert "BDAS" in taxonomy.classes.get(code="LAFB").synonyms
    # Every statement carries synonyms a reader may type.
    assert not taxonomy.classes.filter(synonyms=[]).exists()


def test_the_archived_2020_file_is_the_content_older_databases_froze():
    parsed = taxonomy_read_file(ARCHIVED_2020)
    assert (parsed.key, parsed.version, len(parsed.classes)) == ("tnmg", "2020", 73)
    assert "SR" not in {c["code"] for c in parsed.classes}
    # Same content hash as the file 2020 databases loaded (it carried no 'key' and no synonyms).
    document = json.loads(ARCHIVED_2020.read_text(encoding="utf-8"))
    del document["key"]
    from annotations.services.taxonomy import taxonomy_parse

    assert taxonomy_parse(document, default_key="tnmg").content_sha256 == parsed.content_sha256


def test_the_archived_2026_file_is_the_content_2026_databases_froze_and_2026_1_only_adds_sets():
    """2026.1 changes no statement: it adds exclusive sets, so a batch frozen on 2026 keeps its content and
    a new batch refuses what 2026 let through (a sinus bradycardia in atrial fibrillation, a diagnosis on a
    tracing said to have no analysable signal)."""
    old, new = taxonomy_read_file(ARCHIVED_2026), taxonomy_read_file(ARCHIVED_2026_1)
    assert (old.key, old.version, len(old.classes)) == ("tnmg", "2026", 74)
    assert new.version == "2026.1"
    assert old.classes == new.classes and old.groups == new.groups
    assert old.exclusive_sets == new.exclusive_sets[: len(old.exclusive_sets)]
    added = new.exclusive_sets[len(old.exclusive_sets) :]
    assert ["SB", "AF"] in added and ["ST", "VT"] in added and ["SA", "AFL"] in added
    assert ["Q_NOSIGNAL_BLOCKING", "*diagnostic*"] in added
    assert ["SB", "SA"] not in added and ["AF", "AFL"] not in added


def test_2026_2_changes_synonyms_only_and_takes_a_negative_t_wave_from_the_subendocardial_ischaemia():
    """In the Brazilian Society of Cardiology's nomenclature a negative, symmetric T wave is subepicardial
    ischaemia, which the list does not hold: its synonyms handed readers the subendocardial statement. The
    other changes add phrasings a cardiologist's walk found choosing a neighbour."""
    old, new = taxonomy_read_file(ARCHIVED_2026_1), taxonomy_read_file(ARCHIVED_2026_2)
    assert (old.version, new.version) == ("2026.1", "2026.2")
    assert old.groups == new.groups and old.exclusive_sets == new.exclusive_sets
    changed = {a["code"]: (a, b) for a, b in zip(old.classes, new.classes, strict=True) if a != b}
    assert set(changed) == {"SENDO_ISCH", "1dAVb", "AVB3", "AVB2_M1", "AVB2_M2", "EIA", "AFL"}
    for before, after in changed.values():
        assert {k: v for k, v in before.items() if k != "synonyms"} == {
            k: v for k, v in after.items() if k != "synonyms"
        }
    before, after = changed["SENDO_ISCH"]
    gone = set(before["synonyms"]) - set(after["synonyms"])
    assert gone == {"T-wave inversion", "inversão de onda T", "onda T invertida", "T negativa"}
    for code in set(changed) - {"SENDO_ISCH"}:
        before, after = changed[code]
        assert set(before["synonyms"]) < set(after["synonyms"]), code  # only added
    assert "BAV completo" in changed["AVB3"][1]["synonyms"]


def test_2026_3_keeps_atrial_fibrillation_and_flutter_from_what_p_waves_and_the_pr_say():
    """Fibrillation has no P wave and flutter conducts in its own ratio, so neither goes with a PR interval
    that is long or short, or with a second-degree AV block; a cardiologist's walk submitted atrial
    fibrillation with a first-degree AV block. Statements and groups are 2026.2's, with synonyms added."""
    old, new = taxonomy_read_file(ARCHIVED_2026_2), taxonomy_read_file(ARCHIVED_2026_3)
    assert (old.version, new.version) == ("2026.2", "2026.3")
    assert old.groups == new.groups
    assert old.exclusive_sets == new.exclusive_sets[: len(old.exclusive_sets)]
    added = new.exclusive_sets[len(old.exclusive_sets) :]
    blocks = ["1dAVb", "AVB2_M1", "AVB2_M2", "AVB2_21", "SHORT_PR"]
    assert added == [[rhythm, other] for rhythm in ("AF", "AFL") for other in blocks]
    changed = {a["code"]: (a, b) for a, b in zip(old.classes, new.classes, strict=True) if a != b}
    assert set(changed) == {"EIA", "NORM", "1dAVb"}
    for before, after in changed.values():
        assert {k: v for k, v in before.items() if k != "synonyms"} == {
            k: v for k, v in after.items() if k != "synonyms"
        }
        assert after["synonyms"][: len(before["synonyms"])] == before["synonyms"]
    assert "zona inativa" in changed["EIA"][1]["synonyms"]
    assert "sem alterações" in changed["NORM"][1]["synonyms"]


def test_2026_4_keeps_a_second_degree_block_to_one_type_and_adds_the_synonyms_a_walk_missed():
    """Mobitz I and Mobitz II together were accepted; AV nodal re-entry was handed the junctional
    tachycardia, and a dozen phrasings listed nothing. Statements, groups and earlier sets are 2026.3's."""
    old, new = taxonomy_read_file(ARCHIVED_2026_3), taxonomy_read_file(ARCHIVED_2026_4)
    assert (old.version, new.version) == ("2026.3", "2026.4")
    assert old.groups == new.groups
    assert new.exclusive_sets == [*old.exclusive_sets, ["AVB2_M1", "AVB2_M2"]]
    changed = {a["code"]: (a, b) for a, b in zip(old.classes, new.classes, strict=True) if a != b}
    assert set(changed) == {
        "SVT",
        "VPB",
        "SVPB",
        "NORM",
        "SEPI_INJ",
        "SENDO_INJ",
        "WPW",
        "LVH_RE",
        "JR",
        "Q_ELECTRODES",
    }
    for before, after in changed.values():
        assert {k: v for k, v in before.items() if k != "synonyms"} == {
            k: v for k, v in after.items() if k != "synonyms"
        }
        assert after["synonyms"][: len(before["synonyms"])] == before["synonyms"]
    assert "taquicardia por reentrada nodal" in changed["SVT"][1]["synonyms"]


def test_2026_5_gives_each_degree_of_a_bundle_branch_block_to_the_statement_it_is():
    """Brazilian reports grade a bundle branch block: the first and second degrees are the conduction
    delays (incomplete blocks), the third the complete block. 'BRD de 1º grau' chose the complete block,
    whose synonym 'BRD' it holds. Only synonyms change; everything else is 2026.4's."""
    old, new = taxonomy_read_file(ARCHIVED_2026_4), taxonomy_read_file(ARCHIVED_2026_5)
    assert (old.version, new.version) == ("2026.4", "2026.5")
    assert (old.groups, old.exclusive_sets) == (new.groups, new.exclusive_sets)
    changed = {a["code"]: (a, b) for a, b in zip(old.classes, new.classes, strict=True) if a != b}
    assert set(changed) == {"RBBB", "LBBB", "IRBBB", "ILBBB", "1dAVb"}
    added = {}
    for code, (before, after) in changed.items():
        assert {k: v for k, v in before.items() if k != "synonyms"} == {
            k: v for k, v in after.items() if k != "synonyms"
        }
        assert after["synonyms"][: len(before["synonyms"])] == before["synonyms"]
        added[code] = after["synonyms"][len(before["synonyms"]) :]
    assert {"BRD de 1º grau", "BRD de 2º grau"} <= set(added["IRBBB"])
    assert {"BRE de 1º grau", "BRE de 2º grau"} <= set(added["ILBBB"])
    assert "BRD de 3º grau" in added["RBBB"] and "BRE de 3º grau" in added["LBBB"]
    # "de 1º grau" is no longer the AV block's alone: the heart block is said whole.
    assert added["1dAVb"] == ["bloqueio cardíaco de 1º grau"]


@pytest.mark.parametrize(
    "codes",
    [
        ("AVB2_M1", "AVB2_M2"),
        ("SB", "AF"),
        ("ST", "AFL"),
        ("SA", "JR"),
        ("Q_NOSIGNAL_BLOCKING", "RBBB"),
        ("AF", "1dAVb"),
        ("AFL", "AVB2_M1"),
        ("AF", "SHORT_PR"),
    ],
)
def test_a_read_naming_statements_2026_1_excludes_together_is_refused(codes, client_for, ana, bruno, diego):
    submit = _one_exam_read_by(ana, bruno, diego, client_for)
    refused = submit(codes)
    assert refused.status_code == 400 and "cannot be chosen together" in refused.json()["detail"]
    assert submit(("SB", "SA")).status_code == 200


@pytest.mark.parametrize("codes", [("AF", "AVB3"), ("AF", "WPW"), ("AFL", "AVB_ADV"), ("SR", "1dAVb")])
def test_a_block_or_pre_excitation_that_shows_in_fibrillation_or_flutter_is_allowed(
    codes, client_for, ana, bruno, diego
):
    answer = _one_exam_read_by(ana, bruno, diego, client_for)(codes)
    assert answer.status_code == 200, answer.content


def _one_exam_read_by(ana, bruno, diego, client_for):
    """A submit of ana's one exam of a batch on the shipped TNMG, as the reader page sends it."""
    tnmg = taxonomy_load(taxonomy_read_file(DEFAULT_TAXONOMY_FILE), make_default=True).taxonomy
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]

    def submit(codes):
        return client_for(ana).post(
            f"{API}/{ref(first)}/submit/",
            {"labels": labels(*codes), "revision": 0},
            content_type="application/json",
        )

    return submit


def test_an_older_database_gets_2026_as_default_and_its_batches_keep_2020(ana, bruno, diego):
    old = taxonomy_load(taxonomy_read_file(ARCHIVED_2020), make_default=True).taxonomy
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=old, exams=1)
    old.refresh_from_db()
    assert old.frozen_at is not None

    call_command("load_taxonomy", "--shipped")

    new = Taxonomy.objects.get(is_default=True)
    assert (new.key, new.version) == ("tnmg", "2026.6")
    old.refresh_from_db()
    assert old.classes.count() == 73 and not old.is_default and old.frozen_at is not None
    batch.refresh_from_db()
    assert batch.taxonomy_id == old.pk
    call_command("load_taxonomy", "--shipped")  # again: nothing changes, nothing refused
    assert Taxonomy.objects.get(is_default=True).pk == new.pk


def test_a_newer_tnmg_version_chosen_as_default_stays_when_the_shipped_ones_load_again():
    """`make run` loads the shipped taxonomies at every start. A group that loaded TNMG 2026.10 as its
    default got 2026.3 back as the default at the next start, and new batches took it; 2026.10 is newer
    (its parts compare as numbers), so it stays."""
    document = json.loads(DEFAULT_TAXONOMY_FILE.read_text(encoding="utf-8"))
    document["version"] = "2026.10"
    from annotations.services.taxonomy import taxonomy_parse

    newer = taxonomy_load(taxonomy_parse(document, default_key="tnmg"), make_default=True).taxonomy
    call_command("load_taxonomy", "--shipped")
    assert Taxonomy.objects.get(is_default=True).pk == newer.pk
    assert Taxonomy.objects.filter(key="tnmg", version="2026.6").exists()


def test_a_default_of_another_key_chosen_on_purpose_stays():
    code15 = taxonomy_load(taxonomy_read_file(SHIPPED_DIR / "code15.json"), make_default=True).taxonomy
    call_command("load_taxonomy", "--shipped")
    assert Taxonomy.objects.get(is_default=True).pk == code15.pk


@pytest.mark.parametrize(
    ("codes", "refused_with"),
    [
        (("NORM", "SR"), None),  # a normal ECG is in sinus rhythm
        (("SR", "SA"), None),
        (("SR", "VPB", "1dAVb"), None),
        (("NORM", "AF"), ("Normal ECG", "Atrial fibrillation")),
        (("SR", "AF"), ("Sinus rhythm", "Atrial fibrillation")),
        (("SR", "SB"), ("Sinus rhythm", "Sinus bradycardia")),
        (("SR", "JR"), ("Sinus rhythm", "Junctional rhythm")),
    ],
)
def test_sinus_rhythm_goes_with_normal_but_not_with_another_primary_rhythm(
    client_for, ana, bruno, diego, tnmg, codes, refused_with
):
    anas = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    response = client_for(ana).post(
        f"{API}/{ref(anas)}/submit/",
        {"labels": labels(*codes), "revision": 0},
        content_type="application/json",
    )
    if refused_with is None:
        assert response.status_code == 200, response.json()
        stored = anas.annotations.get().labels.values_list("diagnostic_class__code", flat=True)
        assert sorted(stored) == sorted(codes)
    else:
        assert response.status_code == 400
        assert all(name in response.json()["detail"] for name in refused_with)


def test_an_exemption_must_name_a_real_code_and_go_with_a_token(tmp_path):
    document = {
        "name": "Tiny",
        "version": "1",
        "groups": ["g"],
        "exclusive_sets": [["N", "*diagnostic*", "!XX"], ["N", "!A"]],
        "classes": [{"code": "N", "name": "Normal", "group": "g"}, {"code": "A", "name": "A", "group": "g"}],
    }
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(document))
    with pytest.raises(TaxonomyError) as refused:
        taxonomy_read_file(path)
    assert "exclusive_sets[0] names unknown codes ['!XX']" in str(refused.value)
    assert "exclusive_sets[1] exempts a code ('!CODE') but has no '*kind*' token" in str(refused.value)


@pytest.mark.parametrize(
    ("key", "old_version", "new_version", "count"),
    [("code15", "2026", "2026.1", 6), ("cpsc2018", "2018", "2018.1", 9)],
)
def test_the_closed_lists_gain_portuguese_names_in_a_new_version_and_the_old_one_is_archived(
    key, old_version, new_version, count
):
    """Only names and synonyms change: the codes, groups, cross-maps and exclusive sets are the archived
    version's, which batches that froze it keep."""
    old = taxonomy_read_file(SHIPPED_DIR / "archive" / f"{key}-{old_version}.json")
    new = taxonomy_read_file(SHIPPED_DIR / f"{key}.json")
    assert (old.key, old.version, new.key, new.version) == (key, old_version, key, new_version)
    assert len(new.classes) == len(old.classes) == count
    assert not any(c["name_pt"] for c in old.classes) and all(c["name_pt"] for c in new.classes)
    assert all(c["synonyms"] for c in new.classes)
    unchanged = ("code", "name", "group", "kind", "maps")
    assert [{f: c[f] for f in unchanged} for c in new.classes] == [
        {f: c[f] for f in unchanged} for c in old.classes
    ]
    assert new.exclusive_sets == old.exclusive_sets and new.none_of_these == old.none_of_these
    tnmg = {c["code"]: c for c in taxonomy_read_file(DEFAULT_TAXONOMY_FILE).classes}
    same_statement = [c for c in new.classes if c["code"] not in {"Normal", "PAC", "STD", "STE"}]
    assert all(c["name_pt"] == tnmg[c["maps"]["tnmg"]]["name_pt"] for c in same_statement)


def test_a_database_whose_code15_2026_is_frozen_loads_2026_1_beside_it(ana, bruno, diego):
    old = taxonomy_load(taxonomy_read_file(SHIPPED_DIR / "archive" / "code15-2026.json")).taxonomy
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=old)
    call_command("load_taxonomy", "--shipped")
    new = Taxonomy.objects.get(key="code15", version="2026.1")
    assert new.pk != old.pk and new.classes.get(code="AF").name_pt == "Fibrilação atrial"
    batch.refresh_from_db()
    assert batch.taxonomy_id == old.pk and not batch.taxonomy.classes.get(code="AF").name_pt


def test_an_older_version_is_marked_as_such_where_a_coordinator_chooses_a_taxonomy(client_for, diego):
    """A database that had CODE-15% 2026 before 2026.1 offers both: the older one still designs a batch
    (a study that continues an earlier one), but the designer and the taxonomy list say which is current."""
    older = taxonomy_load(taxonomy_read_file(SHIPPED_DIR / "archive" / "code15-2026.json")).taxonomy
    call_command("load_taxonomy", "--shipped")
    client = client_for(diego)
    designer = client.get("/batches/new/").content.decode()
    assert "CODE-15% six abnormalities (code15 2026) · superseded by 2026.1</option>" in designer
    assert "CODE-15% six abnormalities (code15 2026.1)</option>" in designer
    listing = client.get("/taxonomies/").content.decode()
    row = listing[listing.index(f'href="/taxonomies/{older.pk}/"') :].split("</tr>")[0]
    assert "superseded by 2026.1" in row
    current = Taxonomy.objects.get(key="code15", version="2026.1")
    row = listing[listing.index(f'href="/taxonomies/{current.pk}/"') :].split("</tr>")[0]
    assert "superseded" not in row


def test_ptbxl_1_0_3_1_names_every_statement_in_portuguese_and_changes_nothing_else():
    old = taxonomy_read_file(SHIPPED_DIR / "archive" / "ptbxl-scp-1.0.3.json")
    new = taxonomy_read_file(SHIPPED_DIR / "archive" / "ptbxl-scp-1.0.3.1.json")
    assert (old.version, new.version, len(new.classes)) == ("1.0.3", "1.0.3.1", 71)
    assert all(c["name_pt"] for c in new.classes)
    unchanged = ("code", "name", "group", "kind", "maps")
    assert [{f: c[f] for f in unchanged} for c in new.classes] == [
        {f: c[f] for f in unchanged} for c in old.classes
    ]
    assert new.exclusive_sets == old.exclusive_sets
    by_code = {c["code"]: c for c in new.classes}
    tnmg = {c["code"]: c for c in taxonomy_read_file(DEFAULT_TAXONOMY_FILE).classes}
    assert by_code["AFIB"]["name_pt"] == tnmg["AF"]["name_pt"] and "FA" in by_code["AFIB"]["synonyms"]
    # Mapped to a narrower TNMG statement (2:1 AV block): worded on its own, not as that statement.
    assert by_code["2AVB"]["name_pt"] == "Bloqueio atrioventricular de 2º grau"
    assert by_code["2AVB"]["name_pt"] != tnmg["AVB2_21"]["name_pt"]


def test_ptbxl_1_0_3_2_gives_each_synonym_to_the_statement_it_names_and_changes_nothing_else():
    """1.0.3.1 took its synonyms from the TNMG statements it maps to, where PTB-XL has finer statements:
    "prolonged PR" was first-degree AV block's though PTB-XL has LPR, "PSVT" and "paroxysmal SVT" the
    supraventricular tachycardia's though PTB-XL has PSVT; "RBBB" and "SVE" named no statement, so a
    search for them chose the incomplete block and the voltage criteria."""
    old = taxonomy_read_file(SHIPPED_DIR / "archive" / "ptbxl-scp-1.0.3.1.json")
    new = taxonomy_read_file(SHIPPED_DIR / "ptbxl-scp.json")
    assert (old.version, new.version, len(new.classes)) == ("1.0.3.1", "1.0.3.2", 71)
    unchanged = ("code", "name", "name_pt", "group", "kind", "maps")
    assert [{f: c[f] for f in unchanged} for c in new.classes] == [
        {f: c[f] for f in unchanged} for c in old.classes
    ]
    assert new.exclusive_sets == old.exclusive_sets
    synonyms = {c["code"]: set(c.get("synonyms", [])) for c in new.classes}
    assert {"prolonged PR", "PR longo"} <= synonyms["LPR"] and not {"prolonged PR", "PR longo"} & synonyms[
        "1AVB"
    ]
    assert "paroxysmal SVT" in synonyms["PSVT"] and "PSVT" not in synonyms["SVTAC"]
    assert {"RBBB"} <= synonyms["CRBBB"] and {"LBBB"} <= synonyms["CLBBB"] and {"SVE"} <= synonyms["LVH"]
    # No code, name or synonym, folded as the reader's search folds it, belongs to two statements.
    owners: dict[str, set[str]] = {}
    for c in new.classes:
        for term in {c["code"], c["name"], c["name_pt"], *c.get("synonyms", [])}:
            owners.setdefault(folded(term), set()).add(c["code"])
    assert {term: codes for term, codes in owners.items() if len(codes) > 1} == {}


def folded(text: str) -> str:
    """Accents, case and punctuation set aside, as static/js/ecg/statements.js folds a term."""
    import re
    import unicodedata

    plain = "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain.lower()).split())


def test_the_api_says_which_version_superseded_a_taxonomy(client_for, diego):
    older = taxonomy_load(taxonomy_read_file(SHIPPED_DIR / "archive" / "code15-2026.json")).taxonomy
    call_command("load_taxonomy", "--shipped")
    client = client_for(diego)
    body = client.get("/api/v1/taxonomies/").json()
    listed = {(t["key"], t["version"]): t["superseded_by"] for t in body.get("results", body)}
    assert listed[("code15", "2026")] == "2026.1" and listed[("code15", "2026.1")] is None
    assert client.get(f"/api/v1/taxonomies/{older.pk}/").json()["superseded_by"] == "2026.1"
