"""Sequence-numbered chat traffic for the fault tests, over token sockets.

Each sender posts `count` numbered messages one after another, each with its own
client_id, and retries a send (same client_id) until it is acknowledged; each
peer (senders too) holds a socket the way a script would: on every (re)connect
it sends `resume` after the newest id it holds. Everything runs on an event loop
in a thread of its own, so the test's thread can inject the fault meanwhile.
`figures()` compares what every peer received against the database.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable

MESSAGE_ID = re.compile(r'data-id="(\d+)"')
STORED = re.compile(r'data-stored="([^"]*)"')
ANSWER_SECONDS = 10
RETRY_PAUSE = 0.1


def token_for(base_url: str, username: str, password: str) -> str:
    request = urllib.request.Request(
        f"{base_url}/api/token/",
        data=json.dumps({"login": username, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.load(response)["token"]


class Peer:
    """One chat socket held open, reconnecting and resuming after any drop."""

    def __init__(self, name: str, base_url: str, token: str, room: str) -> None:
        self.name = name
        self.url = f"ws://{base_url.removeprefix('http://')}/ws/chatroom/{room}/?token={token}"
        self.frames_of: Counter[int] = Counter()  # message id -> frames that carried it
        self.connects = 0
        self.reload_notices = 0
        self.close_codes: Counter[int | None] = Counter()
        self.socket = None
        self.open: asyncio.Event | None = None
        self.answer: tuple[str, asyncio.Future] | None = None

    async def hold(self) -> None:
        import websockets

        while True:
            try:
                async with websockets.connect(self.url, open_timeout=5, close_timeout=1, max_size=None) as socket:
                    self.connects += 1
                    await socket.send(json.dumps({"type": "resume", "after": max(self.frames_of, default=0)}))
                    self.socket = socket
                    self.open.set()
                    async for frame in socket:
                        self.take(frame)
                    self.close_codes[socket.close_code] += 1
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.close_codes[getattr(getattr(error, "rcvd", None), "code", None)] += 1
            self.socket = None
            self.open.clear()
            await asyncio.sleep(0.2)

    def take(self, frame: str) -> None:
        for value in MESSAGE_ID.findall(frame):
            self.frames_of[int(value)] += 1
        if 'id="reload-notice"' in frame:
            self.reload_notices += 1
        if self.answer is not None and 'id="chat-error"' in frame:
            client_id, answered = self.answer
            stored = STORED.search(frame)
            if not answered.done() and (stored is None or stored.group(1) == client_id):
                answered.set_result(stored is not None)

    @property
    def ids(self) -> set[int]:
        return set(self.frames_of)


class Sender(Peer):
    def __init__(self, name: str, base_url: str, token: str, room: str, *, tag: str, count: int) -> None:
        super().__init__(name, base_url, token, room)
        self.tag, self.count = tag, count
        self.acknowledged: list[str] = []  # bodies
        self.attempts = 0
        self.failures = 0

    def body(self, number: int) -> str:
        return f"{self.tag} {number:05d}"

    async def send_all(self) -> None:
        for number in range(1, self.count + 1):
            client_id = f"{self.tag}-{number:05d}"
            while not await self.try_send(client_id, self.body(number)):
                self.failures += 1
                await asyncio.sleep(RETRY_PAUSE)
            self.acknowledged.append(self.body(number))

    async def try_send(self, client_id: str, body: str) -> bool:
        try:
            await asyncio.wait_for(self.open.wait(), ANSWER_SECONDS)
        except TimeoutError:
            return False
        socket = self.socket
        if socket is None:
            return False
        answered = asyncio.get_running_loop().create_future()
        self.answer = (client_id, answered)
        self.attempts += 1
        try:
            await socket.send(json.dumps({"body": body, "client_id": client_id}))
            return await asyncio.wait_for(answered, ANSWER_SECONDS)
        except Exception:  # the socket dropped, or no answer: retry
            return False
        finally:
            self.answer = None


class Traffic:
    def __init__(self, senders: list[Sender], listeners: list[Peer]) -> None:
        self.senders = senders
        self.peers: list[Peer] = [*senders, *listeners]
        self.loop: asyncio.AbstractEventLoop | None = None
        self.done = threading.Event()
        self.failed: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="chat-traffic", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported to the test's thread
            self.failed = error
            self.done.set()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        for peer in self.peers:
            peer.open = asyncio.Event()
        holders = [asyncio.create_task(peer.hold()) for peer in self.peers]
        await asyncio.wait_for(asyncio.gather(*(peer.open.wait() for peer in self.peers)), 60)
        await asyncio.gather(*(sender.send_all() for sender in self.senders))
        self.done.set()
        await self._stop.wait()
        for holder in holders:
            holder.cancel()
        await asyncio.gather(*holders, return_exceptions=True)

    def start(self) -> Traffic:
        self._thread.start()
        return self

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.failed is not None:
                raise AssertionError("the traffic itself failed") from self.failed
            assert time.monotonic() < deadline, f"timed out waiting until {what}: {self.progress()}"
            time.sleep(0.05)

    def acknowledged_at_least(self, count: int) -> None:
        self.wait(lambda: all(len(s.acknowledged) >= count for s in self.senders), f"each sender has {count} acks")

    def failures_at_least(self, count: int, senders: list[Sender] | None = None) -> None:
        chosen = senders or self.senders
        start = {s.name: s.failures for s in chosen}
        self.wait(
            lambda: all(s.failures - start[s.name] >= count or s.failures >= 1000 for s in chosen),
            f"{count} failed sends each during the fault",
        )

    def finish(self, stored_ids: Callable[[], set[int]], timeout: float = 60) -> set[int]:
        """Until every send is acknowledged and every peer holds every stored id."""
        self.wait(self.done.is_set, "every send is acknowledged", timeout=600)
        if self.failed is not None:
            raise AssertionError("the traffic itself failed") from self.failed
        stored = stored_ids()
        try:
            self.wait(lambda: all(stored <= peer.ids for peer in self.peers), "every peer holds every message", timeout)
        except AssertionError:
            pass  # figures() says who is missing what
        finally:
            self.loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=10)
        return stored

    def progress(self) -> str:
        return ", ".join(f"{s.name}: {len(s.acknowledged)}/{s.count} acked, {s.failures} failed" for s in self.senders)

    def figures(self, rows: list[list]) -> dict:
        """rows: [id, author, body] of every stored message (tests/browser/tasks.py room_messages)."""
        stored = {row[0] for row in rows}
        bodies = Counter(row[2] for row in rows)
        sent = {sender.body(n) for sender in self.senders for n in range(1, sender.count + 1)}
        acknowledged = {body for sender in self.senders for body in sender.acknowledged}
        return {
            "sent": len(sent),
            "attempts": sum(sender.attempts for sender in self.senders),
            "failed attempts": sum(sender.failures for sender in self.senders),
            "acknowledged": len(acknowledged),
            "stored": len(rows),
            "stored twice": sum(1 for count in bodies.values() if count > 1),
            "acknowledged, not stored": len(acknowledged - set(bodies)),
            "stored, not sent": len(set(bodies) - sent),
            "receivers": {
                peer.name: {
                    "delivered": len(stored & peer.ids),
                    "lost": len(stored - peer.ids),
                    "duplicated": sum(count - 1 for count in peer.frames_of.values()),
                    "duplicated ids": sorted(k for k, count in peer.frames_of.items() if count > 1)[:10],
                    "unknown ids": len(peer.ids - stored),
                    "connects": peer.connects,
                    "reload notices": peer.reload_notices,
                }
                for peer in self.peers
            },
        }


def assert_nothing_lost(figures: dict) -> None:
    problems = [
        f"{key}: {figures[key]}"
        for key in ("stored twice", "acknowledged, not stored", "stored, not sent")
        if figures[key]
    ]
    if figures["acknowledged"] != figures["sent"] or figures["stored"] != figures["sent"]:
        problems.append(f"sent {figures['sent']}, acknowledged {figures['acknowledged']}, stored {figures['stored']}")
    for name, seen in figures["receivers"].items():
        for key in ("lost", "duplicated", "unknown ids", "reload notices"):
            if seen[key]:
                problems.append(f"{name} {key}: {seen[key]}")
    assert not problems, f"{problems}\n{json.dumps(figures, indent=1)}"
