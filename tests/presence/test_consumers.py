"""`/ws/online-status/` end to end through the real ASGI application."""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group, User

from presence import selectors
from presence.services import presence_connect
from presence.tracker import get_tracker
from rooms import services as room_services
from rooms.models import PUBLIC_ROOM_NAME, Room
from tests.conftest import expect_close
from tests.presence.conftest import COALESCE_SECONDS, drain, online_count, receive_until, room_count

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/online-status/"
DEFAULT_COALESCE_SECONDS = 1.0  # PRESENCE_COALESCE_SECONDS as shipped


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


async def test_a_hundred_joins_in_a_second_make_at_most_two_updates_per_scope(socket_for, make_user, settings):
    settings.PRESENCE_COALESCE_SECONDS = DEFAULT_COALESCE_SECONDS
    watchers = [await database_sync_to_async(make_user)() for _ in range(2)]

    def make_crowd_and_rooms() -> tuple[list[User], list[Room]]:
        User.objects.bulk_create([User(username=f"crowd{i:03}") for i in range(100)])
        crowd = list(User.objects.filter(username__startswith="crowd").order_by("username"))
        rooms = []
        for name, members in (("squad-a", crowd[:50]), ("squad-b", crowd[50:])):
            room = Room.objects.create(name=name, kind=Room.Kind.GROUP)
            room.members.add(*watchers, *members)
            rooms.append(room)
        return crowd, [public_room(), *rooms]

    crowd, rooms = await database_sync_to_async(make_crowd_and_rooms)()
    expected = {"site": 102, rooms[0].pk: 102, rooms[1].pk: 52, rooms[2].pk: 52}
    watcher_tabs = [await connected(socket_for, user) for user in watchers]
    for tab in watcher_tabs:
        await receive_until(tab, count_is(2))
    await asyncio.gather(*(drain(tab, 2 * DEFAULT_COALESCE_SECONDS) for tab in watcher_tabs))

    # Ten waves of ten over the second, so that without coalescing there would be
    # an update per wave. The crowd joins the way a socket's connect() does, not
    # through 100 handshakes that a loaded two-core machine stretches past a second.
    tracker = get_tracker()
    started = time.monotonic()

    async def wave(number: int) -> None:
        await asyncio.sleep(number * 0.08)
        members = crowd[number * 10 : number * 10 + 10]
        await asyncio.gather(
            *(presence_connect(user_id=u.pk, conn_id=f"crowd-{u.pk}", tracker=tracker) for u in members)
        )

    await asyncio.gather(*(wave(number) for number in range(10)))
    joined_in = time.monotonic() - started
    assert joined_in < 1.0, f"the burst took {joined_in:.2f}s; the bound below assumes one second"

    def settled(frame: str) -> bool:
        return online_count(frame) == expected["site"]

    seen = await asyncio.gather(*(receive_until(tab, settled, within=5) for tab in watcher_tabs))
    # The room fragments of that publish follow it; then nothing more may come.
    later = await asyncio.gather(*(drain(tab, 2 * DEFAULT_COALESCE_SECONDS) for tab in watcher_tabs))
    seen = [frames + more for frames, more in zip(seen, later, strict=True)]

    def updates(frames: list[str]) -> dict[object, list[int]]:
        scopes: dict[object, list[int]] = {"site": [count for f in frames if (count := online_count(f)) is not None]}
        for room in rooms:
            scopes[room.pk] = [count for f in frames if (count := room_count(f, room.pk)) is not None]
        return scopes

    per_scope = updates(seen[0])
    for scope, counts in per_scope.items():
        assert 1 <= len(counts) <= 2, (scope, counts, joined_in)
        assert counts[-1] == expected[scope], (scope, counts)
    # Rendered once, the same bytes to everyone.
    assert seen[0] == seen[1]
    for tab in watcher_tabs:
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


async def test_removed_members_stop_following_a_room_and_added_members_start(socket_for, make_user):
    alice, bob, carol, dave = [await database_sync_to_async(make_user)() for _ in range(4)]

    def make_squad() -> Room:
        room = Room.objects.create(name="squad", kind=Room.Kind.GROUP, admin=bob)
        room.members.add(alice, bob, carol)
        return room

    squad = await database_sync_to_async(make_squad)()
    squad_count = lambda expected: lambda frame: room_count(frame, squad.pk) == expected  # noqa: E731
    tabs = {user.username: await connected(socket_for, user) for user in (alice, bob, dave)}
    alice_tab, bob_tab, dave_tab = tabs[alice.username], tabs[bob.username], tabs[dave.username]
    await receive_until(bob_tab, count_is(3))
    await asyncio.gather(*(drain(tab, 3 * COALESCE_SECONDS) for tab in tabs.values()))

    await database_sync_to_async(room_services.room_update)(
        room=squad, by=bob, title="Squad", retention_days=None, remove_user_ids=[alice.pk]
    )
    await receive_until(bob_tab, squad_count(1))  # alice is online but no longer a member
    await database_sync_to_async(room_services.room_join)(room=squad, user=dave)
    await receive_until(bob_tab, squad_count(2))
    await receive_until(dave_tab, squad_count(2))

    carol_tab = await connected(socket_for, carol)
    await receive_until(bob_tab, squad_count(3))
    await receive_until(dave_tab, squad_count(3))
    alice_frames = await receive_until(alice_tab, count_is(4))
    alice_frames += await drain(alice_tab, 3 * COALESCE_SECONDS)
    assert not any(f"room-online-{squad.pk}" in frame for frame in alice_frames), alice_frames
    for tab in (*tabs.values(), carol_tab):
        await tab.disconnect()
