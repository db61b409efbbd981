"""End to end: readers submit through the API, a real Celery worker (Redis broker) computes agreement and
consensus, an adjudicator settles the disputed class, and the consensus shows every method."""

import pytest
from django.urls import reverse

from annotations.lib.stats.consensus import MIN_LATENT_POSITIVE_EXAMS
from annotations.models import AgreementResult, Assignment, AuditEvent, Consensus
from annotations.selectors.blinding import batch_pseudonyms
from tests.factories import ExamFactory, UserFactory, batch_for
from tests.workers import celery_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def submit(client, reader, batch, exam, codes):
    client.force_login(reader)
    assignment = Assignment.objects.get(batch=batch, exam=exam, reader=reader)
    response = client.post(
        reverse("api-reading-submit", args=[assignment.pk]),
        {"labels": [{"code": code} for code in codes], "revision": 0},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content


def skip(client, reader, batch, exam):
    client.force_login(reader)
    assignment = Assignment.objects.get(batch=batch, exam=exam, reader=reader)
    response = client.post(
        reverse("api-reading-skip", args=[assignment.pk]),
        {"reason": "noisy"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content


def method_of(batch, exam, code):
    row = Consensus.objects.get(batch=batch, exam=exam, diagnostic_class__code=code)
    return row.method, row.value


def computations(batch):
    return AuditEvent.objects.filter(action="agreement.compute", after__batch=batch.pk).count()


def test_reads_to_adjudicated_consensus_through_a_real_worker(client, carla, diego, tnmg, settings):
    settings.AGREEMENT_RECOMPUTE_DELAY_S = 2
    settings.AGREEMENT_PENDING_GRACE_S = 5
    readers = [UserFactory(username=f"e2e-reader-{i}", roles=["reader"]) for i in range(3)]
    agreed, split, tied = ExamFactory(), ExamFactory(), ExamFactory()
    batch = batch_for(tnmg, diego, readers, [agreed, split, tied], name="E2E", readers_per_exam=3)
    # Enough exams with a positive read of LAD for the latent estimate to decide it.
    latent_exams = [ExamFactory() for _ in range(MIN_LATENT_POSITIVE_EXAMS)]
    latent = batch_for(
        tnmg,
        diego,
        readers,
        latent_exams,
        name="E2E latent",
        readers_per_exam=3,
        design_notes={"consensus": {"method": "latent"}},
    )
    one, two, three = readers

    with celery_worker(queues="default") as worker:
        for reader in readers:
            submit(client, reader, batch, agreed, ["SB"])
        submit(client, one, batch, split, ["SB", "LAD"])
        submit(client, two, batch, split, ["SB", "LAD"])
        submit(client, three, batch, split, ["SB"])
        submit(client, one, batch, tied, ["AF", "LBBB"])
        submit(client, two, batch, tied, ["AF"])
        skip(client, three, batch, tied)  # two reads left: LBBB is a 1-1 tie
        for exam in latent_exams:
            submit(client, one, latent, exam, ["SB", "LAD"])
            submit(client, two, latent, exam, ["SB"])
            submit(client, three, latent, exam, ["SB", "LAD"])

        result = wait_for(
            lambda: AgreementResult.objects.filter(batch=batch, read_count=8).first(), timeout=90
        )
        wait_for(
            lambda: AgreementResult.objects.filter(batch=latent, read_count=3 * len(latent_exams)).exists(),
            timeout=90,
        )
        # Coalesced: 8 submissions in one burst, not 8 recomputations.
        assert computations(batch) <= 2, worker
        assert result.disputed_count == 1 and result.computed_at is not None

        client.force_login(carla)
        queue = client.get(reverse("api-adjudication-queue")).json()
        assert [(item["batch_id"], item["exam_id"]) for item in queue] == [(batch.pk, tied.pk)]
        case = client.get(reverse("api-adjudication-case", args=[batch.pk, tied.pk])).json()
        assert [d["code"] for d in case["disputed"]] == ["LBBB"]
        names = batch_pseudonyms(batch)  # the two who read it, in letter order, as pseudonyms only
        assert case["disputed"][0]["votes"] == sorted(
            [[names[one.pk], True], [names[two.pk], False]], key=lambda vote: vote[0]
        )
        decided = client.post(
            reverse("api-adjudication-case", args=[batch.pk, tied.pk]),
            {"decisions": [{"code": "LBBB", "value": True}], "rationale": "QRS 140 ms", "version": 0},
            content_type="application/json",
        )
        assert decided.status_code == 200

        # A recomputation after the decision keeps it.
        before = computations(batch)
        from annotations.tasks import agreement_recompute

        agreement_recompute.delay(batch.pk)
        wait_for(lambda: computations(batch) > before, timeout=60)

    assert method_of(batch, agreed, "SB") == ("unanimous", True)
    assert method_of(batch, split, "LAD") == ("majority", True)
    assert method_of(batch, tied, "LBBB") == ("adjudicated", True)
    assert method_of(batch, tied, "AF") == ("unanimous", True)
    assert method_of(latent, latent_exams[0], "LAD") == ("latent", True)
    assert method_of(latent, latent_exams[0], "SB") == ("unanimous", True)
    client.force_login(diego)
    page = client.get(reverse("batch-agreement", args=[batch.pk])).content.decode()
    assert "from 8 reads of 3 exams" in page


def test_the_sweep_recomputes_a_batch_whose_recomputation_was_lost(client, diego, tnmg, settings):
    readers = [UserFactory(username=f"sweep-reader-{i}", roles=["reader"]) for i in range(2)]
    exam = ExamFactory()
    batch = batch_for(tnmg, diego, readers, [exam], name="Sweep", readers_per_exam=2)
    # Reads committed while nothing could be queued (as with Redis down): no recomputation was asked for.
    settings.CACHES = {
        "default": {
            "BACKEND": "ecgreview.cache.SharedClientRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    for reader in readers:
        submit(client, reader, batch, exam, ["SB"])
    assert not AgreementResult.objects.filter(batch=batch).exists()
    from annotations.tasks import agreement_sweep

    with celery_worker(queues="default"):
        agreement_sweep.delay()
        wait_for(lambda: AgreementResult.objects.filter(batch=batch, read_count=2).exists(), timeout=60)
    assert Consensus.objects.get(batch=batch, exam=exam, diagnostic_class__code="SB").method == "unanimous"


def test_an_adjudication_alone_brings_the_agreement_against_the_adjudicated_decisions_up_to_date(
    client, carla, diego, tnmg, settings
):
    """Nothing but the decision: no read, no button. The reader x class table against the adjudicated
    decisions appears once a worker has recomputed, as the agreement page says it does."""
    settings.AGREEMENT_RECOMPUTE_DELAY_S = 1
    settings.AGREEMENT_PENDING_GRACE_S = 5
    one, two = (UserFactory(username=f"adj-reader-{i}", roles=["reader"]) for i in range(2))
    tied = ExamFactory()
    batch = batch_for(tnmg, diego, [one, two], [tied], name="Adjudicated")
    url = reverse("api-batch-agreement", args=[batch.pk])

    def against_adjudicated():
        client.force_login(diego)
        rows = client.get(url).json().get("reader_classes") or []
        return [row for row in rows if row["reference"] == "adjudicated"]

    with celery_worker(queues="default"):
        submit(client, one, batch, tied, ["SB", "LBBB"])
        submit(client, two, batch, tied, ["SB"])
        wait_for(lambda: AgreementResult.objects.filter(batch=batch, read_count=2).exists(), timeout=90)
        assert against_adjudicated() == []
        client.force_login(carla)
        decided = client.post(
            reverse("api-adjudication-case", args=[batch.pk, tied.pk]),
            {"decisions": [{"code": "LBBB", "value": True}], "rationale": "QRS 140 ms", "version": 0},
            content_type="application/json",
        )
        assert decided.status_code == 200
        rows = wait_for(against_adjudicated, timeout=90)
    assert {(row["code"], row["n"]) for row in rows} == {("LBBB", 1)}
