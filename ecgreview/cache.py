"""Django's Redis cache, keeping one redis-py client per connection pool.

Django's client makes a new redis.Redis object for every cache call, and its constructor fills a table of
some 170 response callbacks: about 0.1 ms of CPU a call, although the object keeps nothing of its own but
the pool it is given (redis-py's clients are safe to share between threads; connections are taken from the
pool per command). Every submit checks the batch's agreement key once, so that cost was paid on the
busiest write (bench/load_reads.py).
"""

from __future__ import annotations

from typing import Any

import redis
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from ecgreview.redis_breaker import redis_answering, redis_failed


class _GuardedRedis(redis.Redis):
    """A client that skips a server marked out after a failure (ecgreview/redis_breaker.py), and marks it
    out when a call times out or is refused."""

    def __init__(self, *args: Any, location: str = "", **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._location = location

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if not redis_answering(self._location):
            raise redis.ConnectionError("Redis did not answer a moment ago; not asked again yet")
        try:
            return super().execute_command(*args, **options)
        except (redis.ConnectionError, redis.TimeoutError):
            redis_failed(self._location)
            raise


class _SharedClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key=None, *, write: bool = False):
        # RedisCacheClient's own pool lookup (Django's); django-stubs omits the private method.
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            where = pool.connection_kwargs
            location = f"redis://{where.get('host')}:{where.get('port')}/{where.get('db', 0)}"
            client = self._clients[id(pool)] = _GuardedRedis(connection_pool=pool, location=location)
        return client


class SharedClientRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _SharedClient
