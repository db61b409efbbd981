"""The agreement tables a coordinator downloads (CSV, API, page): exams read once left out, intervals in
range and flagged when partial, the interval method named, a reader x class table with outliers, gold
and test-retest per reader, and kappa per pair of readers and class."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from django.urls import reverse

from annotations.lib.stats import dawid_skene
from annotations.lib.stats.reads import MISSING
from annotations.models import Assignment, BatchExam, ReferenceLabel
from annotations.selectors.agreement.summary import batch_reads_snapshot
from annotations.services.agreement.compute import batch_agreement_compute
from tests.factories import ExamFactory, UserFactory, batch_for, read

pytestmark = pytest.mark.django_db


def download(client, diego, batch, table):
    client.force_login(diego)
    response = client.get(reverse("batch-agreement-csv", args=[batch.pk]), {"table": table})
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def number(value: str) -> float | None:
    return None if value == "" else float(value)


@pytest.fixture
def code15(db):
    """The shipped CODE-15% taxonomy: six yes/no classes, where a read with none marked is an answer."""
    from annotations.services.taxonomy import SHIPPED_DIR, taxonomy_load, taxonomy_read_file

    return taxonomy_load(taxonomy_read_file(SHIPPED_DIR / "code15.json")).taxonomy


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", roles=["reader"])


@pytest.fixture
def dora(db):
    return UserFactory(username="dora", roles=["reader"])


def test_exams_read_once_stay_out_and_no_interval_leaves_the_coefficients_range(
    client, ana, bruno, diego, code15
):
    split, single = ExamFactory.create_batch(4), ExamFactory.create_batch(8)
    batch = batch_for(code15, diego, [ana, bruno], split + single)
    for exam in split:
        read(ana, batch, exam, ["1dAVb"])
        read(bruno, batch, exam, [])
    for exam in single:  # bruno never submits these: each has one read
        read(ana, batch, exam, ["1dAVb"])
    batch_agreement_compute(batch.pk)

    rows = {row["code"]: row for row in download(client, diego, batch, "classes")}
    avb = rows["1dAVb"]
    # Four exams where the two readers disagree on a 50% class: kappa -1, not the -2.6 the single reads gave.
    assert number(avb["fleiss_kappa"]) == pytest.approx(-1.0)
    assert avb["exams_read"] == "4"
    for row in rows.values():
        for stat in ("fleiss_kappa", "krippendorff_alpha", "gwet_ac1", "pabak", "mean_pairwise_kappa"):
            for bound in (row[f"{stat}_ci_lower"], row[f"{stat}_ci_upper"]):
                assert bound == "" or -1.0 <= float(bound) <= 1.0, (row["code"], stat, bound)
    assert avb["interval_method"] == "exams" and avb["exams_left_out"] == "8"


def test_an_interval_defined_by_part_of_the_resamples_is_flagged_with_its_fraction(
    client, ana, bruno, carol, diego, code15
):
    exams = ExamFactory.create_batch(10)
    batch = batch_for(code15, diego, [ana, bruno, carol], exams)
    # SB on 9 of the 10 exams: a resample without the one SB-free exam (0.9**10 of them) leaves kappa
    # undefined. LBBB on one exam: too few positives for any interval (no "1 [1, 1]").
    for i, exam in enumerate(exams):
        for j, reader in enumerate((ana, bruno, carol)):
            codes = ["LBBB"] if i == 0 else ["SB"]
            if (i + j) % 3 == 0:
                codes.append("RBBB")
            read(reader, batch, exam, codes)
    batch_agreement_compute(batch.pk)

    rows = {row["code"]: row for row in download(client, diego, batch, "classes")}
    assert (
        rows["LBBB"]["interval_note"] == "too few positives" and rows["LBBB"]["fleiss_kappa_ci_lower"] == ""
    )
    lbbb = rows["SB"]
    assert number(lbbb["fleiss_kappa"]) == 1.0
    assert 0.55 < float(lbbb["fleiss_kappa_defined"]) < 0.75  # 1 - 0.9**10 = 0.65
    assert lbbb["fleiss_kappa_ci_partial"] == "1"
    # RBBB, one reader of three on each exam: defined in most resamples of exams and readers (a resample
    # drawing one reader thrice over exams none of their RBBB reads falls on is not), flagged as such.
    rbbb = rows["RBBB"]
    assert 0.8 < float(rbbb["fleiss_kappa_defined"]) < 1 and rbbb["fleiss_kappa_ci_partial"] == "1"
    client.force_login(diego)
    page = client.get(reverse("batch-agreement", args=[batch.pk])).content.decode()
    assert "65%" in page or "66%" in page or "64%" in page  # the fraction shown next to the interval

    # The release's Markdown card marks it too, beside AC1 and alpha, as its JSON does.
    from annotations.models import Release
    from annotations.services.releases.builds import release_build

    answer = client.post(
        "/api/v1/releases/", {"batches": [batch.pk], "hdf5": False}, content_type="application/json"
    )
    release = release_build(Release.objects.get(pk=answer.json()["id"]).pk)
    markdown = b"".join(
        client.get(f"/releases/{release.pk}/files/dataset_card.md").streaming_content
    ).decode()
    header = next(line for line in markdown.splitlines() if line.startswith("| Code | Name |"))
    assert "Gwet's AC1" in header and "Krippendorff's \u03b1" in header
    row = next(line for line in markdown.splitlines() if line.startswith("| SB |"))
    share = round(float(lbbb["fleiss_kappa_defined"]) * 100)
    assert f"† {share}%" in row, row


def test_a_share_of_resamples_just_short_of_all_is_not_shown_as_100_percent():
    """0.999 of the resamples is partial: "† 100%" beside a partial interval said the opposite."""
    from annotations.templatetags.formats import share_percent

    assert [share_percent(v) for v in (0.999, 0.9996, 0.633, 1.0, 0.0)] == [
        "99.9%",
        "99.9%",
        "63%",
        "100%",
        "0%",
    ]


def test_the_two_way_bootstrap_is_offered_and_named_on_the_page_and_in_the_csv(
    client, ana, bruno, carol, diego, code15
):
    exams = ExamFactory.create_batch(8)
    batch = batch_for(code15, diego, [ana, bruno, carol], exams)
    batch.design = {**batch.design, "agreement": {"intervals": "exams_and_readers"}}
    batch.save(update_fields=["design"])
    for i, exam in enumerate(exams):
        for j, reader in enumerate((ana, bruno, carol)):
            read(reader, batch, exam, ["RBBB"] if (i + j) % 2 else [])
    batch_agreement_compute(batch.pk)

    rows = download(client, diego, batch, "classes")
    assert {row["interval_method"] for row in rows} == {"exams_and_readers"}
    client.force_login(diego)
    page = client.get(reverse("batch-agreement", args=[batch.pk])).content.decode()
    assert "over exams and readers" in page
    api = client.get(reverse("api-batch-agreement", args=[batch.pk])).json()
    assert api["bootstrap"]["method"] == "exams_and_readers"


def test_reader_by_class_table_flags_the_reader_who_misses_a_class(
    client, ana, bruno, carol, dora, diego, code15
):
    exams = ExamFactory.create_batch(24)
    readers = [ana, bruno, carol, dora]
    batch = batch_for(code15, diego, readers, exams)
    for i, exam in enumerate(exams):
        for reader in readers:
            codes = []
            if i % 2 == 0 and reader != dora:  # dora never marks LBBB, which the others see on half
                codes.append("LBBB")
            if i % 3 == 0:
                codes.append("RBBB")
            read(reader, batch, exam, codes)
    batch_agreement_compute(batch.pk)

    rows = download(client, diego, batch, "reader_classes")
    by_key = {(row["reader"], row["code"], row["reference"]): row for row in rows}
    dora_lbbb = by_key[("dora", "LBBB", "others")]
    assert dora_lbbb["outlier"] == "1" and "sensitivity" in dora_lbbb["low"]
    assert (dora_lbbb["n"], dora_lbbb["n_positive"], number(dora_lbbb["sensitivity"])) == ("24", "12", 0.0)
    assert number(dora_lbbb["sensitivity_ci_upper"]) < 0.3
    ana_lbbb = by_key[("ana", "LBBB", "others")]
    assert ana_lbbb["outlier"] == "0" and number(ana_lbbb["sensitivity"]) == 1.0
    assert (
        number(ana_lbbb["kappa_ci_lower"]) <= number(ana_lbbb["kappa"]) <= number(ana_lbbb["kappa_ci_upper"])
    )
    assert [row for row in rows if row["outlier"] == "1"] == [dora_lbbb]
    client.force_login(diego)
    page = client.get(reverse("batch-agreement", args=[batch.pk])).content.decode()
    assert 'id="reader-class-table"' in page and "outlier" in page


def test_latent_sensitivity_averages_only_classes_somebody_marked(client, ana, bruno, carol, diego, code15):
    exams = ExamFactory.create_batch(6)
    batch = batch_for(code15, diego, [ana, bruno, carol], exams)
    for i, exam in enumerate(exams):
        for j, reader in enumerate((ana, bruno, carol)):
            read(reader, batch, exam, ["RBBB"] if (i + j) % 3 else [])
    batch_agreement_compute(batch.pk)

    snapshot = batch_reads_snapshot(batch)
    marked = (snapshot.reads == 1).any(axis=(0, 1))
    latent = dawid_skene(snapshot.reads)
    rows = {row["reader"]: row for row in download(client, diego, batch, "readers")}
    for i, reader_id in enumerate(snapshot.reader_ids):
        username = {ana.pk: "ana", bruno.pk: "bruno", carol.pk: "carol"}[reader_id]
        # Pooled over the marked classes against the posterior: expected true positives / positives.
        counted = (snapshot.reads[i] != MISSING) & marked
        t = np.where(counted, latent.posterior, 0.0)
        expected = float((t * (snapshot.reads[i] == 1)).sum() / t.sum())
        assert number(rows[username]["latent_sensitivity"]) == pytest.approx(expected, abs=1e-5)
    # The page says how the figure is made, as it is made: pooled, not averaged over classes.
    client.force_login(diego)
    page = client.get(reverse("batch-agreement", args=[batch.pk])).content.decode()
    said = page.split('id="reader-table"')[0].rsplit("<p", 1)[1]
    assert "averaged" not in said and "expected true positives over expected positives" in said


def test_latent_specificity_averages_only_classes_somebody_left_unmarked(
    client, ana, bruno, carol, diego, code15
):
    """A class every read marked has no negative read: its latent specificity is the prior alone (0.455
    in the statistician's walk, pulling three good readers from 0.95-0.98 to 0.87-0.89)."""
    rng = np.random.default_rng(7)
    exams = ExamFactory.create_batch(60)
    batch = batch_for(code15, diego, [ana, bruno, carol], exams)
    truth = rng.random((60, 3)) < 0.3
    for e, exam in enumerate(exams):
        for reader in (ana, bruno, carol):
            seen = np.where(truth[e], rng.random(3) < 0.9, rng.random(3) < 0.05)
            read(
                reader,
                batch,
                exam,
                ["RBBB"] + [c for c, yes in zip(("AF", "SB", "1dAVb"), seen, strict=True) if yes],
            )
    batch_agreement_compute(batch.pk)

    snapshot = batch_reads_snapshot(batch)
    unmarked = (snapshot.reads == 0).any(axis=(0, 1))
    assert not unmarked[snapshot.class_codes.index("RBBB")]
    latent = dawid_skene(snapshot.reads)
    client.force_login(diego)
    api = {
        row["username"]: row for row in client.get(f"/api/v1/batches/{batch.pk}/agreement/").json()["readers"]
    }
    rows = {row["reader"]: row for row in download(client, diego, batch, "readers")}
    for i, reader_id in enumerate(snapshot.reader_ids):
        username = {ana.pk: "ana", bruno.pk: "bruno", carol.pk: "carol"}[reader_id]
        counted = (snapshot.reads[i] != MISSING) & unmarked
        f = np.where(counted, 1.0 - latent.posterior, 0.0)
        expected = float((f * (snapshot.reads[i] == 0)).sum() / f.sum())
        assert expected > 0.9
        assert number(rows[username]["latent_specificity"]) == pytest.approx(expected, abs=1e-5)
        assert api[username]["latent_specificity"] == pytest.approx(expected, abs=1e-5)


def test_two_readers_get_no_latent_estimate_of_their_own_reliability(client, ana, bruno, diego, code15):
    """With two reads per exam the latent model is not identifiable (docs/agreement.md says so of consensus):
    any error rates fit a 1-1 split, so the readers table gives no latent figures rather than the prior's."""
    exams = ExamFactory.create_batch(8)
    batch = batch_for(code15, diego, [ana, bruno], exams)
    for i, exam in enumerate(exams):
        read(ana, batch, exam, ["AF"] if i % 2 else [])
        read(bruno, batch, exam, ["AF"] if i % 3 else [])
    batch_agreement_compute(batch.pk)
    for row in download(client, diego, batch, "readers"):
        assert (row["latent_sensitivity"], row["latent_specificity"]) == ("", ""), row
        assert row["sensitivity"] != ""  # the plain figures against the other reader stay


def test_gold_accuracy_and_test_retest_kappa_per_reader_on_the_dashboard_page_and_csv(
    client, ana, bruno, diego, code15
):
    exams = ExamFactory.create_batch(20)
    ReferenceLabel.objects.create(exam=exams[0], code_system="code15", code="LBBB")
    ReferenceLabel.objects.create(exam=exams[1], code_system="code15", code="RBBB")
    batch = batch_for(code15, diego, [ana, bruno], exams, gold_exams=exams[:2], retest_fraction=0.15, seed=2)
    assert BatchExam.objects.filter(batch=batch, is_gold=True).count() == 2
    retests = Assignment.objects.filter(batch=batch, read_round=2)
    assert retests.exists()
    for i, exam in enumerate(exams):
        read(ana, batch, exam, ["LBBB"] if i == 0 else ["RBBB"] if i in (1, 5) else [])
        read(bruno, batch, exam, ["RBBB"] if i in (1, 5) else [])  # bruno misses the gold LBBB
    for retest in retests:
        i = exams.index(retest.exam)
        # ana repeats herself exactly; bruno marks LAD on every retest
        codes = (
            (["LBBB"] if i == 0 else ["RBBB"] if i in (1, 5) else []) if retest.reader == ana else ["RBBB"]
        )
        read(retest.reader, batch, retest.exam, codes, read_round=2)
    batch_agreement_compute(batch.pk)

    rows = {row["reader"]: row for row in download(client, diego, batch, "readers")}
    assert (rows["ana"]["gold_exams"], number(rows["ana"]["gold_exam_accuracy"])) == ("2", 1.0)
    assert (rows["bruno"]["gold_exams"], number(rows["bruno"]["gold_exam_accuracy"])) == ("2", 0.5)
    # With two gold exams, 0.5 says little: the Wilson interval says how little (statsmodels' figures).
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(1, 2, alpha=0.05, method="wilson")
    assert number(rows["bruno"]["gold_exam_accuracy_low"]) == pytest.approx(low, abs=1e-9)
    assert number(rows["bruno"]["gold_exam_accuracy_high"]) == pytest.approx(high, abs=1e-9)
    page = client.get(f"/batches/{batch.pk}/agreement/").content.decode()
    quality = page.split('id="reader-quality"', 1)[1].split("</table>", 1)[0]
    assert f"{low:.2f}\u2013{high:.2f}" in quality, quality  # an en dash between the bounds
    assert number(rows["ana"]["retest_agreement"]) == 1.0
    assert int(rows["ana"]["retest_exams"]) == retests.filter(reader=ana).count()
    assert number(rows["bruno"]["retest_agreement"]) < 1.0
    _check_retest_intervals(client, batch, rows, ana, bruno, exams, retests)
    gold_rows = [r for r in download(client, diego, batch, "reader_classes") if r["reference"] == "gold"]
    bruno_lbbb = next(r for r in gold_rows if (r["reader"], r["code"]) == ("bruno", "LBBB"))
    assert (bruno_lbbb["n"], bruno_lbbb["n_positive"], number(bruno_lbbb["sensitivity"])) == ("2", "1", 0.0)
    client.force_login(diego)
    for url in (reverse("batch-agreement", args=[batch.pk]), reverse("batch-detail", args=[batch.pk])):
        page = client.get(url).content.decode()
        assert 'id="reader-quality"' in page, url
        assert "Test-retest" in page and "Gold" in page
        # Not "blind": in a two-stage batch the reads compared are the revisions, made after the suggestion.
        # (The batch page says "blind" elsewhere: what blind readers are shown of the measurements.)
        quality = page.split('id="reader-quality"', 1)[1].split("</p>", 1)[0]
        assert "blind" not in quality.lower() and "made without sight of their first" in page


def test_kappa_per_pair_of_readers_and_class_is_stored_and_exported(client, ana, bruno, carol, diego, code15):
    exams = ExamFactory.create_batch(8)
    readers = [ana, bruno, carol]
    batch = batch_for(code15, diego, readers, exams)
    marks = {ana: [0, 1, 2, 3], bruno: [0, 1, 2, 4], carol: [5, 6]}
    for i, exam in enumerate(exams):
        for reader in readers:
            read(reader, batch, exam, ["RBBB"] if i in marks[reader] else [])
    result = batch_agreement_compute(batch.pk)
    assert result.results["pairs_by_class"]

    rows = download(client, diego, batch, "pairs_by_class")
    row = next(r for r in rows if {r["reader_a"], r["reader_b"]} == {"ana", "bruno"} and r["code"] == "RBBB")
    # ana and bruno: 3 both, 1 each alone, 3 neither -> Cohen's kappa 0.5 over n = 8.
    from sklearn.metrics import cohen_kappa_score

    a = [int(i in marks[ana]) for i in range(8)]
    b = [int(i in marks[bruno]) for i in range(8)]
    assert number(row["kappa"]) == pytest.approx(cohen_kappa_score(a, b), abs=1e-9)
    assert row["n"] == "8" and row["positive_a"] == "4" and row["positive_both"] == "3"
    assert number(row["kappa_ci_lower"]) <= number(row["kappa"]) <= number(row["kappa_ci_upper"])
    assert {r["code"] for r in rows} >= {"RBBB"}


def test_the_dataset_card_names_the_interval_and_gives_gold_and_test_retest_per_reader(
    tmp_path, ana, bruno, carol, diego, code15
):
    import json

    from django.core.management import call_command

    exams = ExamFactory.create_batch(20)
    ReferenceLabel.objects.create(exam=exams[0], code_system="code15", code="LBBB")
    readers = [ana, bruno, carol]
    batch = batch_for(code15, diego, readers, exams, gold_exams=exams[:1], retest_fraction=0.1, seed=3)
    batch.design = {**batch.design, "agreement": {"intervals": "exams_and_readers"}}
    batch.save(update_fields=["design"])
    for i, exam in enumerate(exams):
        for j, reader in enumerate(readers):
            marked = (i == 0 and reader != carol) or (i + j) % 4 == 0
            read(reader, batch, exam, ["LBBB"] if marked else [])
    for retest in Assignment.objects.filter(batch=batch, read_round=2):
        read(retest.reader, batch, retest.exam, [], read_round=2)
    batch_agreement_compute(batch.pk)

    call_command(
        "export_labels", "--batch", str(batch.pk), "--out", str(tmp_path), "--no-hdf5", "--no-progress"
    )
    card = json.loads((tmp_path / "dataset_card.json").read_text())
    agreement = card["agreement"][str(batch.pk)]
    assert agreement["interval_method"] == "exams_and_readers"
    assert "exams and readers" in agreement["interval_description"]
    by_reader = {row["reader"]: row for row in agreement["readers"]}
    assert sorted(by_reader) == ["R01", "R02", "R03"]  # pseudonyms only, as everywhere in a release
    assert [by_reader[r]["gold_exam_accuracy"] for r in ("R01", "R02", "R03")] == [1.0, 1.0, 0.0]
    assert all(row["retest_exams"] >= 1 for row in by_reader.values())
    markdown = (tmp_path / "dataset_card.md").read_text()
    assert "over exams and readers" in markdown and "Test-retest" in markdown and "Gold" in markdown
    assert "carol" not in (tmp_path / "dataset_card.json").read_text()


def test_a_coordinator_chooses_the_two_way_bootstrap_on_the_agreement_page(
    client, ana, bruno, carol, diego, code15
):
    from annotations.models import AuditEvent

    exams = ExamFactory.create_batch(6)
    batch = batch_for(code15, diego, [ana, bruno, carol], exams)
    for i, exam in enumerate(exams):
        for j, reader in enumerate((ana, bruno, carol)):
            read(reader, batch, exam, ["RBBB"] if (i + j) % 2 else [])
    batch_agreement_compute(batch.pk)
    client.force_login(diego)
    url = reverse("batch-agreement-recompute", args=[batch.pk])
    page = client.get(reverse("batch-agreement", args=[batch.pk])).content.decode()
    assert 'name="intervals"' in page and 'value="exams_and_readers"' in page

    assert client.post(url, {"intervals": "readers_only"}).status_code == 400
    batch.refresh_from_db()
    assert "agreement" not in batch.design

    assert client.post(url, {"intervals": "exams_and_readers"}).status_code == 302
    batch.refresh_from_db()
    assert batch.design["agreement"] == {"intervals": "exams_and_readers"}
    event = AuditEvent.objects.get(action="batch.agreement_intervals")
    assert event.after == {"intervals": "exams_and_readers"} and event.actor == diego
    batch_agreement_compute(batch.pk)
    rows = download(client, diego, batch, "classes")
    assert {row["interval_method"] for row in rows} == {"exams_and_readers"}


def test_create_batch_can_ask_for_intervals_over_exams_and_readers(ana, bruno, carol, diego, code15):
    from django.core.management import call_command

    from annotations.models import ReviewBatch
    from tests.factories import DatasetFactory

    archive = DatasetFactory(name="archive")
    ExamFactory.create_batch(6, dataset=archive)
    call_command(
        "create_batch",
        "--name",
        "Two-way",
        "--coordinator",
        "diego",
        "--readers",
        "ana,bruno,carol",
        "--k",
        "3",
        "--taxonomy",
        "code15",
        "--dataset",
        "archive",
        "--intervals",
        "exams_and_readers",
    )
    assert ReviewBatch.objects.get(name="Two-way").design["agreement"] == {"intervals": "exams_and_readers"}


def test_positive_reads_count_only_the_exams_the_figures_are_computed_on(client, ana, bruno, diego, code15):
    """An exam read once (its other reader skipped it) is left out of the agreement figures, as the page
    says: its reads are not counted among the class's positive reads either, so that count and the
    prevalence beside it describe the same exams."""
    from annotations.services.reading import assignment_skip

    exams = ExamFactory.create_batch(3)
    batch = batch_for(code15, diego, [ana, bruno], exams)
    for exam in exams[:2]:
        read(ana, batch, exam, ["RBBB"])
        read(bruno, batch, exam, ["RBBB"])
    read(ana, batch, exams[2], ["RBBB"])
    skipped = Assignment.objects.get(batch=batch, exam=exams[2], reader=bruno)
    assignment_skip(actor=bruno, assignment=skipped, reason="Tracing unreadable")
    batch_agreement_compute(batch.pk)

    client.force_login(diego)
    api = client.get(reverse("api-batch-agreement", args=[batch.pk])).json()
    rbbb = next(row for row in api["classes"] if row["code"] == "RBBB")
    assert (rbbb["positive_reads"], rbbb["prevalence"]) == (4, 1.0)
    assert api["bootstrap"]["exams_left_out"] == 1
    rows = {row["code"]: row for row in download(client, diego, batch, "classes")}
    assert rows["RBBB"]["positive_reads"] == "4"


def test_test_retest_agreement_counts_only_the_classes_the_reader_marked_in_either_read(
    client, ana, bruno, diego, code15
):
    """Classes a reader never marked, first time or second, agree by default: counted, they made an
    auditor's 0.99 "agreement" out of retests that disagreed on half their findings. The figure is the
    share of equal cells over the classes the reader marked in some read of a retested exam."""
    exams = ExamFactory.create_batch(20)
    batch = batch_for(code15, diego, [ana, bruno], exams, retest_fraction=0.15, seed=2)
    retests = list(Assignment.objects.filter(batch=batch, read_round=2, reader=ana))
    assert len(retests) >= 2
    for exam in exams:
        read(ana, batch, exam, ["SB"])
        read(bruno, batch, exam, [])
    for retest in Assignment.objects.filter(batch=batch, read_round=2):
        read(retest.reader, batch, retest.exam, ["SB", "AF"] if retest.reader == ana else [], read_round=2)
    batch_agreement_compute(batch.pk)
    rows = {row["reader"]: row for row in download(client, diego, batch, "readers")}
    # ana: SB agrees on every pair, AF disagrees on every pair; nothing else was ever marked.
    assert number(rows["ana"]["retest_agreement"]) == pytest.approx(0.5)
    assert number(rows["bruno"]["retest_agreement"]) == 1.0  # nothing marked, twice: read the same way


def _check_retest_intervals(client, batch, rows, ana, bruno, exams, retests):
    """bruno marks RBBB on every retest and on two first reads: a retested exam agrees exactly when it
    is one of those two, so his agreement in a resample is the share of them among the drawn exams, and
    his kappa is 0 wherever it is defined. Recomputed here from the same draws (exams in id order, the
    reader's seed offset by their place among the readers), and the page shows what the CSV says."""
    from django.conf import settings

    from annotations.lib.stats import bootstrap_weights

    theirs = sorted(r.exam_id for r in retests.filter(reader=bruno))
    agrees = np.array([exams.index(next(e for e in exams if e.pk == pk)) in (1, 5) for pk in theirs], float)
    place = sorted([ana.pk, bruno.pk]).index(bruno.pk)
    weights = bootstrap_weights(len(theirs), settings.AGREEMENT_BOOTSTRAP_RESAMPLES, batch.seed + place)
    share = weights @ agrees / len(theirs)
    bruno_row = rows["bruno"]
    assert number(bruno_row["retest_agreement"]) == pytest.approx(agrees.mean())
    assert number(bruno_row["retest_agreement_low"]) == pytest.approx(np.quantile(share, 0.025))
    assert number(bruno_row["retest_agreement_high"]) == pytest.approx(np.quantile(share, 0.975))
    assert (number(bruno_row["retest_kappa_low"]), number(bruno_row["retest_kappa_high"])) == (0.0, 0.0)
    # ana repeats herself exactly: every resample agrees, a point at 1.
    assert (number(rows["ana"]["retest_agreement_low"]), number(rows["ana"]["retest_agreement_high"])) == (
        1,
        1,
    )
    low, high = number(bruno_row["retest_agreement_low"]), number(bruno_row["retest_agreement_high"])
    assert low < high
    page = client.get(f"/batches/{batch.pk}/agreement/").content.decode()
    quality = page.split('id="reader-quality"', 1)[1].split("</table>", 1)[0]
    assert f"{low:.2f}\u2013{high:.2f}" in quality, quality
