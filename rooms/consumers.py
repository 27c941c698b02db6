"""`/ws/chatroom/<name>/`: a thin socket over the rooms services."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from realtime.consumers import CLOSE_FORBIDDEN, LATER, FanoutConsumer, Later
from realtime.db import db_sync_to_async
from rooms import broadcasts, frames, selectors, services

logger = logging.getLogger("boostroom.realtime")

MAX_FRAME_BYTES = 64 * 1024
# htmx sends one flat object (HEADERS is the only nested value).
MAX_FRAME_DEPTH = 3
FRAME_MALFORMED = "That message could not be read. Please try again."
FRAME_TOO_LARGE = "That message is too large."
FRAME_UNKNOWN = frames.FRAME_UNKNOWN
SEND_FAILED = "Your message could not be sent right now. Please try again."
RESUME_INVALID = "resume needs a non-negative position in 'seq' (or a message id in 'after')."


class ChatConsumer(FanoutConsumer):
    async def connect(self) -> None:
        name = self.scope["url_route"]["kwargs"]["name"]
        try:
            self.room = await db_sync_to_async(selectors.room_for_user)(name=name, user=self.user)
        except selectors.RoomAccessDenied:
            return await self.refuse(CLOSE_FORBIDDEN)
        # The socket sends the room's changes in sequence order, each once:
        # `seq` is the position the client holds everything up to. A change
        # that arrives ahead of its turn (several processes publish, so pushes
        # can overtake each other) means the ones before it are committed but
        # not here yet: they are read from the database instead of awaited.
        # Pushes that arrive while the database is being read wait in `pending`.
        self.seq = 0
        self.reading = True
        self.pending: list[tuple[int, str]] = []
        self.reader = asyncio.Lock()
        self.reader_task: asyncio.Future | None = None
        await self.join(self.room.group_name)
        # Read after joining: whatever commits later arrives as a push.
        self.seq = await db_sync_to_async(selectors.room_seq)(room=self.room)
        # The client holds every change in (low, seq]: from this socket, or by its own account (resume).
        self.low = self.seq
        await self.accept_logged()
        if await self.send_pending():
            await self.catch_up()
        self.reading = False

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
            if kind == "typing":
                await db_sync_to_async(services.typing_notify)(room=self.room, user=self.user)
            elif kind == "resume":
                await self.resume(frame)
            elif kind in frames.ACTIONS:
                await self.act(frame)
            elif kind == "read":
                await self.mark_read(frame.get("through"))
            else:
                await self.send(text_data=broadcasts.error_fragment(FRAME_UNKNOWN))
        except Exception:
            # Redis or the database away: this frame fails, the socket lives on.
            logger.warning("chat frame %r failed", kind, exc_info=True)
            if kind != "typing":  # typing is best effort; nobody needs to hear it failed
                await self.send(text_data=broadcasts.error_fragment(SEND_FAILED))

    async def act(self, frame: dict[str, Any]) -> None:
        """A post, edit, delete or reaction: acknowledged once it is stored."""
        try:
            outcome = await db_sync_to_async(frames.perform)(room=self.room, user=self.user, frame=frame)
        except (services.ChatError, services.RoomPermissionDenied) as error:
            return await self.send(text_data=broadcasts.error_fragment(str(error)))
        except selectors.RoomAccessDenied:
            return await self.close(code=CLOSE_FORBIDDEN)
        except Exception:
            # Database or Redis away: say so, and acknowledge nothing.
            logger.warning("chat action failed", exc_info=True)
            return await self.send(text_data=broadcasts.error_fragment(SEND_FAILED))
        await self.send(text_data=broadcasts.clear_error_fragment(outcome.client_id))
        message = outcome.message
        if message is not None and message.is_retry and message.room_id == self.room.pk:
            # A retried send is not broadcast again; replay from just before it,
            # in order, in case the first attempt's push never reached this client.
            posted = await db_sync_to_async(selectors.seq_of_message)(room=self.room, message_id=message.pk)
            if posted <= self.low:
                await self.catch_up(posted - 1)

    async def mark_read(self, through: Any) -> None:
        """The page's batched "seen up to here"; the answer comes to every page
        of the user as their new unread state, not on this socket."""
        try:
            await db_sync_to_async(services.room_mark_read)(room=self.room, user=self.user, through=through)
        except services.ChatError as error:
            await self.send(text_data=broadcasts.error_fragment(str(error)))
        except selectors.RoomAccessDenied:
            await self.close(code=CLOSE_FORBIDDEN)

    async def resume(self, frame: dict[str, Any]) -> None:
        """`{"type": "resume", "seq": N}`: every change after position N, in order.
        The older `{"after": <message id>}` resumes from where that message was posted."""
        if "seq" in frame:
            after = frame["seq"]
        else:
            after = frame.get("after")
            if _position(after):
                after = await db_sync_to_async(selectors.seq_of_message)(room=self.room, message_id=after)
        if not _position(after):
            return await self.send(text_data=broadcasts.error_fragment(RESUME_INVALID))
        await self.catch_up(after)
        # By its own account the client held everything up to `after`, and it now
        # has what came since: a retry of any stored message needs no replay.
        self.low = 0

    async def catch_up(self, after: int | None = None) -> None:
        """Send what was committed after `after` (default: this socket's position)."""
        async with self.reader:
            self.reading = True
            try:
                while True:
                    if after is None:
                        since, held = self.seq, None
                    else:
                        # What this socket sent before the client said where it was
                        # is held already: (low, seq] is not sent twice.
                        since, held = after, (self.low, self.seq)
                        self.low = min(self.low, after)
                    missed = await db_sync_to_async(broadcasts.replay)(room=self.room, after=since, held=held)
                    for frame in missed.frames:
                        await self.send(text_data=frame)
                    self.seq = max(self.seq, missed.seq)
                    if not await self.send_pending():
                        break
                    after = None
            finally:
                # Left over only after a failure: a later push shows the gap again.
                self.pending.clear()
                self.reading = False

    async def send_pending(self) -> bool:
        """Send queued pushes that are next in line; True when one is missing."""
        while self.pending:
            self.pending.sort()
            seq, html = self.pending.pop(0)
            if seq == self.seq + 1:
                self.seq = seq
                await self.send(text_data=html)
            elif seq > self.seq:
                self.pending.clear()  # committed, so the database read covers them
                return True
        return False

    async def fanout_resync(self) -> None:
        # Chat catches up in place, from the last change this socket sent.
        await self.catch_up()

    async def deliver_change(self, seq: int, html: str) -> None:
        if self.reading:
            self.pending.append((seq, html))
        elif seq == self.seq + 1:
            self.seq = seq
            await self.send(text_data=html)
        elif seq > self.seq:
            # Not awaited: the hub delivers to every socket of the process in turn.
            self.pending.append((seq, html))
            self.reading = True
            self.reader_task = asyncio.ensure_future(self.catch_up())

    async def access_changed(self) -> None:
        # Order rooms are readable by staff: a former manager loses them.
        if not await db_sync_to_async(selectors.can_read)(room=self.room, user=self.user):
            await self.close(code=CLOSE_FORBIDDEN)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "reader_task", None) is not None:
            self.reader_task.cancel()
        await super().disconnect(code)

    def fanout_offer(self, group: str, event: dict[str, Any]) -> None:
        # The common case in one call, for each socket of the room per message:
        # the next change in order, to a socket that owes and reads nothing.
        # Anything else, or a transport that is full, takes the general way.
        seq = event.get("seq")
        outbox = self.outbox
        if (
            seq is not None
            and seq == self.seq + 1
            and not self.reading
            and outbox.writer is None
            and outbox.opened
            and not outbox.closed
            and not outbox.items
            and "closed" not in event
            and "revoke" not in event
            and "close" not in event
            and "credentials_changed" not in event
            and "access_changed" not in event
            and group in self.groups_joined
            and self.send_now is not None
            and self.send_now(event["html"])
        ):
            self.seq = seq
            return
        super().fanout_offer(group, event)

    def frame_now(self, group: str, event: dict[str, Any]) -> str | None | Later:
        # The common case: the next change in order, to a socket not reading the database.
        seq = event.get("seq")
        if seq is None or seq != self.seq + 1 or self.reading or "closed" in event or "revoke" in event:
            return LATER
        self.seq = seq
        return event["html"]

    async def deliver_event(self, group: str, event: dict[str, Any]) -> None:
        if event.get("closed") or self.user.pk in event.get("revoke", ()):
            # Why, first: the page shows it and disables its composer on the close.
            if event.get("gone_html"):
                await self.send(text_data=event["gone_html"])
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if "seq" in event:
            await self.deliver_change(event["seq"], event["html"])
        elif event.get("html"):
            await self.send(text_data=event["html"])


def _position(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


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
