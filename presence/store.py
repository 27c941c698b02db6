"""Where connections are counted: Redis when `REDIS_URL` is set, else memory.

An entry is "<user id>:<connection id>" with the time it expires. Every process
refreshes its own entries on a heartbeat, so the entries of a process that died
without running disconnect() lapse by themselves instead of leaving ghosts.

Both backends answer the same questions, asynchronously for the sockets and
synchronously for page renders (templates render in sync code).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from realtime.registry import Registry

Clock = Callable[[], float]

# Long enough to outlive a quiet site; losing it only means one fragment
# re-announcing everyone's dot.
PUBLISHED_TTL_SECONDS = 86400
KEY_GRACE_SECONDS = 60

# Every presence command is one short round trip, so a few dozen connections
# serve a connect storm if callers queue for them; redis-py's default pool
# instead raises MaxConnectionsError at its 101st concurrent caller.
POOL_MAX_CONNECTIONS = 50
POOL_WAIT_SECONDS = 5
# Page renders read the count; an unreachable Redis must cost them little.
SYNC_TIMEOUT_SECONDS = 2

_clock: Clock = time.time


def _member(user_id: int, conn_id: str) -> str:
    return f"{user_id}:{conn_id}"


def _user_ids(members: Iterable[str | bytes]) -> set[int]:
    ids: set[int] = set()
    for member in members:
        text = member.decode() if isinstance(member, bytes) else member
        ids.add(int(text.split(":", 1)[0]))
    return ids


class PresenceStore:
    """The interface both backends implement."""

    def __init__(self, *, ttl_seconds: float, clock: Clock) -> None:
        self.ttl_seconds = ttl_seconds
        self.clock = clock

    async def add(self, *, user_id: int, conn_id: str) -> None:
        raise NotImplementedError

    async def remove(self, *, user_id: int, conn_id: str) -> None:
        raise NotImplementedError

    async def refresh(self, *, entries: Iterable[tuple[int, str]]) -> None:
        """Push the expiry of these live connections one TTL ahead (re-adding lost ones)."""
        raise NotImplementedError

    async def purge_expired(self) -> int:
        """Drop lapsed entries; how many there were."""
        raise NotImplementedError

    async def online_user_ids(self) -> set[int]:
        raise NotImplementedError

    def online_user_ids_sync(self) -> set[int]:
        raise NotImplementedError

    async def swap_published(self, *, online: set[int]) -> set[int]:
        """Record `online` as what subscribers were last told; return what they were told before."""
        raise NotImplementedError

    async def claim_turn(self, *, seconds: float) -> float:
        """0 if this process may publish now (and holds the turn for `seconds`),
        else how long until another process's turn ends."""
        raise NotImplementedError

    async def close(self) -> None:
        return None


class _MemoryState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.expiry: dict[str, float] = {}
        self.published: set[int] = set()
        self.turn_until = 0.0


class MemoryPresenceStore(PresenceStore):
    """One process, no Redis: state shared by every store instance in the process.

    The methods never wait on I/O, so the async ones simply run inline; the lock
    is for page renders reading from worker threads.
    """

    def __init__(self, *, state: _MemoryState, ttl_seconds: float, clock: Clock) -> None:
        super().__init__(ttl_seconds=ttl_seconds, clock=clock)
        self.state = state

    async def add(self, *, user_id: int, conn_id: str) -> None:
        with self.state.lock:
            self.state.expiry[_member(user_id, conn_id)] = self.clock() + self.ttl_seconds

    async def remove(self, *, user_id: int, conn_id: str) -> None:
        with self.state.lock:
            self.state.expiry.pop(_member(user_id, conn_id), None)

    async def refresh(self, *, entries: Iterable[tuple[int, str]]) -> None:
        expires = self.clock() + self.ttl_seconds
        with self.state.lock:
            for user_id, conn_id in entries:
                self.state.expiry[_member(user_id, conn_id)] = expires

    async def purge_expired(self) -> int:
        now = self.clock()
        with self.state.lock:
            lapsed = [member for member, expires in self.state.expiry.items() if expires <= now]
            for member in lapsed:
                del self.state.expiry[member]
        return len(lapsed)

    async def online_user_ids(self) -> set[int]:
        return self.online_user_ids_sync()

    def online_user_ids_sync(self) -> set[int]:
        now = self.clock()
        with self.state.lock:
            return _user_ids(member for member, expires in self.state.expiry.items() if expires > now)

    async def swap_published(self, *, online: set[int]) -> set[int]:
        with self.state.lock:
            previous, self.state.published = self.state.published, set(online)
        return previous

    async def claim_turn(self, *, seconds: float) -> float:
        # Turns are real elapsed time (like Redis PX), not the injectable clock.
        now = time.monotonic()
        with self.state.lock:
            if now < self.state.turn_until:
                return self.state.turn_until - now
            self.state.turn_until = now + seconds
        return 0.0


@dataclass(frozen=True)
class _OnlineRead:
    version: bytes | None
    # The earliest expiry among the entries read: past it, someone may have lapsed.
    valid_until: float
    user_ids: frozenset[int]


class RedisPresenceStore(PresenceStore):
    """Shared by every ASGI process: a sorted set of entries scored by expiry.

    The asyncio client belongs to the event loop that first uses it, so each loop
    gets its own store instance; the sync client serves page renders.
    """

    def __init__(self, *, url: str, prefix: str, ttl_seconds: float, clock: Clock) -> None:
        super().__init__(ttl_seconds=ttl_seconds, clock=clock)
        self.url = url
        self.conns_key = f"{prefix}:presence:conns"
        self.published_key = f"{prefix}:presence:published"
        self.turn_key = f"{prefix}:presence:turn"
        # Bumped by every write that changes who has an entry, so a page render
        # can tell in one tiny round trip whether the set it read last still holds.
        self.version_key = f"{prefix}:presence:version"
        self._async_client: Any = None
        self._sync_client: Any = None
        self._sync_read: _OnlineRead | None = None

    @property
    def client(self) -> Any:
        if self._async_client is None:
            import redis.asyncio

            pool = redis.asyncio.BlockingConnectionPool.from_url(
                self.url,
                max_connections=POOL_MAX_CONNECTIONS,
                timeout=POOL_WAIT_SECONDS,
                socket_connect_timeout=5,
                socket_timeout=5,
            )
            self._async_client = redis.asyncio.Redis.from_pool(pool)
        return self._async_client

    @property
    def sync_client(self) -> Any:
        if self._sync_client is None:
            import redis

            pool = redis.BlockingConnectionPool.from_url(
                self.url,
                max_connections=POOL_MAX_CONNECTIONS,
                timeout=POOL_WAIT_SECONDS,
                socket_connect_timeout=SYNC_TIMEOUT_SECONDS,
                socket_timeout=SYNC_TIMEOUT_SECONDS,
            )
            self._sync_client = redis.Redis.from_pool(pool)
        return self._sync_client

    def _key_ttl_ms(self) -> int:
        # Only garbage collection for a site with no live process left; the
        # margin keeps it from ever racing a slightly late heartbeat.
        return int((self.ttl_seconds + KEY_GRACE_SECONDS) * 1000)

    async def add(self, *, user_id: int, conn_id: str) -> None:
        await self._write_entries({_member(user_id, conn_id): self.clock() + self.ttl_seconds}, changed=True)

    async def remove(self, *, user_id: int, conn_id: str) -> None:
        if await self.client.zrem(self.conns_key, _member(user_id, conn_id)):
            await self._changed()

    async def refresh(self, *, entries: Iterable[tuple[int, str]]) -> None:
        mapping = {_member(user_id, conn_id): self.clock() + self.ttl_seconds for user_id, conn_id in entries}
        if mapping and await self._write_entries(mapping, changed=False):
            # Only a re-added entry changes anyone's status, not a moved expiry.
            await self._changed()

    async def _write_entries(self, mapping: dict[str, float], *, changed: bool) -> int:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.zadd(self.conns_key, mapping)
            pipe.pexpire(self.conns_key, self._key_ttl_ms())
            if changed:
                self._bump(pipe)
            added, *_ = await pipe.execute()
        return int(added)

    async def purge_expired(self) -> int:
        lapsed = int(await self.client.zremrangebyscore(self.conns_key, "-inf", self.clock()))
        if lapsed:
            await self._changed()
        return lapsed

    async def _changed(self) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            self._bump(pipe)
            await pipe.execute()

    def _bump(self, pipe: Any) -> None:
        # Always after the write it announces: a reader that sees the old version
        # with the new entries only reads them again next time.
        pipe.incr(self.version_key)
        pipe.pexpire(self.version_key, self._key_ttl_ms())

    async def online_user_ids(self) -> set[int]:
        return _user_ids(await self.client.zrangebyscore(self.conns_key, f"({self.clock()}", "+inf"))

    def online_user_ids_sync(self) -> set[int]:
        """Page renders and presence fragments read this on every connect; with
        10,000 online the set is a 400 KB reply, so it is read again only when
        the version moved or one of its entries lapsed."""
        now = self.clock()
        last = self._sync_read
        if last is not None and now < last.valid_until and self.sync_client.get(self.version_key) == last.version:
            return set(last.user_ids)
        with self.sync_client.pipeline(transaction=True) as pipe:
            pipe.get(self.version_key)
            pipe.zrangebyscore(self.conns_key, f"({now}", "+inf", withscores=True)
            version, entries = pipe.execute()
        user_ids = frozenset(_user_ids(member for member, _ in entries))
        valid_until = min((expires for _, expires in entries), default=float("inf"))
        self._sync_read = _OnlineRead(version=version, valid_until=valid_until, user_ids=user_ids)
        return set(user_ids)

    async def swap_published(self, *, online: set[int]) -> set[int]:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.smembers(self.published_key)
            pipe.delete(self.published_key)
            if online:
                pipe.sadd(self.published_key, *online)
                pipe.expire(self.published_key, PUBLISHED_TTL_SECONDS)
            results = await pipe.execute()
        return {int(value) for value in results[0]}

    async def claim_turn(self, *, seconds: float) -> float:
        millis = max(1, int(seconds * 1000))
        if await self.client.set(self.turn_key, "1", nx=True, px=millis):
            return 0.0
        remaining = await self.client.pttl(self.turn_key)
        # -2/-1: the key lapsed between SET and PTTL; try again almost at once.
        return remaining / 1000 if remaining > 0 else 0.01

    async def close(self) -> None:
        if self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None


_memory_state = _MemoryState()


def ttl_seconds() -> float:
    """About two heartbeats: one missed refresh is tolerated, two are death."""
    return 2 * float(settings.PRESENCE_HEARTBEAT_SECONDS)


def new_store() -> PresenceStore:
    """A store for one event loop, from the current settings."""
    if settings.REDIS_URL:
        return RedisPresenceStore(
            url=settings.REDIS_URL, prefix=settings.REDIS_PREFIX, ttl_seconds=ttl_seconds(), clock=_clock
        )
    return MemoryPresenceStore(state=_memory_state, ttl_seconds=ttl_seconds(), clock=_clock)


_sync_stores = Registry(new_store, key=lambda: (settings.REDIS_URL, settings.REDIS_PREFIX))


def sync_store() -> PresenceStore:
    """The store page renders read from (thread-safe; one per configuration)."""
    return _sync_stores.get()


def reset_stores(*, clock: Clock | None = None) -> None:
    """Forget all presence state; tests call this, optionally with a fake clock."""
    global _clock, _memory_state
    _clock = clock or time.time
    _memory_state = _MemoryState()
    _sync_stores.reset()
