"""Per-process presence machinery: this process's live connections, the one
heartbeat that keeps all of them alive, and the coalescing publisher.

Started lazily per event loop, like `config.fanout`'s hub: a server process has
one loop, tests get a fresh one per test. The decisions themselves (what a
connect, a sweep or a publish does) live in `presence.services`.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable

from django.conf import settings

from presence.store import Clock, PresenceStore, new_store, reset_stores

logger = logging.getLogger("boostroom.realtime")

Publisher = Callable[..., Awaitable[float]]
Sweeper = Callable[..., Awaitable[int]]


class Tracker:
    def __init__(
        self,
        *,
        store: PresenceStore,
        publish: Publisher,
        sweep: Sweeper,
        coalesce_seconds: float,
        heartbeat_seconds: float,
    ) -> None:
        self.store = store
        self.connections: dict[str, int] = {}
        self.coalesce_seconds = coalesce_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self._publish = publish
        self._sweep = sweep
        self._dirty = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.publishes = 0
        self.sweeps = 0

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._publish_loop()),
                asyncio.create_task(self._heartbeat_loop()),
            ]

    def mark_changed(self) -> None:
        self.start()
        self._dirty.set()

    async def _publish_loop(self) -> None:
        while True:
            await self._dirty.wait()
            # Wait out the interval before looking: a burst of joins, or a page
            # navigation's close-then-reopen, then becomes one update (or none).
            await asyncio.sleep(self.coalesce_seconds)
            while True:
                self._dirty.clear()
                try:
                    wait = await self._publish(store=self.store, interval=self.coalesce_seconds)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.warning("presence publish failed; retrying", exc_info=True)
                    wait = max(self.coalesce_seconds, 1.0)
                if not wait:
                    self.publishes += 1
                    break
                # Another process has this interval, and what changed here may have
                # happened after it looked: take the next turn.
                await asyncio.sleep(wait)

    async def _heartbeat_loop(self) -> None:
        # Lapsed entries are looked for twice per heartbeat: one that lapses just
        # after a look is then announced half a beat later, so a crashed
        # process's users show online for at most ~2.5 beats, not ~3. Refreshing
        # (a write per connection) stays once per beat.
        beats = 0
        while True:
            await asyncio.sleep(self.heartbeat_seconds / 2)
            beats += 1
            try:
                await self._sweep(tracker=self, refresh=beats % 2 == 0)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Redis away: entries may lapse meanwhile; the next beat re-adds them.
                logger.warning("presence heartbeat failed", exc_info=True)
            self.sweeps += 1

    def stop(self) -> None:
        """Stop without removing anything: what a crash looks like to the others."""
        for task in self._tasks:
            task.cancel()
        self._tasks = []


_trackers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Tracker] = weakref.WeakKeyDictionary()


def new_tracker(*, store: PresenceStore | None = None) -> Tracker:
    # services imports this module for get_tracker(); import it late.
    from presence import services

    return Tracker(
        store=store or new_store(),
        publish=services.presence_publish_changes,
        sweep=services.presence_sweep,
        coalesce_seconds=float(settings.PRESENCE_COALESCE_SECONDS),
        heartbeat_seconds=float(settings.PRESENCE_HEARTBEAT_SECONDS),
    )


def get_tracker() -> Tracker:
    """The tracker of the running event loop (one per server process)."""
    loop = asyncio.get_running_loop()
    tracker = _trackers.get(loop)
    if tracker is None:
        tracker = _trackers[loop] = new_tracker()
    return tracker


def reset_presence(*, clock: Clock | None = None) -> None:
    """Forget every tracker and all stored presence; tests call this between loops."""
    for tracker in list(_trackers.values()):
        try:
            tracker.stop()
        except RuntimeError:  # its loop is already closed
            pass
    _trackers.clear()
    reset_stores(clock=clock)
