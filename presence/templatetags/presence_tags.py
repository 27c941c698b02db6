"""Presence in templates: initial values rendered from the store; the presence
socket keeps them current.

    {% load presence_tags %}
    {% online_count %}               the header's site-wide #online-count
    {% online_dot person %}          green/grey dot for a user
    {% room_online_count room %}     how many of the room's members are online
    {% chat_rooms_online rooms as entries %}  [(room, count)] for the chat dropdown
"""

from __future__ import annotations

from typing import Any

from django import template
from django.template.context import Context

from presence import selectors
from rooms.models import Room

register = template.Library()

_CACHE_KEY = "presence_online_user_ids"


def _online(context: Context) -> set[int]:
    """One store read per top-level render, however many dots it has.

    The bottom of the render context lives exactly as long as one render and is
    shared with its includes; anything longer-lived would show stale dots.
    """
    scope = context.render_context.dicts[0]
    if _CACHE_KEY not in scope:
        scope[_CACHE_KEY] = selectors.online_user_ids()
    return scope[_CACHE_KEY]


@register.inclusion_tag("presence/online_count.html", takes_context=True)
def online_count(context: Context) -> dict[str, Any]:
    return {"online_count": len(_online(context)), "oob": False}


@register.inclusion_tag("presence/_dot.html", takes_context=True)
def online_dot(context: Context, person: Any) -> dict[str, Any]:
    return {"person_id": person.pk, "online": person.pk in _online(context), "oob": False}


@register.inclusion_tag("presence/room_online_count.html", takes_context=True)
def room_online_count(context: Context, room: Room) -> dict[str, Any]:
    public = [room.pk] if room.kind == Room.Kind.PUBLIC else []
    counts = selectors.room_online_counts(room_ids=[room.pk], online=_online(context), public_ids=public)
    return {"room_id": room.pk, "count": counts[room.pk], "oob": False}


@register.simple_tag(takes_context=True)
def chat_rooms_online(context: Context, rooms: list[Room]) -> list[tuple[Room, int]]:
    """`rooms`: the user's chat list (unread_tags' `chat_list`, read once per render)."""
    return selectors.chat_rooms_online(rooms=rooms, online=_online(context))
