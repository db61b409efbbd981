"""What a coordinator gets as consensus, read the way they read it: the agreement API and page, and the
release files (consensus.csv, consensus.jsonl, the dataset card). Reads go through the reading services."""

import csv
import json
from collections import Counter

import pytest

from annotations.lib.exclusive_sets import exclusive_conflicts
from annotations.lib.stats.consensus import MIN_LATENT_POSITIVE_EXAMS
from annotations.lib.stats.simulate import ADVERSARIAL, CODES, GOOD, POOR, simulate_study
from annotations.models import Assignment, Consensus, DiagnosticClass, DisputedLabel
from annotations.selectors.releases.plan import export_plan
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.reading import assignment_skip
from annotations.services.releases.export import ExportOptions, export_write
from tests.factories import ExamFactory, UserFactory, batch_for, read

pytestmark = pytest.mark.django_db

# The simulated taxonomy's classes as TNMG statements.
AS_TNMG = {
    "SB": "SB",
    "ST": "ST",
    "AF": "AF",
    "RBBB": "RBBB",
    "IRBBB": "IRBBB",
    "1dAVb": "LAFB",  # 1dAVb goes with no AF in TNMG 2026.3; the left anterior fascicular block does
    "LVH": "LAD",
    "RARE1": "WPW",
    "RARE2": "BRUGADA",
    "NORM": "NORM",
}


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", roles=["reader"])


def with_min_reads(batch, min_reads: int):
    """The batch's minimum number of reads, set in its design where the agreement reads it: the rule
    batch_create normalises does not carry it."""
    batch.design = {**batch.design, "consensus": {"min_reads": min_reads}}
    batch.save(update_fields=["design"])
    return batch


def skip(reader, batch, exam):
    assignment = Assignment.objects.get(batch=batch, exam=exam, reader=reader, read_round=1)
    assignment_skip(actor=reader, assignment=assignment, reason="noisy")


def release(batch, folder):
    plan = export_plan([batch.pk])
    export_write(
        plan, folder, ExportOptions(hdf5=False), title="t", release_date="2026-01-01T00:00:00.000000Z"
    )
    with open(folder / "consensus.jsonl", encoding="utf-8") as handle:
        lines = {json.loads(line)["exam_id"]: json.loads(line) for line in handle}
    with open(folder / "consensus.csv", newline="", encoding="utf-8") as handle:
        table = {row["exam_id"]: row for row in csv.DictReader(handle)}
    with open(folder / "dataset_card.json", encoding="utf-8") as handle:
        card = json.load(handle)
    return lines, table, card


def api_agreement(client, diego, batch):
    client.force_login(diego)
    response = client.get(f"/api/v1/batches/{batch.pk}/agreement/")
    assert response.status_code == 200
    return response.json()


# --- 1. Exclusive sets --------------------------------------------------------------------------------------
def test_a_low_majority_threshold_never_releases_two_rhythms_of_one_set(
    ana, bruno, carol, diego, tnmg, tmp_path
):
    exam = ExamFactory()
    batch = batch_for(tnmg, diego, [ana, bruno, carol], [exam], consensus={"threshold": 0.3})
    read(ana, batch, exam, ["SB"])
    read(bruno, batch, exam, ["ST"])
    read(carol, batch, exam, ["1dAVb"])
    batch_agreement_compute(batch.pk)

    lines, table, _card = release(batch, tmp_path)
    line = lines[exam.external_id]
    assert {item["code"] for item in line["labels"] if item["value"]} == {"1dAVb"}  # 1 of 3 > 0.3
    undecided = {item["code"]: item["reason"] for item in line["undecided"]}
    assert undecided["SB"] == undecided["ST"] == "exclusive"
    assert table[exam.external_id]["SB"] == table[exam.external_id]["ST"] == ""
    assert set(DisputedLabel.objects.filter(batch=batch).values_list("diagnostic_class__code", "reason")) >= {
        ("SB", "exclusive"),
        ("ST", "exclusive"),
    }


def test_three_readers_naming_three_sinus_rates_send_the_rhythm_to_the_adjudicator_not_out_as_none(
    ana, bruno, carol, carla, diego, tnmg, tmp_path, client
):
    """Each class had 1 of 3 votes, so the release said no sinus rhythm at all, which no reader said, and
    nobody was asked (a statistician's walk)."""
    exam = ExamFactory()
    batch = batch_for(tnmg, diego, [ana, bruno, carol], [exam])
    for reader, rhythm in ((ana, "SR"), (bruno, "SB"), (carol, "ST")):
        read(reader, batch, exam, [rhythm, "LAD"])
    batch_agreement_compute(batch.pk)

    lines, table, _card = release(batch, tmp_path)
    line = lines[exam.external_id]
    assert {item["code"] for item in line["labels"] if item["value"]} == {"LAD"}
    undecided = {item["code"]: item["reason"] for item in line["undecided"]}
    assert undecided == {"SR": "exclusive", "SB": "exclusive", "ST": "exclusive"}
    assert [table[exam.external_id][code] for code in ("SR", "SB", "ST")] == ["", "", ""]
    assert api_agreement(client, diego, batch)["consensus_summary"]["disputes"]["exclusive"] == 3
    client.force_login(carla)
    page = client.get(f"/adjudication/{batch.pk}/{exam.pk}/").content.decode()
    assert page.count('data-reason="exclusive"') == 3


def test_the_adjudicator_is_told_why_a_class_was_sent_to_them(ana, bruno, carol, carla, diego, tnmg, client):
    exam = ExamFactory()
    batch = batch_for(tnmg, diego, [ana, bruno, carol], [exam], consensus={"threshold": 0.3})
    read(ana, batch, exam, ["SB"])
    read(bruno, batch, exam, ["ST"])
    read(carol, batch, exam, ["1dAVb"])
    batch_agreement_compute(batch.pk)
    client.force_login(carla)
    page = client.get(f"/adjudication/{batch.pk}/{exam.pk}/").content.decode()
    assert page.count('data-reason="exclusive"') == 2
    assert "Exclusive set: the consensus would name two of its statements" in page
    assert "Share of positive reads" in page and "Latent estimate<" not in page  # a majority batch


# --- 2-3. Every decision kept, no silent override: a simulated study through the services ------------------
@pytest.mark.parametrize(
    ("seed", "n_exams", "unanimous_votes"),
    [
        (81, 40, 3),  # a class all three readers marked that per-class latent estimates turned negative
        (31, 60, 0),  # an exam nobody marked a class on that the estimate called present (once dropped)
    ],
)
def test_a_latent_batch_releases_every_decision_with_its_method_and_never_overrides_unanimous_readers(
    ana, bruno, carol, diego, tnmg, tmp_path, client, seed, n_exams, unanimous_votes
):
    # A good reader, a poor one and an adversarial one.
    study = simulate_study(seed, [GOOD, POOR, ADVERSARIAL], n_exams=n_exams)
    exams = [ExamFactory() for _ in range(study.reads.shape[1])]
    readers = [ana, bruno, carol]
    batch = batch_for(tnmg, diego, readers, exams, consensus={"method": "latent"})
    marked = {}
    for r, reader in enumerate(readers):
        for e, exam in enumerate(exams):
            codes = [AS_TNMG[code] for c, code in enumerate(CODES) if study.reads[r, e, c] == 1]
            read(reader, batch, exam, codes)
            for code in codes:
                marked.setdefault((exam.external_id, code), set()).add(reader.pk)
    batch_agreement_compute(batch.pk)

    lines, _table, _card = release(batch, tmp_path)
    kinds = dict(DiagnosticClass.objects.filter(taxonomy=tnmg).values_list("code", "kind"))
    overruled, overruled_at = 0, set()
    # The latent estimate decides a class only where enough exams have a positive read of it.
    positive_exams = Counter(code for _exam, code in marked)
    latent_codes = {code for code, n in positive_exams.items() if n >= MIN_LATENT_POSITIVE_EXAMS}
    for exam in exams:
        line = lines[exam.external_id]
        labels = {item["code"]: item for item in line["labels"]}
        undecided = {item["code"]: item for item in line["undecided"]}
        for code in set(AS_TNMG.values()):
            votes = len(marked.get((exam.external_id, code), ()))
            if code in undecided:
                if undecided[code]["reason"] == "overruled":
                    overruled += 1
                    overruled_at.add(undecided[code]["positive_votes"])
                    assert undecided[code]["positive_votes"] in (0, 3)  # only unanimous readers overruled
                    assert code in latent_codes
                continue
            item = labels.get(code)
            if item is None:  # implicit: nobody marked it, and it is released absent
                assert votes == 0
                continue
            assert item["positive_votes"] == votes and item["total_votes"] == 3
            assert item["probability"] is not None and item["method"] in ("unanimous", "latent", "majority")
            if item["method"] != "unanimous":
                assert (item["method"] == "latent") == (code in latent_codes), (code, item)
            if votes in (0, 3):  # the readers agreed: what they said is released, as unanimous
                assert (item["value"], item["method"]) == (int(votes == 3), "unanimous")
        chosen = [code for code, item in labels.items() if item["value"]]
        assert not exclusive_conflicts(chosen, kinds, tnmg.exclusive_sets)
    # The estimate that disagreed with unanimous readers went to a human, not into the labels.
    assert overruled >= 1 and unanimous_votes in overruled_at

    summary = api_agreement(client, diego, batch)["consensus_summary"]
    latent = summary["latent"]
    assert latent["converged"] in (True, False) and latent["iterations_max"] > 0
    assert "Dirichlet" in latent["prior"]
    rhythm = next(fit for fit in latent["sets"] if fit["codes"] == ["SR", "SB", "ST"])
    assert [code for code, _share in rhythm["prior"]] == ["SR", "SB", "ST", "none"]
    assert sum(share for _code, share in rhythm["prior"]) == pytest.approx(1.0)
    assert rhythm["converged"] and rhythm["iterations"] > 0
    assert summary["disputes"].get("overruled", 0) == overruled


# --- 4. Two reads: no latent rule -----------------------------------------------------------------------
def test_with_two_readers_a_latent_batch_sends_splits_to_adjudication_and_the_page_says_why(
    ana, bruno, diego, tnmg, client
):
    exams = [ExamFactory() for _ in range(6)]
    batch = batch_for(tnmg, diego, [ana, bruno], exams, consensus={"method": "latent"})
    for exam in exams[:4]:
        read(ana, batch, exam, ["SB", "LAD"])
        read(bruno, batch, exam, ["SB"])
    for exam in exams[4:]:
        read(ana, batch, exam, ["AF"])
        read(bruno, batch, exam, ["AF"])
    batch_agreement_compute(batch.pk)

    disputes = DisputedLabel.objects.filter(batch=batch)
    assert sorted(disputes.values_list("diagnostic_class__code", "reason")) == [("LAD", "tie")] * 4
    assert not Consensus.objects.filter(batch=batch, method="latent").exists()
    assert (
        Consensus.objects.get(batch=batch, exam=exams[0], diagnostic_class__code="SB").method == "unanimous"
    )
    summary = api_agreement(client, diego, batch)["consensus_summary"]
    assert summary["latent"]["exams_below_min_reads"] == 4 and summary["latent"]["min_reads"] == 3
    # Two reads that disagree are a tie: none of those labels was the majority's, and the page says so.
    assert summary["latent"]["below_min_reads_by_majority"] == 0
    assert summary["latent"]["below_min_reads_to_adjudication"] == 4
    page = client.get(f"/batches/{batch.pk}/agreement/").content.decode()
    assert 'id="consensus-latent"' in page
    assert "fewer than 3 reads" in page
    assert "decided by majority" not in page
    assert "the readers disagreed on 4 such exams" in page
    assert "4 labels went to adjudication" in page


def lad_split_latent_batch(coordinator, taxonomy, readers, *, n_exams: int):
    """A latent-rule batch whose three readers all read SB on every exam and split 2-1 on LAD, computed."""
    exams = [ExamFactory() for _ in range(n_exams)]
    batch = batch_for(taxonomy, coordinator, readers, exams, consensus={"method": "latent"})
    for exam in exams:
        for reader, codes in zip(readers, (["SB", "LAD"], ["SB"], ["SB", "LAD"]), strict=True):
            read(reader, batch, exam, codes)
    batch_agreement_compute(batch.pk)
    return batch


def test_a_latent_batch_names_the_classes_too_rarely_read_positive_for_the_latent_estimate(
    ana, bruno, carol, diego, tnmg, client
):
    # Three readers on four exams: LAD split 2-1 on each; too few exams with a positive read of it for
    # the latent estimate, so the majority decides, and the coordinator is told so.
    batch = lad_split_latent_batch(diego, tnmg, [ana, bruno, carol], n_exams=4)

    lad = Consensus.objects.filter(batch=batch, diagnostic_class__code="LAD")
    assert sorted(lad.values_list("method", "value")) == [("majority", True)] * 4
    latent = api_agreement(client, diego, batch)["consensus_summary"]["latent"]
    assert latent["min_positive_exams"] == MIN_LATENT_POSITIVE_EXAMS
    assert latent["classes_by_majority"] == [["LAD", 4]]
    page = client.get(f"/batches/{batch.pk}/agreement/").content.decode()
    assert f"fewer than {MIN_LATENT_POSITIVE_EXAMS} exams" in page
    assert "LAD (4)" in page


# --- 5. Single reads are never "majority"; the latent fit is shown ----------------------------------------
def test_a_single_read_is_released_as_a_single_read(ana, bruno, diego, tnmg, tmp_path):
    exam, other = ExamFactory(), ExamFactory()
    batch = with_min_reads(batch_for(tnmg, diego, [ana, bruno], [exam, other]), 1)
    read(ana, batch, exam, ["SB", "LAD"])
    skip(bruno, batch, exam)
    read(ana, batch, other, ["AF"])
    read(bruno, batch, other, ["AF"])
    batch_agreement_compute(batch.pk)

    lines, _table, _card = release(batch, tmp_path)
    methods = {item["code"]: (item["value"], item["method"]) for item in lines[exam.external_id]["labels"]}
    assert methods == {"SB": (1, "single"), "LAD": (1, "single")}
    assert {item["method"] for item in lines[other.external_id]["labels"]} == {"unanimous"}


def test_the_agreement_page_shows_the_latent_fit_its_prior_and_convergence(
    ana, bruno, carol, diego, tnmg, client
):
    batch = lad_split_latent_batch(diego, tnmg, [ana, bruno, carol], n_exams=4)
    client.force_login(diego)
    page = client.get(f"/batches/{batch.pk}/agreement/").content.decode()
    section = page[page.index('id="consensus-latent"') :]
    assert "Dirichlet" in section and "converged" in section.lower() and "iterations" in section


# --- 6. Too few reads: no consensus, listed ---------------------------------------------------------------
def test_an_exam_with_fewer_reads_than_the_minimum_gets_no_consensus_and_is_listed_everywhere(
    ana, bruno, diego, tnmg, tmp_path, client
):
    thin, full = ExamFactory(), ExamFactory()
    batch = batch_for(tnmg, diego, [ana, bruno], [thin, full])
    read(ana, batch, thin, ["SB", "LAD"])
    skip(bruno, batch, thin)  # a skip is not a read
    read(ana, batch, full, ["AF"])
    read(bruno, batch, full, ["AF"])
    batch_agreement_compute(batch.pk)

    assert not Consensus.objects.filter(batch=batch, exam=thin).exists()
    assert not DisputedLabel.objects.filter(batch=batch, exam=thin).exists()
    summary = api_agreement(client, diego, batch)["consensus_summary"]
    assert summary["min_reads"] == 2
    assert [(row["exam_id"], row["reads"]) for row in summary["insufficient_exams"]] == [(thin.pk, 1)]
    page = client.get(f"/batches/{batch.pk}/agreement/").content.decode()
    listed = page[page.index('id="insufficient-reads"') :]
    assert thin.external_id in listed and "insufficient reads" in listed.lower()

    lines, table, card = release(batch, tmp_path)
    assert lines[thin.external_id]["consensus"] == "insufficient reads"
    assert lines[thin.external_id]["labels"] == []
    assert lines[full.external_id]["consensus"] == "decided"
    codes = [code for code in table[thin.external_id] if code in ("SB", "LAD", "AF", "NORM")]
    assert all(table[thin.external_id][code] == "" for code in codes)  # no value, not "absent"
    assert table[full.external_id]["AF"] == "1"
    assert card["counts"]["insufficient_reads"] == 1
    assert card["insufficient_reads"] == [
        {"dataset": thin.dataset.name, "exam_id": thin.external_id, "batch": batch.pk, "reads": 1}
    ]


def test_the_minimum_number_of_reads_is_a_batch_setting(ana, bruno, carol, diego, tnmg, client):
    exam = ExamFactory()
    batch = with_min_reads(batch_for(tnmg, diego, [ana, bruno, carol], [exam]), 3)
    read(ana, batch, exam, ["SB"])
    read(bruno, batch, exam, ["SB"])
    skip(carol, batch, exam)
    batch_agreement_compute(batch.pk)
    assert not Consensus.objects.filter(batch=batch).exists()
    summary = api_agreement(client, diego, batch)["consensus_summary"]
    assert summary["min_reads"] == 3 and [r["exam_id"] for r in summary["insufficient_exams"]] == [exam.pk]


def test_the_marked_column_is_each_exams_share_of_reads_averaged_and_says_so(
    ana, bruno, carol, diego, tnmg, client
):
    """Three reads of one exam (one marks LAD) and two of another (both do): the reads' share marking LAD
    is 3/5, the mean of each exam's share (1/3 + 1) / 2. The column shows the latter and is named for it."""
    exams = [ExamFactory() for _ in range(2)]
    batch = batch_for(tnmg, diego, [ana, bruno, carol], exams)
    read(ana, batch, exams[0], ["SB", "LAD"])
    read(bruno, batch, exams[0], ["SB"])
    read(carol, batch, exams[0], ["SB"])
    read(ana, batch, exams[1], ["SB", "LAD"])
    read(bruno, batch, exams[1], ["SB", "LAD"])
    skip(carol, batch, exams[1])
    batch_agreement_compute(batch.pk)
    row = next(c for c in api_agreement(client, diego, batch)["classes"] if c["code"] == "LAD")
    assert row["prevalence"] == pytest.approx(2 / 3) and row["positive_reads"] == 3
    page = client.get(f"/batches/{batch.pk}/agreement/").content.decode()
    assert "Marked (mean share per exam)" in page
    assert '<td title="Left QRS axis deviation">LAD</td><td>0.667</td>' in page
