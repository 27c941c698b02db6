"""Presence runs against the configured backend: Redis when REDIS_URL is set
(each test under its own key prefix), process memory otherwise."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import close_old_connections

from presence.tracker import reset_presence

COALESCE_SECONDS = 0.2
HEARTBEAT_SECONDS = 0.2

ONLINE_COUNT = re.compile(r'id="online-count"[^>]*>(\d+)<')


class FakeClock:
    """Presence expiry time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def presence_clock(settings, isolated_realtime) -> FakeClock:
    settings.PRESENCE_COALESCE_SECONDS = COALESCE_SECONDS
    settings.PRESENCE_HEARTBEAT_SECONDS = HEARTBEAT_SECONDS
    clock = FakeClock()
    reset_presence(clock=clock)
    return clock


@pytest.fixture(autouse=True)
async def settle_presence(request: pytest.FixtureRequest, presence_clock: FakeClock):
    yield
    if request.node.get_closest_marker("django_db") is None:
        return
    # Stop this test's trackers, then queue behind any render they left running on
    # asgiref's shared database thread, so no database session outlives the test
    # (PostgreSQL refuses to drop a test database that still has one).
    reset_presence(clock=presence_clock)
    await database_sync_to_async(close_old_connections)()


@pytest.fixture
def backend(settings) -> str:
    return "redis" if settings.REDIS_URL else "memory"


def online_count(frame: str) -> int | None:
    match = ONLINE_COUNT.search(frame)
    return int(match.group(1)) if match else None


def room_count(frame: str, room_id: int) -> int | None:
    match = re.search(rf'class="room-online-{room_id}"[^>]*>(\d+)<', frame)
    return int(match.group(1)) if match else None


async def receive_until(
    socket: WebsocketCommunicator, predicate: Callable[[str], bool], within: float = 3.0
) -> list[str]:
    """Frames up to and including the first one matching `predicate`."""
    frames: list[str] = []
    deadline = asyncio.get_running_loop().time() + within
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        assert remaining > 0, f"no matching frame within {within}s; got {frames!r}"
        frame = await socket.receive_from(timeout=remaining)
        frames.append(frame)
        if predicate(frame):
            return frames


async def drain(socket: WebsocketCommunicator, seconds: float) -> list[str]:
    """Every frame that arrives within `seconds`."""
    frames: list[str] = []
    deadline = asyncio.get_running_loop().time() + seconds
    while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
        if await socket.receive_nothing(timeout=min(remaining, 0.05), interval=0.01):
            continue
        frames.append(await socket.receive_from(timeout=1))
    return frames


class Collector:
    """A listener on a hub of its own: what one server process would deliver."""

    def __init__(self) -> None:
        self.frames: list[str] = []

    def fanout_offer(self, group: str, event: dict[str, Any]) -> None:
        self.frames.append(event["html"])
