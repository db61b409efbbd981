"""The Redis cache the product configures: one client per pool, against the real local Redis."""

from __future__ import annotations

import pytest
import redis
from django.core.cache import caches

LOCAL = {"BACKEND": "ecgreview.cache.SharedClientRedisCache", "LOCATION": "redis://127.0.0.1:6379/11"}


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {"default": LOCAL, "other": {**LOCAL, "KEY_PREFIX": "other"}}
    cache = caches.create_connection("default")
    yield cache
    cache.clear()


def test_every_call_shares_one_client_and_the_cache_still_works(redis_cache):
    clients = {id(redis_cache._cache.get_client(write=True)) for _ in range(5)}
    clients |= {id(redis_cache._cache.get_client()) for _ in range(5)}
    assert len(clients) == 1  # one server: reads and writes use the same pool, so the same client
    assert redis_cache.add("agreement:pending:1", 1, timeout=5) is True
    assert redis_cache.add("agreement:pending:1", 1, timeout=5) is False  # coalescing still holds
    redis_cache.set("a", {"x": [1, 2]}, timeout=5)
    assert redis_cache.get("a") == {"x": [1, 2]}
    redis_cache.delete("agreement:pending:1")
    assert redis_cache.add("agreement:pending:1", 1, timeout=5) is True


def test_a_down_redis_still_raises_for_the_caller_to_catch(settings):
    settings.CACHES = {"default": {**LOCAL, "LOCATION": "redis://127.0.0.1:1/0"}}
    cache = caches.create_connection("default")
    for _ in range(2):  # the shared client does not keep a broken connection either
        with pytest.raises(redis.exceptions.ConnectionError):
            cache.add("k", 1, timeout=5)


@pytest.fixture
def frozen_cache(settings):
    """The cache on a redis-server of this test's own, frozen (SIGSTOP): connections are accepted by the
    kernel and nothing ever answers, as when Redis hangs."""
    from ecgreview.redis_breaker import redis_reset
    from tests.platform.test_broker_faults import RedisServer

    server = RedisServer()
    server.start()
    settings.CACHES = {
        "default": {
            **LOCAL,
            "LOCATION": server.url,
            "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
        }
    }
    settings.REDIS_RETRY_AFTER_S = 30
    redis_reset()
    server.freeze()
    yield server
    server.thaw()
    server.stop()
    redis_reset()


@pytest.fixture
def network_calls(monkeypatch):
    """Every Redis command that went to a server, counted (the real call still runs)."""
    calls: list[tuple] = []
    real = redis.Redis.execute_command

    def counted(self, *args, **options):
        calls.append(args[:1])
        return real(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counted)
    return calls


def test_a_frozen_redis_is_waited_for_once_then_skipped_until_retry_after(frozen_cache, network_calls):
    from django.core.cache import cache

    with pytest.raises(redis.exceptions.TimeoutError):
        cache.get("agreement:pending:1")
    assert len(network_calls) == 1
    for call in (lambda: cache.get("a"), lambda: cache.set("b", 1), lambda: cache.delete("c")):
        with pytest.raises(redis.exceptions.ConnectionError, match="not asked again yet"):
            call()
    assert len(network_calls) == 1  # the three failed at once, without the network


@pytest.mark.django_db
def test_a_submit_while_the_cache_is_frozen_waits_for_redis_once_not_once_per_call(
    frozen_cache, network_calls, client_for, ana, bruno, diego, tnmg, django_capture_on_commit_callbacks
):
    """The submit's agreement scheduling read its key (timed out), then tried to clear it (timed out
    again): 4 s where the docs promise REDIS_SOCKET_TIMEOUT, 2 s. The read is saved either way."""
    from annotations.models import Annotation
    from tests.reading.helpers import queue, ref, shared_batch

    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)
    slot = queue(batch, ana)[0]
    network_calls.clear()
    with django_capture_on_commit_callbacks(execute=True):  # what runs after the submit commits
        answer = client_for(ana).post(
            f"/api/v1/reading/assignments/{ref(slot)}/submit/",
            {"labels": [{"code": "SB"}], "revision": 0},
            content_type="application/json",
        )
    assert answer.status_code == 200, answer.content
    assert Annotation.objects.get(assignment=slot, is_current=True).status == "submitted"
    assert len(network_calls) == 1, network_calls
