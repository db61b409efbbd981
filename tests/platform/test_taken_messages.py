"""The jobs sweep's rule for messages a worker took and never acknowledged, on the real broker: only ours,
only once held JOBS_STALLED_AFTER_S past their ETA, and given back to the queue they came from."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotations.models import AuditEvent
from annotations.services.jobs.dispatch import task_enqueue
from annotations.services.jobs.sweeps import jobs_sweep_run, taken_messages_give_back
from ecgreview import celery_app
from tests.workers import broker_forget_taken, broker_taken, broker_taken_age

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker(settings):
    settings.JOBS_STALLED_AFTER_S = 600
    celery_app.control.purge()
    yield
    celery_app.control.purge()
    broker_forget_taken()


def _take(queue: str) -> None:
    """A worker takes the next message of `queue` and dies: taken, never acknowledged, never restored."""
    with celery_app.connection_for_write() as connection:
        channel = connection.channel()
        assert channel.basic_get(queue, no_ack=False) is not None
        channel.qos._delivered.clear()  # a killed process gives nothing back on its way out
        channel.close()


def _waiting(queue: str) -> int:
    with celery_app.connection_for_write() as connection:
        return connection.default_channel.client.llen(queue)


def test_a_message_held_ten_minutes_is_given_back_to_its_own_queue_once(broker):
    task_enqueue("annotations.tasks.suggestions_exam", 123456)
    _take("models")
    assert (_waiting("models"), len(broker_taken())) == (0, 1)
    broker_taken_age(300)  # five minutes: it may be a slow start
    assert jobs_sweep_run()["taken by dead workers"] == 0
    broker_taken_age(301)
    assert jobs_sweep_run()["taken by dead workers"] == 1
    assert (_waiting("models"), broker_taken()) == (1, {})
    assert jobs_sweep_run()["taken by dead workers"] == 0
    event = AuditEvent.objects.get(action="broker.message_given_back")
    assert event.actor_username == "system:jobs-sweep"
    assert event.after["task"] == "annotations.tasks.suggestions_exam" and event.after["args"] == [123456]


def test_a_message_held_for_its_eta_is_left_until_ten_minutes_past_it(broker):
    """A worker keeps a message with an ETA (a delayed recomputation) unacknowledged until its time."""
    task_enqueue("annotations.tasks.agreement_recompute", 99, countdown=3600)
    _take("default")
    broker_taken_age(601)
    assert jobs_sweep_run()["taken by dead workers"] == 0
    # The sweep an hour and ten minutes on (the ETA is a date, which no ageing of the broker moves).
    later = timezone.now() + timedelta(minutes=60 + 9)
    assert taken_messages_give_back(later) == 0
    assert taken_messages_give_back(later + timedelta(minutes=2)) == 1


def test_another_application_s_message_on_the_same_broker_is_not_ours_to_give_back(broker):
    celery_app.send_task("elsewhere.tasks.nightly", args=(1,), queue="default")
    _take("default")
    broker_taken_age(3600)
    assert jobs_sweep_run()["taken by dead workers"] == 0
    assert len(broker_taken()) == 1


def test_a_message_it_cannot_read_is_left_and_does_not_stop_the_others(broker):
    """Another client's garbage in the broker's taken set (or a message of an old protocol): left where it
    is, and the message after it is still given back."""
    with celery_app.connection_for_write() as connection:
        channel = connection.default_channel
        channel.client.hset(
            channel.unacked_key, "garbage", '[{"headers": {"task": "annotations.tasks.x"}}, "", ""]'
        )
        channel.client.zadd(channel.unacked_index_key, {"garbage": 1000.0})
    task_enqueue("annotations.tasks.suggestions_exam", 7)
    _take("models")
    broker_taken_age(601)
    assert jobs_sweep_run()["taken by dead workers"] == 1
    assert set(broker_taken()) == {b"garbage"}
