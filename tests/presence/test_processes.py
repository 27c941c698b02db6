"""Several server processes on one backend, and a process that dies without
running disconnect(). Each "process" is a tracker with its own store client and
a hub of its own on the channel layer, exactly as a separate ASGI process has."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from channels.db import database_sync_to_async

from presence import selectors, services
from presence.tracker import Tracker, get_tracker, new_tracker
from realtime import groups
from realtime.fanout import Hub
from tests.presence.conftest import (
    COALESCE_SECONDS,
    HEARTBEAT_SECONDS,
    Collector,
    drain,
    online_count,
    receive_until,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def listening_hub() -> tuple[Hub, Collector]:
    hub, collector = Hub(), Collector()
    await hub.join(groups.PRESENCE, collector)
    return hub, collector


async def wait_for(condition: Callable[[], bool], within: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def counts(collector: Collector) -> list[int]:
    return [count for frame in collector.frames if (count := online_count(frame)) is not None]


async def test_two_processes_share_one_count_and_only_one_publishes_it(make_user):
    users = [await database_sync_to_async(make_user)() for _ in range(3)]
    first, second = new_tracker(), new_tracker()
    (hub_one, seen_by_one), (hub_two, seen_by_two) = await listening_hub(), await listening_hub()

    await services.presence_connect(user_id=users[0].pk, conn_id="a1", tracker=first)
    await services.presence_connect(user_id=users[1].pk, conn_id="a2", tracker=first)
    await services.presence_connect(user_id=users[2].pk, conn_id="b1", tracker=second)
    assert await first.store.online_user_ids() == await second.store.online_user_ids() == {u.pk for u in users}

    await wait_for(lambda: counts(seen_by_one) == [3] and counts(seen_by_two) == [3])
    # Both processes had changes; the second took its turn after the first and
    # found nothing new to say, so no second fragment follows.
    await asyncio.sleep(4 * COALESCE_SECONDS)
    assert counts(seen_by_one) == counts(seen_by_two) == [3]

    await services.presence_disconnect(user_id=users[0].pk, conn_id="a1", tracker=first)
    await services.presence_disconnect(user_id=users[2].pk, conn_id="b1", tracker=second)
    await wait_for(lambda: counts(seen_by_one)[-1:] == [1] and counts(seen_by_two)[-1:] == [1])
    await asyncio.sleep(4 * COALESCE_SECONDS)
    assert counts(seen_by_one) == counts(seen_by_two) == [3, 1]
    assert await database_sync_to_async(selectors.online_user_ids)() == {users[1].pk}

    for process in (first, second):
        process.stop()
    for hub in (hub_one, hub_two):
        hub.stop()


async def test_a_killed_process_leaves_no_one_online_after_its_entries_lapse(socket_for, make_user, presence_clock):
    ghost, survivor = await database_sync_to_async(make_user)(), await database_sync_to_async(make_user)()
    doomed: Tracker = new_tracker()
    await services.presence_connect(user_id=ghost.pk, conn_id="doomed-1", tracker=doomed)
    tab = await socket_for("/ws/online-status/", survivor)
    assert (await tab.connect())[0]
    await receive_until(tab, lambda frame: online_count(frame) == 2)

    doomed.stop()  # kill -9: no disconnect, no more heartbeats
    # Until its entries lapse the ghost still counts: a slow process is not a dead one.
    await drain(tab, 3 * HEARTBEAT_SECONDS)
    assert ghost.pk in await database_sync_to_async(selectors.online_user_ids)()

    presence_clock.advance(get_tracker().store.ttl_seconds + 1)
    # The surviving process's heartbeat sweeps, keeps its own socket alive and
    # publishes the new count without anyone calling disconnect().
    frames = await receive_until(tab, lambda frame: online_count(frame) == 1, within=3 * HEARTBEAT_SECONDS + 2)
    assert f'class="dot presence-{ghost.pk}"' in frames[-1]
    assert await database_sync_to_async(selectors.online_user_ids)() == {survivor.pk}
    await tab.disconnect()


async def test_a_killed_process_s_users_are_announced_offline_within_two_and_a_half_beats(
    socket_for, make_user, presence_clock, settings
):
    beat = settings.PRESENCE_HEARTBEAT_SECONDS = 2.0
    ghost, survivor = await database_sync_to_async(make_user)(), await database_sync_to_async(make_user)()
    # The ghost's process died a beat ago, right after its last refresh.
    presence_clock.advance(-beat)
    doomed: Tracker = new_tracker()
    await services.presence_connect(user_id=ghost.pk, conn_id="doomed-1", tracker=doomed)
    doomed.stop()
    presence_clock.advance(beat)
    tab = await socket_for("/ws/online-status/", survivor)
    assert (await tab.connect())[0]
    await receive_until(tab, lambda frame: online_count(frame) == 2)

    # Worst case: the entry lapses just after the surviving process has looked.
    tracker = get_tracker()
    sweeps = tracker.sweeps
    await wait_for(lambda: tracker.sweeps > sweeps, within=2 * beat)
    presence_clock.advance(beat + 0.01)  # 2N since the ghost's last refresh: lapsed
    started = asyncio.get_running_loop().time()
    await receive_until(tab, lambda frame: online_count(frame) == 1, within=2 * beat)
    announced_after = 2 * beat + asyncio.get_running_loop().time() - started
    assert announced_after <= 2 * beat + beat / 2 + COALESCE_SECONDS + 0.4, announced_after
    await tab.disconnect()
