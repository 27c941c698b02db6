"""Read state over the real sockets: the chat socket takes "read" frames, every
page's presence socket carries the user's unread state and one activity event
per message (the same bytes for every reader), and the chat socket receipts."""

from __future__ import annotations

import asyncio
import html
import json
import re

import pytest
from channels.db import database_sync_to_async
from django.db import close_old_connections

from presence.services import reset_presence
from realtime import groups
from rooms import services
from rooms.models import ReadState
from tests.presence.conftest import listening_hub, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async
STATE = re.compile(r'id="unread-state"[^>]*data-rooms="([^"]*)"')
ACTIVITY = re.compile(r'<i data-room="(\d+)" data-message="(\d+)"')


@pytest.fixture(autouse=True)
async def settle_sockets():
    yield
    # No presence render may still hold a database session when the test database goes.
    reset_presence()
    await db(close_old_connections)()


def state_in(frame: str) -> dict | None:
    match = STATE.search(frame)
    return json.loads(html.unescape(match.group(1))) if match else None


async def next_matching(socket, predicate, within: float = 3.0) -> str:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        assert remaining > 0, "no matching frame in time"
        frame = await socket.receive_from(timeout=remaining)
        if predicate(frame):
            return frame


async def open_socket(socket_for, path, user):
    socket = await socket_for(path, user)
    assert (await socket.connect())[0]
    return socket


async def presence_tab(socket_for, user) -> tuple:
    """A page's presence socket and the unread state its snapshot carried."""
    socket = await open_socket(socket_for, "/ws/online-status/", user)
    frame = await next_matching(socket, lambda f: state_in(f) is not None)
    return socket, state_in(frame)


async def test_the_snapshot_carries_exact_counts_and_again_after_a_reconnect(socket_for, squad):
    room, owner, member, _ = squad
    await db(lambda: [services.message_post(room=room, author=owner, body=f"m{n}") for n in range(3)])()
    await db(services.message_post)(room=room, author=owner, body=f"@{member.username} hey")
    tab, state = await presence_tab(socket_for, member)
    assert (state[str(room.pk)]["unread"], state[str(room.pk)]["mentions"]) == (4, 1)
    await tab.disconnect()

    # Away: more messages, and a read in another tab that did not reach this one.
    newest = await db(services.message_post)(room=room, author=owner, body="while you were gone")
    await db(services.room_mark_read)(room=room, user=member, through=newest.pk - 2)
    tab, state = await presence_tab(socket_for, member)
    entry = state[str(room.pk)]
    assert (entry["unread"], entry["mentions"], entry["pointer"], entry["as_of"]) == (2, 1, newest.pk - 2, newest.pk)
    await tab.disconnect()


async def test_a_message_is_the_same_small_event_on_every_readers_page_and_on_no_one_elses(socket_for, squad):
    room, owner, member, outsider = squad
    owner_tab, _ = await presence_tab(socket_for, owner)
    member_tab, _ = await presence_tab(socket_for, member)
    outsider_tab, _ = await presence_tab(socket_for, outsider)

    message = await db(services.message_post)(room=room, author=owner, body="gg")
    seen_by_owner = await next_matching(owner_tab, ACTIVITY.search)
    seen_by_member = await next_matching(member_tab, ACTIVITY.search)
    assert seen_by_owner == seen_by_member
    assert ACTIVITY.search(seen_by_member).groups() == (str(room.pk), str(message.pk))
    assert "gg" in seen_by_member and "<article" not in seen_by_member
    frames = []
    while not await outsider_tab.receive_nothing(timeout=0.3):
        frames.append(await outsider_tab.receive_from())
    assert not any(ACTIVITY.search(frame) for frame in frames)
    for tab in (owner_tab, member_tab, outsider_tab):
        await tab.disconnect()


async def test_reading_in_one_tab_clears_the_badge_in_every_tab_and_shows_the_receipt(socket_for, squad):
    room, owner, member, _ = squad
    message = await db(services.message_post)(room=room, author=owner, body="read me")
    other_tab, state = await presence_tab(socket_for, member)
    assert state[str(room.pk)]["unread"] == 1
    owner_chat = await open_socket(socket_for, "/ws/chatroom/squad/", owner)
    member_chat = await open_socket(socket_for, "/ws/chatroom/squad/", member)

    await member_chat.send_to(text_data=json.dumps({"type": "read", "through": message.pk}))

    cleared = await next_matching(other_tab, lambda f: state_in(f) is not None)
    assert state_in(cleared)[str(room.pk)]["unread"] == 0
    receipt = await next_matching(owner_chat, lambda f: 'id="read-receipts"' in f)
    assert f'data-user="{member.pk}"' in receipt and f'data-through="{message.pk}"' in receipt
    assert await db(ReadState.objects.get)(user=member, room=room)
    for socket in (other_tab, owner_chat, member_chat):
        await socket.disconnect()


async def test_a_bad_read_frame_gets_an_error_and_changes_nothing(socket_for, squad):
    room, owner, member, _ = squad
    await db(services.message_post)(room=room, author=owner, body="x")
    chat = await open_socket(socket_for, "/ws/chatroom/squad/", member)
    await chat.send_to(text_data=json.dumps({"type": "read", "through": "all of it"}))
    reply = await next_matching(chat, lambda f: 'id="chat-error"' in f)
    assert "non-negative message id" in reply
    assert not await db(ReadState.objects.exists)()
    await chat.disconnect()


async def test_a_first_direct_message_reaches_a_page_that_did_not_know_the_room(socket_for, make_user):
    alice, bob = await db(make_user)("alice"), await db(make_user)("bob")
    alice_tab, state = await presence_tab(socket_for, alice)
    room = await db(services.room_get_or_create_private)(user=bob, other=alice)
    # Opening the room tells her nothing; its first message puts it in her lists:
    # her page learns of the room with that message unread, then hears the next ones.
    await db(services.message_post)(room=room, author=bob, body="psst")
    learnt = await next_matching(alice_tab, lambda f: str(room.pk) in (state_in(f) or {}))
    assert state_in(learnt)[str(room.pk)]["unread"] == 1
    message = await db(services.message_post)(room=room, author=bob, body="are you there?")
    # (The first message's own event may come too, or not: she was joining its room meanwhile.)
    event = await next_matching(alice_tab, lambda f: (hit := ACTIVITY.search(f)) and hit[2] == str(message.pk))
    assert ACTIVITY.search(event).groups() == (str(room.pk), str(message.pk))
    assert 'data-kind="private"' in event
    await alice_tab.disconnect()


async def test_another_process_gets_the_same_bytes_once(socket_for, squad):
    """A second server process is a hub of its own on the same channel layer."""
    room, owner, member, _ = squad
    member_tab, _ = await presence_tab(socket_for, member)
    other_process, elsewhere = await listening_hub([groups.room_activity(room.pk), groups.user_unread(member.pk)])

    message = await db(services.message_post)(room=room, author=owner, body="across processes")
    here = await next_matching(member_tab, ACTIVITY.search)
    await db(services.room_mark_read)(room=room, user=member, through=message.pk)
    cleared = await next_matching(member_tab, lambda f: state_in(f) is not None)

    await wait_for(lambda: len(elsewhere.frames) >= 2)
    assert elsewhere.frames == [here, cleared]
    assert state_in(cleared)[str(room.pk)]["unread"] == 0
    other_process.stop()
    await member_tab.disconnect()
