"""Webhooks through HTTP: coordinators subscribe (the secret shown once), a real local receiver gets signed
deliveries of the events where they happen, a failing receiver is tried again after a back-off that the
delivery log shows, and no payload carries a label or a reader's identity."""

from __future__ import annotations

import io
import json
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from annotations.models import AuditEvent, ImportJob, WebhookDelivery, WebhookSubscription
from annotations.roles import Role
from annotations.services.credentials.tokens import api_token_create
from annotations.services.releases.builds import release_build, release_create
from annotations.services.webhooks.deliveries import webhook_deliver, webhooks_sweep_run
from tests.exporting import READS, labelled_study
from tests.factories import UserFactory
from tests.webhooks.receiver import receiver, verify

pytestmark = pytest.mark.django_db
HOOKS = "/api/v1/webhooks/"
ALL_EVENTS = [
    "batch.completed",
    "exam.escalated",
    "release.built",
    "import.finished",
    "import.failed",
    "benchmark.result_ready",
]


@pytest.fixture(autouse=True)
def _local_receivers_allowed(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    settings.WEBHOOK_BACKOFF_S = 1
    settings.WEBHOOK_MAX_ATTEMPTS = 3


def subscribe(client, url, events=("release.built",)):
    return client.post(HOOKS, {"url": url, "events": list(events)}, content_type="application/json")


def deliver_due() -> None:
    """What the worker does with every delivery queued: one attempt each."""
    for pk in WebhookDelivery.objects.filter(state="pending").values_list("pk", flat=True):
        webhook_deliver(pk)


def build_release(diego, study):
    return release_build(release_create(actor=diego, batches=[study.batch], hdf5=False).pk)


def study_of(ana, bruno, diego, carla, tnmg):
    carol = UserFactory(username="carol", roles=[Role.READER])
    return labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)


def test_a_coordinator_subscribes_and_sees_the_secret_once(client_for, diego):
    created = subscribe(client_for(diego), "http://127.0.0.1:9/hook", ALL_EVENTS)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert body["events"] == ALL_EVENTS and body["active"] is True
    listed = client_for(diego).get(HOOKS).json()
    assert [h["id"] for h in listed] == [body["id"]] and "secret" not in listed[0]
    event = AuditEvent.objects.get(action="webhook.subscribe")
    assert event.actor == diego and body["secret"] not in json.dumps(event.after)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/hook",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://",
        "https://user:pw@example.org/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:9/ho ok",
        "http://127.0.0.1:9/\nHost: evil",
        "http://exa\x00mple.org/",
        "http://[::1/",
    ],
)
def test_only_http_urls_to_public_hosts_are_taken(client_for, diego, url):
    refused = subscribe(client_for(diego), url)
    assert refused.status_code == 400, (url, refused.content)
    assert not WebhookSubscription.objects.exists()


def test_loopback_is_refused_unless_the_operator_allows_it(client_for, diego, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    for url in ("http://127.0.0.1:8000/hook", "http://localhost/hook", "http://[::1]/hook"):
        assert subscribe(client_for(diego), url).status_code == 400, url
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    assert subscribe(client_for(diego), "http://127.0.0.1:8000/hook").status_code == 201


def test_unknown_or_no_events_are_refused(client_for, diego):
    assert subscribe(client_for(diego), "http://127.0.0.1:9/", ["batch.deleted"]).status_code == 400
    assert subscribe(client_for(diego), "http://127.0.0.1:9/", []).status_code == 400


def test_only_coordinators_subscribe_and_each_sees_only_their_own(client_for, ana, carla, diego):
    assert subscribe(client_for(ana), "http://127.0.0.1:9/").status_code == 403
    assert subscribe(client_for(carla), "http://127.0.0.1:9/").status_code == 403
    assert Client().get(HOOKS).status_code in (401, 403)
    reader_token = api_token_create(actor=ana, user=ana, name="r", scope="reader").secret
    as_reader = Client(HTTP_AUTHORIZATION=f"Token {reader_token}")
    assert as_reader.get(HOOKS).status_code == 403
    mine = subscribe(client_for(diego), "http://127.0.0.1:9/").json()
    other = UserFactory(username="olga", roles=[Role.COORDINATOR])
    assert client_for(other).get(HOOKS).json() == []
    assert client_for(other).delete(f"{HOOKS}{mine['id']}/").status_code == 404
    assert client_for(other).get(f"{HOOKS}{mine['id']}/deliveries/").status_code == 404
    token = api_token_create(actor=diego, user=diego, name="c", scope="coordinator").secret
    assert Client(HTTP_AUTHORIZATION=f"Token {token}").get(HOOKS).status_code == 200


def test_a_release_built_is_delivered_signed_to_a_real_receiver(client_for, ana, bruno, carla, diego, tnmg):
    study = study_of(ana, bruno, diego, carla, tnmg)
    with receiver(200) as hook:
        created = subscribe(client_for(diego), hook.url, ["release.built"]).json()
        release = build_release(diego, study)
        deliver_due()
        (got,) = hook.wait_for(1)
    assert verify(created["secret"], got)
    assert not verify("whsec_not-the-secret", got)
    assert got.headers["x-ecgreview-event"] == "release.built"
    assert got.headers["content-type"] == "application/json"
    body = got.json
    assert body["event"] == "release.built" and body["id"] == got.headers["x-ecgreview-delivery"]
    assert body["data"]["release"]["id"] == release.pk
    assert body["data"]["release"]["url"].endswith(f"/releases/{release.pk}/")
    assert body["data"]["exams"] == release.exam_count
    log = client_for(diego).get(f"{HOOKS}{created['id']}/deliveries/").json()
    assert [(d["event"], d["state"], d["attempts"], d["status_code"]) for d in log] == [
        ("release.built", "delivered", 1, 200)
    ]
    assert log[0]["response_excerpt"] == "ok"


def test_a_failing_receiver_is_tried_again_after_a_back_off(client_for, diego, settings):
    with receiver(503, 200) as hook:
        created = subscribe(client_for(diego), hook.url, ["import.finished"]).json()
        job = ImportJob.objects.create(coordinator=diego, dataset_name="incoming", paths=["a.hea"])
        from annotations.services.imports.jobs import _job_finish

        _job_finish(job, status=ImportJob.Status.DONE)
        deliver_due()
        hook.wait_for(1)
        delivery = WebhookDelivery.objects.get()
        assert (delivery.state, delivery.attempts, delivery.status_code) == ("pending", 1, 503)
        waited = (delivery.next_attempt_at - timezone.now()).total_seconds()
        assert 0 < waited <= settings.WEBHOOK_BACKOFF_S
        webhook_deliver(delivery.pk)  # a twin message before the back-off: nothing sent
        assert len(hook.requests) == 1
        time.sleep(settings.WEBHOOK_BACKOFF_S + 0.2)
        settings.WEBHOOK_SWEEP_AFTER_S = 0
        assert webhooks_sweep_run() == 1  # what an outage left: queued again (the test broker keeps it)
        webhook_deliver(delivery.pk)
        first, second = hook.wait_for(2)
    assert first.headers["x-ecgreview-delivery"] == second.headers["x-ecgreview-delivery"]
    assert first.body == second.body and verify(created["secret"], second)
    log = client_for(diego).get(f"{HOOKS}{created['id']}/deliveries/").json()
    assert (log[0]["state"], log[0]["attempts"], log[0]["status_code"]) == ("delivered", 2, 200)
    assert [a["status_code"] for a in log[0]["history"]] == [503, 200]
    assert log[0]["history"][0]["retry_in_s"] == settings.WEBHOOK_BACKOFF_S
    webhook_deliver(delivery.pk)  # delivered: never again
    assert len(hook.requests) == 2


def test_a_receiver_that_never_answers_well_fails_after_the_bounded_attempts(client_for, diego, settings):
    settings.WEBHOOK_BACKOFF_S = 0
    with receiver(500) as hook:
        subscribe(client_for(diego), hook.url, ["import.failed"])
        job = ImportJob.objects.create(coordinator=diego, dataset_name="incoming", paths=["a.hea"])
        from annotations.services.imports.jobs import _job_finish

        _job_finish(job, status=ImportJob.Status.FAILED, error="/data/secret/path.hea: bad header")
        for _ in range(5):
            deliver_due()
        hook.wait_for(3)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts) == ("failed", 3) and len(hook.requests) == 3
    assert "secret/path" not in json.dumps(delivery.payload)
    assert delivery.payload["data"]["import"]["status"] == "failed"
    assert AuditEvent.objects.filter(action="webhook.give_up").count() == 1


def test_a_revoked_subscription_gets_nothing_more(client_for, diego):
    with receiver(200) as hook:
        created = subscribe(client_for(diego), hook.url, ["import.finished"]).json()
        assert client_for(diego).delete(f"{HOOKS}{created['id']}/").status_code == 204
        assert client_for(diego).delete(f"{HOOKS}{created['id']}/").status_code == 204
        job = ImportJob.objects.create(coordinator=diego, dataset_name="incoming", paths=["a.hea"])
        from annotations.services.imports.jobs import _job_finish

        _job_finish(job, status=ImportJob.Status.DONE)
        deliver_due()
        assert hook.requests == []
    assert AuditEvent.objects.filter(action="webhook.revoke").count() == 1
    listed = client_for(diego).get(HOOKS).json()
    assert listed[0]["active"] is False and listed[0]["revoked_at"]


def test_an_owner_who_lost_the_coordinator_role_gets_nothing(client_for, diego):
    from annotations.services.users import user_set_roles

    with receiver(200) as hook:
        subscribe(client_for(diego), hook.url, ["import.finished"])
        admin = UserFactory(username="root", roles=[Role.COORDINATOR])
        user_set_roles(actor=admin, user=diego, roles=[Role.READER])
        job = ImportJob.objects.create(coordinator=admin, dataset_name="incoming", paths=["a.hea"])
        from annotations.services.imports.jobs import _job_finish

        _job_finish(job, status=ImportJob.Status.DONE)
        deliver_due()
        assert hook.requests == []


def test_batch_completion_and_escalation_payloads_name_no_reader_and_no_label(
    client_for, ana, bruno, carla, diego, tnmg, django_capture_on_commit_callbacks
):
    with receiver(200) as hook:
        subscribe(client_for(diego), hook.url, ["batch.completed", "exam.escalated"])
        with django_capture_on_commit_callbacks(execute=True):
            study = study_of(ana, bruno, diego, carla, tnmg)
            # E005 is still unread: the batch completes when its three readers have read or skipped it.
            from tests.exporting import read

            for reader in study.readers:
                read(reader, study.batch, study.exams["E005"], ["NORM"])
        deliver_due()
        received = hook.wait_for(1)
    events = sorted(r.json["event"] for r in received)
    assert events.count("batch.completed") == 1
    completed = next(r.json for r in received if r.json["event"] == "batch.completed")
    assert completed["data"]["batch"]["id"] == study.batch.pk
    assert completed["data"]["exams"] == 5
    text = " ".join(r.body.decode() for r in received)
    usernames = ["ana", "bruno", "carol", "carla", "diego"]
    codes = {code.rstrip("?") for reads in READS.values() for codes in reads.values() for code in codes}
    for word in [*usernames, *codes, "NORM"]:
        assert f'"{word}"' not in text, word
    assert study.batch.name not in text


def test_an_escalated_exam_is_announced_with_its_adjudication_link(client_for, ana, bruno, diego, tnmg):
    from tests.exporting import read
    from tests.factories import ExamFactory, batch_for

    exam = ExamFactory()
    batch = batch_for(tnmg, diego, [ana, bruno], [exam], name="Escalating", escalation={"mode": "adjudicate"})
    with receiver(200) as hook:
        subscribe(client_for(diego), hook.url, ["exam.escalated", "batch.completed"])
        read(ana, batch, exam, ["SB"])
        read(bruno, batch, exam, ["ST", "1dAVb"])
        deliver_due()
        (got,) = hook.wait_for(1)  # batch.completed waits for the commit (none in this test's transaction)
    data = got.json["data"]
    assert got.json["event"] == "exam.escalated"
    assert data["batch"]["id"] == batch.pk and data["exam"] == {"id": exam.pk}
    assert data["adjudication_url"].endswith(f"/adjudication/{batch.pk}/{exam.pk}/")
    assert data["adjudication_url"].startswith("http://testserver/")
    for word in ("ana", "bruno", "SB", "ST", "1dAVb", "Escalating"):
        assert f'"{word}"' not in got.body.decode() and word not in json.dumps(data)


def test_deliveries_leave_after_the_commit_through_the_worker(
    client_for, diego, eager_worker, django_capture_on_commit_callbacks
):
    with receiver(200) as hook:
        created = subscribe(client_for(diego), hook.url, ["import.finished"]).json()
        job = ImportJob.objects.create(coordinator=diego, dataset_name="incoming", paths=["a.hea"])
        from annotations.services.imports.jobs import _job_finish

        with django_capture_on_commit_callbacks(execute=True):
            _job_finish(job, status=ImportJob.Status.DONE)
        (got,) = hook.wait_for(1)
    assert verify(created["secret"], got) and got.json["data"]["import"]["id"] == job.pk
    assert WebhookDelivery.objects.get().state == "delivered"


def test_an_old_pending_delivery_is_swept_and_a_fresh_one_left_alone(client_for, diego, settings):
    subscribe(client_for(diego), "http://127.0.0.1:9/hook", ["import.finished"])
    job = ImportJob.objects.create(coordinator=diego, dataset_name="incoming", paths=["a.hea"])
    from annotations.services.imports.jobs import _job_finish

    _job_finish(job, status=ImportJob.Status.DONE)
    settings.WEBHOOK_SWEEP_AFTER_S = 60
    assert webhooks_sweep_run() == 0
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    assert webhooks_sweep_run() == 1


def test_the_embedded_default_sends_what_a_stopped_web_process_left(client_for, diego, settings):
    from django.core.management import call_command

    with receiver(200) as hook:
        subscribe(client_for(diego), hook.url, ["import.finished"])
        job = ImportJob.objects.create(coordinator=diego, dataset_name="incoming", paths=["a.hea"])
        from annotations.services.imports.jobs import _job_finish

        _job_finish(job, status=ImportJob.Status.DONE)  # its delivery never left: the process stopped
        settings.CELERY_TASK_ALWAYS_EAGER = True
        call_command("resume_jobs", stdout=io.StringIO())
        hook.wait_for(1)
    assert WebhookDelivery.objects.get().state == "delivered"
