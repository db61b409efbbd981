"""A release mapped to PTB-XL's or CODE-15%'s columns writes each column as the OR of the TNMG statements
that are that class. A statistician's walk found a decided 0 where every reader had marked a statement of
the class: PTB-XL's 2AVB took only the 2:1 block (not Mobitz I or II), LVOLT only the limb leads' low
voltage, SR nothing, and the bifascicular blocks reached neither bundle branch block column nor the
fascicle's, though the TNMG file's own cross-maps said so for the first three."""

from __future__ import annotations

import csv
import io
import json

import pytest

from annotations.models import Release
from annotations.selectors.releases.plan import export_plan
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.releases.builds import release_build
from annotations.services.taxonomy import DEFAULT_TAXONOMY_FILE
from tests.factories import batch_for, make_exam
from tests.reading.helpers import queue
from tests.releases.test_release_empty_reads import _submit

pytestmark = pytest.mark.django_db

READS = {
    "mobitz-1": ["SR", "AVB2_M1"],
    "mobitz-2": ["SR", "AVB2_M2", "LOWV_PREC"],
    "advanced": ["SR", "AVB_ADV"],
    "rbbb-lafb": ["SR", "RBBB_LAFB"],
    "rbbb-lpfb": ["SB", "RBBB_LPFB"],
}
# What each column must say: 1 where some statement of its class was marked by both readers.
PTBXL = {
    "mobitz-1": {"SR": "1", "2AVB": "1", "LVOLT": "0", "CRBBB": "0"},
    "mobitz-2": {"SR": "1", "2AVB": "1", "LVOLT": "1"},
    "advanced": {"SR": "1", "2AVB": "1", "3AVB": "0"},
    "rbbb-lafb": {"SR": "1", "CRBBB": "1", "LAFB": "1", "LPFB": "0", "2AVB": "0"},
    "rbbb-lpfb": {"SR": "0", "SBRAD": "1", "CRBBB": "1", "LPFB": "1", "LAFB": "0"},
}
CODE15 = {
    "mobitz-1": {"RBBB": "0", "1dAVb": "0"},
    "rbbb-lafb": {"RBBB": "1", "LBBB": "0"},
    "rbbb-lpfb": {"RBBB": "1", "SB": "1"},
}


@pytest.fixture
def released(ana, bruno, diego, tnmg, client_for):
    exams = {name: make_exam(external_id=name, seed=i) for i, name in enumerate(READS)}
    batch = batch_for(tnmg, diego, [ana, bruno], list(exams.values()), name="Cross-maps")
    for reader in (ana, bruno):
        for assignment in queue(batch, reader):
            _submit(client_for(reader), assignment, READS[assignment.exam.external_id])
    batch_agreement_compute(batch.pk)
    client = client_for(diego)

    def consensus(target: str) -> tuple[dict, dict]:
        created = client.post(
            "/api/v1/releases/",
            {"batches": [batch.pk], "hdf5": False, "target": target},
            content_type="application/json",
        )
        assert created.status_code == 201, created.content
        release = release_build(Release.objects.get(pk=created.json()["id"]).pk)

        def text(name: str) -> str:
            return b"".join(client.get(f"/releases/{release.pk}/files/{name}").streaming_content).decode()

        rows = {row["exam_id"]: row for row in csv.DictReader(io.StringIO(text("consensus.csv")))}
        return rows, json.loads(text("dataset_card.json"))

    return consensus


def _differences(rows: dict, expected: dict) -> list[str]:
    return [
        f"{exam} {column}: {rows[exam].get(column)!r}, want {want!r}"
        for exam, columns in expected.items()
        for column, want in columns.items()
        if rows[exam].get(column) != want
    ]


def test_a_ptbxl_release_marks_every_class_a_tnmg_statement_of_it_was_marked(released):
    rows, card = released("ptbxl-scp")
    assert not _differences(rows, PTBXL)
    assert "SR" not in card["columns"]["unmapped"]


def test_a_code15_release_marks_the_bundle_branch_block_of_a_bifascicular_block(released):
    rows, _card = released("code15")
    assert not _differences(rows, CODE15)


@pytest.mark.parametrize(("target", "tnmg_key"), [("ptbxl-scp", "ptbxl"), ("code15", "code6")])
def test_every_cross_map_the_tnmg_file_gives_is_in_the_release_columns(target, tnmg_key, ana, diego, tnmg):
    """The TNMG file names each statement's class in PTB-XL (maps["ptbxl"]) and CODE-15% (maps["code6"]);
    the target file's maps["tnmg"] names one statement per class. A column holds both, or the release
    contradicts the taxonomy it was read in."""
    batch = batch_for(tnmg, diego, [ana], [make_exam()], name="Columns")
    columns = {
        column.code: set(column.source_codes) for column in export_plan([batch.pk], target=target).columns
    }
    tnmg_maps = json.loads(DEFAULT_TAXONOMY_FILE.read_text(encoding="utf-8"))["classes"]
    declared = [(c["code"], c["maps"][tnmg_key]) for c in tnmg_maps if c["maps"].get(tnmg_key)]
    assert declared and all(code in columns.get(column, ()) for code, column in declared), declared
    # A column's statements keep the taxonomy's order, which the card lists.
    order = [c["code"] for c in tnmg_maps]
    assert all(
        sorted(codes, key=order.index) == list(codes)
        for codes in (column.source_codes for column in export_plan([batch.pk], target=target).columns)
    )
