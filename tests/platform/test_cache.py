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
