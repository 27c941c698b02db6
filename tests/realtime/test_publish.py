"""A worker thread of the server's loop hands its pushes over and goes on: it does
not wait for the layer, and the loop publishes what was handed over in the order
it came, one hop at a time. Outside a server's thread a push waits, as before."""

from __future__ import annotations

import asyncio
import logging

import pytest

from realtime import fanout
from realtime.db import db_sync_to_async


class HeldLayer:
    """Records each group_send, and holds them all until `release` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.sent: list[tuple[str, dict]] = []
        self.refuse: set[str] = set()
        self.arrived = asyncio.Event()

    async def group_send(self, group: str, message: dict) -> None:
        await self.release.wait()
        if group in self.refuse:
            raise ConnectionError("the channel layer is away")
        self.sent.append((group, message))
        self.arrived.set()


@pytest.fixture
def layer(monkeypatch) -> HeldLayer:
    held = HeldLayer()
    monkeypatch.setattr(fanout, "get_channel_layer", lambda: held)
    return held


async def sent_count(layer: HeldLayer, count: int) -> list[str]:
    async with asyncio.timeout(2):
        while len(layer.sent) < count:
            layer.arrived.clear()
            await layer.arrived.wait()
    return [group for group, _ in layer.sent]


async def test_a_servers_thread_goes_on_while_the_layer_is_slow_and_its_pushes_leave_in_order(layer):
    def push_three() -> str:
        fanout.publish_many_sync([("first", {"n": 1}), ("second", {"n": 2})])
        fanout.publish_sync("third", n=3)
        return "returned"

    # Returned while the layer still holds the first push: the thread never waited on it.
    async with asyncio.timeout(2):
        assert await db_sync_to_async(push_three)() == "returned"
    assert layer.sent == []
    layer.release.set()
    assert await sent_count(layer, 3) == ["first", "second", "third"]
    assert [message["n"] for _, message in layer.sent] == [1, 2, 3]
    assert all(message["type"] == fanout.EVENT_TYPE for _, message in layer.sent)


async def test_a_push_the_layer_refuses_is_logged_and_the_next_still_leaves(layer, caplog):
    layer.refuse.add("lost")
    layer.release.set()
    with caplog.at_level(logging.WARNING, logger="boostroom.realtime"):
        await db_sync_to_async(fanout.publish_sync)("lost", n=1)
        await db_sync_to_async(fanout.publish_sync)("kept", n=2)
        assert await sent_count(layer, 1) == ["kept"]
    assert "publishing to lost failed" in caplog.text


def test_outside_a_servers_thread_a_push_has_left_when_the_call_returns(layer):
    layer.release.set()
    fanout.publish_sync("command", n=1)
    assert [group for group, _ in layer.sent] == ["command"]
