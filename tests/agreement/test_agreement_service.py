"""Agreement and consensus of a batch, computed from reads submitted through the reading services."""

import time

import pytest
from django.core.cache import cache

from annotations.lib.stats import ALGORITHM_VERSION
from annotations.lib.stats.consensus import MIN_LATENT_POSITIVE_EXAMS
from annotations.models import (
    Adjudication,
    AgreementResult,
    Annotation,
    Assignment,
    AuditEvent,
    Consensus,
    DiagnosticClass,
    DisputedLabel,
)
from annotations.selectors.agreement.summary import batch_reads_snapshot, batches_with_stale_agreement
from annotations.services.adjudication import Decision, adjudication_decide
from annotations.services.agreement import compute
from annotations.services.agreement.compute import (
    _pending_key,
    agreement_recompute_request,
    agreement_recompute_started,
    batch_agreement_compute,
)
from annotations.services.reading import LabelInput, annotation_save_draft
from tests.factories import ExamFactory, UserFactory, batch_for, read

pytestmark = pytest.mark.django_db


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", roles=["reader"])


def consensus_of(batch, exam, code):
    return Consensus.objects.filter(batch=batch, exam=exam, diagnostic_class__code=code).first()


def test_three_readers_give_unanimous_and_majority_consensus_with_the_votes_recorded(
    ana, bruno, carol, diego, tnmg
):
    first, second = ExamFactory(), ExamFactory()
    batch = batch_for(tnmg, diego, [ana, bruno, carol], [first, second])
    read(ana, batch, first, ["SB", "1dAVb"])
    read(bruno, batch, first, ["SB", "1dAVb"])
    read(carol, batch, first, ["SB"])
    read(ana, batch, second, ["AF"])
    read(bruno, batch, second, ["AF", "LBBB"])
    read(carol, batch, second, ["AF"])

    result = batch_agreement_compute(batch.pk)

    sb = consensus_of(batch, first, "SB")
    assert (sb.value, sb.method, sb.positive_votes, sb.total_votes) == (True, "unanimous", 3, 3)
    avb = consensus_of(batch, first, "1dAVb")
    assert (avb.value, avb.method, avb.positive_votes, avb.total_votes) == (True, "majority", 2, 3)
    lbbb = consensus_of(batch, second, "LBBB")
    assert (lbbb.value, lbbb.method) == (False, "majority")
    assert 0 <= lbbb.probability <= 1 and lbbb.algorithm_version == ALGORITHM_VERSION
    # A class nobody marked has no row: it is agreed absent.
    assert consensus_of(batch, first, "AF") is None
    assert not DisputedLabel.objects.filter(batch=batch).exists()
    assert (result.read_count, result.exam_count, result.reader_count) == (6, 2, 3)
    assert result.algorithm_version == ALGORITHM_VERSION and result.latest_submission_at is not None
    by_code = {row["code"]: row for row in result.results["classes"]}
    assert by_code["SB"]["positive_reads"] == 3 and len(by_code["SB"]["fleiss_kappa_ci"]) == 2
    assert sorted(r["pseudonym"] for r in result.results["readers"]) == ["Reader A", "Reader B", "Reader C"]
    assert len(result.results["pairs"]["mean_kappa"]) == 3
    assert AuditEvent.objects.filter(action="agreement.compute", target_id=str(result.pk)).exists()


def test_a_tie_between_two_readers_is_left_undecided_and_disputed(ana, bruno, diego, tnmg):
    exam = ExamFactory()
    batch = batch_for(tnmg, diego, [ana, bruno], [exam])
    read(ana, batch, exam, ["SB", "1dAVb"])
    read(bruno, batch, exam, ["SB"])

    result = batch_agreement_compute(batch.pk)

    assert consensus_of(batch, exam, "1dAVb") is None  # no consensus: a tie is never a coin toss
    dispute = DisputedLabel.objects.get(batch=batch)
    assert (dispute.diagnostic_class.code, dispute.reason) == ("1dAVb", "tie")
    assert (dispute.positive_votes, dispute.total_votes) == (1, 2)
    assert result.disputed_count == 1
    assert consensus_of(batch, exam, "SB").method == "unanimous"


def test_recomputation_is_idempotent(ana, bruno, carol, diego, tnmg):
    exam = ExamFactory()
    batch = batch_for(tnmg, diego, [ana, bruno, carol], [exam])
    read(ana, batch, exam, ["SB", "LAD"])
    read(bruno, batch, exam, ["SB"])
    read(carol, batch, exam, ["SB", "LAD"])
    batch_agreement_compute(batch.pk)
    before = sorted(
        Consensus.objects.filter(batch=batch).values_list("exam", "diagnostic_class", "value", "method")
    )
    batch_agreement_compute(batch.pk)
    after = sorted(
        Consensus.objects.filter(batch=batch).values_list("exam", "diagnostic_class", "value", "method")
    )
    assert before == after and AgreementResult.objects.filter(batch=batch).count() == 1


def test_a_human_adjudication_is_never_overwritten_by_a_recomputation(ana, bruno, carla, diego, tnmg):
    exam = ExamFactory()
    batch = batch_for(tnmg, diego, [ana, bruno], [exam])
    read(ana, batch, exam, ["SB", "1dAVb"])
    read(bruno, batch, exam, ["SB"])
    batch_agreement_compute(batch.pk)
    klass = DiagnosticClass.objects.get(taxonomy=tnmg, code="1dAVb")
    Adjudication.objects.create(batch=batch, exam=exam, diagnostic_class=klass, adjudicator=carla, value=True)
    Consensus.objects.create(
        batch=batch,
        exam=exam,
        diagnostic_class=klass,
        value=True,
        method="adjudicated",
        positive_votes=1,
        total_votes=2,
        algorithm_version=ALGORITHM_VERSION,
    )
    batch_agreement_compute(batch.pk)
    kept = consensus_of(batch, exam, "1dAVb")
    assert (kept.value, kept.method) == (True, "adjudicated")


@pytest.mark.parametrize("n_exams", [MIN_LATENT_POSITIVE_EXAMS - 1, MIN_LATENT_POSITIVE_EXAMS])
def test_the_latent_method_is_recorded_where_readers_disagree_on_a_class_read_positive_often_enough(
    n_exams, ana, bruno, carol, diego, tnmg
):
    exams = [ExamFactory() for _ in range(n_exams)]
    batch = batch_for(tnmg, diego, [ana, bruno, carol], exams, consensus={"method": "latent"})
    for exam in exams:
        read(ana, batch, exam, ["SB", "LAD"])
        read(bruno, batch, exam, ["SB"])
        read(carol, batch, exam, ["SB", "LAD"])
    batch_agreement_compute(batch.pk)
    lad = consensus_of(batch, exams[0], "LAD")
    # One exam fewer than the minimum with a positive read of LAD: the readers' majority decides.
    method = "latent" if n_exams >= MIN_LATENT_POSITIVE_EXAMS else "majority"
    assert lad.method == method and lad.value is True and lad.probability > 0.5
    assert consensus_of(batch, exams[0], "SB").method == "unanimous"


def test_the_majority_threshold_comes_from_the_batch_design(ana, bruno, carol, diego, tnmg):
    exam = ExamFactory()
    batch = batch_for(tnmg, diego, [ana, bruno, carol], [exam], consensus={"threshold": 0.7})
    read(ana, batch, exam, ["SB", "LAD"])
    read(bruno, batch, exam, ["SB"])
    read(carol, batch, exam, ["SB", "LAD"])
    batch_agreement_compute(batch.pk)
    assert consensus_of(batch, exam, "LAD").value is False  # 2 of 3 is not above 0.7


def test_an_escalated_exam_sends_every_contested_class_to_adjudication(ana, bruno, carol, diego, tnmg):
    exam = ExamFactory()
    batch = batch_for(tnmg, diego, [ana, bruno, carol], [exam], escalation={"mode": "adjudicate"})
    read(ana, batch, exam, ["SB", "LAD"])
    read(bruno, batch, exam, ["SB"])
    read(carol, batch, exam, ["SB", "LAD"])
    batch_agreement_compute(batch.pk)
    dispute = DisputedLabel.objects.get(batch=batch)
    assert (dispute.diagnostic_class.code, dispute.reason) == ("LAD", "escalated")
    assert consensus_of(batch, exam, "LAD").method == "majority"  # decided meanwhile, until adjudicated


def test_only_submitted_first_reads_count(ana, bruno, diego, tnmg):
    exam, other = ExamFactory(), ExamFactory()
    batch = batch_for(tnmg, diego, [ana, bruno], [exam, other])
    read(ana, batch, exam, ["SB"])
    draft = Assignment.objects.get(batch=batch, exam=exam, reader=bruno)
    annotation_save_draft(actor=bruno, assignment=draft, labels=[LabelInput("LAD")], revision=0)
    snapshot = batch_reads_snapshot(batch)
    assert snapshot.read_count == 1 and snapshot.exam_ids == [exam.pk] and snapshot.reader_ids == [ana.pk]
    assert Annotation.objects.filter(assignment__batch=batch).count() == 2


def test_the_snapshot_costs_the_same_few_queries_however_many_reads(
    ana, bruno, carol, diego, tnmg, django_assert_max_num_queries
):
    exams = [ExamFactory() for _ in range(6)]
    batch = batch_for(tnmg, diego, [ana, bruno, carol], exams)
    for exam in exams:
        for reader in (ana, bruno, carol):
            read(reader, batch, exam, ["SB", "LAD", "1dAVb"])
    # reads, labels, the labels marked uncertain, classes, escalated exams and the human decisions the
    # exclusive sets are weighed with
    with django_assert_max_num_queries(6):
        snapshot = batch_reads_snapshot(batch)
    assert snapshot.reads.shape == (3, 6, DiagnosticClass.objects.filter(taxonomy=tnmg).count())
    assert int((snapshot.reads == 1).sum()) == 3 * 6 * 3


def test_the_sweep_finds_batches_whose_reads_are_newer_than_their_result(ana, bruno, diego, tnmg):
    exam, other = ExamFactory(), ExamFactory()
    batch = batch_for(tnmg, diego, [ana, bruno], [exam, other])
    read(ana, batch, exam, ["SB"])
    assert batch.pk in batches_with_stale_agreement()
    batch_agreement_compute(batch.pk)
    assert batch.pk not in batches_with_stale_agreement()
    read(bruno, batch, exam, ["SB"])
    assert batch.pk in batches_with_stale_agreement()


def test_the_sweep_finds_batches_decided_on_since_their_result(ana, bruno, carla, diego, tnmg):
    """A decision whose recomputation request was lost (Redis down) is caught up by the sweep."""
    exam = ExamFactory()
    batch = batch_for(tnmg, diego, [ana, bruno], [exam])
    read(ana, batch, exam, ["SB", "LBBB"])
    read(bruno, batch, exam, ["SB"])
    batch_agreement_compute(batch.pk)
    assert batch.pk not in batches_with_stale_agreement([batch.pk])
    adjudication_decide(
        actor=carla, batch=batch, exam_id=exam.pk, decisions=[Decision("LBBB", True)], version=0
    )
    assert batches_with_stale_agreement([batch.pk]) == [batch.pk]
    batch_agreement_compute(batch.pk)
    assert batch.pk not in batches_with_stale_agreement()


def test_a_burst_of_requests_queues_one_recomputation(ana, bruno, diego, tnmg, settings):
    settings.AGREEMENT_RECOMPUTE_DELAY_S = 30
    exam = ExamFactory()
    batch = batch_for(tnmg, diego, [ana, bruno], [exam])
    cache.delete(_pending_key(batch.pk))
    try:
        outcomes = [agreement_recompute_request(batch.pk) for _ in range(20)]
    finally:
        cache.delete(_pending_key(batch.pk))
    assert outcomes.count(True) == 1


def _requested_with_the_key_cleared_behind_our_back(batch_id: int) -> tuple[bool, object]:
    """Clears the pending key as nothing but the task's start would, asks again, and says what Redis then
    holds: still no key means this process did not ask Redis at all."""
    cache.delete(_pending_key(batch_id))
    outcome = agreement_recompute_request(batch_id)
    return outcome, cache.get(_pending_key(batch_id))


@pytest.fixture
def quiet_batch(ana, bruno, diego, tnmg, settings):
    """A batch with no recomputation pending, whose runs are queued 30 s ahead; its key is cleared after."""
    settings.AGREEMENT_RECOMPUTE_DELAY_S = 30
    batch = batch_for(tnmg, diego, [ana, bruno], [ExamFactory()])
    cache.delete(_pending_key(batch.pk))
    yield batch.pk
    cache.delete(_pending_key(batch.pk))


def _later(monkeypatch, seconds: float) -> None:
    moment = time.time() + seconds
    monkeypatch.setattr(compute.time, "time", lambda: moment)


def test_a_submission_while_the_queued_recomputation_waits_costs_no_round_trip_to_redis(quiet_batch):
    assert agreement_recompute_request(quiet_batch) is True
    # The queued run starts in 30 s at the earliest and will read this submission anyway.
    assert _requested_with_the_key_cleared_behind_our_back(quiet_batch) == (False, None)


def test_a_run_queued_by_another_process_is_learned_from_its_key(quiet_batch):
    # As another web process leaves it: the key holds when its run starts.
    cache.set(_pending_key(quiet_batch), time.time() + 30, timeout=90)
    assert agreement_recompute_request(quiet_batch) is False
    assert _requested_with_the_key_cleared_behind_our_back(quiet_batch) == (False, None)


def test_once_the_queued_run_may_have_started_a_submission_asks_redis_again(quiet_batch, monkeypatch):
    assert agreement_recompute_request(quiet_batch) is True
    _later(monkeypatch, 29)  # within the margin before the run is due: it may start any moment
    outcome, key = _requested_with_the_key_cleared_behind_our_back(quiet_batch)
    assert outcome is True and key is not None  # a new run is queued, which will see this read


def test_an_overdue_run_not_yet_started_still_covers_a_submission(quiet_batch, monkeypatch):
    assert agreement_recompute_request(quiet_batch) is True
    _later(monkeypatch, 45)  # a busy worker has not taken the run yet: its key is still there
    assert [agreement_recompute_request(quiet_batch) for _ in range(3)] == [False] * 3


def test_a_started_run_makes_this_process_ask_redis_again(quiet_batch):
    assert agreement_recompute_request(quiet_batch) is True
    agreement_recompute_started(quiet_batch)  # the worker in this same process (the embedded default)
    assert agreement_recompute_request(quiet_batch) is True


def test_an_older_key_without_a_start_time_is_asked_about_every_time(quiet_batch):
    cache.set(_pending_key(quiet_batch), 1, timeout=90)  # as the code before start times left it
    assert agreement_recompute_request(quiet_batch) is False
    assert _requested_with_the_key_cleared_behind_our_back(quiet_batch)[0] is True


def test_a_read_is_saved_even_when_redis_is_down(
    ana, bruno, diego, tnmg, settings, django_capture_on_commit_callbacks
):
    exam = ExamFactory()
    batch = batch_for(tnmg, diego, [ana, bruno], [exam])
    settings.CACHES = {
        "default": {
            "BACKEND": "ecgreview.cache.SharedClientRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        read(ana, batch, exam, ["SB"])
    assert callbacks  # the recomputation was asked for, failed to queue, and was logged
    assert Assignment.objects.get(batch=batch, reader=ana).status == "submitted"


def test_a_recomputation_updates_changed_cells_and_drops_machine_rows_no_longer_decided(
    ana, bruno, carol, diego, tnmg
):
    exam = ExamFactory()
    batch = batch_for(tnmg, diego, [ana, bruno, carol], [exam])
    read(ana, batch, exam, ["SB", "LAD"])
    read(bruno, batch, exam, ["SB"])
    read(carol, batch, exam, ["SB", "LAD"])
    batch_agreement_compute(batch.pk)
    assert (consensus_of(batch, exam, "LAD").value, consensus_of(batch, exam, "LAD").method) == (
        True,
        "majority",
    )
    # A machine row for a class nobody marked (left by an older algorithm, say) is not a decision now.
    Consensus.objects.create(
        batch=batch,
        exam=exam,
        diagnostic_class=DiagnosticClass.objects.get(taxonomy=tnmg, code="AF"),
        value=True,
        method="majority",
        positive_votes=2,
        total_votes=3,
        algorithm_version="older",
    )
    batch.design = {**batch.design, "consensus": {"threshold": 0.7}}
    batch.save(update_fields=["design"])
    batch_agreement_compute(batch.pk)
    lad = consensus_of(batch, exam, "LAD")
    assert (lad.value, lad.positive_votes, lad.total_votes) == (False, 2, 3)
    assert consensus_of(batch, exam, "AF") is None
    assert consensus_of(batch, exam, "SB").method == "unanimous"
    assert set(Consensus.objects.filter(batch=batch).values_list("algorithm_version", flat=True)) == {
        ALGORITHM_VERSION
    }
