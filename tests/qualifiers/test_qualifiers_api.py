"""Statement qualifiers: declared by the taxonomy, chosen in a read through the reading API, checked."""

from __future__ import annotations

import json

import pytest

from annotations.models import AnnotationLabel, AnnotationRevision, Assignment
from annotations.services.taxonomy import (
    DEFAULT_TAXONOMY_FILE,
    SHIPPED_DIR,
    TaxonomyError,
    taxonomy_load,
    taxonomy_parse,
    taxonomy_read_file,
)
from tests.reading.helpers import queue, ref, shared_batch

pytestmark = pytest.mark.django_db

API = "/api/v1/reading/assignments"
WALLS = ["inferior", "anterior", "septal", "lateral", "posterior", "extensive"]


def test_the_shipped_tnmg_declares_walls_for_infarct_injury_and_ischaemia_and_age_for_the_inactive_area():
    taxonomy = taxonomy_load(taxonomy_read_file(DEFAULT_TAXONOMY_FILE)).taxonomy
    assert (taxonomy.key, taxonomy.version) == ("tnmg", "2026.6")
    declared = {c.code: c.qualifiers for c in taxonomy.classes.exclude(qualifiers=[])}
    assert declared == {
        "EIA": [*WALLS, "acute", "old"],
        "STEMI": WALLS,
        "SEPI_INJ": WALLS,
        "SENDO_INJ": WALLS,
        "SENDO_ISCH": WALLS,
    }
    assert taxonomy.classes.get(code="SR").qualifiers == []


def test_2026_5_is_archived_unchanged_and_2026_6_only_adds_qualifiers():
    old = taxonomy_read_file(SHIPPED_DIR / "archive" / "tnmg-2026.5.json")
    new = taxonomy_read_file(DEFAULT_TAXONOMY_FILE)
    assert old.version == "2026.5"
    assert [{k: v for k, v in c.items() if k != "qualifiers"} for c in new.classes] == old.classes
    assert old.exclusive_sets == new.exclusive_sets
    # A class without qualifiers hashes as before, so frozen versions keep their checksum.
    assert not any("qualifiers" in c for c in old.classes)


def _document(qualifiers) -> dict:
    return {
        "name": "T",
        "version": "1",
        "groups": ["g"],
        "classes": [{"code": "A", "name": "A", "group": "g", "qualifiers": qualifiers}],
    }


@pytest.mark.parametrize(
    "qualifiers, message",
    [
        (["inferior", "apical"], "unknown qualifiers ['apical']"),
        (["inferior", "inferior"], "lists a qualifier twice"),
        ("inferior", "must be a list of qualifier names"),
    ],
)
def test_a_taxonomy_declaring_an_unknown_or_repeated_qualifier_is_refused(qualifiers, message):
    with pytest.raises(TaxonomyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        taxonomy_parse(_document(qualifiers), default_key="t")


def test_a_statement_without_qualifiers_hashes_as_before_qualifiers_existed():
    without = _document([])
    del without["classes"][0]["qualifiers"]
    assert taxonomy_parse(_document([]), default_key="t").content_sha256 == (
        taxonomy_parse(without, default_key="t").content_sha256
    )


@pytest.fixture
def first(tnmg, ana, bruno, diego):
    return queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]


def _post(client, first, action, labels, revision=0):
    send = client.put if action == "draft" else client.post
    return send(
        f"{API}/{ref(first)}/{action}/",
        json.dumps({"labels": labels, "revision": revision}),
        content_type="application/json",
    )


def test_a_submitted_read_keeps_the_qualifiers_in_its_labels_revision_and_context(client_for, ana, first):
    client = client_for(ana)
    chosen = [{"code": "EIA", "qualifiers": ["acute", "inferior", "lateral"]}, {"code": "SR"}]
    assert _post(client, first, "draft", chosen).status_code == 200
    assert _post(client, first, "submit", chosen, revision=1).status_code == 200
    label = AnnotationLabel.objects.get(annotation__assignment=first, diagnostic_class__code="EIA")
    # Kept in the vocabulary's order: the walls first, then the age.
    assert label.qualifiers == ["inferior", "lateral", "acute"]
    assert (
        AnnotationLabel.objects.get(annotation__assignment=first, diagnostic_class__code="SR").qualifiers
        == []
    )
    snapshot = AnnotationRevision.objects.filter(annotation__assignment=first).latest("revision").labels
    assert {"code": "EIA", "uncertain": False, "qualifiers": ["inferior", "lateral", "acute"]} in snapshot
    context = client.get(f"{API}/{ref(first)}/").json()
    eia = next(item for item in context["annotation"]["labels"] if item["code"] == "EIA")
    assert eia["qualifiers"] == ["inferior", "lateral", "acute"]
    statements = [c for group in context["taxonomy"]["groups"] for c in group["classes"]]
    declared = next(c for c in statements if c["code"] == "EIA")["qualifiers"]
    assert [q["key"] for q in declared] == [*WALLS, "acute", "old"]
    assert declared[0]["label"] == "Inferior"


@pytest.mark.parametrize(
    "chosen, message",
    [
        ([{"code": "SR", "qualifiers": ["inferior"]}], "takes no qualifier"),
        ([{"code": "STEMI", "qualifiers": ["old"]}], "“old” is not a qualifier of"),
        ([{"code": "EIA", "qualifiers": ["apical"]}], "“apical” is not a qualifier of"),
        ([{"code": "EIA", "qualifiers": ["acute", "old"]}], "cannot be chosen together"),
        ([{"code": "EIA", "qualifiers": ["inferior", "inferior"]}], "chosen twice"),
        ([{"code": "EIA", "qualifiers": "inferior"}], "qualifiers"),
    ],
)
@pytest.mark.parametrize("action", ["draft", "submit"])
def test_a_qualifier_the_statement_does_not_declare_is_refused_and_nothing_changes(
    chosen, message, action, client_for, ana, first
):
    client = client_for(ana)
    answer = _post(client, first, action, chosen)
    assert answer.status_code == 400
    assert message in json.dumps(answer.json(), ensure_ascii=False)
    first.refresh_from_db()
    assert first.status == Assignment.Status.PENDING
    assert not AnnotationLabel.objects.filter(annotation__assignment=first).exists()
    assert not AnnotationRevision.objects.filter(annotation__assignment=first).exists()
