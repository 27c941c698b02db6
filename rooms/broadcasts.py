"""Rendering and publishing of chat events: each fragment is rendered once per
event, here, and the same bytes go to every socket in the room."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.template.loader import render_to_string

from realtime import groups
from realtime.fanout import publish_many_sync, publish_sync
from rooms import selectors
from rooms.models import Message, Room, RoomChange

TEMPLATE = "rooms/room.html"
READSTATE_TEMPLATE = "rooms/readstate.html"

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


def render_replacement(message: Message) -> str:
    """The message as it is now, replacing the one the page shows (`#message-<id>`)."""
    # `replace`, not `oob`: appended messages sit inside an out-of-band wrapper.
    return render_to_string(f"{TEMPLATE}#message", {"message": message, "replace": True})


def render_position(seq: int) -> str:
    """Where in the room's change sequence the page now is."""
    return render_to_string(f"{TEMPLATE}#chat-seq", {"seq": seq, "oob": True})


# A replay is cut into frames of about this many bytes: clients (websockets'
# default is 1 MiB) refuse larger ones, and 200 long messages would exceed it.
REPLAY_FRAME_BYTES = 256 * 1024


def render_changes(changes: list[RoomChange], *, position: int | None = None) -> list[str]:
    """Frames for a run of changes: each message touched once, as it is now.

    Messages posted in the run are appended (in id order, which is the order
    they were posted); older ones are replaced in place. Replaying state rather
    than each step keeps the frames small and never shows a stale step last.
    Only the last frame carries the new position: a client cut off halfway
    replays again from where it was, and applying a message twice is harmless.
    """
    if not changes:
        return []
    posted = sorted({c.message_id for c in changes if c.kind == RoomChange.Kind.POSTED})
    touched = list(dict.fromkeys(c.message_id for c in changes if c.message_id not in posted))
    found = selectors.messages_by_id(ids=posted + touched)
    pieces = [render_messages([found[pk]]) for pk in posted if pk in found]
    pieces += [render_replacement(found[pk]) for pk in touched if pk in found]
    frames, current = [], ""
    for piece in pieces:
        if current and len(current) + len(piece) > REPLAY_FRAME_BYTES:
            frames.append(current)
            current = ""
        current += piece
    frames.append(current + render_position(changes[-1].seq if position is None else position))
    return frames


@dataclass(frozen=True)
class Replay:
    frames: list[str]  # to send in order (none when nothing was missed)
    seq: int  # the position the client is at once it has applied them
    overflow: bool  # too much was missed: the frame asks the page to reload

    @property
    def html(self) -> str:
        """All of it at once, for an HTTP response."""
        return "".join(self.frames)


def replay(*, room: Room, after: int, held: tuple[int, int] | None = None) -> Replay:
    """What a client at position `after` missed.

    `held` is a run of positions (low, high] the client already has (a socket
    sent them before the client said where it was): those changes are not sent
    twice. Never beyond the room's real newest position, so a bogus `after`
    cannot make the socket skip what comes next."""
    limit = settings.CHAT_RESUME_LIMIT
    changes = selectors.changes_after(room=room, after=after, limit=limit + 1)
    if len(changes) > limit:
        newest = selectors.room_seq(room=room)
        return Replay([render_reload_notice(room) + render_position(newest)], newest, True)
    if not changes:
        return Replay([], min(after, selectors.room_seq(room=room)), False)
    position = changes[-1].seq
    if held is not None:
        low, high = held
        changes = [change for change in changes if not low < change.seq <= high]
        if not changes:
            return Replay([], position, False)
    return Replay(render_changes(changes, position=position), position, False)


def render_reload_notice(room: Room) -> str:
    return render_to_string(f"{TEMPLATE}#reload-notice", {"room": room, "oob": True})


def error_fragment(text: str) -> str:
    return render_to_string(f"{TEMPLATE}#chat-error", {"chat_error": text, "oob": True})


def clear_error_fragment(client_id: str | None = None) -> str:
    """The sender's acknowledgement: the send with `client_id` is stored."""
    return render_to_string(f"{TEMPLATE}#chat-error", {"stored_client_id": client_id or "", "oob": True})


def message_created(message: Message, seq: int, *, mention_ids: list[int] | None = None) -> None:
    """`mention_ids`: whom it mentions, when the caller has them in hand."""
    # One hop for both: the chat sockets get the message at its position, every
    # reader's page the small event its badges and notifications follow from.
    publish_many_sync(
        [
            (groups.room(message.room_id), {"html": render_message(message) + render_position(seq), "seq": seq}),
            (groups.room_activity(message.room_id), {"html": render_activity(message, mention_ids=mention_ids)}),
        ]
    )


def message_changed(message_id: int, seq: int) -> None:
    """An edit, delete or reaction: the message as it is now, read after commit."""
    message = selectors.messages_by_id(ids=[message_id]).get(message_id)
    if message is not None:
        publish_sync(groups.room(message.room_id), html=render_replacement(message) + render_position(seq), seq=seq)


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


# READ STATE


def render_activity(message: Message, *, late: bool = False, mention_ids: list[int] | None = None) -> str:
    """A new message as every reader's page hears of it: the same bytes for all
    of them, however many; each page decides what it means for its own user.
    `mention_ids` (by id) saves reading them again."""
    if mention_ids is None:
        mention_ids = list(message.mentions.order_by("pk").values_list("pk", flat=True))
    context = {"message": message, "room": message.room, "mention_ids": sorted(mention_ids), "late": late}
    return render_to_string(f"{READSTATE_TEMPLATE}#activity", context)


def render_late_activity(*, room_ids: list[int], user: AbstractBaseUser) -> str:
    """The newest message of rooms a page has just started to follow (the first
    message of a private room lists it, and went out before the page joined), so
    the page can still tell its user; the counts come with the unread state."""
    frames = []
    for room_id in room_ids:
        newest = selectors.unread_candidates(user=user).filter(room_id=room_id).select_related("room", "author")
        message = newest.order_by("-id").first()
        if message is not None:
            frames.append(render_activity(message, late=True))
    return "".join(frames)


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
