"""`/ws/chatroom/<name>/`: a thin socket over the rooms services."""

from __future__ import annotations

import asyncio
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
# How long a message may stay missing below one that arrived before the socket
# fetches it: arrivals from two processes are often a few milliseconds apart.
GAP_SECONDS = 1.0


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
        # still sent and the page files it by id. `seen_through` is what a
        # catch-up resumes from: every message of the room up to it was sent to
        # this socket (or predates it). It advances when a message arrives whose
        # predecessor (its event's previous_id) is covered, so a broadcast lost
        # below the newest id is still found; `waiting` holds arrivals ahead of a
        # gap. Live events that arrive while a resume reads the database wait in
        # `pending`.
        self.sent: set[int] = set()
        self.sent_order: deque[int] = deque()
        self.waiting: dict[int, int] = {}
        self.resume_lock = asyncio.Lock()
        self.pending: list[tuple[int, int | None, str]] = []
        self.gap_timer: asyncio.TimerHandle | None = None
        self.tasks: set[asyncio.Task] = set()
        self.seen_through = 0
        self.client_has: int | None = None  # the newest `after` of the client's resumes
        self.resuming = True  # until seen_through is known
        await self.join(self.room.group_name)
        # Read after joining: anything newer comes live.
        self.seen_through = await database_sync_to_async(selectors.latest_message_id)(room=self.room)
        await self.accept_logged()
        await self.flush_pending()

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
            # The retry was broadcast again, but the layer may still be away, and
            # the message may predate this socket: catch it up from the database,
            # but not with what the client said it has.
            await self.catch_up(max(min(self.seen_through, message.pk - 1), self.client_has or 0))

    async def resume(self, after: Any) -> None:
        """The client has everything up to `after`: send it what came since."""
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            return await self.send(text_data=broadcasts.error_fragment(RESUME_INVALID))
        self.client_has = max(self.client_has or 0, after)
        await self.catch_up(after)

    async def catch_up(self, after: int) -> None:
        """Send every message after `after` that this socket was not sent yet (a
        live one may have gone out before the client's resume was read)."""
        async with self.resume_lock:
            self.resuming = True
            try:
                skip = frozenset(self.sent)
                html, ids, newest, overflow = await database_sync_to_async(_missed)(self.room, after, skip)
                if overflow:
                    await self.send(text_data=broadcasts.render_reload_notice(self.room))
                elif html:
                    await self.send(text_data=html)
                    for message_id in ids:
                        self.remember(message_id)
                self.cover(newest)
            finally:
                await self.flush_pending()

    async def flush_pending(self) -> None:
        self.resuming = False
        pending, self.pending = self.pending, []
        for message_id, previous_id, html in pending:
            await self.deliver_message(message_id, previous_id, html)

    async def fanout_resync(self) -> None:
        # The layer was away and broadcasts may be lost, below this socket's
        # newest message too: catch up from what it has seen without a gap. In a
        # task of its own, so the hub goes on to its other sockets meanwhile.
        self.resuming = True  # live events wait until the catch-up is sent
        self.spawn(self.catch_up(self.seen_through))

    def spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def deliver_message(self, message_id: int, previous_id: int | None, html: str) -> None:
        if self.resuming:
            self.pending.append((message_id, previous_id, html))
            return
        if message_id <= self.seen_through or message_id in self.sent:
            return
        self.remember(message_id)
        if previous_id is not None and previous_id > self.seen_through:
            # Ahead of a gap: the missing one may only be late (another process
            # sent it); if it has not come by GAP_SECONDS, fetch it.
            self.waiting[previous_id] = message_id
            while len(self.waiting) > SENT_IDS_REMEMBERED:
                del self.waiting[next(iter(self.waiting))]
            if self.gap_timer is None:
                self.gap_timer = asyncio.get_running_loop().call_later(GAP_SECONDS, self.gap_due)
        elif previous_id is not None:
            self.cover(message_id)
        await self.send(text_data=html)

    def cover(self, message_id: int) -> None:
        """Everything up to `message_id` has been sent: move `seen_through`, and
        past every waiting arrival that now follows on."""
        self.seen_through = max(self.seen_through, message_id)
        while ready := [previous for previous in self.waiting if previous <= self.seen_through]:
            for previous in ready:
                self.seen_through = max(self.seen_through, self.waiting.pop(previous))

    def gap_due(self) -> None:
        self.gap_timer = None
        if self.waiting:
            self.spawn(self.catch_up(self.seen_through))

    async def access_changed(self) -> None:
        # Order rooms are readable by staff: a former manager loses them.
        if not await database_sync_to_async(selectors.can_read)(room=self.room, user=self.user):
            await self.close(code=CLOSE_FORBIDDEN)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "gap_timer", None) is not None:
            self.gap_timer.cancel()
        for task in list(getattr(self, "tasks", ())):
            task.cancel()
        await super().disconnect(code)

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
            await self.deliver_message(event["message_id"], event.get("previous_id"), event["html"])
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


def _missed(room, after: int, skip: frozenset[int] = frozenset()) -> tuple[str, list[int], int, bool]:
    """Frames for what a client that last saw `after` missed (leaving out `skip`),
    their ids, and the id the socket has then caught up to (never beyond the
    room's real newest id, so a bogus `after` cannot silence the socket)."""
    from django.conf import settings

    limit = settings.CHAT_RESUME_LIMIT
    messages = selectors.messages_after(room=room, after=after, limit=limit + 1)
    if len(messages) > limit:
        return "", [], messages[-1].pk, True
    if messages:
        unsent = [m for m in messages if m.pk not in skip]
        return broadcasts.render_messages(unsent), [m.pk for m in unsent], messages[-1].pk, False
    return "", [], min(after, selectors.latest_message_id(room=room)), False
