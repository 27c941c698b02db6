"""Nothing lost between a stored change and the sockets of the room: a failed
broadcast does not turn a stored send into a failure, a retry is broadcast again
at its own position, and a socket sends the room's changes in sequence order,
each once, reading any it missed from the database."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers

from rooms import broadcasts, selectors, services
from rooms.models import Message, Room
from tests.browser import harness

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


@pytest.fixture
async def squad(make_user):
    def build():
        owner, member = make_user("owner"), make_user("member")
        room = services.room_create_group(creator=owner, name="squad", title="Squad")
        room.members.add(member)
        return room, owner, member

    return await db(build)()


@pytest.fixture
def post_unpushed(monkeypatch):
    """Post through the service, which stores the message at the room's next
    position, while its push never leaves (Redis away, or a process killed
    between the commit and the publish)."""

    def post(**kwargs) -> Message:
        with monkeypatch.context() as patch:
            patch.setattr(broadcasts, "message_created", lambda message, seq: None)
            return services.message_post(**kwargs)

    return db(post)


def redis_layer(settings, url: str) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": url, "socket_timeout": 10}], "prefix": f"{settings.REDIS_PREFIX}:asgi"},
        }
    }
    channel_layers.backends.clear()


async def connected(socket_for, user, room="squad"):
    socket = await socket_for(f"/ws/chatroom/{room}/", user)
    assert (await socket.connect())[0]
    return socket


async def send(socket, **frame):
    await socket.send_to(text_data=json.dumps(frame))


def ids_in(frame: str) -> list[int]:
    return [int(value) for value in re.findall(r'data-id="(\d+)"', frame)]


def position_in(frame: str) -> int:
    """The page's position once it has applied `frame` (its #chat-seq)."""
    return int(re.findall(r'data-seq="(\d+)"', frame)[-1])


def room_position(room) -> int:
    return Room.objects.get(pk=room.pk).last_seq


async def test_a_stored_message_is_acknowledged_although_its_broadcast_fails(socket_for, squad, settings):
    room, owner, _ = squad
    # A channel layer whose Redis is not there: every broadcast raises.
    redis_layer(settings, f"redis://{harness.HOST}:{harness.free_port()}/0")
    sender = await connected(socket_for, owner)
    await send(sender, body="stored anyway", client_id="first-try")
    reply = await sender.receive_from(timeout=5)
    assert 'data-stored="first-try"' in reply, reply
    assert await db(lambda: list(Message.objects.values_list("body", flat=True)))() == ["stored anyway"]
    # Straight from the service too (a view, the admin): the push failing is not an error.
    message = await db(services.message_post)(room=room, author=owner, body="from a view")
    assert await db(Message.objects.filter(pk=message.pk).exists)()
    await sender.disconnect()


async def test_a_retry_of_a_stored_message_reaches_the_others(socket_for, squad, post_unpushed):
    room, owner, member = squad
    reader = await connected(socket_for, member)
    # Stored, but its broadcast never left (the sender was told it failed).
    lost = await post_unpushed(room=room, author=owner, body="stored, not pushed", client_id="again")
    sender = await connected(socket_for, owner)
    await send(sender, body="stored, not pushed", client_id="again")
    frame = await reader.receive_from(timeout=3)
    assert ids_in(frame) == [lost.pk]
    assert position_in(frame) == await db(selectors.seq_of_message)(room=room, message_id=lost.pk)
    assert await reader.receive_nothing(timeout=0.3)
    assert await db(Message.objects.count)() == 1
    for socket in (reader, sender):
        await socket.disconnect()


async def test_a_socket_fetches_a_message_missing_below_one_it_was_sent(socket_for, squad, post_unpushed):
    room, owner, member = squad
    reader = await connected(socket_for, member)
    first = await db(services.message_post)(room=room, author=owner, body="first")
    assert ids_in(await reader.receive_from(timeout=3)) == [first.pk]
    # The second's broadcast is lost; the third's arrives ahead of its turn, so the
    # socket reads the second from the database at once and sends both, in order.
    second = await post_unpushed(room=room, author=owner, body="second")
    third = await db(services.message_post)(room=room, author=owner, body="third")
    frame = await reader.receive_from(timeout=3)
    assert ids_in(frame) == [second.pk, third.pk]
    assert position_in(frame) == await db(room_position)(room)
    # Each once: the next frame is the next message.
    fourth = await db(services.message_post)(room=room, author=owner, body="fourth")
    assert ids_in(await reader.receive_from(timeout=3)) == [fourth.pk]
    await reader.disconnect()


async def test_a_late_arrival_is_not_sent_twice(socket_for, squad, post_unpushed):
    room, owner, member = squad
    reader = await connected(socket_for, member)
    earlier = await post_unpushed(room=room, author=owner, body="earlier")
    later = await post_unpushed(room=room, author=owner, body="later")
    seq_of = db(selectors.seq_of_message)
    earlier_seq = await seq_of(room=room, message_id=earlier.pk)
    later_seq = await seq_of(room=room, message_id=later.pk)
    # Two processes: the later one's broadcast overtakes the earlier one's.
    await db(broadcasts.message_created)(later, later_seq)
    assert ids_in(await reader.receive_from(timeout=3)) == [earlier.pk, later.pk]
    await db(broadcasts.message_created)(earlier, earlier_seq)
    # The late push is not sent again: the next frame is what came after.
    after = await db(services.message_post)(room=room, author=owner, body="after the late one")
    assert ids_in(await reader.receive_from(timeout=3)) == [after.pk]
    await reader.disconnect()


@pytest.fixture
def private_redis(settings, tmp_path):
    """A redis-server of this test's own, which it may stop and start (the
    machine's Redis is shared with other runs)."""
    redis = harness.RedisServer(log=tmp_path / "redis.log").start()
    settings.REDIS_URL = redis.url
    settings.REDIS_SHARDS = [redis.url]  # where the hub keeps the marker it watches
    redis_layer(settings, redis.url)
    yield redis
    redis.stop()


async def wait_for(condition, within: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_after_a_redis_restart_a_socket_resumes_from_its_own_position(
    socket_for, squad, private_redis, post_unpushed
):
    import redis.asyncio as aioredis

    room, owner, member = squad
    reader = await connected(socket_for, member)
    first = await db(services.message_post)(room=room, author=owner, body="first")
    assert ids_in(await reader.receive_from(timeout=3)) == [first.pk]
    # Lost with the restart, and nothing after it to show the socket it is behind.
    lost = await post_unpushed(room=room, author=owner, body="lost")

    async def hub_is_watching() -> bool:
        client = aioredis.Redis.from_url(private_redis.url)
        try:
            return bool(await client.keys("*fanout-alive*"))
        finally:
            await client.aclose()

    await wait_for(hub_is_watching)
    private_redis.stop()
    private_redis.start()  # empty: every group membership is gone
    # From the socket's position: not the room's newest (nothing), not the start (first again).
    frame = await reader.receive_from(timeout=20)
    assert ids_in(frame) == [lost.pk]
    assert position_in(frame) == await db(room_position)(room)
    # And live again.
    after = await db(services.message_post)(room=room, author=owner, body="after the restart")
    assert ids_in(await reader.receive_from(timeout=5)) == [after.pk]
    await reader.disconnect()


async def test_a_resume_does_not_repeat_what_the_socket_was_sent_live(socket_for, squad):
    room, owner, member = squad
    reader = await connected(socket_for, member)
    live = await db(services.message_post)(room=room, author=owner, body="live")
    frame = await reader.receive_from(timeout=3)
    assert ids_in(frame) == [live.pk]
    # The page resumes from the position the live frame gave it, or (older pages) its newest id.
    await send(reader, type="resume", seq=position_in(frame))
    await send(reader, type="resume", after=live.pk)
    after = await db(services.message_post)(room=room, author=owner, body="after the resume")
    assert ids_in(await reader.receive_from(timeout=3)) == [after.pk]
    await reader.disconnect()


async def test_a_retry_on_a_new_socket_does_not_repeat_what_the_client_holds(socket_for, squad):
    room, owner, _ = squad
    # Stored and shown on the sender's old socket, which dropped before the ack.
    await db(services.message_post)(room=room, author=owner, body="shown", client_id="ack-lost")
    shown_at = await db(room_position)(room)
    sender = await connected(socket_for, owner)
    await send(sender, type="resume", seq=shown_at)
    await send(sender, body="shown", client_id="ack-lost")
    assert 'data-stored="ack-lost"' in await sender.receive_from(timeout=3)
    assert await sender.receive_nothing(timeout=0.3)
    await sender.disconnect()
