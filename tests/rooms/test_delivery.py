"""Nothing lost between a stored message and the sockets of the room: a failed
broadcast does not turn a stored send into a failure, a retry is broadcast again,
and a socket that missed one catches up from its position without a gap.
`commit_without_push` stands for a push that was lost (or is still on its way)."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers

from rooms import services
from rooms.models import Message
from tests.browser import harness
from tests.rooms.test_consumers import commit_without_push

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


async def test_a_retry_of_a_stored_message_reaches_the_others(socket_for, squad):
    room, owner, member = squad
    reader = await connected(socket_for, member)
    # Stored, but its broadcast never left (the sender was told it failed).
    lost, _ = await db(commit_without_push)(room, owner, "stored, not pushed", client_id="again")
    sender = await connected(socket_for, owner)
    await send(sender, body="stored, not pushed", client_id="again")
    frame = await reader.receive_from(timeout=3)
    assert ids_in(frame) == [lost.pk]
    assert await db(Message.objects.count)() == 1
    # Once: the reader's next frame is the next message.
    after = await db(services.message_post)(room=room, author=owner, body="after the retry")
    assert ids_in(await reader.receive_from(timeout=3)) == [after.pk]
    for socket in (reader, sender):
        await socket.disconnect()


async def test_a_socket_fetches_a_message_missing_below_one_it_was_sent(socket_for, squad):
    room, owner, member = squad
    reader = await connected(socket_for, member)
    first = await db(services.message_post)(room=room, author=owner, body="first")
    assert ids_in(await reader.receive_from(timeout=3)) == [first.pk]
    # The second's push is lost; the third's arrives a position ahead: the socket
    # reads the second from the database at once and sends both, in order.
    second, _ = await db(commit_without_push)(room, owner, "second")
    third = await db(services.message_post)(room=room, author=owner, body="third")
    assert ids_in(await reader.receive_from(timeout=3)) == [second.pk, third.pk]
    fourth = await db(services.message_post)(room=room, author=owner, body="fourth")
    assert ids_in(await reader.receive_from(timeout=3)) == [fourth.pk]
    await reader.disconnect()


@pytest.fixture
def private_redis(settings, tmp_path):
    """A redis-server of this test's own, which it may stop and start (the
    machine's Redis is shared with other runs)."""
    redis = harness.RedisServer(log=tmp_path / "redis.log").start()
    settings.REDIS_URL = redis.url
    settings.REDIS_SHARDS = [redis.url]  # where the hub keeps its liveness marker
    redis_layer(settings, redis.url)
    yield redis
    redis.stop()


async def wait_for(condition, within: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_after_a_redis_restart_a_socket_resumes_from_what_it_saw_without_a_gap(socket_for, squad, private_redis):
    import redis.asyncio as aioredis

    room, owner, member = squad
    reader = await connected(socket_for, member)
    first = await db(services.message_post)(room=room, author=owner, body="first")
    assert ids_in(await reader.receive_from(timeout=3)) == [first.pk]
    # Its push is lost and nothing comes after it: only the resync can find it.
    lost, _ = await db(commit_without_push)(room, owner, "lost")

    async def hub_is_watching() -> bool:
        client = aioredis.Redis.from_url(private_redis.url)
        try:
            return bool(await client.keys("*fanout-alive*"))
        finally:
            await client.aclose()

    await wait_for(hub_is_watching)
    private_redis.stop()
    private_redis.start()  # empty: every group membership is gone
    assert ids_in(await reader.receive_from(timeout=20)) == [lost.pk]
    # And live again.
    after = await db(services.message_post)(room=room, author=owner, body="after the restart")
    assert ids_in(await reader.receive_from(timeout=5)) == [after.pk]
    await reader.disconnect()


async def test_a_resume_does_not_repeat_what_the_socket_was_sent_live(socket_for, squad):
    room, owner, member = squad
    reader = await connected(socket_for, member)
    # Live before the client's resume is read (a reconnect racing new traffic).
    live = await db(services.message_post)(room=room, author=owner, body="live")
    assert ids_in(await reader.receive_from(timeout=3)) == [live.pk]
    await send(reader, type="resume", after=0)
    assert await reader.receive_nothing(timeout=0.3)
    await reader.disconnect()


async def test_a_retry_on_a_new_socket_does_not_repeat_what_the_client_holds(socket_for, squad):
    room, owner, _ = squad
    # Stored and shown on the sender's old socket, which dropped before the ack.
    shown, _ = await db(commit_without_push)(room, owner, "shown", client_id="ack-lost")
    sender = await connected(socket_for, owner)
    await send(sender, type="resume", after=shown.pk)
    await send(sender, body="shown", client_id="ack-lost")
    assert 'data-stored="ack-lost"' in await sender.receive_from(timeout=3)
    assert await sender.receive_nothing(timeout=0.3)
    await sender.disconnect()
