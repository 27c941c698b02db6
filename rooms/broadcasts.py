"""Rendering and publishing of chat events: each fragment is rendered once per
event, here, and the same bytes go to every socket in the room."""

from __future__ import annotations

import json

from django.contrib.auth.models import AbstractBaseUser
from django.template.loader import render_to_string

from realtime import groups
from realtime.fanout import publish_many_sync, publish_sync
from rooms import selectors
from rooms.models import Message, Room

TEMPLATE = "rooms/room.html"
READSTATE_TEMPLATE = "rooms/readstate.html"


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
    # One hop for both: the chat sockets get the message, every reader's page
    # the small event its badges and notifications follow from. previous_id lets
    # each socket tell a gap from a late arrival (rooms.consumers).
    publish_many_sync(
        [
            (
                groups.room(message.room_id),
                {"html": render_message(message), "message_id": message.pk, "previous_id": message.previous_id},
            ),
            (groups.room_activity(message.room_id), {"html": render_activity(message)}),
        ]
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


# READ STATE


def render_activity(message: Message) -> str:
    """A new message as every reader's page hears of it: the same bytes for all
    of them, however many; each page decides what it means for its own user."""
    context = {
        "message": message,
        "room": message.room,
        "mention_ids": list(message.mentions.values_list("pk", flat=True)),
    }
    return render_to_string(f"{READSTATE_TEMPLATE}#activity", context)


def unread_state_json(summary: dict[int, selectors.RoomUnread]) -> str:
    return json.dumps({str(room_id): entry.as_json() for room_id, entry in sorted(summary.items())})


def render_unread_state(*, user: AbstractBaseUser) -> str:
    """One user's counts and pointers for all of their pages: per user, but only
    when that user reads, mutes or (re)connects, never per message."""
    summary = selectors.unread_summary(user=user)
    return render_to_string(f"{READSTATE_TEMPLATE}#state", {"rooms_json": unread_state_json(summary), "oob": True})


def render_receipts(room: Room, *, oob: bool = True) -> str:
    """How far each reader has read; callers check `selectors.shows_receipts` first."""
    readers = selectors.room_readers(room=room)
    return render_to_string(f"{READSTATE_TEMPLATE}#receipts", {"room": room, "readers": readers, "oob": oob})


def unread_state_changed(*, user: AbstractBaseUser) -> None:
    publish_sync(groups.user_unread(user.pk), html=render_unread_state(user=user))


def read_state_changed(*, user: AbstractBaseUser, room: Room) -> None:
    """`user` read further in `room`: their pages clear the badge, and the room's
    readers see the new receipts."""
    events = [(groups.user_unread(user.pk), {"html": render_unread_state(user=user)})]
    if selectors.shows_receipts(room=room):
        events.append((groups.room(room.pk), {"html": render_receipts(room)}))
    publish_many_sync(events)
