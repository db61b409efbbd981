"""Evidence about suggestions, checked against values computed by hand.

Consensus rows are written directly (the consensus computation is another service's job)."""

from __future__ import annotations

import re

import pytest

from annotations.models import (
    Adjudication,
    AgreementResult,
    BatchExam,
    Consensus,
    DiagnosticClass,
    ReviewBatch,
)
from annotations.selectors.suggestions.evidence import automation_bias, batch_evidence, provider_agreement
from annotations.services.reading import LabelInput, annotation_submit
from annotations.services.suggestions import suggestion_compute
from annotations.tasks.agreement import evidence_warm
from tests.factories import batch_for, make_exam
from tests.reading.helpers import queue
from tests.suggestions.test_suggestions_service import FixedProvider


def _consensus(batch, exam_id, code, value):
    Consensus.objects.create(
        batch=batch,
        exam_id=exam_id,
        diagnostic_class=DiagnosticClass.objects.get(taxonomy=batch.taxonomy, code=code),
        value=value,
        method=Consensus.Method.MAJORITY,
        positive_votes=int(value),
        total_votes=1,
        algorithm_version="test",
    )


@pytest.fixture
def scored_batch(ana, diego, tnmg):
    """Four exams, one reader, FixedProvider scores and consensus as in the table below.

    exam  SB score  SB truth   AF score  AF truth   LBBB score  LBBB truth
    1     0.9       yes        0.10      no         0.3         no
    2     0.6       no         0.01      no         0.3         no
    3     0.4       yes        0.03      no         0.3         no
    4     0.2       no         0.20      yes        0.3         no
    """
    exams = [make_exam(heart_rate=60.0 + i, seed=i) for i in range(4)]
    batch = batch_for(tnmg, diego, [ana], exams, name="Evidence")
    table = [
        (0.9, True, 0.10, False),
        (0.6, False, 0.01, False),
        (0.4, True, 0.03, False),
        (0.2, False, 0.20, True),
    ]
    for exam, (sb, sb_truth, af, af_truth) in zip(exams, table, strict=True):
        suggestion_compute(exam.pk, FixedProvider("1", {"SB": sb, "AF": af, "LBBB": 0.3}))
        _consensus(batch, exam.pk, "SB", sb_truth)
        _consensus(batch, exam.pk, "AF", af_truth)
        _consensus(batch, exam.pk, "LBBB", False)
        _consensus(batch, exam.pk, "NORM", True)  # a class the provider does not score: left out
    return batch


def test_sensitivity_specificity_and_auc_per_class_match_the_hand_computed_values(scored_batch):
    (provider,) = provider_agreement(scored_batch)
    assert (provider["provider"], provider["version"]) == ("fixed", "1")
    rows = {row["code"]: row for row in provider["classes"]}
    assert list(rows) == ["LBBB", "AF", "SB"]  # taxonomy order; NORM is not scored
    # SB at 0.5: predicted 1, 2; truth 1, 3 -> TP 1 (exam 1), FP 1 (2), FN 1 (3), TN 1 (4).
    # AUC: positive scores {0.9, 0.4} above negative {0.6, 0.2} in 3 of 4 pairs.
    sb = rows["SB"]
    assert (sb["tp"], sb["fp"], sb["tn"], sb["fn"]) == (1, 1, 1, 1)
    assert (sb["sensitivity"], sb["specificity"], sb["auc"]) == (0.5, 0.5, 0.75)
    # AF at the provider's own threshold 0.05: predicted 1 and 4; truth 4 -> TP 1, FP 1, TN 2.
    af = rows["AF"]
    assert (af["threshold"], af["tp"], af["fp"], af["tn"], af["fn"]) == (0.05, 1, 1, 2, 0)
    assert af["sensitivity"] == 1.0
    assert af["specificity"] == pytest.approx(2 / 3)
    assert af["auc"] == 1.0
    # LBBB: no positive exam, so sensitivity and AUC are undefined, not 0.
    lbbb = rows["LBBB"]
    assert (lbbb["n"], lbbb["tn"], lbbb["specificity"], lbbb["sensitivity"], lbbb["auc"]) == (
        4,
        4,
        1.0,
        None,
        None,
    )


def test_without_consensus_there_is_no_agreement_report(ana, diego, tnmg):
    exam = make_exam(seed=1)
    batch = batch_for(tnmg, diego, [ana], [exam], name="No consensus")
    suggestion_compute(exam.pk, FixedProvider())
    assert provider_agreement(batch) == []
    assert automation_bias(batch) == []  # not a two-stage batch


def _read(reader, assignment, blind: list[str], revised: list[str] | None):
    """Blind read, then (when given) the revision made with the suggestion on screen."""
    first = annotation_submit(
        actor=reader, assignment=assignment, labels=[LabelInput(c) for c in blind], revision=0
    )
    assert first.suggestion_revealed is not None
    if revised is not None:
        annotation_submit(
            actor=reader,
            assignment=assignment,
            labels=[LabelInput(c) for c in revised],
            revision=first.annotation.revision,
        )


@pytest.fixture
def tnmg_2026(db):
    """TNMG version 2026, whose exclusive sets still let SB go with AF: these reads count suggestions
    followed and left on three independent statements, as a batch frozen on 2026 may hold them."""
    from annotations.services.taxonomy import SHIPPED_DIR, taxonomy_load, taxonomy_read_file

    return taxonomy_load(taxonomy_read_file(SHIPPED_DIR / "archive" / "tnmg-2026.json")).taxonomy


@pytest.fixture
def two_stage_reads(ana, bruno, diego, tnmg_2026):
    """Two exams read by ana and bruno. Suggested (score >= threshold; AF's threshold is 0.05):
    exam 1: SB 0.9 yes, AF 0.10 yes, LBBB 0.3 no;  exam 2: SB 0.6 yes, AF 0.01 no, LBBB 0.3 no."""
    exams = [make_exam(heart_rate=70.0 + i, seed=i) for i in range(2)]
    batch = batch_for(
        tnmg_2026,
        diego,
        [ana, bruno],
        exams,
        name="Two stage",
        suggestion_mode=ReviewBatch.SuggestionMode.TWO_STAGE,
    )
    suggestion_compute(exams[0].pk, FixedProvider("1", {"SB": 0.9, "AF": 0.10, "LBBB": 0.3}))
    suggestion_compute(exams[1].pk, FixedProvider("1", {"SB": 0.6, "AF": 0.01, "LBBB": 0.3}))
    by_exam = {reader: {a.exam_id: a for a in queue(batch, reader)} for reader in (ana, bruno)}
    # ana, exam 1: LBBB -> SB, AF: SB and AF added (suggested), LBBB removed (not suggested): 3 toward.
    _read(ana, by_exam[ana][exams[0].pk], ["LBBB"], ["SB", "AF"])
    # ana, exam 2: SB, AF -> AF, LBBB: SB removed (suggested) and LBBB added (not): 2 away; AF kept.
    _read(ana, by_exam[ana][exams[1].pk], ["SB", "AF"], ["AF", "LBBB"])
    # bruno, exam 1: SB kept as it was. Exam 2: blind read only (revision still open): not compared.
    _read(bruno, by_exam[bruno][exams[0].pk], ["SB"], ["SB"])
    _read(bruno, by_exam[bruno][exams[1].pk], ["LBBB"], None)
    return batch


def test_automation_bias_counts_moves_toward_and_away_per_reader_and_class(two_stage_reads):
    ana, bruno = automation_bias(two_stage_reads)
    assert (ana["reader"], ana["reads_compared"], ana["toward"], ana["away"]) == ("ana", 2, 3, 2)
    rows = {row["code"]: row for row in ana["classes"]}
    assert list(rows) == ["LBBB", "AF", "SB"]
    pick = ("reads", "blind_agreed", "blind_disagreed", "toward", "away", "toward_rate", "away_rate")
    assert tuple(rows["SB"][k] for k in pick) == (2, 1, 1, 1, 1, 1.0, 1.0)
    assert tuple(rows["AF"][k] for k in pick) == (2, 0, 2, 1, 0, 0.5, None)
    assert tuple(rows["LBBB"][k] for k in pick) == (2, 1, 1, 1, 1, 1.0, 1.0)
    assert (bruno["reader"], bruno["reads_compared"], bruno["toward"], bruno["away"]) == ("bruno", 1, 0, 0)
    rows = {row["code"]: row for row in bruno["classes"]}
    assert tuple(rows["SB"][k] for k in pick) == (1, 1, 0, 0, 0, None, 0.0)
    assert tuple(rows["AF"][k] for k in pick) == (1, 0, 1, 0, 0, 0.0, None)
    assert tuple(rows["LBBB"][k] for k in pick) == (1, 1, 0, 0, 0, None, 0.0)


def test_the_evidence_page_and_api_are_for_coordinators_only(client_for, ana, diego, scored_batch):
    client = client_for(diego)
    evidence_warm(scored_batch.pk)  # the worker's figures (tests/suggestions/test_evidence_request.py)
    page = client.get(f"/batches/{scored_batch.pk}/evidence/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="provider-agreement"' in html and "0.75" in html and 'id="automation-bias"' not in html
    data = client.get(f"/api/v1/batches/{scored_batch.pk}/evidence/").json()
    assert data == {**batch_evidence(scored_batch), "computed_at": data["computed_at"]}
    assert data["state"] == "ready"
    assert data["consensus_rows"] == 16
    reader = client_for(ana)
    assert reader.get(f"/batches/{scored_batch.pk}/evidence/").status_code == 403
    assert reader.get(f"/api/v1/batches/{scored_batch.pk}/evidence/").status_code == 403


def test_the_two_stage_evidence_page_shows_the_automation_bias_table(client_for, diego, two_stage_reads):
    html = client_for(diego).get(f"/batches/{two_stage_reads.pk}/evidence/").content.decode()
    assert 'id="automation-bias"' in html and "2 reads · 3 toward · 2 away" in html
    assert BatchExam.objects.filter(batch=two_stage_reads).count() == 2


def _page_rows(html: str) -> dict[str, list[str]]:
    """The provider table of the evidence page: code -> the cells after it, as shown."""
    table = html.split('id="provider-agreement"')[1].split("</section>")[0]
    rows = re.findall(r'<tr><td title="[^"]*">([^<]+)</td>(.*?)</tr>', table, flags=re.S)
    return {code: re.findall(r"<td>([^<]*)</td>", cells) for code, cells in rows}


def test_the_evidence_page_shows_the_numbers_the_api_gives(client_for, diego, scored_batch):
    client = client_for(diego)
    evidence_warm(scored_batch.pk)
    page = _page_rows(client.get(f"/batches/{scored_batch.pk}/evidence/").content.decode())
    (provider,) = client.get(f"/api/v1/batches/{scored_batch.pk}/evidence/").json()["providers"]
    two = lambda v: "—" if v is None else f"{v:.2f}"  # noqa: E731
    assert page == {
        c["code"]: [str(c["n"]), str(c["positives"]), two(c["threshold"])]
        + [str(c[k]) for k in ("tp", "fp", "tn", "fn")]
        + [two(c["sensitivity"]), two(c["specificity"]), two(c["auc"])]
        for c in provider["classes"]
    }
    assert page["SB"][-1] == "0.75" and page["LBBB"][-1] == "—"


def _sb(client, batch) -> list[tuple[str, int, int]]:
    """SB's row of each provider version, once the worker has computed the batch's current figures."""
    answer = client.get(f"/api/v1/batches/{batch.pk}/evidence/").json()
    if answer["state"] == "computing":
        evidence_warm(batch.pk)
        answer = client.get(f"/api/v1/batches/{batch.pk}/evidence/").json()
    assert answer["state"] == "ready"
    providers = answer["providers"]
    return [
        (p["version"], row["tp"], row["fn"]) for p in providers for row in p["classes"] if row["code"] == "SB"
    ]


def test_the_evidence_follows_new_scores_a_consensus_computation_and_an_adjudication(
    client_for, diego, scored_batch
):
    client = client_for(diego)
    assert _sb(client, scored_batch) == [("1", 1, 1)]
    exams = list(
        BatchExam.objects.filter(batch=scored_batch).order_by("exam_id").values_list("exam_id", flat=True)
    )
    # A second version scores every exam's SB at 0.9: both SB-positive exams predicted.
    for exam_id in exams:
        suggestion_compute(exam_id, FixedProvider("2", {"SB": 0.9}))
    assert _sb(client, scored_batch) == [("1", 1, 1), ("2", 2, 0)]
    # A consensus computation replaces the rows: exam 3 is no longer SB-positive.
    Consensus.objects.filter(batch=scored_batch, exam_id=exams[2], diagnostic_class__code="SB").update(
        value=False
    )
    AgreementResult.objects.create(batch=scored_batch, algorithm_version="test", read_count=4)
    assert _sb(client, scored_batch) == [("1", 1, 0), ("2", 1, 0)]
    # An adjudication makes exam 4 SB-positive.
    sb = DiagnosticClass.objects.get(taxonomy=scored_batch.taxonomy, code="SB")
    Consensus.objects.filter(batch=scored_batch, exam_id=exams[3], diagnostic_class=sb).update(value=True)
    Adjudication.objects.create(
        batch=scored_batch, exam_id=exams[3], diagnostic_class=sb, adjudicator=diego, value=True
    )
    assert _sb(client, scored_batch) == [("1", 1, 1), ("2", 2, 0)]


def test_the_embedded_defaults_row_by_row_reading_gives_the_same_cells_and_figures(scored_batch, monkeypatch):
    """SQLite reads the scored cells row by row (no arrays, no jsonb operators); on the same batch both
    readings give the same cells, and the report the same figures, the provider's own thresholds included."""
    from annotations.selectors.suggestions import evidence

    classes = {c.pk: c for c in scored_batch.taxonomy.classes.all()}

    def cells(read) -> list[tuple]:
        found = read(scored_batch, classes)
        keyed = [(*found.group_versions[g], found.group_classes[g]) for g in found.groups]
        columns = (found.exam_ids.tolist(), found.scores.tolist(), found.thresholds.tolist())
        return sorted(zip(keyed, *columns, strict=True))

    assert cells(evidence._scored_cells) == cells(evidence._scored_cells_by_rows)
    assert {row[3] for row in cells(evidence._scored_cells_by_rows)} == {0.5, 0.05}  # AF's own threshold
    in_arrays = provider_agreement(scored_batch)
    monkeypatch.setattr(evidence, "_scored_cells", evidence._scored_cells_by_rows)
    assert provider_agreement(scored_batch) == in_arrays
