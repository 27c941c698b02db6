"""`/ws/online-status/`: one per page for signed-in users. It only listens;
everything it receives is an out-of-band fragment rendered by broadcasts.py."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs

from accounts.broadcasts import THEME_EVENT, theme_snapshot
from presence.broadcasts import ROOMS_CHANGED, render_room_counts, render_snapshot
from presence.selectors import presence_room_ids
from presence.services import presence_connect, presence_disconnect
from realtime import groups
from realtime.consumers import CLOSE_FORBIDDEN, LATER, FanoutConsumer, Later
from realtime.db import db_sync_to_async
from rooms.broadcasts import render_late_activity, render_unread_state
from rooms.selectors import RoomAccessDenied


class OnlineStatusConsumer(FanoutConsumer):
    conn_id: str | None = None
    user_id: int | None = None
    # The user's own group, named once: every frame of the socket is checked against it.
    own_group: str | None = None
    room_name: str | None = None
    room_ids: list[int] = []
    # Rooms of the chat list, whose new messages this page's badges hear of.
    activity_ids: list[int] = []

    async def connect(self) -> None:
        user = self.user
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.room_name = (query.get("room") or [None])[0]
        try:
            room_ids = await db_sync_to_async(presence_room_ids)(user=user, room_name=self.room_name)
        except RoomAccessDenied:
            return await self.refuse(CLOSE_FORBIDDEN)
        await self.join(groups.PRESENCE)
        # The user's own page-wide state (their theme) rides on the one socket every signed-in page has.
        self.own_group = groups.user(user.pk)
        await self.join(self.own_group)
        # Room counts reach only readers: a private room's presence is its members' business.
        await self.follow(room_ids)
        # Joined before the state is read, so no message falls between the two.
        await self.join(groups.user_unread(user.pk))
        await self.follow_activity(await db_sync_to_async(presence_room_ids)(user=user))
        await self.accept_logged()
        self.user_id = user.pk
        self.conn_id = uuid.uuid4().hex
        await presence_connect(user_id=self.user_id, conn_id=self.conn_id)
        # A push that arrives while the snapshot is read (a theme chosen in
        # another tab, a count) may be newer than it: written after it, or the
        # snapshot would undo it on the page.
        self.outbox.hold()
        await self.send_snapshot()
        self.outbox.open()

    async def send_snapshot(self) -> None:
        """Counts and dots may have moved since the page rendered, and the user's
        theme and unread state while this socket was down."""
        frame = await db_sync_to_async(_snapshot)(user=self.user, room_ids=self.room_ids)
        await self.send(text_data=frame)

    async def follow(self, room_ids: list[int]) -> None:
        """Follow exactly these rooms' counts."""
        self.room_ids = await self.refollow(self.room_ids, room_ids, groups.room_presence)

    async def follow_activity(self, room_ids: list[int]) -> None:
        self.activity_ids = await self.refollow(self.activity_ids, room_ids, groups.room_activity)

    async def refollow(self, current: list[int], wanted: list[int], group_of) -> list[int]:
        for room_id in set(current) - set(wanted):
            await self.leave(group_of(room_id))
        for room_id in set(wanted) - set(current):
            await self.join(group_of(room_id))
        return list(wanted)

    def frame_now(self, group: str, event: dict[str, Any]) -> str | None | Later:
        return LATER if event.get(ROOMS_CHANGED) else self.frame_for(group, event)

    async def deliver_event(self, group: str, event: dict[str, Any]) -> None:
        if event.get(ROOMS_CHANGED):
            return await self.rooms_changed()
        await super().deliver_event(group, event)

    def frame_for(self, group: str, event: dict[str, Any]) -> str | None:
        if group == self.own_group:
            # That group also carries order cards, which are the orders socket's business.
            return event.get("html") if event.get("kind") == THEME_EVENT else None
        return super().frame_for(group, event)

    async def rooms_changed(self) -> None:
        # The rooms this socket follows were decided at connect; a removed member
        # must stop seeing the room's count, an added one start.
        try:
            room_ids = await db_sync_to_async(presence_room_ids)(user=self.user, room_name=self.room_name)
        except RoomAccessDenied:
            # The room this page shows is no longer theirs (its chat socket closes);
            # the header's rooms still count.
            self.room_name = None
            room_ids = await db_sync_to_async(presence_room_ids)(user=self.user)
        added = sorted(set(room_ids) - set(self.room_ids))
        await self.follow(room_ids)
        if added:
            # This runs in the socket's own writer, not the hub's loop, so the
            # rooms' new counts may have been pushed before it joined: fetch them.
            await self.send(text_data=await db_sync_to_async(render_room_counts)(room_ids=added))
        before = set(self.activity_ids)
        await self.follow_activity(await db_sync_to_async(presence_room_ids)(user=self.user))
        # A new room (a first direct message) gets its badge; a left one loses it.
        await self.send(text_data=await db_sync_to_async(render_unread_state)(user=self.user))
        joined = sorted(set(self.activity_ids) - before)
        if joined:
            late = await db_sync_to_async(render_late_activity)(room_ids=joined, user=self.user)
            if late:
                await self.send(text_data=late)

    async def fanout_resync(self) -> None:
        # What was pushed while the layer was away is lost: send the current state.
        await self.send_snapshot()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Nothing to say to this socket; liveness is the server's heartbeat, not the client's.
        return None

    async def disconnect(self, code: int) -> None:
        if self.conn_id is not None:
            conn_id, self.conn_id = self.conn_id, None
            await presence_disconnect(user_id=self.user_id, conn_id=conn_id)
        await super().disconnect(code)


def _snapshot(*, user, room_ids: list[int]) -> str:
    return render_snapshot(room_ids=room_ids) + theme_snapshot(user_id=user.pk) + render_unread_state(user=user)
