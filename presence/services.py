"""Presence actions: a connection opens or closes, the heartbeat sweeps, and
changes are published; and each process's tracker, which runs them.

Nothing here trusts disconnect() alone: entries expire unless the heartbeat of a
living process refreshes them, and what subscribers see is always the difference
between the store now and what they were last told, so a missed or doubled
event heals at the next publish.
"""

from __future__ import annotations

import asyncio

from django.conf import settings

from presence import broadcasts
from presence.store import Clock, PresenceStore, new_store, reset_stores
from presence.tracker import Sleep, Tracker
from realtime.registry import per_event_loop


async def presence_connect(*, user_id: int, conn_id: str, tracker: Tracker | None = None) -> None:
    tracker = tracker or get_tracker()
    tracker.connections[conn_id] = user_id
    await tracker.store.add(user_id=user_id, conn_id=conn_id)
    tracker.mark_changed()


async def presence_disconnect(*, user_id: int, conn_id: str, tracker: Tracker | None = None) -> None:
    tracker = tracker or get_tracker()
    tracker.connections.pop(conn_id, None)
    await tracker.store.remove(user_id=user_id, conn_id=conn_id)
    tracker.mark_changed()


async def presence_sweep(*, tracker: Tracker, refresh: bool = True) -> int:
    """Keep this process's connections alive (unless `refresh` is False) and
    drop everyone else's lapsed ones.

    Returns how many lapsed entries were dropped; any at all means someone may
    have gone offline without a disconnect (a crashed process), so publish.
    """
    if refresh:
        entries = [(user_id, conn_id) for conn_id, user_id in tracker.connections.items()]
        await tracker.store.refresh(entries=entries)
        # A socket that closed while the refresh was in flight may have been re-added
        # after its own removal; remove it again rather than leave a ghost for 2N.
        for user_id, conn_id in entries:
            if conn_id not in tracker.connections:
                await tracker.store.remove(user_id=user_id, conn_id=conn_id)
    lapsed = await tracker.store.purge_expired()
    if lapsed:
        tracker.mark_changed()
    return lapsed


async def presence_publish_changes(*, store: PresenceStore, interval: float) -> float:
    """Publish who came and went since the last publish by any process.

    Returns 0 when done (published, or nothing changed), else how many seconds
    until another process's turn ends: only one process publishes per interval.
    """
    wait = await store.claim_turn(seconds=interval)
    if wait:
        return wait
    online = await store.online_user_ids()
    previous = await store.swap_published(online=online)
    changed = online ^ previous
    if changed:
        await broadcasts.broadcast_presence_changes(online=online, changed=changed)
    return 0.0


def new_tracker(*, store: PresenceStore | None = None, sleep: Sleep = asyncio.sleep) -> Tracker:
    """A process's presence machinery, running the actions above."""
    return Tracker(
        store=store or new_store(),
        publish=presence_publish_changes,
        sweep=presence_sweep,
        coalesce_seconds=float(settings.PRESENCE_COALESCE_SECONDS),
        heartbeat_seconds=float(settings.PRESENCE_HEARTBEAT_SECONDS),
        sleep=sleep,
    )


_trackers = per_event_loop(new_tracker, stop=Tracker.stop)


def get_tracker() -> Tracker:
    """The tracker of the running event loop (one per server process)."""
    return _trackers.get()


def reset_presence(*, clock: Clock | None = None) -> None:
    """Forget every tracker and all stored presence; tests call this between loops."""
    _trackers.reset()
    reset_stores(clock=clock)
