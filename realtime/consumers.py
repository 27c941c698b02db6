"""What every Boostroom socket shares: refusal with close codes, group
membership through the process hub, and connect/disconnect logging."""

from __future__ import annotations

import logging
import time
import uuid
from functools import cache
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.template.loader import render_to_string

from realtime import groups
from realtime.fanout import get_hub, publish
from realtime.logging import socket_url

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


class FanoutConsumer(AsyncWebsocketConsumer):
    """A socket that receives pre-rendered frames from the process hub."""

    # No per-connection channel: the process hub is the only layer reader.
    channel_layer_alias = "fanout-only"
    groups_joined: set[str]

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        """Who is asking, checked before any consumer's own `connect()`."""
        self.groups_joined = set()
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
        self.slot_user_id = user.pk
        # Logout, deactivation and token revocation close every socket of the user.
        await self.join(groups.user_sockets(user.pk))
        await super().websocket_connect(message)

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
        hub = get_hub()
        for group in list(getattr(self, "groups_joined", ())):
            await hub.leave(group, self)
        self.groups_joined = set()
        if getattr(self, "slot_user_id", None) is not None:
            socket_slots.release(self.slot_user_id)
            self.slot_user_id = None
        logger.info("ws disconnect url=%s code=%s", socket_url(self.scope), code)

    async def fanout_deliver(self, group: str, event: dict[str, Any]) -> None:
        if "close" in event:
            await self.close(code=event["close"])
            return
        await self.deliver_event(group, event)

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


class PingConsumer(FanoutConsumer):
    """`/ws/realtime/ping/` for staff: echoes a timestamp through the channel layer."""

    async def connect(self) -> None:
        if not self.user.is_staff:
            return await self.refuse(CLOSE_FORBIDDEN)
        self.ping_group = f"ping-{uuid.uuid4().hex}"
        await self.join(self.ping_group)
        await self.accept_logged()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        started = time.monotonic()
        await publish(self.ping_group, html="", started=started)

    def frame_for(self, group: str, event: dict[str, Any]) -> str | None:
        # Only this socket is in its ping group: a render per event is a render per socket here.
        elapsed_ms = (time.monotonic() - event["started"]) * 1000
        return render_to_string("realtime_test.html#layer-rtt", {"elapsed_ms": elapsed_ms, "oob": True})
