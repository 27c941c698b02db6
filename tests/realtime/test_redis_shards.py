"""The channel layer sharded over two Redis servers (REDIS_SHARDS), against two
live server processes started as `make run` starts them.

Messages cross from one process to the other, and when the shard holding the
room's group restarts empty (every membership there forgotten) while the
reading process's own channel lives on the other shard, that process notices,
joins again and its socket catches up: nothing is lost. Both Redis servers are
private to the test.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
import urllib.request

import pytest
import redis
import websockets
from channels_redis.utils import _consistent_hash

from tests.browser import harness

MESSAGE = re.compile(r"<p[^>]*>([^<]*shard message \d+)</p>")
DELIVERY_SECONDS = 30


def token_for(live, login: str) -> str:
    request = urllib.request.Request(
        f"{live.url}/api/token/",
        data=json.dumps({"login": login, "password": "boostroom-demo"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["token"]


@pytest.fixture
def shards(tmp_path):
    first, second = (harness.RedisServer(log=tmp_path / f"redis-{n}.log") for n in (1, 2))
    try:
        yield first.start(), second.start()
    finally:
        first.stop()
        second.stop()


def channel_shards(url: str, prefix: str) -> dict[str, int]:
    """Each process channel that has set its marker so far, and its shard (channels-redis
    places a process channel by its name up to the `!`)."""
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        names = [key.decode().rsplit(":", 1)[1] for key in client.scan_iter(match=f"{prefix}:fanout-alive:*")]
    finally:
        client.close()
    return {name: _consistent_hash(name.split("!")[0] + "!", 2) for name in names}


async def reader_with_channel_off(shard: int, server, url: str, prefix: str):
    """A reading socket on `server`, restarted until its process channel lives on the other shard:
    then only the memberships tell it that the restarting shard forgot them."""
    for _ in range(8):
        before = channel_shards(url, prefix)
        server.start().wait_healthy()
        socket = await websockets.connect(server.ws_url + token_for(server, "alice"), open_timeout=30)
        placed: dict[str, int] = {}
        for _ in range(50):  # the hub sets its marker within a couple of seconds
            placed = {name: at for name, at in channel_shards(url, prefix).items() if name not in before}
            if placed:
                break
            await asyncio.sleep(0.2)
        if placed and shard not in placed.values():
            return socket
        await socket.close()
        server.stop()
    raise AssertionError("the reader's channel never landed on the other shard")


async def test_a_shard_that_restarts_empty_loses_no_message(tmp_path, shards):
    first, second = shards
    db = tmp_path / "site.sqlite3"
    prefix = "shards"
    base = harness.server_env(
        database_url=f"sqlite:///{db}", redis_url=first.url, redis_prefix=prefix, media_root=tmp_path / "media"
    )
    harness.run_manage(base, "migrate", "--noinput", log=tmp_path / "setup.log")
    harness.run_manage(base, "seed_demo", log=tmp_path / "setup.log")
    with sqlite3.connect(db) as conn:
        [(room_id,)] = conn.execute("SELECT id FROM rooms_room WHERE name = 'public-chat'").fetchall()
    # Order the shards so that the public room's group lives on `second`, the one that restarts.
    group_shard = _consistent_hash(f"room-{room_id}", 2)
    order = [first.url, second.url] if group_shard == 1 else [second.url, first.url]
    env = {**base, "REDIS_SHARDS": ",".join(order)}
    reader_server = harness.Server(env=env, log=tmp_path / "reader.log")
    writer_server = harness.Server(env=env, log=tmp_path / "writer.log")
    for server in (reader_server, writer_server):
        server.ws_url = f"ws://{harness.HOST}:{server.port}/ws/chatroom/public-chat/?token="
    try:
        reader = await reader_with_channel_off(group_shard, reader_server, first.url, prefix)
        writer_server.start().wait_healthy()
        writer = await websockets.connect(writer_server.ws_url + token_for(writer_server, "bob"), open_timeout=30)
        seen: list[str] = []

        async def read() -> None:
            async for frame in reader:
                seen.extend(MESSAGE.findall(frame))

        reading = asyncio.create_task(read())

        async def until_seen(texts: list[str]) -> None:
            deadline = time.monotonic() + DELIVERY_SECONDS
            while not set(texts) <= set(seen):
                assert time.monotonic() < deadline, (texts, seen)
                await asyncio.sleep(0.1)

        await writer.send(json.dumps({"body": "shard message 0", "client_id": "shard-0"}))
        await until_seen(["shard message 0"])

        second.stop()
        second.start()  # empty, on the same port: the room's memberships are gone
        after = [f"shard message {n}" for n in range(1, 6)]
        for n, text in enumerate(after, start=1):
            await writer.send(json.dumps({"body": text, "client_id": f"shard-{n}"}))
            await asyncio.sleep(0.5)
        await until_seen(after)

        reading.cancel()
        await asyncio.gather(reader.close(), writer.close(), return_exceptions=True)
    finally:
        reader_server.stop()
        writer_server.stop()
