"""The chat socket, through the real ASGI stack (origin check, session auth).

That a socket got nothing is shown by what it gets next: a later event reaches
it after anything the earlier one would have sent.
"""

import asyncio
import json
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import connection, transaction
from django.db.models import F

from rooms import broadcasts, consumers, selectors, services
from rooms.models import Message, Room, RoomChange
from tests.conftest import expect_close

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


async def connected(socket_for, path, user):
    socket = await socket_for(path, user)
    ok, _ = await socket.connect()
    assert ok
    return socket


async def send(socket, **frame):
    await socket.send_to(text_data=json.dumps(frame))


async def frames(socket, count: int) -> list[str]:
    """The next `count` frames; the sender's ack and the broadcast may come in either order."""
    return [await socket.receive_from(timeout=3) for _ in range(count)]


def without_ack(received: list[str]) -> list[str]:
    return [frame for frame in received if 'id="chat-error"' not in frame]


async def test_anonymous_gets_4001(socket_for, squad):
    await expect_close(await socket_for("/ws/chatroom/squad/"), 4001)


async def test_non_member_gets_4004(socket_for, squad):
    _, _, _, outsider = squad
    await expect_close(await socket_for("/ws/chatroom/squad/", outsider), 4004)


async def test_unknown_room_gets_4004(socket_for, squad):
    _, owner, _, _ = squad
    await expect_close(await socket_for("/ws/chatroom/nowhere/", owner), 4004)


async def test_message_reaches_every_member_as_the_same_fragment(socket_for, squad):
    _, owner, member, _ = squad
    a = await connected(socket_for, "/ws/chatroom/squad/", owner)
    b = await connected(socket_for, "/ws/chatroom/squad/", member)
    await send(a, body="gg <b>wp</b>", client_id="c1", HEADERS={"HX-Request": "true"})
    (frame_a,) = without_ack(await frames(a, 2))
    frame_b = await b.receive_from(timeout=3)
    message = await db(Message.objects.get)()
    assert frame_a == frame_b
    assert f'id="message-{message.pk}"' in frame_a
    assert 'hx-swap-oob="beforeend:#messages"' in frame_a
    assert "gg &lt;b&gt;wp&lt;/b&gt;" in frame_a and "<b>wp</b>" not in frame_a
    await a.disconnect()
    await b.disconnect()


@pytest.mark.parametrize(
    "raw, error",
    [
        ("not json", "could not be read"),
        ("[1, 2]", "could not be read"),
        ('{"type": "dance"}', "Unknown message type"),
        ('{"body": 42}', "Write something"),
        ('{"body": "   "}', "Write something"),
        (json.dumps({"body": "x" * 2001}), "at most 2000"),
        (json.dumps({"body": "x" * 70000}), "too large"),
        # 22,000 characters, but 66 KB on the wire: the limit is in bytes.
        (json.dumps({"body": "€" * 22000}, ensure_ascii=False), "too large"),
        ('{"type": "resume", "after": "yesterday"}', "resume needs"),
        ('{"body": "hi", "client_id": "bad id!"}', "client_id"),
        ("[" * 5000 + "]" * 5000, "could not be read"),
    ],
)
async def test_bad_frames_get_an_error_and_change_nothing(socket_for, squad, raw, error):
    _, owner, member, _ = squad
    a = await connected(socket_for, "/ws/chatroom/squad/", owner)
    b = await connected(socket_for, "/ws/chatroom/squad/", member)
    await a.send_to(text_data=raw)
    reply = await a.receive_from(timeout=3)
    assert 'id="chat-error"' in reply and error in reply
    assert await db(Message.objects.count)() == 0
    # The socket is still usable, and the refused frame sent the others nothing.
    await send(a, body="still here")
    assert "still here" in without_ack(await frames(a, 2))[0]
    assert "still here" in await b.receive_from(timeout=3)
    await a.disconnect()
    await b.disconnect()


async def test_resume_sends_exactly_the_missed_messages_in_order(socket_for, squad):
    room, owner, member, _ = squad

    def post_many():
        return [services.message_post(room=room, author=owner, body=f"m{i}").pk for i in range(6)]

    ids = await db(post_many)()
    b = await connected(socket_for, "/ws/chatroom/squad/", member)
    await send(b, type="resume", after=ids[2])
    frame = await b.receive_from(timeout=3)
    positions = [frame.index(f'id="message-{pk}"') for pk in ids[3:]]
    assert positions == sorted(positions)
    for pk in ids[:3]:
        assert f'id="message-{pk}"' not in frame
    # Asking again sends nothing twice: this socket already sent those changes.
    await send(b, type="resume", after=ids[2])
    later = await db(services.message_post)(room=room, author=owner, body="later")
    next_frame = await b.receive_from(timeout=3)
    assert f'id="message-{later.pk}"' in next_frame
    for pk in ids:
        assert f'id="message-{pk}"' not in next_frame
    await b.disconnect()


async def test_resume_over_the_limit_asks_the_page_to_reload(socket_for, squad, settings):
    settings.CHAT_RESUME_LIMIT = 3
    room, owner, member, _ = squad
    await db(lambda: [services.message_post(room=room, author=owner, body=f"m{i}") for i in range(5)])()
    b = await connected(socket_for, "/ws/chatroom/squad/", member)
    await send(b, type="resume", after=0)
    frame = await b.receive_from(timeout=3)
    assert 'id="reload-notice"' in frame and "message-" not in frame
    await b.disconnect()


async def test_retried_send_is_stored_and_shown_once(socket_for, squad):
    _, owner, member, _ = squad
    a = await connected(socket_for, "/ws/chatroom/squad/", owner)
    b = await connected(socket_for, "/ws/chatroom/squad/", member)
    await send(a, body="once", client_id="retry-1")
    assert "once" in without_ack(await frames(a, 2))[0]
    assert "once" in await b.receive_from(timeout=3)
    await send(a, body="once", client_id="retry-1")
    assert without_ack(await frames(a, 1)) == []
    assert await db(Message.objects.count)() == 1
    # Neither socket is shown it again: the next thing each gets is the next message.
    await send(a, body="next")
    assert ["next" in frame for frame in without_ack(await frames(a, 2))] == [True]
    assert "next" in await b.receive_from(timeout=3)
    await a.disconnect()
    await b.disconnect()


async def test_retry_on_a_new_socket_catches_the_sender_up(socket_for, squad):
    room, owner, _, _ = squad
    await db(services.message_post)(room=room, author=owner, body="sent before the drop", client_id="lost-ack")
    a = await connected(socket_for, "/ws/chatroom/squad/", owner)
    await send(a, body="sent before the drop", client_id="lost-ack")
    await a.receive_from(timeout=3)  # ack
    assert "sent before the drop" in await a.receive_from(timeout=3)
    assert await db(Message.objects.count)() == 1
    await a.disconnect()


async def test_rolled_back_message_is_never_broadcast(socket_for, squad):
    room, owner, member, _ = squad
    b = await connected(socket_for, "/ws/chatroom/squad/", member)

    def post_and_roll_back():
        try:
            with transaction.atomic():
                services.message_post(room=room, author=owner, body="ghost")
                raise RuntimeError("abort")
        except RuntimeError:
            pass

    await db(post_and_roll_back)()
    await db(services.message_post)(room=room, author=owner, body="real")
    assert "real" in await b.receive_from(timeout=3)
    await b.disconnect()


async def test_typing_reaches_others(socket_for, squad):
    _, owner, member, _ = squad
    a = await connected(socket_for, "/ws/chatroom/squad/", owner)
    b = await connected(socket_for, "/ws/chatroom/squad/", member)
    await send(a, type="typing")
    frame = await b.receive_from(timeout=3)
    assert 'id="typing-indicator"' in frame and "owner is typing" in frame
    await a.disconnect()
    await b.disconnect()


async def told_then_closed(socket, reason: str) -> None:
    """The page hears why (room.html#room-gone), then the socket closes with 4004."""
    notice = await socket.receive_output(timeout=2)
    assert notice["type"] == "websocket.send", notice
    assert 'id="room-gone"' in notice["text"] and 'hx-swap-oob="true"' in notice["text"] and reason in notice["text"]
    assert await socket.receive_output(timeout=2) == {"type": "websocket.close", "code": 4004}


async def test_removed_member_is_told_and_disconnected_at_once(socket_for, squad):
    room, owner, member, _ = squad
    b = await connected(socket_for, "/ws/chatroom/squad/", member)
    a = await connected(socket_for, "/ws/chatroom/squad/", owner)
    await db(services.room_update)(
        room=room, by=owner, title=room.title, retention_days=None, remove_user_ids=[member.pk]
    )
    await told_then_closed(b, broadcasts.GONE_REMOVED)
    assert 'id="member-list"' in await a.receive_from(timeout=2)
    await a.disconnect()


async def test_leaving_in_one_tab_closes_the_room_in_the_others(socket_for, squad):
    room, owner, member, _ = squad
    other_tab = await connected(socket_for, "/ws/chatroom/squad/", member)
    await db(services.room_leave)(room=room, user=member)
    await told_then_closed(other_tab, broadcasts.GONE_LEFT)


async def test_deleting_a_group_tells_every_open_page(socket_for, squad):
    room, owner, member, _ = squad
    pages = [await connected(socket_for, "/ws/chatroom/squad/", user) for user in (owner, member)]
    await db(services.room_delete)(room=room, by=owner)
    for page in pages:
        await told_then_closed(page, broadcasts.GONE_DELETED)


async def test_membership_is_checked_on_every_send(socket_for, squad):
    room, owner, member, _ = squad
    b = await connected(socket_for, "/ws/chatroom/squad/", member)
    # Removed behind the socket's back (no broadcast): the next send is refused.
    await db(room.members.remove)(member)
    await send(b, body="am I still here?")
    assert await b.receive_output(timeout=2) == {"type": "websocket.close", "code": 4004}
    assert await db(Message.objects.count)() == 0


async def test_resume_from_a_bogus_future_id_does_not_silence_the_socket(socket_for, squad):
    room, owner, member, _ = squad
    b = await connected(socket_for, "/ws/chatroom/squad/", member)
    await send(b, type="resume", after=10**9)
    # Frames are handled in order: the answer to this one means the resume is done.
    await send(b, type="no-such-frame")
    assert consumers.FRAME_UNKNOWN in await b.receive_from(timeout=3)
    await db(services.message_post)(room=room, author=owner, body="after the bogus resume")
    assert "after the bogus resume" in await b.receive_from(timeout=3)
    await b.disconnect()


def commit_without_push(room, author, body, client_id=None):
    """A message committed at the room's next position whose push is still on its
    way (another process published it) or lost: the rows a service writes, no broadcast."""
    with transaction.atomic():
        Room.objects.filter(pk=room.pk).update(last_seq=F("last_seq") + 1)
        seq = Room.objects.get(pk=room.pk).last_seq
        message = Message.objects.create(
            room=room, author=author, body=body, body_html=f"<p>{body}</p>", client_id=client_id
        )
        RoomChange.objects.create(room=room, seq=seq, kind=RoomChange.Kind.POSTED, message=message, actor=author)
    return message, seq


async def test_a_push_that_overtakes_an_earlier_one_sends_both_in_order_once(socket_for, squad):
    # Two processes commit positions N and N+1, and N+1's push arrives first.
    room, owner, member, _ = squad
    b = await connected(socket_for, "/ws/chatroom/squad/", member)
    (earlier, first_seq), (later, second_seq) = [await db(commit_without_push)(room, owner, body) for body in "ab"]
    await db(broadcasts.message_created)(later, second_seq)
    frame = await b.receive_from(timeout=3)
    assert frame.index(f'id="message-{earlier.pk}"') < frame.index(f'id="message-{later.pk}"')
    assert f'data-seq="{second_seq}"' in frame
    # The late push and any repeats are not sent again: the next frame is what came after.
    await db(broadcasts.message_created)(earlier, first_seq)
    await db(broadcasts.message_created)(later, second_seq)
    await db(services.message_post)(room=room, author=owner, body="after the repeats")
    assert "after the repeats" in await b.receive_from(timeout=3)
    await b.disconnect()


async def test_pushes_already_sent_by_resume_are_not_repeated(socket_for, squad):
    room, owner, member, _ = squad
    first, seq = await db(commit_without_push)(room, owner, "before the socket")
    b = await connected(socket_for, "/ws/chatroom/squad/", member)
    await send(b, type="resume", seq=0)
    assert f'id="message-{first.pk}"' in await b.receive_from(timeout=3)
    await db(broadcasts.message_created)(first, seq)
    await db(services.message_post)(room=room, author=owner, body="after the repeat")
    assert "after the repeat" in await b.receive_from(timeout=3)
    await b.disconnect()


async def test_live_changes_that_arrive_during_a_resume_wait_until_it_is_sent(socket_for, squad, monkeypatch):
    room, owner, member, _ = squad
    before = await db(lambda: [services.message_post(room=room, author=owner, body=f"m{i}").pk for i in range(3)])()
    # Committed just before the resume reads, so the resume has it; its live
    # push arrives while the resume is still being read.
    live, live_seq = await db(commit_without_push)(room, owner, "live")

    # Hold the resume's read open (the real read follows) until the test lets it go.
    reading, go = threading.Event(), threading.Event()
    real_changes_after = selectors.changes_after

    def held_changes_after(**kwargs):
        reading.set()
        assert go.wait(timeout=30), "the test never let the resume read"
        return real_changes_after(**kwargs)

    b = await connected(socket_for, "/ws/chatroom/squad/", member)
    monkeypatch.setattr(selectors, "changes_after", held_changes_after)

    def broadcast_live_then_typing() -> None:
        # Off the thread the held read is using: the broadcast must not queue behind it.
        try:
            broadcasts.message_created(live, live_seq)
            broadcasts.typing(room=room, user=owner)
        finally:
            connection.close()

    await send(b, type="resume", seq=0)
    try:
        assert await asyncio.to_thread(reading.wait, 30)
        await sync_to_async(broadcast_live_then_typing, thread_sensitive=False)()
        # The typing note, never held back, came through the same hub after the
        # live message: had the message not been held, it would be here first.
        assert 'id="typing-indicator"' in await b.receive_from(timeout=10)
    finally:
        go.set()
    resumed = await b.receive_from(timeout=10)
    positions = [resumed.index(f'id="message-{pk}"') for pk in [*before, live.pk]]
    assert positions == sorted(positions)
    # The held live message was in the resume, so it is not sent again.
    monkeypatch.undo()
    await db(services.message_post)(room=room, author=owner, body="after the resume")
    assert "after the resume" in await b.receive_from(timeout=3)
    await b.disconnect()


EVIL_BODY = '<script>alert(1)</script><div hx-get="/admin/" hx-on::load="alert(2)">x</div>'


def assert_escaped(html: str) -> None:
    assert "<script" not in html and 'hx-get="/admin/"' not in html and 'hx-on::load="' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;div hx-get=&quot;/admin/&quot; hx-on::load=&quot;alert(2)&quot;&gt;" in html


async def test_script_and_htmx_attributes_are_escaped_in_socket_frames(socket_for, squad):
    _, owner, member, _ = squad
    a = await connected(socket_for, "/ws/chatroom/squad/", owner)
    b = await connected(socket_for, "/ws/chatroom/squad/", member)
    await send(a, body=EVIL_BODY)
    assert_escaped(await b.receive_from(timeout=3))
    await a.disconnect()
    await b.disconnect()


async def test_no_typing_frames_in_a_room_of_more_than_100(socket_for, squad):
    room, owner, member, _ = squad

    def add_members(count):
        from django.contrib.auth.models import User

        extra = User.objects.bulk_create([User(username=f"crowd{i}") for i in range(count)])
        room.members.add(*extra)
        return extra

    extra = await db(add_members)(services.TYPING_MAX_MEMBERS + 1 - 2)  # owner and member are in already
    assert await db(room.members.count)() == 101
    a = await connected(socket_for, "/ws/chatroom/squad/", owner)
    b = await connected(socket_for, "/ws/chatroom/squad/", member)
    await send(a, type="typing")
    await send(a, body="typed")
    assert "typed" in await b.receive_from(timeout=3)  # and no typing note before it
    await frames(a, 2)  # the ack and the message
    # At exactly 100 members the indicator works again.
    await db(room.members.remove)(extra[0])
    await send(b, type="typing")
    assert "member is typing" in await a.receive_from(timeout=3)
    await a.disconnect()
    await b.disconnect()


# EDIT, DELETE, REACT, REPLY OVER THE SOCKET


def page_position(room) -> int:
    return Room.objects.get(pk=room.pk).last_seq


async def test_changes_made_while_a_reader_was_away_replay_once_in_order(socket_for, squad):
    room, owner, member, _ = squad
    kept = await db(services.message_post)(room=room, author=owner, body="kept")
    doomed = await db(services.message_post)(room=room, author=owner, body="doomed")
    away_at = await db(page_position)(room)  # the reader's page shows both, then goes offline

    bob = await connected(socket_for, "/ws/chatroom/squad/", owner)
    await send(bob, type="edit", message=kept.pk, body="kept, **edited**", client_id="e1")
    await send(bob, type="react", message=kept.pk, emoji="👍", on=True, client_id="r1")
    await send(bob, type="message", body="a reply", reply_to=kept.pk, client_id="p1")
    await send(bob, type="delete", message=doomed.pk, client_id="d1")
    received = await frames(bob, 8)
    acks = [broadcasts.clear_error_fragment(client_id) for client_id in ("e1", "r1", "p1", "d1")]
    assert [frame for frame in received if "data-stored" in frame] == acks
    await bob.disconnect()

    alice = await connected(socket_for, "/ws/chatroom/squad/", member)
    await send(alice, type="resume", seq=away_at)
    frame = await alice.receive_from(timeout=3)
    reply = await db(Message.objects.get)(body="a reply")
    assert frame.count(f'id="message-{kept.pk}"') == 1 and "<strong>edited</strong>" in frame and "👍" in frame
    assert frame.count(f'id="message-{doomed.pk}"') == 1 and "message deleted" in frame and "doomed" not in frame
    assert f'id="message-{reply.pk}"' in frame and f'data-reply-to="{kept.pk}"' in frame
    assert f'data-seq="{away_at + 4}"' in frame
    # Up to date: the next frame is the next change, live, once.
    await db(services.reaction_set)(message=kept, user=owner, emoji="👍", on=False)
    live = await alice.receive_from(timeout=3)
    assert f'id="message-{kept.pk}" ' in live and 'hx-swap-oob="true"' in live and f'data-seq="{away_at + 5}"' in live
    await db(services.message_post)(room=room, author=owner, body="and then")
    assert "and then" in await alice.receive_from(timeout=3)
    await alice.disconnect()


async def test_an_old_client_resuming_by_message_id_gets_what_came_after_it(socket_for, squad):
    room, owner, member, _ = squad
    first = await db(services.message_post)(room=room, author=owner, body="first")
    second = await db(services.message_post)(room=room, author=owner, body="second")
    await db(services.message_edit)(message=first, by=owner, body="first, edited")
    b = await connected(socket_for, "/ws/chatroom/squad/", member)
    await send(b, type="resume", after=first.pk)
    frame = await b.receive_from(timeout=3)
    assert f'id="message-{second.pk}"' in frame and "first, edited" in frame
    await b.disconnect()


@pytest.mark.parametrize(
    "frame, error",
    [
        ({"type": "edit", "message": "theirs", "body": "hijack"}, services.NOT_YOUR_MESSAGE),
        ({"type": "delete", "message": "theirs"}, services.NOT_YOUR_MESSAGE),
        ({"type": "edit", "message": "mine", "body": "  "}, services.MESSAGE_EMPTY),
        ({"type": "edit", "message": "mine"}, services.MESSAGE_EMPTY),
        ({"type": "edit", "message": 10**9, "body": "x"}, "could not be found"),
        ({"type": "delete", "message": "12abc"}, "could not be found"),
        ({"type": "delete", "message": True}, "could not be found"),
        ({"type": "react", "message": "mine", "emoji": "💩", "on": True}, services.REACTION_UNKNOWN),
        ({"type": "react", "message": "mine", "emoji": "👍", "on": "maybe"}, "set to true or false"),
        ({"type": "react", "message": "elsewhere", "emoji": "👍", "on": True}, "could not be found"),
        ({"type": "message", "body": "re", "reply_to": "elsewhere"}, services.REPLY_INVALID),
        ({"type": "resume", "seq": -1}, "resume needs"),
    ],
)
async def test_refused_actions_say_why_and_change_nothing(socket_for, squad, public_room, frame, error):
    room, owner, member, _ = squad
    ids = {
        "theirs": await db(services.message_post)(room=room, author=owner, body="theirs"),
        "mine": await db(services.message_post)(room=room, author=member, body="mine"),
        "elsewhere": await db(services.message_post)(room=public_room, author=member, body="elsewhere"),
    }
    frame = {key: ids[value].pk if isinstance(value, str) and value in ids else value for key, value in frame.items()}
    before = await db(page_position)(room)
    a = await connected(socket_for, "/ws/chatroom/squad/", owner)
    b = await connected(socket_for, "/ws/chatroom/squad/", member)
    await send(b, **frame)
    reply = await b.receive_from(timeout=3)
    assert 'id="chat-error"' in reply and error in reply and "data-stored" not in reply
    assert await db(page_position)(room) == before
    # Nothing was pushed to the others either: their next frame is a later message.
    await db(services.message_post)(room=room, author=owner, body="later")
    assert "later" in await a.receive_from(timeout=3)
    assert await db(lambda: sorted(Message.objects.values_list("body", flat=True)))() == [
        "elsewhere",
        "later",
        "mine",
        "theirs",
    ]
    await a.disconnect()
    await b.disconnect()
