"""Loading taxonomies: the shipped ones, idempotently, and never a malformed one."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from annotations.models import AuditEvent, DiagnosticClass, Taxonomy
from annotations.services.taxonomy import (
    DEFAULT_TAXONOMY_FILE,
    SHIPPED_DIR,
    TaxonomyError,
    TaxonomyFrozenError,
    taxonomy_freeze,
    taxonomy_load,
    taxonomy_load_shipped,
    taxonomy_read_file,
)

pytestmark = pytest.mark.django_db


def write(tmp_path, document, name="broken.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def valid_document():
    return {
        "name": "Tiny",
        "version": "1",
        "groups": ["rhythm", "quality"],
        "exclusive_sets": [["SB", "ST"]],
        "classes": [
            {"code": "SB", "name": "Sinus bradycardia", "group": "rhythm", "kind": "diagnostic"},
            {"code": "ST", "name": "Sinus tachycardia", "group": "rhythm", "kind": "diagnostic"},
            {"code": "NOISE", "name": "Noisy", "group": "quality", "kind": "quality"},
        ],
    }


def test_the_tnmg_taxonomy_loads_to_74_classes_in_11_groups():
    call_command("load_taxonomy", str(DEFAULT_TAXONOMY_FILE))
    taxonomy = Taxonomy.objects.get(key="tnmg")
    assert taxonomy.classes.count() == 74  # the 73 of version 2020 and sinus rhythm
    assert len(taxonomy.groups) == 11
    assert set(taxonomy.classes.values_list("group", flat=True)) == set(taxonomy.groups)
    assert taxonomy.classes.filter(kind="quality").count() == 5
    rbbb = taxonomy.classes.get(code="RBBB")
    assert rbbb.name_pt == "Bloqueio de ramo direito"
    assert rbbb.maps == {"code6": "RBBB", "ptbxl": "CRBBB", "snomed": "59118001"}
    assert ["NORM", "*diagnostic*", "!SR"] in taxonomy.exclusive_sets


def test_loading_the_same_taxonomy_twice_changes_nothing(capsys):
    call_command("load_taxonomy", str(DEFAULT_TAXONOMY_FILE))
    rows_before = list(DiagnosticClass.objects.order_by("pk").values())
    events_before = AuditEvent.objects.count()
    call_command("load_taxonomy", str(DEFAULT_TAXONOMY_FILE))
    assert list(DiagnosticClass.objects.order_by("pk").values()) == rows_before
    assert AuditEvent.objects.count() == events_before
    assert "unchanged, 74 classes in 11 groups" in capsys.readouterr().out


def test_every_shipped_taxonomy_loads_with_its_published_class_count():
    results = {r.taxonomy.key: r.taxonomy for r in taxonomy_load_shipped()}
    counts = {key: taxonomy.classes.count() for key, taxonomy in results.items()}
    assert counts == {"tnmg": 74, "code15": 6, "ptbxl-scp": 71, "cpsc2018": 9}
    assert Taxonomy.objects.get(is_default=True).key == "tnmg"


def test_shipped_cross_maps_point_at_real_tnmg_codes():
    taxonomy_load_shipped()
    tnmg_codes = set(DiagnosticClass.objects.filter(taxonomy__key="tnmg").values_list("code", flat=True))
    mapped = [
        c.maps["tnmg"] for c in DiagnosticClass.objects.exclude(taxonomy__key="tnmg") if "tnmg" in c.maps
    ]
    assert len(mapped) >= 6
    assert set(mapped) <= tnmg_codes


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("version"), "'version' must be a non-empty string"),
        (lambda d: d["classes"][1].update(code="SB"), "code 'SB' appears twice"),
        (lambda d: d["classes"][1].update(code="sb"), "code 'sb' appears twice"),
        (lambda d: d["classes"][0].update(group="rythm"), "group 'rythm' is not one of the declared groups"),
        (lambda d: d["classes"][0].update(kind="maybe"), "kind 'maybe' must be one of"),
        (lambda d: d["classes"][0].pop("name"), "classes[0] ('SB').name must be a non-empty string"),
        (lambda d: d["classes"][0].update(colour="red"), "unknown fields ['colour']"),
        (lambda d: d.update(exclusive_sets=[["SB", "XX"]]), "names unknown codes ['XX']"),
        (lambda d: d.update(classes=[]), "'classes' must be a non-empty list"),
        (lambda d: d["classes"][0].update(maps={"ptbxl": 3}), "maps must be an object of code strings"),
    ],
)
def test_a_malformed_taxonomy_is_refused_naming_the_problem_and_nothing_is_stored(tmp_path, change, message):
    document = valid_document()
    change(document)
    path = write(tmp_path, document)
    with pytest.raises(CommandError) as refused:
        call_command("load_taxonomy", str(path))
    assert message in str(refused.value)
    assert str(path) in str(refused.value)
    assert not Taxonomy.objects.exists()
    assert not DiagnosticClass.objects.exists()


def test_a_file_that_is_not_json_is_refused(tmp_path):
    with pytest.raises(TaxonomyError, match="not valid UTF-8 JSON"):
        taxonomy_read_file(write(tmp_path, "{ not json"))
    with pytest.raises(TaxonomyError, match="must hold a JSON object"):
        taxonomy_read_file(write(tmp_path, [1, 2]))


def test_a_taxonomy_saved_by_an_editor_that_writes_a_byte_order_mark_loads(tmp_path):
    """Windows editors (Notepad before 2019, Excel's "UTF-8" saves) put a byte order mark first; RFC 8259
    lets a parser ignore it, and the coordinator's file is otherwise valid."""
    path = tmp_path / "tiny.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(valid_document()).encode())
    call_command("load_taxonomy", str(path), stdout=io.StringIO())
    assert list(Taxonomy.objects.values_list("name", flat=True)) == ["Tiny"]
    assert set(DiagnosticClass.objects.values_list("code", flat=True)) >= {"SB", "ST"}


def test_an_unfrozen_taxonomy_is_updated_in_place_keeping_class_ids(tmp_path):
    document = valid_document()
    first = taxonomy_load(taxonomy_read_file(write(tmp_path, document, "tiny.json"))).taxonomy
    sb_id = first.classes.get(code="SB").pk
    document["classes"].reverse()
    document["classes"].append({"code": "AF", "name": "Atrial fibrillation", "group": "rhythm"})
    result = taxonomy_load(taxonomy_read_file(write(tmp_path, document, "tiny.json")))
    assert result.outcome == "updated"
    assert list(result.taxonomy.classes.order_by("position").values_list("code", flat=True)) == [
        "NOISE",
        "ST",
        "SB",
        "AF",
    ]
    assert result.taxonomy.classes.get(code="SB").pk == sb_id


def test_a_frozen_taxonomy_refuses_changed_content_and_keeps_the_old(tmp_path, diego):
    document = valid_document()
    taxonomy = taxonomy_load(taxonomy_read_file(write(tmp_path, document, "tiny.json"))).taxonomy
    from django.db import transaction

    with transaction.atomic():
        taxonomy_freeze(taxonomy, actor=diego)
    document["classes"][0]["name"] = "Renamed"
    with pytest.raises(TaxonomyFrozenError, match="frozen; load the changed content under a new version"):
        taxonomy_load(taxonomy_read_file(write(tmp_path, document, "tiny.json")))
    assert taxonomy.classes.get(code="SB").name == "Sinus bradycardia"
    document["version"] = "2"
    assert taxonomy_load(taxonomy_read_file(write(tmp_path, document, "tiny.json"))).outcome == "created"


def test_loading_writes_an_audit_event_naming_the_version():
    taxonomy_load(taxonomy_read_file(SHIPPED_DIR / "code15.json"))
    event = AuditEvent.objects.get(action="taxonomy.created")
    assert event.after["key"] == "code15"
    assert event.after["classes"] == 6


def test_the_command_needs_a_file_or_shipped():
    with pytest.raises(CommandError, match="give either a FILE or --shipped"):
        call_command("load_taxonomy")


def test_the_taxonomy_page_heads_each_group_in_words_not_by_its_key(client_for, ana):
    """The page a coordinator checks a taxonomy on names its groups as the reader's statement list does."""
    taxonomy_load_shipped()
    client = client_for(ana)
    tnmg = Taxonomy.objects.get(key="tnmg", is_default=True)
    page = client.get(f"/taxonomies/{tnmg.pk}/").content.decode()
    assert "<h2>AV conduction</h2>" in page and "<h2>Ischaemia and infarction</h2>" in page
    assert "av_conduction" not in page and "ischemia_infarction" not in page
    code15 = Taxonomy.objects.filter(key="code15").order_by("-id").first()
    assert "<h2>Abnormalities</h2>" in client.get(f"/taxonomies/{code15.pk}/").content.decode()
    page = client.get(f"/taxonomies/{tnmg.pk}/", HTTP_ACCEPT_LANGUAGE="pt-BR").content.decode()
    assert "<h2>Condução atrioventricular</h2>" in page
