"""Presence reads for pages and sockets (sync: call them from views, template
tags, broadcasts, or a consumer through database_sync_to_async)."""

from __future__ import annotations

import logging
from collections.abc import Collection

from django.contrib.auth.models import AbstractBaseUser
from redis.exceptions import RedisError

from presence.store import sync_store
from rooms.models import Room
from rooms.selectors import room_for_user, rooms_for_user

logger = logging.getLogger("boostroom.realtime")

PRESENCE_UNAVAILABLE = "presence store unavailable; showing nobody online"


def online_user_ids() -> set[int]:
    """Who is online; nobody while Redis is away.

    Every signed-in page and every presence fragment reads this: an outage may
    cost the counts, never the page.
    """
    try:
        return sync_store().online_user_ids_sync()
    except RedisError:
        logger.warning(PRESENCE_UNAVAILABLE, exc_info=True)
        return set()


def room_online_counts(
    *, room_ids: Collection[int], online: set[int], public_ids: Collection[int] | None = None
) -> dict[int, int]:
    """How many members of each room are online (the public room: everyone online).
    `public_ids`: which of them are public, when the caller holds the rooms (a query fewer)."""
    if not room_ids:
        return {}
    if public_ids is None:
        public_ids = Room.objects.filter(pk__in=room_ids, kind=Room.Kind.PUBLIC).values_list("pk", flat=True)
    public = set(public_ids)
    counts = {room_id: (len(online) if room_id in public else 0) for room_id in room_ids}
    memberships = Room.members.through.objects.filter(room_id__in=[pk for pk in room_ids if pk not in public])
    for room_id, user_id in memberships.values_list("room_id", "user_id"):
        if user_id in online:
            counts[room_id] += 1
    return counts


def rooms_touched_by(*, user_ids: Collection[int]) -> list[int]:
    """Rooms whose online count depends on these users: their rooms and the public room."""
    member_of = Room.members.through.objects.filter(user_id__in=user_ids).values_list("room_id", flat=True)
    public = Room.objects.filter(kind=Room.Kind.PUBLIC).values_list("pk", flat=True)
    return sorted(set(member_of) | set(public))


def presence_room_ids(*, user: AbstractBaseUser, room_name: str | None = None) -> list[int]:
    """Rooms whose presence this user's socket may follow: their chat list, plus
    the room they are looking at if they may read it (staff in an order room).

    Raises `RoomAccessDenied` when `room_name` is given and not readable.
    """
    room_ids = list(rooms_for_user(user=user).values_list("pk", flat=True))
    if room_name:
        room = room_for_user(name=room_name, user=user)
        if room.pk not in room_ids:
            room_ids.append(room.pk)
    return room_ids


def chat_rooms_online(*, rooms: list[Room], online: set[int]) -> list[tuple[Room, int]]:
    """The chat dropdown: each of the user's rooms (`rooms_for_user`) with its online count."""
    public = [room.pk for room in rooms if room.kind == Room.Kind.PUBLIC]
    counts = room_online_counts(room_ids=[room.pk for room in rooms], online=online, public_ids=public)
    return [(room, counts[room.pk]) for room in rooms]
