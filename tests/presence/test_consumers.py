"""`/ws/online-status/` end to end through the real ASGI application.

That nothing was published is shown by what comes next: a later change goes
through the same publisher, so its frame is the next one a socket gets.
"""

from __future__ import annotations

import re
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group, User

from accounts import services as accounts
from presence import selectors
from rooms import services as room_services
from rooms.models import Room
from tests.conftest import expect_close
from tests.presence.conftest import online_count, public_room, receive_until, room_count, seen_all

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
    alice, bob, carol = [await database_sync_to_async(make_user)() for _ in range(3)]
    bob_tab = await connected(socket_for, bob)
    await receive_until(bob_tab, count_is(1))
    alice_tab = await connected(socket_for, alice)
    frames = await receive_until(bob_tab, count_is(2))
    assert f"presence-{alice.pk} dot-online" in frames[-1]

    alice_second_tab = await connected(socket_for, alice)
    await alice_second_tab.disconnect()
    # Closing one of two tabs changes nobody's status: the next thing bob hears
    # of is carol arriving, and alice is not in it.
    carol_tab = await connected(socket_for, carol)
    frames = await receive_until(bob_tab, count_is(3))
    assert [online_count(frame) for frame in frames] == [3]
    assert f"presence-{carol.pk} dot-online" in frames[0] and f':.presence-{alice.pk}"' not in frames[0]
    assert await database_sync_to_async(selectors.online_user_ids)() == {alice.pk, bob.pk, carol.pk}

    await alice_tab.disconnect()
    frames = await receive_until(bob_tab, count_is(2))
    assert f'class="dot presence-{alice.pk}"' in frames[-1]
    assert f'hx-swap-oob="outerHTML:.presence-{alice.pk}"' in frames[-1]
    assert await database_sync_to_async(selectors.online_user_ids)() == {bob.pk, carol.pk}
    for tab in (bob_tab, carol_tab):
        await tab.disconnect()


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
    await receive_until(eve_tab, count_is(3))
    # Alice leaving is published after her arrival's room fragments were.
    await alice_tab.disconnect()
    await receive_until(bob_tab, lambda frame: room_count(frame, room.pk) == 1)
    eve_frames = [eve_snapshot, *await receive_until(eve_tab, count_is(2))]
    assert not any(f"room-online-{room.pk}" in frame for frame in eve_frames)

    await expect_close(await socket_for(f"{PATH}?room={room.name}", eve), 4004)
    for tab in (bob_tab, eve_tab):
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
    # Alice has heard all three arrivals (bob's is the squad's count of 2; dave is not a member).
    await receive_until(alice_tab, seen_all(count_is(3), squad_count(2)))

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
    # Carol leaving is published after her arrival's room fragments were.
    await carol_tab.disconnect()
    await receive_until(bob_tab, squad_count(2))
    alice_frames = await receive_until(alice_tab, seen_all(count_is(4), count_is(3)))
    assert not any(f"room-online-{squad.pk}" in frame for frame in alice_frames), alice_frames
    for tab in tabs.values():
        await tab.disconnect()


async def test_a_socket_whose_connect_fails_leaves_no_one_online(socket_for, make_user, monkeypatch):
    from presence import consumers

    alice = await database_sync_to_async(make_user)()

    def database_away(**kwargs):
        raise RuntimeError("the database went away mid-handshake")

    # Fails after the connection was counted: disconnect() never runs for a failed connect.
    monkeypatch.setattr(consumers, "_snapshot", database_away)
    socket = await socket_for(PATH, alice)
    ok, _ = await socket.connect()
    assert ok
    assert (await socket.receive_output(timeout=3))["code"] == 1011
    assert await database_sync_to_async(selectors.online_user_ids)() == set()
    monkeypatch.undo()
    # Its slot and groups were released too: the user's next tab counts as one.
    again = await connected(socket_for, alice)
    assert online_count(await again.receive_from(timeout=3)) == 1
    await again.disconnect()


THEME = re.compile(r'id="theme-state" data-theme="(\w+)"')


async def test_a_push_that_comes_while_the_snapshot_is_read_is_not_undone_by_it(socket_for, make_user, monkeypatch):
    from presence import consumers

    alice = await database_sync_to_async(make_user)()
    await database_sync_to_async(accounts.preferences_update)(user=alice, theme="dark")
    first_tab = await connected(socket_for, alice)
    await receive_until(first_tab, lambda frame: THEME.search(frame) is not None)
    read, release = threading.Event(), threading.Event()
    real = consumers._snapshot

    def read_then_wait(**kwargs) -> str:
        frame = real(**kwargs)
        read.set()
        release.wait(10)
        return frame

    monkeypatch.setattr(consumers, "_snapshot", read_then_wait)
    second_tab = await connected(socket_for, alice)
    try:
        assert await sync_to_async(read.wait, thread_sensitive=False)(10)
        # The theme changes after the second tab's snapshot read it: its push
        # reaches both tabs (the first one shows it has been handed out).
        await sync_to_async(accounts.preferences_update, thread_sensitive=False)(user=alice, theme="win98")
        frames = await receive_until(first_tab, lambda frame: THEME.search(frame) is not None)
        assert THEME.search(frames[-1])[1] == "win98"
    finally:
        release.set()
    themes: list[str] = []
    while len(themes) < 2:
        themes += THEME.findall(await second_tab.receive_from(timeout=3))
    # The snapshot (dark, as read) first, then the change: the page ends in win98.
    assert themes == ["dark", "win98"]
    for tab in (first_tab, second_tab):
        await tab.disconnect()
