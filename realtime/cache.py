"""Django's Redis cache, with one set of connection pools per process, and a
rate-limit count in one round trip.

Django makes a cache object per thread and async context, and its Redis
backend a connection pool per cache object. A socket's database call runs in a
context of its own each time (realtime.db) and so does every request, so each
of them got a new pool and a new connection to Redis: a TCP connect and
redis-py's handshake for every chat post's rate-limit check. Here every cache
object of the same servers and options shares the one client that holds the
pools, and that client makes its redis-py client once per pool, not per call
(both are thread-safe; redis-py's pools start afresh after a fork).

Django's cache has no "count a hit in a window": `add` then `incr` is three
commands (`incr` first asks whether the key exists). `count_hit` is one script.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

# The window opens with the first hit: only a new key gets the expiry.
_COUNT_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


class _SharedClients(RedisCacheClient):
    def __init__(self, servers: list[str], **options: Any) -> None:
        super().__init__(servers, **options)
        self._redis_clients: dict[int, Any] = {}

    def get_client(self, key: str | None = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)
        client = self._redis_clients.get(index)
        if client is None:  # two threads may both make one: either will do
            client = self._redis_clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


_clients: dict[tuple[tuple[str, ...], str], _SharedClients] = {}
_lock = threading.Lock()


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _SharedClients

    @cached_property
    def _cache(self) -> Any:
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
            return client

    def count_hit(self, key: str, *, timeout: int) -> int:
        """Add one to `key`'s count, which lives `timeout` seconds from its first hit; the new count."""
        key = self.make_and_validate_key(key)
        return int(self._cache.get_client(key, write=True).eval(_COUNT_HIT, 1, key, timeout))
