"""`/ws/chatroom/<name>/`: a thin socket over the rooms services."""

from __future__ import annotations

import json
import logging
from collections import deque
from typing import Any

from channels.db import database_sync_to_async

from realtime.consumers import CLOSE_FORBIDDEN, FanoutConsumer
from rooms import broadcasts, selectors, services

logger = logging.getLogger("boostroom.realtime")

MAX_FRAME_BYTES = 64 * 1024
# htmx sends one flat object (HEADERS is the only nested value).
MAX_FRAME_DEPTH = 3
FRAME_MALFORMED = "That message could not be read. Please try again."
FRAME_TOO_LARGE = "That message is too large."
FRAME_UNKNOWN = "Unknown message type."
SEND_FAILED = "Your message could not be sent right now. Please try again."
RESUME_INVALID = "resume needs a non-negative message id in 'after'."
# Ids this socket remembers having sent, to drop repeats. Above CHAT_RESUME_LIMIT
# so one resume batch plus the live traffic around it fits.
SENT_IDS_REMEMBERED = 512


class ChatConsumer(FanoutConsumer):
    async def connect(self) -> None:
        name = self.scope["url_route"]["kwargs"]["name"]
        try:
            self.room = await database_sync_to_async(selectors.room_for_user)(name=name, user=self.user)
        except selectors.RoomAccessDenied:
            return await self.refuse(CLOSE_FORBIDDEN)
        # Each message reaches this socket once. Live events from several
        # processes can arrive out of id order, so repeats are recognised by id
        # (`sent`, bounded) rather than by "older than the newest": a late one is
        # still sent and the page files it by id. `last_id`, the newest sent, is
        # only the cursor a resync resumes from. Live events that arrive while a
        # resume is being read from the database wait in `pending`.
        self.last_id: int | None = None
        self.sent: set[int] = set()
        self.sent_order: deque[int] = deque()
        self.resuming = False
        self.pending: list[tuple[int, str]] = []
        await self.join(self.room.group_name)
        await self.accept_logged()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None or _too_large(text_data):
            return await self.send(text_data=broadcasts.error_fragment(FRAME_TOO_LARGE))
        try:
            frame = json.loads(text_data)
        except (ValueError, RecursionError):
            frame = None
        if not isinstance(frame, dict) or _depth(frame) > MAX_FRAME_DEPTH:
            return await self.send(text_data=broadcasts.error_fragment(FRAME_MALFORMED))
        kind = frame.get("type", "message")
        try:
            if kind == "message":
                await self.post(frame)
            elif kind == "typing":
                await database_sync_to_async(services.typing_notify)(room=self.room, user=self.user)
            elif kind == "resume":
                await self.resume(frame.get("after"))
            else:
                await self.send(text_data=broadcasts.error_fragment(FRAME_UNKNOWN))
        except Exception:
            # Redis or the database away: this frame fails, the socket lives on.
            logger.warning("chat frame %r failed", kind, exc_info=True)
            if kind != "typing":  # typing is best effort; nobody needs to hear it failed
                await self.send(text_data=broadcasts.error_fragment(SEND_FAILED))

    async def post(self, frame: dict[str, Any]) -> None:
        body, client_id = frame.get("body"), frame.get("client_id") or None
        if not isinstance(body, str):
            return await self.send(text_data=broadcasts.error_fragment(services.MESSAGE_EMPTY))
        try:
            message = await database_sync_to_async(services.message_post)(
                room=self.room, author=self.user, body=body, client_id=client_id
            )
        except services.ChatError as error:
            return await self.send(text_data=broadcasts.error_fragment(str(error)))
        except selectors.RoomAccessDenied:
            return await self.close(code=CLOSE_FORBIDDEN)
        except Exception:
            # Database or Redis away: say so, and acknowledge nothing.
            logger.warning("message_post failed", exc_info=True)
            return await self.send(text_data=broadcasts.error_fragment(SEND_FAILED))
        await self.send(text_data=broadcasts.clear_error_fragment(client_id))
        if message.is_retry and message.room_id == self.room.pk:
            # A retried send is not broadcast again; catch this socket up instead,
            # in order, in case the first attempt's broadcast never reached it.
            await self.resume(self.last_id if self.last_id is not None else message.pk - 1)

    async def resume(self, after: Any) -> None:
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            return await self.send(text_data=broadcasts.error_fragment(RESUME_INVALID))
        self.resuming = True
        try:
            html, ids, newest, overflow = await database_sync_to_async(_missed)(self.room, after)
            if overflow:
                await self.send(text_data=broadcasts.render_reload_notice(self.room))
            elif html:
                await self.send(text_data=html)
                for message_id in ids:
                    self.remember(message_id)
            self.last_id = max(newest, self.last_id or 0)
        finally:
            self.resuming = False
            pending, self.pending = self.pending, []
            for message_id, html in pending:
                await self.deliver_message(message_id, html)

    async def fanout_resync(self) -> None:
        # Chat catches up in place, from the last message this socket was sent.
        if self.last_id is not None:
            await self.resume(self.last_id)

    async def deliver_message(self, message_id: int, html: str) -> None:
        if self.resuming:
            self.pending.append((message_id, html))
            return
        if message_id in self.sent:
            return
        self.remember(message_id)
        self.last_id = max(message_id, self.last_id or 0)
        await self.send(text_data=html)

    def remember(self, message_id: int) -> None:
        if message_id in self.sent:
            return
        self.sent.add(message_id)
        self.sent_order.append(message_id)
        if len(self.sent_order) > SENT_IDS_REMEMBERED:
            self.sent.discard(self.sent_order.popleft())

    async def deliver_event(self, group: str, event: dict[str, Any]) -> None:
        if event.get("closed") or self.user.pk in event.get("revoke", ()):
            # Why, first: the page shows it and disables its composer on the close.
            if event.get("gone_html"):
                await self.send(text_data=event["gone_html"])
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if "message_id" in event:
            await self.deliver_message(event["message_id"], event["html"])
        elif event.get("html"):
            await self.send(text_data=event["html"])


def _too_large(text: str) -> bool:
    # The limit is in UTF-8 bytes, as on the wire; only long frames need encoding to tell.
    if len(text) > MAX_FRAME_BYTES:
        return True
    return len(text) * 4 > MAX_FRAME_BYTES and len(text.encode()) > MAX_FRAME_BYTES


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest


def _missed(room, after: int) -> tuple[str, list[int], int, bool]:
    """Frames for what a client that last saw `after` missed, their ids, and the
    id the socket has then caught up to (never beyond the room's real newest id,
    so a bogus `after` cannot silence the socket)."""
    from django.conf import settings

    limit = settings.CHAT_RESUME_LIMIT
    messages = selectors.messages_after(room=room, after=after, limit=limit + 1)
    if len(messages) > limit:
        return "", [], messages[-1].pk, True
    if messages:
        return broadcasts.render_messages(messages), [m.pk for m in messages], messages[-1].pk, False
    return "", [], min(after, selectors.latest_message_id(room=room)), False
