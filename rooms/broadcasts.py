"""Rendering and publishing of chat events: each fragment is rendered once per
event, here, and the same bytes go to every socket in the room."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.template.loader import render_to_string

from realtime import groups
from realtime.fanout import publish_sync
from rooms import selectors
from rooms.models import Message, Room

TEMPLATE = "rooms/room.html"

# Why an open room page can no longer send (room.html#room-gone).
GONE_REMOVED = "You were removed from this chat."
GONE_LEFT = "You left this group."
GONE_DELETED = "This group was deleted."
GONE_DEFAULT = "You can no longer read or send messages in this chat."


def render_messages(messages: list[Message]) -> str:
    """Messages for an open page, appended to its #messages in this order."""
    if not messages:
        return ""
    return render_to_string(f"{TEMPLATE}#new-messages", {"chat_messages": messages, "oob": True})


def render_message(message: Message) -> str:
    return render_messages([message])


def render_reload_notice(room: Room) -> str:
    return render_to_string(f"{TEMPLATE}#reload-notice", {"room": room, "oob": True})


def error_fragment(text: str) -> str:
    return render_to_string(f"{TEMPLATE}#chat-error", {"chat_error": text, "oob": True})


def clear_error_fragment(client_id: str | None = None) -> str:
    """The sender's acknowledgement: the send with `client_id` is stored."""
    return render_to_string(f"{TEMPLATE}#chat-error", {"stored_client_id": client_id or "", "oob": True})


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


def room_gone_fragment(reason: str) -> str:
    return render_to_string(f"{TEMPLATE}#room-gone", {"gone_reason": reason, "oob": True})


def members_revoked(room: Room, user_ids: list[int], *, reason: str = GONE_REMOVED) -> None:
    """Removed members' pages are told why and their sockets close; everyone else
    gets the new member list."""
    publish_sync(
        groups.room(room.pk), html=_member_list(room), revoke=list(user_ids), gone_html=room_gone_fragment(reason)
    )


def room_closed(room_pk: int) -> None:
    publish_sync(groups.room(room_pk), html="", closed=True, gone_html=room_gone_fragment(GONE_DELETED))
