"""Unread state in templates: initial values rendered from the read pointers;
the page keeps them current from socket events (static/js/boostroom.js).

    {% load unread_tags %}
    {% unread_badges room %}     a room's unread and @mention badges
    {% unread_total %}           the header's total (#unread-total)
    {% unread_title %}           "(3) " for the tab title, or nothing
    {% unread_state %}           #unread-state, the page's pointers and counts
    {% chat_list as rooms %}     the user's chat list, the one these counts are of
    {{ count|unread_label }}     a badge's number: "99+" past UNREAD_SHOWN_MAX
"""

from __future__ import annotations

from typing import Any

from django import template
from django.template.context import Context

from rooms import selectors
from rooms.broadcasts import READSTATE_TEMPLATE, unread_state_json
from rooms.models import Room

register = template.Library()

_CACHE_KEY = "rooms_unread_summary"
_CHAT_LIST_KEY = "rooms_chat_list"


@register.simple_tag(takes_context=True)
def chat_list(context: Context) -> list[Room]:
    """The user's chat list, read once per top-level render: the header's chat
    dropdown lists it and every page's unread state counts it."""
    scope = context.render_context.dicts[0]
    if _CHAT_LIST_KEY not in scope:
        user = context.get("user")
        authenticated = user is not None and user.is_authenticated
        scope[_CHAT_LIST_KEY] = list(selectors.rooms_for_user(user=user)) if authenticated else []
    return scope[_CHAT_LIST_KEY]


def _summary(context: Context) -> dict[int, selectors.RoomUnread]:
    """One count per top-level render, however many badges it has (like presence's dots)."""
    scope = context.render_context.dicts[0]
    if _CACHE_KEY not in scope:
        # No rooms for an anonymous visitor, so nothing is counted for them.
        room_ids = [room.pk for room in chat_list(context)]
        scope[_CACHE_KEY] = selectors.unread_counts(user=context.get("user"), room_ids=room_ids)
    return scope[_CACHE_KEY]


@register.inclusion_tag(f"{READSTATE_TEMPLATE}#badges", takes_context=True)
def unread_badges(context: Context, room: Room) -> dict[str, Any]:
    return {"entry": _summary(context).get(room.pk) or selectors.RoomUnread(room_id=room.pk)}


@register.inclusion_tag(f"{READSTATE_TEMPLATE}#total", takes_context=True)
def unread_total(context: Context) -> dict[str, Any]:
    return {"total": selectors.unread_total(_summary(context))}


@register.simple_tag(takes_context=True)
def unread_title(context: Context) -> str:
    total = selectors.unread_total(_summary(context))
    return f"({unread_label(total)}) " if total else ""


@register.filter
def unread_label(count: int) -> str:
    return f"{selectors.UNREAD_SHOWN_MAX}+" if count > selectors.UNREAD_SHOWN_MAX else str(count)


@register.simple_tag
def unread_shown_max() -> int:
    """For the page's script, which labels the counts it keeps current the same way."""
    return selectors.UNREAD_SHOWN_MAX


@register.inclusion_tag(f"{READSTATE_TEMPLATE}#state", takes_context=True)
def unread_state(context: Context) -> dict[str, Any]:
    return {"rooms_json": unread_state_json(_summary(context)), "oob": False}
