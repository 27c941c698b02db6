"""Pushes from worker threads (a socket's database work, a request's view) are
handed to the server's loop: the thread goes on at once, and a process's events
still reach the layer in the order they were made."""

from __future__ import annotations

import asyncio
import logging

import pytest
from asgiref.sync import sync_to_async

from realtime import fanout


class HeldLayer:
    """A layer that takes events only once released, and refuses the group "refused"."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.open = asyncio.Event()

    async def group_send(self, group: str, message: dict) -> None:
        await self.open.wait()
        if group == "refused":
            raise ConnectionError("the channel layer is away")
        self.sent.append(group)


@pytest.fixture
def layer(monkeypatch) -> HeldLayer:
    held = HeldLayer()
    monkeypatch.setattr(fanout, "get_channel_layer", lambda: held)
    return held


async def test_a_worker_threads_push_neither_waits_for_the_layer_nor_overtakes(layer):
    # Both threads return while the layer still holds the first event.
    await asyncio.wait_for(sync_to_async(fanout.publish_many_sync)([("a", {}), ("b", {})]), 3)
    await asyncio.wait_for(sync_to_async(fanout.publish_sync)("c"), 3)
    # Pushed from the loop itself: after what the threads handed over.
    direct = asyncio.ensure_future(fanout.publish("d"))
    await asyncio.sleep(0.05)
    assert layer.sent == [] and not direct.done()
    layer.open.set()
    await asyncio.wait_for(direct, 3)
    assert layer.sent == ["a", "b", "c", "d"]


async def test_a_handed_over_push_that_fails_is_logged_and_the_next_ones_go(layer, caplog):
    layer.open.set()
    with caplog.at_level(logging.WARNING, logger="boostroom.realtime"):
        await sync_to_async(fanout.publish_sync)("refused")
        await sync_to_async(fanout.publish_sync)("after")
        await asyncio.wait_for(fanout.publish("last"), 3)
    assert layer.sent == ["after", "last"]
    assert any("publish failed" in record.getMessage() for record in caplog.records)


def test_code_outside_a_server_loop_sends_before_it_returns(layer):
    layer.open.set()
    fanout.publish_many_sync([("a", {}), ("b", {})])
    assert layer.sent == ["a", "b"]
