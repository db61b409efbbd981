"""Every export file read back with independent tools (csv, json, h5py) and checked against the database."""

import csv
import hashlib
import io
import json
import re
from datetime import UTC

import h5py
import numpy as np
import pytest

from annotations.lib.release_files.hdf5 import code_tracing
from annotations.models import AnnotationLabel, Consensus, DiagnosticClass, DisputedLabel, Exam
from annotations.selectors.releases.plan import ExportRefused, export_plan
from annotations.services.exams.waveforms import waveform_load
from annotations.services.releases.export import ExportOptions, export_write
from tests.exporting import labelled_study
from tests.factories import UserFactory, batch_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", roles=["reader"])


@pytest.fixture
def study(ana, bruno, carol, carla, diego, tnmg):
    return labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)


def export(study, folder, *, target="", **options):
    plan = export_plan([study.batch.pk], target=target)
    return export_write(
        plan,
        folder,
        ExportOptions(**options),
        title="test export",
        release_date="2026-01-01T00:00:00.000000Z",
    )


def rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_consensus_csv_has_every_read_exam_once_and_every_class_as_a_column(study, tnmg, tmp_path):
    export(study, tmp_path, hdf5=False)
    table = rows(tmp_path / "consensus.csv")
    codes = list(
        DiagnosticClass.objects.filter(taxonomy=tnmg).order_by("position").values_list("code", flat=True)
    )
    meta = ["row", "dataset", "exam_id", "age", "is_male", "batch", "reads"]
    assert list(table[0].keys()) == [*meta, *codes, "added_by_adjudicator"]
    assert {r["added_by_adjudicator"] for r in table} == {""}  # the adjudicator added nothing here
    assert [r["exam_id"] for r in table] == ["E001", "E002", "E003", "E004"]  # E005 was never read
    assert [r["row"] for r in table] == ["0", "1", "2", "3"]
    assert [r["reads"] for r in table] == ["3", "3", "3", "2"]
    assert [(r["age"], r["is_male"]) for r in table] == [("41", "1"), ("42", "0"), ("43", "1"), ("44", "0")]


def test_the_consensus_csv_values_are_the_stored_consensus_with_undecided_cells_empty(study, tmp_path):
    export(study, tmp_path, hdf5=False)
    table = {r["exam_id"]: r for r in rows(tmp_path / "consensus.csv")}
    for external_id, exam in study.exams.items():
        if external_id == "E005":
            continue
        stored = {
            c.diagnostic_class.code: c.value
            for c in Consensus.objects.filter(batch=study.batch, exam=exam).select_related("diagnostic_class")
        }
        undecided = set(
            DisputedLabel.objects.filter(batch=study.batch, exam=exam)
            .exclude(diagnostic_class__code__in=stored)
            .values_list("diagnostic_class__code", flat=True)
        )
        for code, cell in list(table[external_id].items())[7:-1]:
            expected = "" if code in undecided else str(int(stored.get(code, False)))
            assert cell == expected, (external_id, code)
    assert table["E001"]["RBBB"] == "1" and table["E001"]["SB"] == "0"
    assert table["E002"]["AF"] == "1" and table["E003"]["NORM"] == "1"
    assert table["E004"]["ST"] == "1" and table["E004"]["SB"] == ""  # adjudicated; still a tie


def test_the_consensus_json_lines_give_methods_votes_and_probabilities_as_stored(study, tmp_path):
    export(study, tmp_path, hdf5=False)
    with open(tmp_path / "consensus.jsonl", encoding="utf-8") as handle:
        lines = [json.loads(line) for line in handle]
    assert [line["exam_id"] for line in lines] == ["E001", "E002", "E003", "E004"]
    for line in lines:
        exam = study.exams[line["exam_id"]]
        stored = {
            c.diagnostic_class.code: c
            for c in Consensus.objects.filter(batch=study.batch, exam=exam).select_related("diagnostic_class")
        }
        assert {label["code"] for label in line["labels"]} == set(stored)
        for label in line["labels"]:
            row = stored[label["code"]]
            assert (label["value"], label["method"]) == (int(row.value), row.method)
            assert (label["positive_votes"], label["total_votes"]) == (row.positive_votes, row.total_votes)
            expected = None if row.probability is None else round(row.probability, 6)
            assert label["probability"] == expected
    by_exam = {line["exam_id"]: line for line in lines}
    rbbb = next(label for label in by_exam["E001"]["labels"] if label["code"] == "RBBB")
    assert (rbbb["method"], rbbb["positive_votes"], rbbb["total_votes"]) == ("unanimous", 3, 3)
    af = next(label for label in by_exam["E002"]["labels"] if label["code"] == "AF")
    assert (af["method"], af["value"], af["positive_votes"]) == ("majority", 1, 2)
    st = next(label for label in by_exam["E004"]["labels"] if label["code"] == "ST")
    assert (st["method"], st["value"]) == ("adjudicated", 1)
    assert [
        (u["code"], u["reason"], u["positive_votes"], u["total_votes"]) for u in by_exam["E004"]["undecided"]
    ] == [("SB", "tie", 1, 2)]


def test_the_raw_reads_have_one_row_per_reader_exam_and_class_under_consistent_pseudonyms(study, tmp_path):
    export(study, tmp_path, hdf5=False)
    table = rows(tmp_path / "reads.csv")
    # carol's skip of E004 is one row of its own, with no class (tests/batches/test_skips.py checks it).
    assert [(r["exam_id"], r["code"]) for r in table if r["status"] == "skipped"] == [("E004", "")]
    table = [r for r in table if r["status"] != "skipped"]
    labels = AnnotationLabel.objects.filter(
        annotation__assignment__batch=study.batch, annotation__status="submitted"
    )
    assert len(table) == labels.count()
    readers = sorted(study.readers, key=lambda user: user.pk)
    pseudonym = {user.username: f"R{i + 1:02d}" for i, user in enumerate(readers)}
    for label in labels.select_related("annotation__assignment__reader", "annotation__assignment__exam"):
        annotation = label.annotation
        match = [
            r
            for r in table
            if r["reader"] == pseudonym[annotation.assignment.reader.username]
            and r["exam_id"] == annotation.assignment.exam.external_id
            and r["code"] == label.diagnostic_class.code
        ]
        assert len(match) == 1
        assert match[0]["uncertain"] == str(int(label.uncertain))
        assert match[0]["time_on_task_ms"] == "4321"
        assert match[0]["suggestion_shown"] == "0"
        assert match[0]["submitted_at"].endswith("Z")
    bruno_af = [r for r in table if r["reader"] == pseudonym["bruno"] and r["code"] == "AF"]
    assert bruno_af[0]["uncertain"] == "1"
    assert {r["reader"] for r in table} == set(pseudonym.values())


def test_every_adjudication_is_in_the_release_with_its_adjudicator_pseudonym_and_version(study, tmp_path):
    """An adjudicated cell says who decided it (a pseudonym, never the account), in which signed version
    and when: the release's labels are traced to their decisions without the audit log, and the
    adjudicator's rationale says why."""
    from annotations.models import Adjudication

    result = export(study, tmp_path, hdf5=False)
    decided = Adjudication.objects.get(batch=study.batch)
    table = rows(tmp_path / "adjudications.csv")
    assert table == [
        {
            "adjudicator": "A01",
            "dataset": "export-study",
            "exam_id": "E004",
            "batch": str(study.batch.pk),
            "code": "ST",
            "value": "1",
            "version": "1",
            "decided_at": decided.decided_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "rationale": "clear sinus tachycardia",
        }
    ]
    assert result.card["adjudicators"] == {"A01": 1}
    assert "adjudications.csv" in {f["name"] for f in result.card["files"]}
    rule = result.card["batches"][0]["consensus_rule"]
    assert rule == {"method": "majority", "threshold": 0.5, "latent_margin": 0.1}


def test_no_exported_file_names_any_reader(study, tmp_path):
    export(study, tmp_path, target="code15")
    export(study, tmp_path / "native", native_rate=True)
    names = [user.username for user in study.readers] + ["carla", "diego"]
    # As a whole word: "ana" is inside "analysis" and "mean"-like words, which name nobody.
    pattern = re.compile(rb"(?<![A-Za-z0-9_])(" + "|".join(names).encode() + rb")(?![A-Za-z0-9_])")
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 22  # each export: 11 files (suggestions.csv and read_history.csv even empty)
    for path in files:
        assert pattern.search(path.read_bytes()) is None, path.name


def test_the_tracings_are_n_by_4096_by_12_at_400_hz_and_aligned_with_the_csv_rows(study, tmp_path):
    export(study, tmp_path)
    table = rows(tmp_path / "consensus.csv")
    with h5py.File(tmp_path / "tracings.hdf5", "r") as handle:
        tracings = handle["tracings"]
        assert tracings.shape == (len(table), 4096, 12)
        assert tracings.dtype == np.float32
        assert handle.attrs["sampling_rate_hz"] == 400.0
        assert [x.decode() for x in handle["exam_id"][:]] == [r["exam_id"] for r in table]
        for i, row in enumerate(table):
            exam = study.exams[row["exam_id"]]
            expected = code_tracing(waveform_load(exam.waveform_key), gain_uv=exam.gain_uv, rate_hz=500.0)
            np.testing.assert_array_equal(tracings[i], expected)
            # 10 s at 400 Hz is 4000 samples: 48 zeros on each side (the CODE convention).
            assert not tracings[i, :48].any() and not tracings[i, -48:].any()
            assert np.abs(tracings[i, 48:4048]).max() > 0.1


def test_the_native_rate_keeps_the_recorded_samples(study, tmp_path):
    export(study, tmp_path, native_rate=True)
    with h5py.File(tmp_path / "tracings.hdf5", "r") as handle:
        exam = study.exams["E001"]
        assert handle["tracings"].shape == (4, exam.n_samples, 12)
        assert handle.attrs["sampling_rate_hz"] == 500.0
        stored = waveform_load(exam.waveform_key)[:12].T * (exam.gain_uv / 1000.0)
        np.testing.assert_allclose(handle["tracings"][0], stored.astype(np.float32))


def test_exporting_the_same_state_twice_gives_byte_identical_files(study, tmp_path):
    first = export(study, tmp_path / "a", target="code15")
    second = export(study, tmp_path / "b", target="code15")
    assert first.files == second.files
    for entry in first.files:
        a = (tmp_path / "a" / entry["name"]).read_bytes()
        assert a == (tmp_path / "b" / entry["name"]).read_bytes()
        assert hashlib.sha256(a).hexdigest() == entry["sha256"]
    sums = (tmp_path / "a" / "SHA256SUMS").read_text().splitlines()
    listed = {line.split("  ")[1]: line.split("  ")[0] for line in sums}
    assert listed == {e["name"]: e["sha256"] for e in first.files if e["name"] != "SHA256SUMS"}


def test_mapping_to_code15_gives_its_six_columns_from_the_cross_maps(study, tmp_path):
    result = export(study, tmp_path, target="code15", hdf5=False)
    table = {r["exam_id"]: r for r in rows(tmp_path / "consensus.csv")}
    assert list(table["E001"].keys())[7:-1] == ["1dAVb", "RBBB", "LBBB", "SB", "AF", "ST"]
    assert [table[e]["RBBB"] for e in ("E001", "E002", "E003", "E004")] == ["1", "0", "0", "0"]
    assert [table[e]["AF"] for e in ("E001", "E002", "E003", "E004")] == ["0", "1", "0", "0"]
    assert (table["E004"]["ST"], table["E004"]["SB"]) == ("1", "")
    assert result.card["columns"] == {
        "taxonomy": "code15",
        "version": "2026.1",
        "mapped": True,
        "unmapped": [],
        "count": 6,
    }


def test_mapping_to_ptbxl_leaves_out_the_statements_with_no_tnmg_counterpart(study, tmp_path):
    result = export(study, tmp_path, target="ptbxl-scp", hdf5=False)
    header = list(rows(tmp_path / "consensus.csv")[0].keys())[7:]
    assert "CRBBB" in header and "AFIB" in header and "NDT" not in header
    assert "NDT" in result.card["columns"]["unmapped"]
    table = {r["exam_id"]: r for r in rows(tmp_path / "consensus.csv")}
    assert (table["E001"]["CRBBB"], table["E002"]["AFIB"], table["E004"]["STACH"]) == ("1", "1", "1")


def test_the_dataset_card_gives_counts_prevalence_agreement_and_checksums(study, tmp_path):
    result = export(study, tmp_path, hdf5=False)
    card = json.loads((tmp_path / "dataset_card.json").read_text())
    assert card == result.card
    assert card["taxonomy"]["key"] == "tnmg" and card["batches"][0]["id"] == study.batch.pk
    assert card["counts"]["exams"] == 4 and card["counts"]["readers"] == 3
    assert card["counts"]["first_reads"] == 11 and card["counts"]["reads_per_exam"] == {"2": 1, "3": 3}
    rbbb = next(c for c in card["classes"] if c["code"] == "RBBB")
    assert (rbbb["positive"], rbbb["undecided"], rbbb["prevalence"]) == (1, 0, 0.25)
    assert rbbb["prevalence_ci"][0] < 0.25 < rbbb["prevalence_ci"][1]
    assert rbbb["agreement"]["fleiss_kappa"] is not None and len(rbbb["agreement"]["fleiss_kappa_ci"]) == 2
    # One exam read positive: no interval holds, and the card says why rather than printing [1, 1].
    assert rbbb["agreement"]["interval_note"] == "too few positives"
    assert rbbb["agreement"]["fleiss_kappa_ci"] == [None, None]
    assert 0 <= rbbb["agreement"]["positive_specific_agreement"] <= 1
    sb = next(c for c in card["classes"] if c["code"] == "SB")
    assert (sb["undecided"], sb["prevalence"]) == (1, 0.0)
    # The undecided cell is not dropped: the prevalence had it been absent, and had it been present.
    assert sb["prevalence_bounds"] == [0.0, 0.25] and rbbb["prevalence_bounds"] == [0.25, 0.25]
    assert card["consensus_methods"]["adjudicated"] == 1 and card["consensus_methods"]["unanimous"] >= 1
    assert card["release_date"] == "2026-01-01T00:00:00.000000Z" and card["software_version"]
    on_disk = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    assert {f["name"]: f["sha256"] for f in card["files"]} == {
        name: on_disk[name]
        for name in (
            "adjudications.csv",
            "consensus.csv",
            "consensus.jsonl",
            "reads.csv",
            "read_history.csv",
            "reader_accuracy.csv",
            "suggestions.csv",
        )
    }
    assert "RBBB" in (tmp_path / "dataset_card.md").read_text()


def test_batches_with_different_taxonomies_or_shared_exams_are_refused(study, ana, bruno, carol, diego, tnmg):
    from annotations.services.taxonomy import SHIPPED_DIR, taxonomy_load, taxonomy_read_file

    code15 = taxonomy_load(taxonomy_read_file(SHIPPED_DIR / "code15.json")).taxonomy
    other = batch_for(
        code15,
        diego,
        [ana],
        [study.exams["E005"]],
        name="Other taxonomy",
        exclude_seen=False,
        independence_off_reason="ana reads a study exam again",
    )
    with pytest.raises(ExportRefused, match="different taxonomies"):
        export_plan([study.batch.pk, other.pk])
    again = batch_for(
        tnmg,
        diego,
        [ana],
        [study.exams["E001"]],
        name="Same exam",
        exclude_seen=False,
        independence_off_reason="ana reads a study exam again",
    )
    with pytest.raises(ExportRefused, match="more than one"):
        export_plan([study.batch.pk, again.pk])
    with pytest.raises(ExportRefused, match="no such batch"):
        export_plan([study.batch.pk, 999999])


def test_two_batches_export_together_as_one_table(study, ana, bruno, carol, carla, diego, tnmg, tmp_path):
    second = labelled_study(
        readers=[ana, bruno, carol],
        coordinator=diego,
        adjudicator=carla,
        taxonomy=tnmg,
        dataset="second-site",
    )
    plan = export_plan([study.batch.pk, second.batch.pk])
    export_write(plan, tmp_path, ExportOptions(hdf5=False), title="two", release_date="")
    table = rows(tmp_path / "consensus.csv")
    assert [(r["dataset"], r["exam_id"]) for r in table] == [
        ("export-study", f"E00{i}") for i in range(1, 5)
    ] + [("second-site", f"E00{i}") for i in range(1, 5)]
    assert {r["batch"] for r in table} == {str(study.batch.pk), str(second.batch.pk)}


def test_the_consensus_csv_is_what_the_csv_module_writes(study, tmp_path):
    """The writer joins repeated rows as text: the bytes are still csv.writer's, row for row."""
    export(study, tmp_path, hdf5=False)
    data = (tmp_path / "consensus.csv").read_bytes()
    with open(tmp_path / "consensus.csv", newline="", encoding="utf-8") as handle:
        parsed = list(csv.reader(handle))
    again = io.StringIO()
    csv.writer(again, lineterminator="\n").writerows(parsed)
    assert len(parsed) == 5 and data == again.getvalue().encode()


def test_names_with_commas_quotes_and_line_breaks_come_back_from_the_consensus_csv_as_stored(
    ana, bruno, carol, carla, diego, tnmg, tmp_path
):
    """A carriage return alone is quoted too: csv.writer with a "\n" line end leaves it bare, and every
    CSV reader then ends the row there."""
    study = labelled_study(
        readers=[ana, bruno, carol],
        coordinator=diego,
        adjudicator=carla,
        taxonomy=tnmg,
        dataset='Ward "7", night\nshift',
    )
    renamed = {"E001": "E,001", "E002": 'E"002', "E003": "E003\r", "E004": " E004 "}
    for old, new in renamed.items():
        Exam.objects.filter(pk=study.exams[old].pk).update(external_id=new)
    export(study, tmp_path, hdf5=False)
    for name in ("consensus.csv", "reads.csv"):
        with open(tmp_path / name, newline="", encoding="utf-8") as handle:
            parsed = list(csv.reader(handle))
        header = parsed[0]
        assert {len(row) for row in parsed} == {len(header)}, name
        assert {row[header.index("dataset")] for row in parsed[1:]} == {'Ward "7", night\nshift'}, name
        assert {row[header.index("exam_id")] for row in parsed[1:]} == set(renamed.values()), name


def test_the_card_gives_the_flow_from_import_to_release_and_what_adjudication_changed(study, tmp_path):
    """STARD/GRRAS-style: how many exams were imported, designed, read, skipped, escalated, disputed,
    adjudicated and released, and of the adjudicated cells how many overturned the readers' majority
    (E004's ST was a 1-1 tie the adjudicator settled: settled, not changed)."""
    result = export(study, tmp_path, hdf5=False)
    flow = result.card["flow"]
    disputed = DisputedLabel.objects.filter(batch=study.batch).values("exam_id").distinct().count()
    assert flow == {
        "exams_imported": 5,
        "exams_designed": 5,
        "exams_gold": 0,
        "exams_read": 4,
        "exams_not_read": 1,
        "exams_with_a_skip": 1,
        "exams_escalated": 0,
        "exams_disputed": disputed,
        "exams_adjudicated": 1,
        "exams_released": 4,
        "exams_insufficient_reads": 0,
        "adjudicated_cells": 1,
        "adjudication_overturned_majority": 0,
        "adjudication_settled_ties": 1,
    }
    assert "## Flow" in (tmp_path / "dataset_card.md").read_text()
