"""Several server processes on one backend, and a process that dies without
running disconnect(). Each "process" is a tracker with its own store client and
a hub of its own on the channel layer, exactly as a separate ASGI process has.

Where a test needs to know what a tracker's loops have done, their waits go
through `ManualSleep`: the test steps them instead of racing them against the clock."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User

from presence import selectors, services
from presence.services import new_tracker
from presence.tracker import Tracker
from realtime import groups
from realtime.fanout import publish
from rooms.models import Room
from tests.presence.conftest import (
    COALESCE_SECONDS,
    Collector,
    FakeClock,
    ManualSleep,
    listening_hub,
    online_count,
    public_room,
    receive_until,
    room_count,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def all_delivered(*collectors: Collector) -> None:
    """Until everything published so far has reached these listeners: a marker
    published now, after it, has."""
    marker = f'<i id="marker-{uuid.uuid4().hex}"></i>'
    await publish(groups.PRESENCE, html=marker)
    await wait_for(lambda: all(marker in collector.frames for collector in collectors))


async def release_and_publish(sleep: ManualSleep, passes: Counter, trackers: list[Tracker]) -> None:
    """Let every parked loop go and wait until each tracker has finished a
    publish pass: the changes made while they were parked are all published."""
    before = {tracker: passes[tracker.store] for tracker in trackers}
    sleep.run_freely()
    await wait_for(lambda: all(passes[tracker.store] > before[tracker] for tracker in trackers))


async def test_two_processes_share_one_count_and_only_one_publishes_it(make_user, presence_clock, publish_passes):
    users = [await database_sync_to_async(make_user)() for _ in range(3)]
    sleep = ManualSleep(presence_clock)
    first, second = new_tracker(sleep=sleep), new_tracker(sleep=sleep)
    (hub_one, seen_by_one), (hub_two, seen_by_two) = [await listening_hub([groups.PRESENCE]) for _ in range(2)]

    await services.presence_connect(user_id=users[0].pk, conn_id="a1", tracker=first)
    await services.presence_connect(user_id=users[1].pk, conn_id="a2", tracker=first)
    await services.presence_connect(user_id=users[2].pk, conn_id="b1", tracker=second)
    assert await first.store.online_user_ids() == await second.store.online_user_ids() == {u.pk for u in users}
    # Both processes have changes and wait out their interval (each heartbeat waits too).
    await wait_for(lambda: sleep.parked == 4)

    # One takes the turn and publishes; the other takes the next turn and finds
    # nothing new to say.
    await release_and_publish(sleep, publish_passes, [first, second])
    await all_delivered(seen_by_one, seen_by_two)
    assert seen_by_one.counts() == seen_by_two.counts() == [3]

    sleep.hold()
    await services.presence_disconnect(user_id=users[0].pk, conn_id="a1", tracker=first)
    await services.presence_disconnect(user_id=users[2].pk, conn_id="b1", tracker=second)
    await wait_for(lambda: sleep.parked == 4)
    await release_and_publish(sleep, publish_passes, [first, second])
    await all_delivered(seen_by_one, seen_by_two)
    assert seen_by_one.counts() == seen_by_two.counts() == [3, 1]
    assert await database_sync_to_async(selectors.online_user_ids)() == {users[1].pk}

    for process in (first, second):
        process.stop()
    for hub in (hub_one, hub_two):
        hub.stop()


async def test_a_hundred_joins_within_one_interval_make_one_update_per_scope(make_user, presence_clock):
    def make_crowd_and_rooms() -> tuple[list[User], list[Room]]:
        User.objects.bulk_create([User(username=f"crowd{i:03}") for i in range(100)])
        crowd = list(User.objects.filter(username__startswith="crowd").order_by("username"))
        rooms = []
        for name, members in (("squad-a", crowd[:50]), ("squad-b", crowd[50:])):
            room = Room.objects.create(name=name, kind=Room.Kind.GROUP)
            room.members.add(*members)
            rooms.append(room)
        return crowd, [public_room(), *rooms]

    crowd, rooms = await database_sync_to_async(make_crowd_and_rooms)()
    expected = {"site": 100, rooms[0].pk: 100, rooms[1].pk: 50, rooms[2].pk: 50}
    scopes = [groups.PRESENCE, *(groups.room_presence(room.pk) for room in rooms)]
    (hub_one, seen_by_one), (hub_two, seen_by_two) = [await listening_hub(scopes) for _ in range(2)]

    # The crowd joins one process the way its sockets' connect() does, in ten
    # waves, all while that process waits out its interval after the first.
    sleep = ManualSleep(presence_clock)
    process = new_tracker(sleep=sleep)

    async def wave(number: int) -> None:
        members = crowd[number * 10 : number * 10 + 10]
        for user in members:
            await services.presence_connect(user_id=user.pk, conn_id=f"crowd-{user.pk}", tracker=process)

    await wave(0)
    await wait_for(lambda: sleep.parked == 2)  # the publisher's interval and the heartbeat
    for number in range(1, 10):
        await wave(number)
    sleep.run_freely()

    # One more change, after the interval: its update comes after everything
    # the burst caused.
    leaver = crowd[0]
    await wait_for(lambda: 100 in seen_by_one.counts() and 100 in seen_by_two.counts())
    await services.presence_disconnect(user_id=leaver.pk, conn_id=f"crowd-{leaver.pk}", tracker=process)
    await wait_for(lambda: 99 in seen_by_one.counts() and 99 in seen_by_two.counts())

    def burst(collector: Collector) -> list[str]:
        """What it was sent before the leaver's update."""
        frames = collector.frames
        return frames[: next(i for i, frame in enumerate(frames) if online_count(frame) == 99)]

    def updates(frames: list[str]) -> dict[object, list[int]]:
        scopes: dict[object, list[int]] = {"site": [count for f in frames if (count := online_count(f)) is not None]}
        for room in rooms:
            scopes[room.pk] = [count for f in frames if (count := room_count(f, room.pk)) is not None]
        return scopes

    assert updates(burst(seen_by_one)) == {scope: [count] for scope, count in expected.items()}
    # Rendered once, the same bytes to every process.
    assert burst(seen_by_two) == burst(seen_by_one)
    process.stop()
    for hub in (hub_one, hub_two):
        hub.stop()


async def test_a_killed_process_leaves_no_one_online_after_its_entries_lapse(socket_for, make_user, presence_clock):
    ghost, survivor = await database_sync_to_async(make_user)(), await database_sync_to_async(make_user)()
    doomed: Tracker = new_tracker()
    lifetime = doomed.store.ttl_seconds
    # The ghost's process refreshed it for the last time half a lifetime before
    # the survivor connects, and then died (kill -9: no disconnect, no more heartbeats).
    presence_clock.advance(-lifetime / 2)
    await services.presence_connect(user_id=ghost.pk, conn_id="doomed-1", tracker=doomed)
    doomed.stop()
    presence_clock.advance(lifetime / 2)
    tab = await socket_for("/ws/online-status/", survivor)
    assert (await tab.connect())[0]
    assert online_count(await tab.receive_from(timeout=5)) == 2  # the snapshot
    # Subscribers are told about the ghost (only what was published can be taken back).
    await receive_until(tab, lambda frame: online_count(frame) == 2)

    # Until its entries lapse the ghost still counts: a slow process is not a dead one.
    assert ghost.pk in await database_sync_to_async(selectors.online_user_ids)()

    # Past the ghost's expiry, not the survivor's (this clock only moves when told,
    # so the survivor's heartbeat cannot have pushed its own expiry on).
    presence_clock.advance(lifetime / 2 + 0.01)
    # The surviving process's heartbeat sweeps, keeps its own socket alive and
    # publishes the new count without anyone calling disconnect().
    frames = await receive_until(tab, lambda frame: online_count(frame) == 1)
    assert f'class="dot presence-{ghost.pk}"' in frames[-1]
    assert await database_sync_to_async(selectors.online_user_ids)() == {survivor.pk}
    await tab.disconnect()


async def test_a_killed_process_s_users_are_announced_offline_within_two_and_a_half_beats(
    make_user, presence_clock: FakeClock, settings
):
    beat = settings.PRESENCE_HEARTBEAT_SECONDS = 2.0
    ghost, survivor = await database_sync_to_async(make_user)(), await database_sync_to_async(make_user)()
    start = presence_clock.now
    # Worst case: the ghost's process refreshed it for the last time so that it
    # lapses just after one of the survivor's looks (those come every half beat
    # from `start`: at 1, 2, 3 ... half beats).
    last_refresh = start + beat + 0.01 - 2 * beat
    presence_clock.now = last_refresh
    doomed: Tracker = new_tracker()
    await services.presence_connect(user_id=ghost.pk, conn_id="doomed-1", tracker=doomed)
    doomed.stop()
    presence_clock.now = start

    sleep = ManualSleep(presence_clock)
    process = new_tracker(sleep=sleep)
    hub, seen = await listening_hub([groups.PRESENCE])
    await services.presence_connect(user_id=survivor.pk, conn_id="survivor-1", tracker=process)
    await wait_for(lambda: sleep.parked == 2)  # the publish interval, the first half beat
    sleep.advance_to(start + COALESCE_SECONDS)
    await wait_for(lambda: seen.counts() == [2])

    async def half_beat(number: int) -> None:
        """Move to the survivor's `number`th look and wait until it has looked."""
        asked = len(sleep.requested)
        sleep.advance_to(start + number * beat / 2)
        await wait_for(lambda: len(sleep.requested) > asked and sleep.parked >= 1)

    online = database_sync_to_async(selectors.online_user_ids)
    await half_beat(1)
    await half_beat(2)
    assert ghost.pk in await online(), "a look before the entry lapses must leave it"
    assert sleep.requested == [COALESCE_SECONDS, beat / 2, beat / 2, beat / 2]

    # The next look, half a beat later, finds it lapsed and sets a publish going
    # (the publisher asks to wait out its interval).
    await half_beat(3)
    await wait_for(lambda: sleep.requested.count(COALESCE_SECONDS) == 2)
    assert presence_clock.now - last_refresh <= 2.5 * beat
    sleep.run_freely()
    await wait_for(lambda: seen.counts() == [2, 1])
    assert f'class="dot presence-{ghost.pk}"' in seen.frames[-1]
    process.stop()
    hub.stop()
