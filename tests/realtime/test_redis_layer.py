"""The Redis channel layer as configured survives a connect storm and long waits.

These run in the CI pass that sets REDIS_URL (the embedded pass has no Redis).
"""

from __future__ import annotations

import asyncio
import os

import pytest
from channels.layers import get_channel_layer

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="runs in the CI pass with REDIS_URL"),
]


async def test_thousand_concurrent_group_joins_and_sends_succeed():
    layer = get_channel_layer()
    channels = [await layer.new_channel() for _ in range(1000)]
    # 1,000 simultaneous joins: stock redis-py 8 pools (100) answer "Too many connections".
    await asyncio.gather(*(layer.group_add("storm", channel) for channel in channels))
    await asyncio.gather(*(layer.send(channel, {"type": "hello"}) for channel in channels))
    received = await asyncio.gather(*(layer.receive(channel) for channel in channels))
    assert len(received) == 1000 and all(m["type"] == "hello" for m in received)
    await asyncio.gather(*(layer.group_discard("storm", channel) for channel in channels))


async def test_blocking_receive_outlives_the_redis_py_default_socket_timeout():
    layer = get_channel_layer()
    channel = await layer.new_channel()

    async def send_later():
        await asyncio.sleep(6.5)  # longer than redis-py 8's 5 s default socket timeout
        await layer.send(channel, {"type": "late"})

    sender = asyncio.create_task(send_later())
    message = await asyncio.wait_for(layer.receive(channel), timeout=15)
    await sender
    assert message["type"] == "late"
