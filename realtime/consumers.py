"""What every Boostroom socket shares: refusal with close codes, group
membership through the process hub, a bounded queue of what it is owed, and
connect/disconnect logging."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
import uuid
from collections import deque
from collections.abc import Coroutine
from functools import cache
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.template.loader import render_to_string
from django.utils.functional import LazyObject

from realtime import groups
from realtime.db import db_sync_to_async
from realtime.fanout import get_hub, publish
from realtime.logging import socket_url
from realtime.server import SEND_NOW

logger = logging.getLogger("boostroom.realtime")

CLOSE_NO_CREDENTIALS = 4001
CLOSE_USER_INVALID = 4002
CLOSE_TOKEN_INVALID = 4003
CLOSE_FORBIDDEN = 4004
CLOSE_TOO_MANY_SOCKETS = 4008


@cache
def resync_frame() -> str:
    """The same bytes for every socket of every page (base.html's #resync-signal),
    rendered once per process: a resync reaches all of them at once."""
    return render_to_string("base.html#resync-signal", {"oob": True})


# "Try again later": the htmx ws extension reconnects on it, and the page resumes.
CLOSE_BEHIND = 1013
# The server failed while opening the socket; the page reconnects.
CLOSE_SERVER_ERROR = 1011


class _SocketSlots:
    """Open sockets per user in this process, for the per-user socket limit."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}

    def take(self, user_id: int, limit: int) -> bool:
        if self.counts.get(user_id, 0) >= limit:
            return False
        self.counts[user_id] = self.counts.get(user_id, 0) + 1
        return True

    def release(self, user_id: int) -> None:
        remaining = self.counts.get(user_id, 0) - 1
        if remaining > 0:
            self.counts[user_id] = remaining
        else:
            self.counts.pop(user_id, None)


socket_slots = _SocketSlots()

# Queued in place of an event: the layer was away, catch up.
_RESYNC: dict[str, Any] = {}


class Later:
    """The type of LATER: FanoutConsumer.frame_now's "this event takes more than a frame"."""


LATER = Later()


# The loop keeps only weak references to tasks; closes in flight live here.
_closing: set[asyncio.Task] = set()


def _start_eagerly(coroutine: Coroutine[Any, Any, None]) -> asyncio.Task | None:
    """Run `coroutine` now, up to its first real wait, and only then make it a task.

    A socket whose transport has room writes its frame without ever waiting, so
    most deliveries finish here and cost no task: a fifth of the CPU of a
    delivery (asyncio's eager tasks, which Python 3.11 does not have). Both parts
    run in one context of their own, as a task's would. Only for writing frames:
    while the first part runs, asyncio's current task is still the caller's, which
    `asyncio.timeout()` (database and Redis clients) would capture.
    """
    context = contextvars.copy_context()
    try:
        waiting = context.run(coroutine.send, None)
    except StopIteration:
        return None
    return asyncio.get_running_loop().create_task(_go_on(coroutine, waiting), context=context)


async def _go_on(coroutine: Coroutine[Any, Any, None], waiting: Any) -> None:
    """Drive a coroutine that has yielded `waiting`, as its own task would."""
    while True:
        throw = None
        try:
            if waiting is None:  # a bare yield (asyncio.sleep(0))
                await asyncio.sleep(0)
            else:
                # The coroutine's own await marked the future as waited on; a
                # task clears the mark before it waits, and so must we.
                waiting._asyncio_future_blocking = False
                await waiting
        except asyncio.CancelledError as cancelled:
            # Cancelled while the future it waits on finished anyway: pass it on.
            if not waiting.cancelled():
                throw = cancelled
        except BaseException:
            pass  # the coroutine reads the same outcome from the future itself
        try:
            waiting = coroutine.throw(throw) if throw is not None else coroutine.send(None)
        except StopIteration:
            return


class Outbox:
    """What the hub has handed one socket and the socket has not written yet.

    The hub appends without waiting; the socket's own writer task (started when
    something arrives, ended when the queue is empty, so idle sockets have none)
    turns each event into a frame and sends it. The server's send waits while
    the socket's transport is full, so a reader that stops reading lets only its
    own queue grow; past WS_QUEUE_MAX_FRAMES or WS_QUEUE_MAX_BYTES the socket is
    closed with 1013 and its page reconnects and resumes.
    """

    __slots__ = ("consumer", "items", "size", "writer", "closed", "opened", "max_frames", "max_size")

    def __init__(self, consumer: FanoutConsumer) -> None:
        self.consumer = consumer
        # Read once: a settings lookup per offer is a measurable share of a delivery.
        self.max_frames, self.max_size = settings.WS_QUEUE_MAX_FRAMES, settings.WS_QUEUE_MAX_BYTES
        # Made on first use: an idle socket should cost as little as possible.
        self.items: deque[tuple[str | None, dict[str, Any] | str, int]] | None = None
        self.size = 0
        self.writer: asyncio.Task | None = None
        self.closed = False
        # Groups are joined before the handshake ends; what they deliver meanwhile
        # waits here, since the server takes no frame before the accept.
        self.opened = False

    def offer(self, group: str | None, event: dict[str, Any] | str, size: int, *, only_writes: bool = False) -> None:
        """Queue an event, or a frame already decided; `only_writes` when handling
        the event is no more than writing frames."""
        if self.closed:
            return
        items = self.items
        if items is None:
            items = self.items = deque()
        if len(items) >= self.max_frames or self.size + size > self.max_size:
            return self.overflow()
        items.append((group, event, size))
        self.size += size
        if self.writer is None and self.opened:
            if only_writes:
                self.writer = _start_eagerly(self._write())
            else:
                self.writer = asyncio.get_running_loop().create_task(self._write())

    def open(self) -> None:
        """The socket is accepted (or done with what `hold` waited for): write what waited."""
        self.opened = True
        if self.items and self.writer is None and not self.closed:
            self.writer = asyncio.get_running_loop().create_task(self._write())

    def hold(self) -> None:
        """Queue what arrives, writing none of it, until `open()`: the socket is
        about to send state it is reading now, and an event that arrives
        meanwhile may be newer than that state, so it must follow it."""
        self.opened = False

    async def _write(self) -> None:
        items = self.items
        try:
            while items and self.opened:
                group, event, size = items[0]
                try:
                    if event is _RESYNC:
                        await self.consumer.fanout_resync()
                    elif isinstance(event, str):  # a frame decided when it came (FanoutConsumer.frame_now)
                        await self.consumer.send(text_data=event)
                    else:
                        await self.consumer.fanout_deliver(group, event)
                except asyncio.CancelledError:
                    raise
                except Exception:  # this socket's event failed; its next ones still go
                    logger.warning("fanout delivery failed for group %s", group, exc_info=True)
                # Counted until written: a send waiting on a full transport is still owed.
                if items:
                    items.popleft()
                    self.size -= size
        finally:
            self.writer = None

    def overflow(self) -> None:
        logger.info("ws behind url=%s frames=%s size=%s", socket_url(self.consumer.scope), len(self.items), self.size)
        self.discard()
        task = asyncio.get_running_loop().create_task(self.consumer.close_behind())
        _closing.add(task)
        task.add_done_callback(_closing.discard)

    def discard(self) -> None:
        """Drop what is queued and stop writing: the socket is closing."""
        self.closed = True
        if self.items:
            self.items.clear()
        self.size = 0
        if self.writer is not None:
            self.writer.cancel()
            self.writer = None


class FanoutConsumer(AsyncWebsocketConsumer):
    """A socket that receives pre-rendered frames from the process hub."""

    # No per-connection channel: the process hub is the only layer reader.
    channel_layer_alias = "fanout-only"
    groups_joined: set[str]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Channels' consumer loop for a consumer without a channel: it read the
        client through a task and asyncio.wait even with no second source, which
        an idle socket kept (about 2 KB) and every frame from the client paid for."""
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        self.send_now = scope.get("extensions", {}).get(SEND_NOW)
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels first closes stale database connections, in a thread hop of
        # its own, for every message from the client. Every database call here
        # goes through DatabaseSyncToAsync (realtime/db.py), which does that on
        # its own thread, so the hop bought nothing but its cost and a copy of
        # every context variable left on each socket's task.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        """Who is asking, checked before any consumer's own `connect()`."""
        self.groups_joined = set()
        self.outbox = Outbox(self)
        self.slot_user_id: int | None = None
        user = self.user
        if self.scope.get("auth_error"):
            return await self.refuse(self.scope["auth_error"])
        if user is None or not user.is_authenticated:
            return await self.refuse(CLOSE_NO_CREDENTIALS)
        if not user.is_active:
            return await self.refuse(CLOSE_USER_INVALID)
        if not socket_slots.take(user.pk, settings.SOCKETS_PER_USER):
            return await self.refuse(CLOSE_TOO_MANY_SOCKETS)
        if isinstance(user, LazyObject):
            # Every delivery reads the user; through the lazy proxy that is a
            # measurable share of it. It is loaded by now.
            self.scope["user"] = user._wrapped
        self.slot_user_id = user.pk
        # Logout, deactivation, password and role changes reach every socket of the user.
        await self.join(groups.user_sockets(user.pk))
        expires_at = self.scope.get("token_expires_at")
        if expires_at is not None:
            delay = max(0.0, expires_at - time.time())
            self.expiry_timer = asyncio.get_running_loop().call_later(delay, self._token_expired)
        try:
            await super().websocket_connect(message)
        except Exception:
            # The client left mid-handshake, or the database went away. No
            # disconnect() would follow a failed connect, so what it joined and
            # counted (groups, its slot, its presence) is released here.
            logger.warning("ws connect failed url=%s", socket_url(self.scope), exc_info=True)
            await self.disconnect(CLOSE_SERVER_ERROR)
            with contextlib.suppress(Exception):
                await self.close(code=CLOSE_SERVER_ERROR)

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None:
        # Most frames go out at once, framed once for every socket that gets
        # them (realtime/server.py); the rest wait in the server's send.
        if text_data is not None and not close and self.send_now is not None and self.send_now(text_data):
            return
        await super().send(text_data, bytes_data, close)

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        await super().accept(subprotocol, headers)
        self.outbox.open()

    def _token_expired(self) -> None:
        self.expiry_timer = None
        self._close_soon = asyncio.ensure_future(self.close(code=CLOSE_TOKEN_INVALID))

    @property
    def user(self):
        return self.scope.get("user")

    async def refuse(self, code: int) -> None:
        # Accept first: a refusal before accept() reaches the browser as 1006 and
        # the htmx ws extension would retry forever.
        logger.info("ws refused url=%s code=%s", socket_url(self.scope), code)
        await self.accept()
        await self.close(code=code)

    async def join(self, group: str) -> None:
        self.groups_joined.add(group)
        await get_hub().join(group, self)

    async def leave(self, group: str) -> None:
        self.groups_joined.discard(group)
        await get_hub().leave(group, self)

    async def accept_logged(self) -> None:
        await self.accept()
        user = self.user
        logger.info("ws connect url=%s user=%s", socket_url(self.scope), getattr(user, "pk", None))

    async def disconnect(self, code: int) -> None:
        if getattr(self, "expiry_timer", None) is not None:
            self.expiry_timer.cancel()
            self.expiry_timer = None
        outbox = getattr(self, "outbox", None)
        if outbox is not None:
            outbox.discard()
        hub = get_hub()
        for group in list(getattr(self, "groups_joined", ())):
            await hub.leave(group, self)
        self.groups_joined = set()
        if getattr(self, "slot_user_id", None) is not None:
            socket_slots.release(self.slot_user_id)
            self.slot_user_id = None
        logger.info("ws disconnect url=%s code=%s", socket_url(self.scope), code)

    def fanout_offer(self, group: str, event: dict[str, Any]) -> None:
        outbox = self.outbox
        send_now = self.send_now
        # An accepted socket that owes nothing, and an event that is not one every
        # socket handles itself (fanout_deliver). Spelled out, not in helpers: this
        # runs once per socket per event, and each call saved is a measurable share.
        if (
            outbox.writer is None
            and outbox.opened
            and not outbox.closed
            and not outbox.items
            and send_now is not None
            and "close" not in event
            and "credentials_changed" not in event
            and "access_changed" not in event
            and group in self.groups_joined
        ):
            # Nothing is owed before it: an event that is only a frame is written
            # here and now, in the hub's loop, without a coroutine or a queue.
            frame = self.frame_now(group, event)
            if frame is not LATER:
                if frame is not None and not send_now(frame):
                    outbox.offer(None, frame, len(frame))  # the transport is full: it waits its turn
                return
        if "close" in event:
            size = 0
        else:
            frame = self.frame_for(group, event)
            size = len(frame) if frame else 0
        # An event with a frame for this socket only needs writing (sockets that
        # do more, e.g. re-read the database, do it for events without one).
        outbox.offer(group, event, size, only_writes=size > 0)

    def fanout_resync_offer(self) -> None:
        self.outbox.offer(None, _RESYNC, len(resync_frame()))

    async def close_behind(self) -> None:
        """This socket fell too far behind: stop its work now, then close with 1013.

        The close frame waits behind what the transport still holds, so a client
        that is merely slow reads its frames, then the code, and resumes; one that
        never reads is already out of every group and its slot."""
        await self.disconnect(CLOSE_BEHIND)
        try:
            await self.close(code=CLOSE_BEHIND)
        except Exception:  # the connection is already gone
            logger.info("ws behind close failed url=%s", socket_url(self.scope))

    async def fanout_deliver(self, group: str, event: dict[str, Any]) -> None:
        if group not in self.groups_joined:
            # Left while this waited in the queue (e.g. removed from a room's presence).
            return
        if "close" in event:
            await self.close(code=event["close"])
            return
        if event.get("credentials_changed"):
            return await self.credentials_changed(event.get("keep_session"))
        if event.get("access_changed"):
            return await self.recheck_access()
        frame = self.frame_now(group, event)
        if frame is LATER:
            await self.deliver_event(group, event)
        elif frame is not None:
            await self.send(text_data=frame)

    def frame_now(self, group: str, event: dict[str, Any]) -> str | None | Later:
        """The frame `event` gives this socket when writing it is all there is to
        do, decided now (it may move the socket's own state, e.g. its position);
        LATER when it takes more (the database, waiting its turn, closing), which
        `deliver_event` then does from the socket's writer. Sockets opt in."""
        return LATER

    async def credentials_changed(self, keep_session: str | None) -> None:
        """The password changed: tokens from before are void, and so are other
        browsers' sessions; the session that changed it stays signed in."""
        if self.scope.get("auth_via") == "token":
            return await self.close(code=CLOSE_TOKEN_INVALID)
        if keep_session is None or self.scope.get("session_key") != keep_session:
            await self.close(code=CLOSE_NO_CREDENTIALS)

    async def recheck_access(self) -> None:
        """A role changed: read the user afresh (roles are cached on the object)
        and let the socket narrow what it sends, or close."""
        user = await db_sync_to_async(_current_user)(self.user.pk)
        if user is None or not user.is_active:
            return await self.close(code=CLOSE_USER_INVALID)
        self.scope["user"] = user
        await self.access_changed()

    async def access_changed(self) -> None:
        """Subclasses whose access depends on roles re-check it here."""

    async def fanout_resync(self) -> None:
        # Pages with live state re-read it over HTTP when they get this signal
        # (static/js/boostroom.js); servers may not send close code 1012 here.
        await self.send(text_data=resync_frame())

    async def deliver_event(self, group: str, event: dict[str, Any]) -> None:
        frame = self.frame_for(group, event)
        if frame is not None:
            await self.send(text_data=frame)

    def frame_for(self, group: str, event: dict[str, Any]) -> str | None:
        """The frame this socket gets for an event; subclasses pick an audience."""
        return event.get("html")


def _current_user(user_id: int):
    return get_user_model().objects.filter(pk=user_id).first()


class PingConsumer(FanoutConsumer):
    """`/ws/realtime/ping/` for staff: echoes a timestamp through the channel layer."""

    async def connect(self) -> None:
        if not self.user.is_staff:
            return await self.refuse(CLOSE_FORBIDDEN)
        self.ping_group = f"ping-{uuid.uuid4().hex}"
        await self.join(self.ping_group)
        await self.accept_logged()

    async def access_changed(self) -> None:
        if not self.user.is_staff:
            await self.close(code=CLOSE_FORBIDDEN)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        started = time.monotonic()
        await publish(self.ping_group, html="", started=started)

    def frame_for(self, group: str, event: dict[str, Any]) -> str | None:
        if "started" not in event:  # not a ping: revocation and access events of the user
            return super().frame_for(group, event)
        # Only this socket is in its ping group: a render per event is a render per socket here.
        elapsed_ms = (time.monotonic() - event["started"]) * 1000
        return render_to_string("realtime_test.html#layer-rtt", {"elapsed_ms": elapsed_ms, "oob": True})
