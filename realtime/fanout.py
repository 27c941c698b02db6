"""The one way anything is pushed to a socket.

Each process opens a single channel on the channel layer and joins it to a group
the first time a local socket needs that group. An event therefore crosses the
layer once per process, not once per connection, and the process hands the same
already-rendered frame to each of its local sockets. Handing over never waits:
a socket that owes nothing writes a plain frame at once, without waiting, and
anything else is queued and written from the socket's own task
(realtime.consumers.Outbox), so a socket that stops reading, a socket busy
re-reading its state, or a room of thousands delays no other socket. Callers
only see `publish()`/`publish_sync()` and `Listener.fanout_offer()`.

Some events name a change instead of carrying frames (`render_locally`): each
process that receives one renders it once, in a thread of its own, only for the
groups its own sockets are in, and delivers what that gives, in the order the
events came. What no local socket would see is not rendered at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from asgiref.sync import async_to_sync
from channels.db import DatabaseSyncToAsync
from channels.layers import get_channel_layer
from django.conf import settings

from realtime.registry import per_event_loop

logger = logging.getLogger("boostroom.realtime")

EVENT_TYPE = "fanout.event"
# Redis forgets group memberships after `group_expiry`; refresh well before.
REFRESH_SECONDS = 600
# How quickly a Redis restart (memberships gone) is noticed.
WATCH_SECONDS = 2.0

# (event, has_local_sockets(group)) -> the events to deliver here, each (group, payload).
LocalRenderer = Callable[[dict[str, Any], Callable[[str], bool]], list[tuple[str, dict[str, Any]]]]
_renderers: dict[str, LocalRenderer] = {}


def render_locally(kind: str, renderer: LocalRenderer) -> None:
    """Events of `kind` are rendered by each receiving process with `renderer`
    (synchronous, may read the database) for its own sockets' groups."""
    _renderers[kind] = renderer


class Listener(Protocol):
    def fanout_offer(self, group: str, event: dict[str, Any]) -> None:
        """Take an event for this socket without waiting: its own writer sends it."""

    def fanout_resync_offer(self) -> None:
        """Events may have been missed (the layer was away): catch up, from the socket's own writer."""


class Hub:
    """Process-local registry of which sockets want which groups."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.members: dict[str, set[Listener]] = {}
        self._ready = asyncio.Lock()
        self._tasks: list[asyncio.Task] = []
        self._redis = None
        # Events waiting to be rendered here, and the one task rendering them in turn.
        self._to_render: deque[tuple[LocalRenderer, dict[str, Any]]] = deque()
        self._renderer: asyncio.Task | None = None
        # Renders get a thread (and a database connection) of their own: in the
        # thread every socket's database work shares, a change would wait behind
        # all of it before its frames go out.
        self._render_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fanout-render")

    async def _ensure_started(self) -> None:
        async with self._ready:
            if self.channel is None:
                self.channel = await self.layer.new_channel("fanout")
                self._tasks = [
                    asyncio.create_task(self._receive_loop()),
                    asyncio.create_task(self._watch_loop()),
                ]

    async def join(self, group: str, listener: Listener) -> None:
        await self._ensure_started()
        listeners = self.members.setdefault(group, set())
        first = not listeners
        listeners.add(listener)
        if first:
            try:
                await self.layer.group_add(group, self.channel)
            except Exception:
                # The layer is away: the watch loop re-joins every group when it
                # is back, and sockets then catch up.
                logger.warning("group join failed for %s", group)

    async def leave(self, group: str, listener: Listener) -> None:
        listeners = self.members.get(group)
        if not listeners:
            return
        listeners.discard(listener)
        if not listeners:
            del self.members[group]
            try:
                await self.layer.group_discard(group, self.channel)
            except Exception:
                # Harmless: a stale membership only costs a dropped event.
                logger.warning("group leave failed for %s", group)

    def deliver(self, event: dict[str, Any]) -> None:
        renderer = _renderers.get(event.get("kind"))
        if renderer is not None:
            self._to_render.append((renderer, event))
            if self._renderer is None:
                self._renderer = asyncio.get_running_loop().create_task(self._render_in_turn())
            return
        group = event["group"]
        # No await in this loop: a listener that cannot take the event now
        # queues it, so one socket's transport or database work never delays the next.
        for listener in list(self.members.get(group, ())):
            try:
                listener.fanout_offer(group, event)
            except Exception:  # one broken socket must not starve the others
                logger.exception("fanout delivery failed for group %s", group)

    async def _render_in_turn(self) -> None:
        try:
            while self._to_render:
                renderer, event = self._to_render.popleft()
                try:
                    # The dict is only read from the thread: membership tests are atomic.
                    render = DatabaseSyncToAsync(renderer, thread_sensitive=False, executor=self._render_thread)
                    rendered = await render(event, self.members.__contains__)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("rendering %s failed", event.get("kind"))
                    continue
                for group, payload in rendered:
                    self.deliver({"type": EVENT_TYPE, "group": group, **payload})
        finally:
            self._renderer = None

    async def _receive_loop(self) -> None:
        while True:
            try:
                event = await self._receive()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The layer (Redis) went away; keep trying so delivery resumes by
                # itself when it is back.
                logger.warning("channel layer receive failed; retrying", exc_info=True)
                await asyncio.sleep(1)
                await self._recover()
                continue
            self.deliver(event)

    async def _receive(self) -> dict[str, Any]:
        """One event from the layer, in a child task that is sure to end when this one is cancelled.

        redis-py can take a cancellation that lands as its read times out for the
        timeout and retry, and channels-redis then blocks in the next pop: the
        cancel is lost and a shutting-down loop waits forever. So the pop runs in
        a child that is cancelled again until it has ended.
        """
        child = asyncio.ensure_future(self.layer.receive(self.channel))
        try:
            return await asyncio.shield(child)
        except asyncio.CancelledError:
            _cancel_until_done(child)
            raise

    async def _recover(self) -> bool:
        """Re-join every group, then let each socket catch up on what it missed."""
        if not await self._rejoin_all():
            return False
        for listener in {listener for members in self.members.values() for listener in members}:
            try:
                listener.fanout_resync_offer()
            except Exception:
                logger.exception("fanout resync failed")
        return True

    async def _rejoin_all(self) -> bool:
        for group in list(self.members):
            try:
                await self.layer.group_add(group, self.channel)
            except Exception:
                logger.warning("group re-join failed for %s", group)
                return False
        return True

    async def _watch_loop(self) -> None:
        """Notice a Redis restart (it forgets memberships without an error) by a
        marker key vanishing; refresh memberships before they expire."""
        since_refresh = 0.0
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            since_refresh += WATCH_SECONDS
            try:
                if not await self._marker_present():
                    logger.warning("channel layer lost its state; re-joining groups")
                    if await self._recover():
                        await self._set_marker()
                elif since_refresh >= REFRESH_SECONDS:
                    since_refresh = 0.0
                    await self._rejoin_all()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("fanout watch failed", exc_info=True)

    def _marker_key(self) -> str:
        return f"{settings.REDIS_PREFIX}:fanout-alive:{self.channel}"

    async def _marker_present(self) -> bool:
        """Whether every Redis the layer shards over still has this process's marker."""
        if not settings.REDIS_URL:
            return True
        if self._redis is None:
            import redis.asyncio as aioredis

            # Memberships live on the shard their group hashes to; any one may restart.
            self._redis = [aioredis.Redis.from_url(url, socket_timeout=5) for url in settings.REDIS_SHARDS]
            await self._set_marker()
            return True
        key = self._marker_key()
        for client in self._redis:
            if not await client.exists(key):
                return False
        return True

    async def _set_marker(self) -> None:
        for client in self._redis:
            await client.set(self._marker_key(), "1", ex=86400)

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._renderer is not None:
            self._renderer.cancel()
        self._render_thread.shutdown(wait=False)


def _cancel_until_done(task: asyncio.Future, every: float = 0.5) -> None:
    def again() -> None:
        if not task.done():
            task.cancel()
            task.get_loop().call_later(every, again)

    again()


_hubs = per_event_loop(Hub, stop=Hub.stop)


def get_hub() -> Hub:
    """The hub of the running event loop (one per server process)."""
    return _hubs.get()


def reset_hubs() -> None:
    """Forget every hub; tests call this between event loops."""
    _hubs.reset()


async def publish(group: str, **payload: Any) -> None:
    await publish_many([(group, payload)])


async def publish_many(events: Iterable[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    for group, payload in events:
        await layer.group_send(group, {"type": EVENT_TYPE, "group": group, **payload})


def publish_sync(group: str, **payload: Any) -> None:
    publish_many_sync([(group, payload)])


def publish_many_sync(events: list[tuple[str, dict[str, Any]]]) -> None:
    """Several events, in order, for one hop into the event loop: from a worker
    thread every async_to_sync call costs a round trip to the server's loop."""
    async_to_sync(publish_many)(events)
