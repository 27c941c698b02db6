"""The Redis cache keeps its connections for the process, and a rate-limit check is
one command: each chat post checks its limit from the sockets' database thread in
a context of its own, and Django would give every such context a cache with a new
pool, so a new connection to Redis per post, and three commands per check.
Against a private Redis, so every connection and command it counts is ours."""

from __future__ import annotations

import json

import pytest
import redis
from channels.db import database_sync_to_async
from django.conf import settings as django_settings

from tests.browser import harness

pytestmark = pytest.mark.django_db(transaction=True)

POSTS = 20


@pytest.fixture
def redis_cache(tmp_path, settings):
    server = harness.RedisServer(log=tmp_path / "redis.log").start()
    settings.CACHES = {
        "default": {
            "BACKEND": "realtime.cache.SharedPoolRedisCache",
            "LOCATION": server.url,
            "KEY_PREFIX": django_settings.CACHES["default"]["KEY_PREFIX"],
            "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
        }
    }
    # Low enough that the count in Redis is what refuses the last post.
    settings.CHAT_RATE_LIMIT = (POSTS + 1, 60)
    try:
        yield redis.Redis.from_url(server.url, socket_timeout=5)
    finally:
        server.stop()


def command_calls(client: redis.Redis) -> dict[str, int]:
    return {name.removeprefix("cmdstat_"): stat["calls"] for name, stat in client.info("commandstats").items()}


async def post(socket, body: str) -> str:
    await socket.send_to(text_data=json.dumps({"body": body, "client_id": body}))
    while True:
        frame = await socket.receive_from(timeout=3)
        if 'id="chat-error"' in frame:
            return frame


async def test_chat_posts_share_one_redis_connection_and_one_count(redis_cache, make_user, socket_for):
    user = await database_sync_to_async(make_user)()
    socket = await socket_for("/ws/chatroom/public-chat/", user)
    assert (await socket.connect())[0]
    assert "data-stored" in await post(socket, "first")
    connections, commands = redis_cache.info("stats"), command_calls(redis_cache)
    for n in range(POSTS - 1):
        assert "data-stored" in await post(socket, f"post{n}")
    sent = {name: calls - commands.get(name, 0) for name, calls in command_calls(redis_cache).items()}
    opened = redis_cache.info("stats")["total_connections_received"] - connections["total_connections_received"]
    # A pool per post opened a connection per post; one pool for the process opens none.
    assert opened == 0
    # Each check is one script (its INCR counted too), not SET NX, EXISTS and INCR.
    sent.pop("info", None)
    assert {name: count for name, count in sent.items() if count} == {"eval": POSTS - 1, "incr": POSTS - 1}
    # The same count in Redis throughout: the post past the limit is refused.
    assert "data-stored" in await post(socket, "last-allowed")
    assert "data-stored" not in await post(socket, "one-too-many")
    await socket.disconnect()
