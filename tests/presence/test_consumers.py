"""`/ws/online-status/` end to end through the real ASGI application."""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group, User

from presence import selectors
from rooms.models import PUBLIC_ROOM_NAME, Room
from tests.conftest import expect_close
from tests.presence.conftest import COALESCE_SECONDS, drain, online_count, receive_until, room_count

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/online-status/"


async def connected(socket_for, user: User, path: str = PATH):
    socket = await socket_for(path, user)
    ok, _ = await socket.connect()
    assert ok
    return socket


def count_is(expected: int):
    return lambda frame: online_count(frame) == expected


async def test_anonymous_socket_is_closed_with_4001(socket_for):
    await expect_close(await socket_for(PATH), 4001)


async def test_connecting_socket_gets_the_current_counts_including_itself(socket_for, make_user):
    alice = await database_sync_to_async(make_user)()
    public = await database_sync_to_async(public_room)()
    socket = await connected(socket_for, alice)
    snapshot = await socket.receive_from(timeout=3)
    assert online_count(snapshot) == 1
    assert room_count(snapshot, public.pk) == 1
    await socket.disconnect()


async def test_second_tab_keeps_the_user_online_and_the_last_tab_takes_them_offline(socket_for, make_user):
    alice, bob = [await database_sync_to_async(make_user)() for _ in range(2)]
    bob_tab = await connected(socket_for, bob)
    await receive_until(bob_tab, count_is(1))
    alice_tab = await connected(socket_for, alice)
    frames = await receive_until(bob_tab, count_is(2))
    assert f"presence-{alice.pk} dot-online" in frames[-1]
    await drain(bob_tab, 2 * COALESCE_SECONDS)  # the public room's count follows in its own fragment

    alice_second_tab = await connected(socket_for, alice)
    await alice_second_tab.disconnect()
    # Closing one of two tabs changes nobody's status: nothing is published.
    assert await drain(bob_tab, 4 * COALESCE_SECONDS) == []
    assert await database_sync_to_async(selectors.online_user_ids)() == {alice.pk, bob.pk}

    started = time.monotonic()
    await alice_tab.disconnect()
    frames = await receive_until(bob_tab, count_is(1), within=2)
    assert time.monotonic() - started < 2
    assert f'class="dot presence-{alice.pk}"' in frames[-1]
    assert f'hx-swap-oob="outerHTML:.presence-{alice.pk}"' in frames[-1]
    assert await database_sync_to_async(selectors.online_user_ids)() == {bob.pk}
    await bob_tab.disconnect()


async def test_a_burst_of_joins_is_coalesced_into_few_identical_fragments(socket_for, make_user, settings):
    settings.PRESENCE_COALESCE_SECONDS = 0.5
    watchers = [await database_sync_to_async(make_user)() for _ in range(2)]
    watcher_tabs = [await connected(socket_for, user) for user in watchers]
    for tab in watcher_tabs:
        await receive_until(tab, count_is(2))
    await asyncio.gather(*(drain(tab, 3 * 0.5) for tab in watcher_tabs))

    def make_crowd() -> list[User]:
        User.objects.bulk_create([User(username=f"crowd{i}") for i in range(100)])
        return list(User.objects.filter(username__startswith="crowd"))

    crowd = await database_sync_to_async(make_crowd)()
    started = time.monotonic()
    crowd_tabs = [await connected(socket_for, user) for user in crowd]
    joined_in = time.monotonic() - started
    frames = await asyncio.gather(*(receive_until(tab, count_is(102), within=5) for tab in watcher_tabs))
    later = await asyncio.gather(*(drain(tab, 2 * 0.5) for tab in watcher_tabs))
    frames = [seen + more for seen, more in zip(frames, later, strict=True)]
    # The public room's count travels in its own fragment; only the site-wide ones matter here.
    frames = [[frame for frame in seen if online_count(frame) is not None] for seen in frames]

    # One fragment per interval at most (plus the trailing one), not one per join.
    bound = int(joined_in / 0.5) + 2
    assert 1 <= len(frames[0]) <= bound, (len(frames[0]), joined_in)
    # Rendered once, the same bytes to everyone.
    assert frames[0] == frames[1]
    assert online_count(frames[0][-1]) == 102
    for tab in [*crowd_tabs, *watcher_tabs]:
        await tab.disconnect()


def public_room() -> Room:
    # Transactional tests flush the migration's row; the room is part of the site.
    room, _ = Room.objects.get_or_create(name=PUBLIC_ROOM_NAME, defaults={"kind": Room.Kind.PUBLIC})
    return room


def make_private_room(first: User, second: User) -> Room:
    room = Room.objects.create(name=f"private-{first.pk}-{second.pk}", kind=Room.Kind.PRIVATE)
    room.members.add(first, second)
    return room


async def test_private_room_presence_reaches_only_its_members(socket_for, make_user):
    alice, bob, eve = [await database_sync_to_async(make_user)() for _ in range(3)]
    room = await database_sync_to_async(make_private_room)(alice, bob)

    bob_tab = await connected(socket_for, bob)
    bob_snapshot = await bob_tab.receive_from(timeout=3)
    assert room_count(bob_snapshot, room.pk) == 1
    eve_tab = await connected(socket_for, eve)
    eve_snapshot = await eve_tab.receive_from(timeout=3)
    assert f"room-online-{room.pk}" not in eve_snapshot
    await receive_until(bob_tab, count_is(2))

    alice_tab = await connected(socket_for, alice)
    await receive_until(bob_tab, lambda frame: room_count(frame, room.pk) == 2)
    eve_frames = await receive_until(eve_tab, count_is(3))
    eve_frames += await drain(eve_tab, 3 * COALESCE_SECONDS)
    assert not any(f"room-online-{room.pk}" in frame for frame in eve_frames)

    await expect_close(await socket_for(f"{PATH}?room={room.name}", eve), 4004)
    for tab in (alice_tab, bob_tab, eve_tab):
        await tab.disconnect()


async def test_staff_looking_at_an_order_room_follow_its_count(socket_for, make_user):
    # Transactional tests flush the migration's groups too.
    await database_sync_to_async(Group.objects.get_or_create)(name="managers")
    customer = await database_sync_to_async(make_user)()
    manager = await database_sync_to_async(make_user)(role="manager")

    def make_order_room() -> Room:
        room = Room.objects.create(name="order-1", kind=Room.Kind.ORDER, staff_access=True)
        room.members.add(customer)
        return room

    room = await database_sync_to_async(make_order_room)()
    manager_tab = await connected(socket_for, manager, f"{PATH}?room={room.name}")
    assert room_count(await manager_tab.receive_from(timeout=3), room.pk) == 0
    customer_tab = await connected(socket_for, customer)
    await receive_until(manager_tab, lambda frame: room_count(frame, room.pk) == 1)
    for tab in (customer_tab, manager_tab):
        await tab.disconnect()
