"""Per-process presence machinery: this process's live connections, the one
heartbeat that keeps all of them alive, and the coalescing publisher.

One per event loop (`presence.services.get_tracker()`, like the fan-out hub):
a server process has one loop, tests get a fresh one per test. What a connect,
a sweep or a publish does is decided in `presence.services`, which hands those
actions to the tracker it makes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from presence.store import PresenceStore

logger = logging.getLogger("boostroom.realtime")

Publisher = Callable[..., Awaitable[float]]
Sweeper = Callable[..., Awaitable[int]]
Sleep = Callable[[float], Awaitable[None]]


class Tracker:
    def __init__(
        self,
        *,
        store: PresenceStore,
        publish: Publisher,
        sweep: Sweeper,
        coalesce_seconds: float,
        heartbeat_seconds: float,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.store = store
        self.connections: dict[str, int] = {}
        self.coalesce_seconds = coalesce_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self._publish = publish
        self._sweep = sweep
        # Every wait the loops make goes through here, so a test can step them.
        self._sleep = sleep
        self._dirty = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

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
            await self._sleep(self.coalesce_seconds)
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
                    break
                # Another process has this interval, and what changed here may have
                # happened after it looked: take the next turn.
                await self._sleep(wait)

    async def _heartbeat_loop(self) -> None:
        # Lapsed entries are looked for twice per heartbeat: one that lapses just
        # after a look is then announced half a beat later, so a crashed
        # process's users show online for at most ~2.5 beats, not ~3. Refreshing
        # (a write per connection) stays once per beat.
        beats = 0
        while True:
            await self._sleep(self.heartbeat_seconds / 2)
            beats += 1
            try:
                await self._sweep(tracker=self, refresh=beats % 2 == 0)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Redis away: entries may lapse meanwhile; the next beat re-adds them.
                logger.warning("presence heartbeat failed", exc_info=True)

    def stop(self) -> None:
        """Stop without removing anything: what a crash looks like to the others."""
        for task in self._tasks:
            task.cancel()
        self._tasks = []
