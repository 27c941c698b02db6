"""The server's write-at-once extension (realtime/server.py) and the sockets'
use of it: frames written at once and frames that wait for the ASGI send reach
the client intact, in order and each once."""

from __future__ import annotations

import asyncio
import contextlib
import re

import pytest
import uvicorn
import websockets
from channels.db import database_sync_to_async

from realtime.server import SEND_NOW, WebSocketProtocol
from rooms import services
from tests.browser import harness

db = database_sync_to_async

BIG = "é" * 40_000  # over 64 KiB encoded: the frame's 8-byte length form


# What the extension answered after the socket closed, per connection.
after_close: list[bool] = []


async def extension_app(scope, receive, send) -> None:
    """Reports, through the ordinary send, what the extension did at each step."""
    if scope["type"] != "websocket":
        return
    send_now = scope["extensions"][SEND_NOW]
    await receive()  # websocket.connect
    before_accept = send_now("too early")
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": f"before accept: {before_accept}"})
    written = send_now("héllo ✓") and send_now(BIG)
    await send({"type": "websocket.send", "text": f"written: {written}"})
    await receive()  # the client's "bye"
    await send({"type": "websocket.close", "code": 1000})
    after_close.append(send_now("too late"))


@contextlib.asynccontextmanager
async def serving(**options):
    config = uvicorn.Config(
        extension_app,
        host=harness.HOST,
        port=harness.free_port(),
        ws=WebSocketProtocol,
        lifespan="off",
        log_level="warning",
        **options,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.01)
    try:
        yield f"ws://{harness.HOST}:{config.port}/"
    finally:
        server.should_exit = True
        await task


async def test_frames_written_at_once_arrive_intact_and_in_order():
    after_close.clear()
    async with serving(ws_per_message_deflate=False) as url:
        async with websockets.connect(url, compression=None, max_size=2**20) as client:
            frames = [await asyncio.wait_for(client.recv(), timeout=5) for _ in range(4)]
            await client.send("bye")
            with pytest.raises(websockets.ConnectionClosedOK):
                await asyncio.wait_for(client.recv(), timeout=5)
    assert frames == ["before accept: False", "héllo ✓", BIG, "written: True"]
    # Once the close is sent, it refuses rather than write past it.
    assert after_close == [False]


async def test_a_socket_with_per_message_deflate_is_refused_the_extension():
    async with serving(ws_per_message_deflate=True) as url:
        async with websockets.connect(url, compression="deflate") as client:
            frames = [await asyncio.wait_for(client.recv(), timeout=5) for _ in range(2)]
            await client.send("bye")
    assert frames == ["before accept: False", "written: False"]


@pytest.mark.django_db(transaction=True)
async def test_frames_that_wait_for_a_full_transport_keep_their_place(socket_for, make_user):
    """A chat socket writes through the extension while it can; while the server
    says its transport is full, frames take the ASGI send instead and wait
    their turn, and later ones queue behind them."""
    owner, member = await db(make_user)("owner"), await db(make_user)("member")
    room = await db(lambda: services.room_create_group(creator=owner, name="squad", title="Squad"))()
    await db(room.members.add)(member)
    reader = await socket_for("/ws/chatroom/squad/", member)
    full = False
    written_at_once: list[str] = []

    def send_now(text: str) -> bool:
        # As the server's would: a frame written now lands in the client's stream.
        if full:
            return False
        written_at_once.append(text)
        reader.output_queue.put_nowait({"type": "websocket.send", "text": text})
        return True

    reader.scope["extensions"] = {SEND_NOW: send_now}
    assert (await reader.connect())[0]
    posted = []
    for n in range(9):
        full = 3 <= n < 6
        message = await db(services.message_post)(room=room, author=owner, body=f"message {n}")
        posted.append(message.pk)
        if n in (2, 5):
            await asyncio.sleep(0.2)  # what queued has been written before the transport changes
    received = []
    while len(received) < len(posted):
        frame = await reader.receive_from(timeout=3)
        received += [int(pk) for pk in re.findall(r'data-id="(\d+)"', frame)]
    assert received == posted
    assert await reader.receive_nothing(timeout=0.3)
    # Both ways were taken.
    assert written_at_once and len(written_at_once) < len(posted)
    await reader.disconnect()
