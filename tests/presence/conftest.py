"""Presence runs against the configured backend: Redis when REDIS_URL is set
(each test under its own key prefix), process memory otherwise."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import close_old_connections

from presence.services import reset_presence
from realtime.fanout import Hub
from rooms.models import PUBLIC_ROOM_NAME, Room

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


class ManualSleep:
    """A tracker's `sleep` that returns only when the test says: its loops then
    move one step at a time, on the presence clock.

    `advance_to()` moves the clock and wakes every sleep due by then;
    `run_freely()` wakes them all and lets later sleeps take real time, until
    `hold()`.
    """

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.requested: list[float] = []
        self._parked: list[tuple[float, asyncio.Future[None]]] = []
        self._free = False

    @property
    def parked(self) -> int:
        return sum(not future.done() for _, future in self._parked)

    async def __call__(self, seconds: float) -> None:
        self.requested.append(seconds)
        if self._free:
            return await asyncio.sleep(seconds)
        future = asyncio.get_running_loop().create_future()
        self._parked.append((self.clock.now + seconds, future))
        await future

    def advance_to(self, when: float) -> None:
        self.clock.now = when
        self._wake(lambda due: due <= when)

    def run_freely(self) -> None:
        self._free = True
        self._wake(lambda due: True)

    def hold(self) -> None:
        """Park later sleeps again (those already taking real time finish first)."""
        self._free = False

    def _wake(self, due_now: Callable[[float], bool]) -> None:
        for due, future in self._parked:
            if due_now(due) and not future.done():
                future.set_result(None)
        self._parked = [(due, future) for due, future in self._parked if not future.done()]


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
    socket: WebsocketCommunicator, predicate: Callable[[str], bool], within: float = 10.0
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


def seen_all(*predicates: Callable[[str], bool]) -> Callable[[str], bool]:
    """A predicate for `receive_until` that holds once each of these has matched some frame."""
    pending = list(predicates)

    def check(frame: str) -> bool:
        pending[:] = [predicate for predicate in pending if not predicate(frame)]
        return not pending

    return check


async def wait_for(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def public_room() -> Room:
    # Transactional tests flush the migration's row; the room is part of the site.
    room, _ = Room.objects.get_or_create(name=PUBLIC_ROOM_NAME, defaults={"kind": Room.Kind.PUBLIC})
    return room


class Collector:
    """A listener on a hub of its own: what one server process would deliver."""

    def __init__(self) -> None:
        self.frames: list[str] = []

    def fanout_offer(self, group: str, event: dict[str, Any]) -> None:
        self.frames.append(event["html"])

    def counts(self) -> list[int]:
        """The site-wide online counts it was sent, in order."""
        return [count for frame in self.frames if (count := online_count(frame)) is not None]


async def listening_hub(groups: Iterable[str]) -> tuple[Hub, Collector]:
    hub, collector = Hub(), Collector()
    for group in groups:
        await hub.join(group, collector)
    return hub, collector


@pytest.fixture
def publish_passes(monkeypatch) -> Counter:
    """Finished publish passes per store (so per tracker), counted around the real
    action; trackers made after this fixture use it."""
    from presence import services

    finished: Counter = Counter()
    real = services.presence_publish_changes

    async def counted(*, store, interval: float) -> float:
        wait = await real(store=store, interval=interval)
        if not wait:
            finished[store] += 1
        return wait

    monkeypatch.setattr(services, "presence_publish_changes", counted)
    return finished
