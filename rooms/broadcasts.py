"""Rendering and publishing of chat events: each fragment is rendered once per
event, here, and the same bytes go to every socket in the room."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.template.loader import render_to_string
from django.utils.html import format_html

from realtime import groups
from realtime.fanout import publish_sync
from rooms import selectors
from rooms.models import Message, Room

TEMPLATE = "rooms/room.html"


def render_message(message: Message, *, oob: bool = True) -> str:
    html = render_to_string(f"{TEMPLATE}#message", {"message": message})
    # The wrapper is consumed by the swap: only the message lands in #messages.
    return f'<div hx-swap-oob="beforeend:#messages">{html}</div>' if oob else html


def render_messages(messages: list[Message]) -> str:
    if not messages:
        return ""
    inner = "".join(render_to_string(f"{TEMPLATE}#message", {"message": m}) for m in messages)
    return f'<div hx-swap-oob="beforeend:#messages">{inner}</div>'


def render_reload_notice(room: Room) -> str:
    return render_to_string(f"{TEMPLATE}#reload-notice", {"room": room, "oob": True})


def error_fragment(text: str) -> str:
    return format_html('<p id="chat-error" hx-swap-oob="true" class="error-text" role="alert">{}</p>', text)


def clear_error_fragment(client_id: str | None = None) -> str:
    """The sender's acknowledgement: the send with `client_id` is stored."""
    return format_html(
        '<p id="chat-error" hx-swap-oob="true" class="error-text" role="alert" data-stored="{}"></p>', client_id or ""
    )


def message_created(message: Message) -> None:
    # previous_id lets each socket tell a gap from a late arrival (rooms.consumers).
    publish_sync(
        groups.room(message.room_id),
        html=render_message(message),
        message_id=message.pk,
        previous_id=message.previous_id,
    )


def typing(*, room: Room, user: AbstractBaseUser) -> None:
    html = render_to_string(f"{TEMPLATE}#typing", {"typist": user, "oob": True})
    publish_sync(groups.room(room.pk), html=html)


def _member_list(room: Room) -> str:
    members = selectors.room_members(room=room)
    return render_to_string(f"{TEMPLATE}#member-list", {"room": room, "members": members, "oob": True})


def members_changed(room: Room) -> None:
    publish_sync(groups.room(room.pk), html=_member_list(room))


def members_revoked(room: Room, user_ids: list[int]) -> None:
    """Removed members' sockets close; everyone else gets the new member list."""
    publish_sync(groups.room(room.pk), html=_member_list(room), revoke=list(user_ids))


def room_closed(room_pk: int) -> None:
    publish_sync(groups.room(room_pk), html="", closed=True)
