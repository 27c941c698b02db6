"""What a chat frame asks for, the same whether it came over the socket or, while
the socket is down, as the HTTP fallback's form: fields checked here, the work
done by rooms.services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from rooms import selectors, services
from rooms.models import Message, Room

FRAME_UNKNOWN = "Unknown message type."
MESSAGE_ID_INVALID = "That message could not be found in this room."
REACTION_STATE_INVALID = "A reaction needs 'on' set to true or false."
ACTIONS = ("message", "edit", "delete", "react")


@dataclass(frozen=True)
class Outcome:
    client_id: str | None  # echoed in the acknowledgement
    message: Message | None = None  # the stored message of a post


def perform(*, room: Room, user: AbstractBaseUser, frame: dict[str, Any]) -> Outcome:
    """Run one action frame; raises services.ChatError (bad input),
    services.RoomPermissionDenied (not yours) or selectors.RoomAccessDenied."""
    kind = frame.get("type") or "message"
    client_id = frame.get("client_id") or None
    if kind == "message":
        body = frame.get("body")
        if not isinstance(body, str):
            raise services.ChatError(services.MESSAGE_EMPTY)
        reply_to = frame.get("reply_to")
        message = services.message_post(
            room=room,
            author=user,
            body=body,
            client_id=client_id,
            reply_to_id=None if reply_to in (None, "") else _id(reply_to, services.REPLY_INVALID),
        )
        return Outcome(client_id=client_id, message=message)
    if kind not in ACTIONS:
        raise services.ChatError(FRAME_UNKNOWN)
    if client_id is not None and not isinstance(client_id, str):
        raise services.ChatError(services.CLIENT_ID_INVALID)
    target = selectors.message_in_room(room=room, message_id=_id(frame.get("message"), MESSAGE_ID_INVALID))
    if target is None:
        raise services.ChatError(MESSAGE_ID_INVALID)
    if kind == "edit":
        body = frame.get("body")
        if not isinstance(body, str):
            raise services.ChatError(services.MESSAGE_EMPTY)
        services.message_edit(message=target, by=user, body=body)
    elif kind == "delete":
        services.message_delete(message=target, by=user)
    else:
        emoji = frame.get("emoji")
        if not isinstance(emoji, str):
            raise services.ChatError(services.REACTION_UNKNOWN)
        services.reaction_set(message=target, user=user, emoji=emoji, on=_flag(frame.get("on")))
    return Outcome(client_id=client_id)


def _id(value: Any, error: str) -> int:
    """A message id from JSON (a number) or a form (digits)."""
    if isinstance(value, bool):
        raise services.ChatError(error)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        value = int(value)
    if not isinstance(value, int) or not 0 < value < 2**63:
        raise services.ChatError(error)
    return value


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise services.ChatError(REACTION_STATE_INVALID)
