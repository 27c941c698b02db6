"""Every chat action: one keyword-only function per user action.

Views, consumers, the admin and management commands all call these. Broadcasts
leave only after the transaction commits (`realtime.aftercommit`), and a failed
push never turns a stored change into an error.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from functools import partial
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from realtime import ratelimit
from realtime.aftercommit import after_commit
from realtime.mail import absolute_url, send_template_mail_safely
from realtime.roles import is_staff_user
from rooms import broadcasts, selectors
from rooms.formatting import render_body
from rooms.mentions import mentioned_users
from rooms.models import (
    PUBLIC_ROOM_NAME,
    Message,
    MessageVersion,
    Reaction,
    ReadState,
    Room,
    RoomChange,
    RoomInvite,
    RoomRemoval,
)
from uploads import storage
from uploads.validation import ValidatedFile

logger = logging.getLogger("boostroom.rooms")

MESSAGE_EMPTY = "Write something before sending."
MESSAGE_RATE_LIMITED = "You are sending messages too fast. Wait a few seconds."
MESSAGE_TOO_LONG = "Messages can be at most {limit} characters."
MESSAGE_NUL = "Messages cannot contain NUL characters."
CLIENT_ID_INVALID = "client_id must be 1 to 64 letters, digits, '-' or '_'."
CLIENT_ID_REUSED = "That client_id was already used for a message in another room."
ROOM_NAME_INVALID = "Room names are 3 to 50 lowercase letters, digits and dashes, starting with a letter."
ROOM_NAME_TAKEN = "A room with that name already exists."
ROOM_TITLE_TOO_LONG = "Titles can be at most 100 characters."
PRIVATE_WITH_SELF = "You cannot open a private chat with yourself."
EMAIL_NOT_VERIFIED = "Verify your email address before joining group chats."
NOT_ROOM_ADMIN = "Only the room's admin can do that."
ONLY_GROUPS = "Only group chats can be joined, left or edited."
RETENTION_INVALID = "Retention must be between 1 and 365 days, or empty to keep messages."
READ_THROUGH_INVALID = "through must be a non-negative message id."
SUCCESSOR_REQUIRED = "Choose who runs the group after you: another member becomes its admin."
LAST_MEMBER_DELETES = "You are the group's last member. Delete it instead (its messages go with it)."
ADD_UNKNOWN_USER = "There is no active user called “{username}”."
ADD_ALREADY_MEMBER = "{username} is already in this group."
ADD_NOT_VERIFIED = "{username} has not verified an email address yet; group chats need one."
INVITE_INVALID = "This invite link is not valid: it expired or was replaced. Ask the group's admin for a new one."
INVITE_PREDATES_REMOVAL = "You were removed from this group. Ask its admin for a new invite link."
INVITE_EXPIRY_INVALID = "An invite link can last 1 to 365 days, or leave it empty to keep it until you replace it."
REPLY_INVALID = "The message you replied to is not in this room any more."
NOT_YOUR_MESSAGE = "You can only change your own messages."
EDIT_WINDOW_CLOSED = "Messages can only be edited for {minutes} minutes after sending."
MESSAGE_IS_DELETED = "That message was deleted."
REACTION_UNKNOWN = "That reaction is not available."
ACTION_RATE_LIMITED = "You are doing that too fast. Wait a few seconds."

RESERVED_NAMES = {
    "new",
    "people",
    "private",
    "older",
    "upload",
    "api",
    "join",
    "edit",
    "delete",
    "leave",
    "search",
    "lists",
    "support",
    PUBLIC_ROOM_NAME,
}
_ROOM_NAME = re.compile(r"^[a-z][a-z0-9-]{2,49}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TYPING_THROTTLE_SECONDS = 2
TYPING_MAX_MEMBERS = 100


class ChatError(ValueError):
    """Bad input for a chat action; `str(error)` is safe to show the user."""


class RoomPermissionDenied(PermissionError):
    """The user may read the room but not do this to it."""


# MESSAGES


def message_post(
    *,
    room: Room,
    author: AbstractBaseUser,
    body: str,
    client_id: str | None = None,
    attachment: ValidatedFile | None = None,
    reply_to_id: int | None = None,
) -> Message:
    """Store a message once and broadcast it after commit.

    A retry with the same `client_id` returns the stored message without a second
    row, and broadcasts it again at its position: the first attempt's push may never
    have left (the layer was away, or the sender never heard back), and sockets drop
    repeats. `reply_to_id` quotes an earlier message of the room.
    """
    body = (body or "").strip()
    # PostgreSQL cannot store NUL and SQLite would: refused here, the same way on both.
    if "\x00" in body:
        raise ChatError(MESSAGE_NUL)
    limit = settings.CHAT_MESSAGE_MAX_LENGTH
    if not body and attachment is None:
        raise ChatError(MESSAGE_EMPTY)
    if len(body) > limit:
        raise ChatError(MESSAGE_TOO_LONG.format(limit=limit))
    if client_id is not None and (not isinstance(client_id, str) or not _CLIENT_ID.match(client_id)):
        raise ChatError(CLIENT_ID_INVALID)
    # Checked here too, not only at connect: membership can change mid-socket.
    if not selectors.can_read(room=room, user=author):
        raise selectors.RoomAccessDenied(room.name)
    # A retry is told apart by the unique (author, client_id) constraint when its
    # insert fails, not by a lookup before every send: almost every send is new.
    # Only an upload, stored before the transaction, is looked up first.
    if client_id is not None and attachment is not None:
        existing = _message_by_client_id(author, client_id)
        if existing is not None:
            return _retried(room, existing)
    reply_to = _reply_target(room, reply_to_id)
    limit_count, window = settings.CHAT_RATE_LIMIT
    if not ratelimit.allow(f"msg:{room.pk}:{author.pk}", limit=limit_count, window=window):
        # A retry of what is stored is acknowledged, however fast it comes.
        existing = _message_by_client_id(author, client_id) if client_id is not None else None
        if existing is None:
            raise ChatError(MESSAGE_RATE_LIMITED)
        return _retried(room, existing)
    mentioned = mentioned_users(room=room, body=body)
    message = Message(
        room=room,
        author=author,
        body=body,
        body_html=render_body(body=body, mentions=mentioned),
        client_id=client_id,
        reply_to=reply_to,
    )
    if attachment is not None:
        # Stored before the transaction so no row lock is held during a slow upload.
        store_attachment(message=message, file=attachment)
    try:
        with transaction.atomic():
            # Drawn here, so the room's last activity is its newest message's time.
            message.created = timezone.now()
            seq = _draw_post_position(room, posted_at=message.created)
            message.save()
            # A new message has no reactions: its render needs no query for them,
            # nor the compiler's work on an empty one (a queryset already read).
            no_reactions = Reaction.objects.none()
            no_reactions._result_cache = []
            message._prefetched_objects_cache = {"reactions": no_reactions}
            if mentioned:
                # A new message has no mentions to replace: adding skips set()'s read of them.
                message.mentions.add(*mentioned)
            RoomChange.objects.create(room=room, seq=seq, kind=RoomChange.Kind.POSTED, message=message, actor=author)
            # Every change is to a message, so a room's first change is its first
            # post: the first message of a private room tells the other user.
            if room.kind == Room.Kind.PRIVATE and seq == 1:
                _private_chat_started(room)
            # The message is stored whatever happens to the push; sockets that
            # missed it catch up through resume.
            after_commit(broadcasts.message_created, message, seq, mention_ids=[user.pk for user in mentioned])
    except IntegrityError:
        # A retry (or two sends of it racing): the unique constraint kept one.
        _discard_files(message, attachment)
        existing = _message_by_client_id(author, client_id) if client_id else None
        if existing is None:
            raise
        return _retried(room, existing)
    except Exception:
        # Whatever failed, no row points at the stored files any more.
        _discard_files(message, attachment)
        raise
    return message


class _LockedRoom(NamedTuple):
    """The room's row as `_lock_room` found it; nobody else changes it until the commit."""

    last_seq: int
    last_message_at: datetime | None


def _lock_room(room: Room) -> _LockedRoom:
    """Serialise the room's changes until this transaction ends.

    One change per room at a time, so positions (and message ids) commit in the
    order they were drawn: once position N is visible every smaller one is too,
    and a resume "after N" cannot skip one still in flight. NO KEY UPDATE leaves
    other rooms and foreign keys to this room unblocked. The row is read in the
    same query, so the change's position needs no second read.
    """
    rows = Room.objects.select_for_update(no_key=True).filter(pk=room.pk).values_list("last_seq", "last_message_at")
    try:
        return _LockedRoom(*rows.get())
    except Room.DoesNotExist:
        raise selectors.RoomAccessDenied(room.name) from None  # deleted since it was read


def _draw_post_position(room: Room, *, posted_at: datetime) -> int:
    """`_lock_room` and the position's write in one statement, for a post: it
    always records its change, so the position can be drawn as the row is locked
    (an UPDATE takes the same lock as NO KEY UPDATE). A query fewer on the path
    every message takes; the ORM's update() returns no values, hence the SQL."""
    quote = connection.ops.quote_name
    table, seq_column, at_column, pk_column = (
        quote(name)
        for name in (
            Room._meta.db_table,
            Room._meta.get_field("last_seq").column,
            Room._meta.get_field("last_message_at").column,
            Room._meta.pk.column,
        )
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {seq_column} = {seq_column} + 1, {at_column} = %s"
            f" WHERE {pk_column} = %s RETURNING {seq_column}",
            [connection.ops.adapt_datetimefield_value(posted_at), room.pk],
        )
        row = cursor.fetchone()
    if row is None:
        raise selectors.RoomAccessDenied(room.name)  # deleted since it was read
    return row[0]


def _record_change(
    *,
    room: Room,
    locked: _LockedRoom,
    kind: str,
    message: Message,
    actor: AbstractBaseUser,
    emoji: str = "",
) -> RoomChange:
    """The change's position in the room's sequence: the next after the one
    `_lock_room` read, which nobody can have taken since."""
    seq = locked.last_seq + 1
    Room.objects.filter(pk=room.pk).update(last_seq=seq)
    return RoomChange.objects.create(room=room, seq=seq, kind=kind, message=message, actor=actor, emoji=emoji)


def _reply_target(room: Room, reply_to_id: int | None) -> Message | None:
    if reply_to_id is None:
        return None
    if isinstance(reply_to_id, bool) or not isinstance(reply_to_id, int):
        raise ChatError(REPLY_INVALID)
    target = Message.objects.filter(room=room, pk=reply_to_id).select_related("author").first()
    if target is None:
        raise ChatError(REPLY_INVALID)
    return target


def _changeable(message: Message, by: AbstractBaseUser) -> tuple[Message, _LockedRoom]:
    """The message as committed now, locked with its room, if `by` may still
    read the room; raises otherwise. Call inside a transaction."""
    locked = _lock_room(message.room)
    if not selectors.can_read(room=message.room, user=by):
        raise selectors.RoomAccessDenied(message.room.name)
    current = Message.objects.filter(pk=message.pk).select_related("room", "author").first()
    if current is None:
        raise ChatError(MESSAGE_IS_DELETED)
    return current, locked


def _allow_action(room: Room, user: AbstractBaseUser) -> None:
    limit_count, window = settings.CHAT_RATE_LIMIT
    if not ratelimit.allow(f"act:{room.pk}:{user.pk}", limit=limit_count, window=window):
        raise ChatError(ACTION_RATE_LIMITED)


@transaction.atomic
def message_edit(*, message: Message, by: AbstractBaseUser, body: str) -> Message:
    """Replace a message's body; the earlier one is kept as a version.

    Only the author may, within CHAT_EDIT_WINDOW_SECONDS of sending (staff any
    time). Mentions are found again, so a name added by the edit counts. The
    same body again changes nothing (a retried edit is stored once).
    """
    body = (body or "").strip()
    limit = settings.CHAT_MESSAGE_MAX_LENGTH
    if len(body) > limit:
        raise ChatError(MESSAGE_TOO_LONG.format(limit=limit))
    message, locked = _changeable(message, by)
    if message.author_id != by.pk:
        raise RoomPermissionDenied(NOT_YOUR_MESSAGE)
    if message.is_deleted:
        raise ChatError(MESSAGE_IS_DELETED)
    if not body and not message.attachment:
        raise ChatError(MESSAGE_EMPTY)
    if body == message.body:
        return message
    window = settings.CHAT_EDIT_WINDOW_SECONDS
    if not is_staff_user(by) and timezone.now() - message.created > timedelta(seconds=window):
        raise ChatError(EDIT_WINDOW_CLOSED.format(minutes=max(1, window // 60)))
    _allow_action(message.room, by)
    MessageVersion.objects.create(message=message, body=message.body, body_html=message.body_html)
    mentioned = mentioned_users(room=message.room, body=body)
    message.body = body
    message.body_html = render_body(body=body, mentions=mentioned)
    message.edited_at = timezone.now()
    message.save(update_fields=["body", "body_html", "edited_at"])
    message.mentions.set(mentioned)
    change = _record_change(room=message.room, locked=locked, kind=RoomChange.Kind.EDITED, message=message, actor=by)
    after_commit(broadcasts.message_changed, message.pk, change.seq)
    return message


@transaction.atomic
def message_delete(*, message: Message, by: AbstractBaseUser) -> Message:
    """Leave a tombstone: body, versions, mentions, reactions and files go.

    The author may delete their message, staff any message they can read.
    Files leave storage only after the commit. Deleting twice changes nothing.
    """
    message, locked = _changeable(message, by)
    if message.author_id != by.pk and not is_staff_user(by):
        raise RoomPermissionDenied(NOT_YOUR_MESSAGE)
    if message.is_deleted:
        return message
    names = [name for name in (message.attachment.name, message.attachment_thumbnail.name) if name]
    message.versions.all().delete()
    message.reactions.all().delete()
    message.mentions.clear()
    message.body = message.body_html = ""
    message.attachment = message.attachment_thumbnail = ""
    message.attachment_name = message.attachment_type = ""
    message.attachment_size = None
    message.deleted_at = timezone.now()
    message.save()
    change = _record_change(room=message.room, locked=locked, kind=RoomChange.Kind.DELETED, message=message, actor=by)
    if names:
        storage.delete_after_commit(names)
    after_commit(broadcasts.message_changed, message.pk, change.seq)
    return message


@transaction.atomic
def reaction_set(*, message: Message, user: AbstractBaseUser, emoji: str, on: bool) -> bool:
    """Add (`on`) or remove the user's `emoji` on a message; returns whether
    anything changed. Asking for the state it already has changes nothing, so
    a retried click is harmless."""
    if emoji not in settings.CHAT_REACTIONS:
        raise ChatError(REACTION_UNKNOWN)
    message, locked = _changeable(message, user)
    if message.is_deleted:
        raise ChatError(MESSAGE_IS_DELETED)
    existing = Reaction.objects.filter(message=message, user=user, emoji=emoji)
    if on == existing.exists():
        return False
    _allow_action(message.room, user)
    if on:
        Reaction.objects.create(message=message, user=user, emoji=emoji)
    else:
        existing.delete()
    kind = RoomChange.Kind.REACTED if on else RoomChange.Kind.UNREACTED
    change = _record_change(room=message.room, locked=locked, kind=kind, message=message, actor=user, emoji=emoji)
    after_commit(broadcasts.message_changed, message.pk, change.seq)
    return True


def store_attachment(*, message: Message, file: ValidatedFile) -> None:
    """Store `file` for `message` and fill its attachment fields (the caller saves)."""
    prefix = timezone.now().strftime("chat/%Y/%m")
    name, thumbnail_name = storage.save_validated(file=file, prefix=prefix)
    message.attachment = name
    message.attachment_thumbnail = thumbnail_name or ""
    message.attachment_name = file.original_name
    message.attachment_type = file.content_type
    message.attachment_size = len(file.content)


def _discard_files(message: Message, attachment: ValidatedFile | None) -> None:
    # Quietly: an orphan file is harmless; hiding the original error would not be.
    if attachment is not None:
        storage.delete_quietly([message.attachment.name, message.attachment_thumbnail.name])


def _retried(room: Room, existing: Message) -> Message:
    """A send already stored: broadcast again at its position (the first push may
    never have left, and sockets drop repeats) and return it."""
    if existing.room_id != room.pk:
        raise ChatError(CLIENT_ID_REUSED)
    after_commit(broadcasts.message_created, existing, selectors.seq_of_message(room=room, message_id=existing.pk))
    return existing


def _message_by_client_id(author: AbstractBaseUser, client_id: str) -> Message | None:
    # Asked on every send and almost always missed: the id alone is a much
    # cheaper query than the row, which only a retry then loads; get(), not
    # first(), as the constraint allows one row at most, so no ORDER BY either.
    try:
        found = Message.objects.filter(author_id=author.pk, client_id=client_id).values_list("pk", flat=True).get()
    except Message.DoesNotExist:
        return None
    message = Message.objects.select_related("author").get(pk=found)
    message.is_retry = True
    return message


def typing_notify(*, room: Room, user: AbstractBaseUser, member_count: int | None = None) -> bool:
    """Tell the room `user` is typing; nothing is stored. Returns whether it was sent."""
    # The throttle first: it is one cache hit, and it drops most keystrokes before
    # the member count costs a query. Shared through the cache, so a user with
    # tabs on two processes is throttled once.
    if not ratelimit.allow(f"typing:{room.pk}:{user.pk}", limit=1, window=TYPING_THROTTLE_SECONDS):
        return False
    if member_count is None:
        member_count = selectors.room_member_count(room=room)
    if member_count > TYPING_MAX_MEMBERS:
        return False
    broadcasts.typing(room=room, user=user)
    return True


def messages_purge_expired(*, now: datetime | None = None) -> int:
    """Delete messages older than their room's retention, then their files.

    Rows go first, a room per transaction; files only after it commits, so a
    rollback never leaves rows pointing at deleted files. A file that cannot be
    deleted is logged and skipped: one storage hiccup must not keep the rest of
    the expired files stored forever.
    """
    now = now or timezone.now()
    deleted = 0
    for room in Room.objects.exclude(retention=None):
        with transaction.atomic():
            expired = Message.objects.filter(room=room, created__lt=now - room.retention)
            names = _file_names(expired)
            _, by_model = expired.delete()
            count = by_model.get(Message._meta.label, 0)
            if names:
                storage.delete_after_commit(names)
        deleted += count
    return deleted


def _file_names(messages) -> list[str]:
    rows = messages.exclude(attachment="").values_list("attachment", "attachment_thumbnail")
    return [name for row in rows for name in row if name]


# READ STATE


@transaction.atomic
def room_mark_read(*, room: Room, user: AbstractBaseUser, through: int) -> int:
    """`user` has seen the messages of `room` up to id `through`: move their
    pointer there. It only moves forward, never past the room's newest message,
    and only for someone who may read the room. Returns the pointer.

    Every page of the user then gets their new counts (the badge clears in every
    tab), and the room's members its receipts.
    """
    if isinstance(through, bool) or not isinstance(through, int) or through < 0:
        raise ChatError(READ_THROUGH_INVALID)
    if not selectors.can_read(room=room, user=user):
        raise selectors.RoomAccessDenied(room.name)
    through = min(through, selectors.latest_message_id(room=room))
    moved = bool(through) and _advance_pointer(room, user, through)
    if through and not moved:
        _, moved = ReadState.objects.get_or_create(user=user, room=room, defaults={"last_read_id": through})
        # Not created: it exists, perhaps only since another tab's first read a moment ago.
        moved = moved or _advance_pointer(room, user, through)
    if moved:
        after_commit(broadcasts.read_state_changed, user=user, room=room)
    return selectors.read_pointer(room=room, user=user)


def _advance_pointer(room: Room, user: AbstractBaseUser, through: int) -> bool:
    # One conditional UPDATE: two tabs racing can only ever leave the larger value.
    moved = ReadState.objects.filter(user=user, room=room, last_read_id__lt=through)
    return bool(moved.update(last_read_id=through, updated=timezone.now()))


@transaction.atomic
def room_mute(*, room: Room, user: AbstractBaseUser, muted: bool) -> ReadState:
    """Mute or unmute a room for `user`: a muted room notifies only @mentions."""
    if not selectors.can_read(room=room, user=user):
        raise selectors.RoomAccessDenied(room.name)
    state, created = ReadState.objects.get_or_create(user=user, room=room, defaults={"muted": muted})
    if not created and state.muted != muted:
        state.muted = muted
        state.save(update_fields=["muted", "updated"])
    after_commit(broadcasts.unread_state_changed, user=user)
    return state


def _start_reading_at_newest(room: Room, user: AbstractBaseUser) -> None:
    """A newcomer to a group starts at its newest message: its history is not
    addressed to them, so it is not unread."""
    newest = selectors.latest_message_id(room=room)
    ReadState.objects.update_or_create(user=user, room=room, defaults={"last_read_id": newest})


# ROOMS


def room_create_group(*, creator: AbstractBaseUser, name: str, title: str = "") -> Room:
    name = (name or "").strip().lower()
    title = (title or "").strip()
    if not _ROOM_NAME.match(name) or name in RESERVED_NAMES or name.startswith(("dm-", "order-")):
        raise ChatError(ROOM_NAME_INVALID)
    if len(title) > 100:
        raise ChatError(ROOM_TITLE_TOO_LONG)
    with transaction.atomic():
        if Room.objects.filter(name=name).exists():
            raise ChatError(ROOM_NAME_TAKEN)
        try:
            with transaction.atomic():
                room = Room.objects.create(name=name, title=title or name, kind=Room.Kind.GROUP, admin=creator)
        except IntegrityError:
            raise ChatError(ROOM_NAME_TAKEN) from None
        room.members.add(creator)
        RoomInvite.objects.create(room=room, created_by=creator)
    return room


def private_room_name(first: AbstractBaseUser, second: AbstractBaseUser) -> str:
    low, high = sorted((first.pk, second.pk))
    return f"dm-{low}-{high}"


def room_get_or_create_private(*, user: AbstractBaseUser, other: AbstractBaseUser) -> Room:
    """The one private room of this pair, created on first use.

    Opening it tells nobody: it is in `user`'s list, and `other` hears of it (the
    room in their list, its unread message, the notification email while they
    are away) with its first message.
    """
    if user.pk == other.pk:
        raise ChatError(PRIVATE_WITH_SELF)
    name = private_room_name(user, other)
    with transaction.atomic():
        room, _ = Room.objects.get_or_create(
            name=name, defaults={"kind": Room.Kind.PRIVATE, "title": f"{user.username} & {other.username}"}
        )
        room.members.add(user)
    return room


def _private_chat_started(room: Room) -> None:
    """The first message of a private room puts it in both lists: from here on
    the other user hears of it like of any of their rooms (the room in their
    lists, its unread badge, a toast, and the batched email while they are away)."""
    room.members.add(*selectors.private_pair(room=room))


def room_join(*, room: Room, user: AbstractBaseUser) -> Room:
    """Add `user` to a group; needs a verified email address. For trusted callers
    (the demo data, the shell): people join through `room_join_by_invite`."""
    if room.kind != Room.Kind.GROUP:
        raise ChatError(ONLY_GROUPS)
    if not selectors.has_verified_email(user=user):
        raise ChatError(EMAIL_NOT_VERIFIED)
    room.members.add(user)
    _start_reading_at_newest(room, user)
    after_commit(broadcasts.members_changed, room)
    return room


@transaction.atomic
def room_join_by_invite(*, token: str, user: AbstractBaseUser) -> Room:
    """Join the group whose live invite link carries `token`.

    A member the admin removed needs an invite made after the removal: the link
    they knew no longer lets them back in.
    """
    try:
        invite = selectors.invite_for_token(token=token)
    except selectors.InviteInvalid:
        raise ChatError(INVITE_INVALID) from None
    room = invite.room
    if selectors.can_read(room=room, user=user):
        return room
    if selectors.removed_since(room=room, user=user, invite=invite):
        raise RoomPermissionDenied(INVITE_PREDATES_REMOVAL)
    return room_join(room=room, user=user)


@transaction.atomic
def invite_regenerate(*, room: Room, by: AbstractBaseUser, expires_in_days: int | None = None) -> RoomInvite:
    """A new invite link for the group; the old one stops working."""
    _require_admin(room, by)
    if expires_in_days is not None and not 1 <= expires_in_days <= 365:
        raise ChatError(INVITE_EXPIRY_INVALID)
    now = timezone.now()
    _revoke_invites(room, now)
    expires_at = now + timedelta(days=expires_in_days) if expires_in_days else None
    return RoomInvite.objects.create(room=room, created_by=by, created=now, expires_at=expires_at)


@transaction.atomic
def invite_revoke(*, room: Room, by: AbstractBaseUser) -> None:
    """The group's invite link stops working; nobody can join until a new one is made."""
    _require_admin(room, by)
    _revoke_invites(room, timezone.now())


def _revoke_invites(room: Room, now: datetime) -> None:
    RoomInvite.objects.filter(room=room, revoked_at=None).update(revoked_at=now)


def room_leave(*, room: Room, user: AbstractBaseUser, successor: AbstractBaseUser | None = None) -> None:
    """Leave a group. Its admin first hands it to `successor`, another member;
    the last member cannot leave at all, only delete it (room_delete), so no
    group and no history goes without its admin saying so."""
    if room.kind != Room.Kind.GROUP:
        raise ChatError(ONLY_GROUPS)
    with transaction.atomic():
        others = room.members.exclude(pk=user.pk)
        if not others.exists():
            raise ChatError(LAST_MEMBER_DELETES)
        if room.admin_id == user.pk:
            if successor is None or not others.filter(pk=successor.pk).exists():
                raise ChatError(SUCCESSOR_REQUIRED)
            room.admin = successor
            room.save(update_fields=["admin"])
        room.members.remove(user)
        after_commit(broadcasts.members_revoked, room, [user.pk], reason=broadcasts.GONE_LEFT)


@transaction.atomic
def room_add_member(*, room: Room, by: AbstractBaseUser, username: str) -> AbstractBaseUser:
    """The group's admin adds someone by username; they are told by mail.

    Like joining by the invite link, it needs the invitee's verified email.
    """
    _require_admin(room, by)
    username = (username or "").strip()
    invitee = get_user_model().objects.filter(username__iexact=username, is_active=True).first()
    if invitee is None:
        raise ChatError(ADD_UNKNOWN_USER.format(username=username))
    if room.members.filter(pk=invitee.pk).exists():
        raise ChatError(ADD_ALREADY_MEMBER.format(username=invitee.username))
    if not selectors.has_verified_email(user=invitee):
        raise ChatError(ADD_NOT_VERIFIED.format(username=invitee.username))
    room.members.add(invitee)
    _start_reading_at_newest(room, invitee)
    after_commit(broadcasts.members_changed, room)
    context = {"room": room, "by": by, "url": absolute_url(room.get_absolute_url())}
    transaction.on_commit(
        partial(send_template_mail_safely, template="rooms/mail/invited", context=context, recipients=[invitee.email])
    )
    return invitee


def room_update(
    *, room: Room, by: AbstractBaseUser, title: str, retention_days: int | None, remove_user_ids: list[int] = ()
) -> Room:
    """The group admin renames, sets retention and removes members."""
    _require_admin(room, by)
    title = (title or "").strip()
    if not title or len(title) > 100:
        raise ChatError(ROOM_TITLE_TOO_LONG)
    if retention_days is not None and not 1 <= retention_days <= 365:
        raise ChatError(RETENTION_INVALID)
    with transaction.atomic():
        room.title = title
        room.retention = timedelta(days=retention_days) if retention_days else None
        room.save(update_fields=["title", "retention"])
        removed = [pk for pk in remove_user_ids if pk != by.pk]
        if removed:
            room.members.remove(*removed)
            newest_invite = RoomInvite.objects.filter(room=room).order_by("-id").values_list("id", flat=True).first()
            record = {"removed_at": timezone.now(), "newest_invite_id": newest_invite or 0}
            for pk in removed:
                RoomRemoval.objects.update_or_create(room=room, user_id=pk, defaults=record)
            after_commit(broadcasts.members_revoked, room, removed)
    return room


def room_delete(*, room: Room, by: AbstractBaseUser) -> None:
    """Delete a group room; its admin or a site admin may."""
    if room.kind != Room.Kind.GROUP:
        raise ChatError(ONLY_GROUPS)
    if not selectors.can_delete(room=room, user=by):
        raise RoomPermissionDenied(NOT_ROOM_ADMIN)
    room_pk = room.pk
    with transaction.atomic():
        names = _file_names(room.messages.all())
        room.delete()
        # Files go only once the deletion is certain: a rollback keeps messages
        # whose attachments must still open.
        if names:
            storage.delete_after_commit(names)
        after_commit(broadcasts.room_closed, room_pk)


def room_create_for_order(*, name: str, title: str, members: list[AbstractBaseUser]) -> Room:
    """An order's chat room, readable by `members` and by managers/admins."""
    name = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:64]
    room, _ = Room.objects.get_or_create(
        name=name, defaults={"kind": Room.Kind.ORDER, "title": title[:100], "staff_access": True}
    )
    room.members.add(*members)
    return room


def room_set_members(*, room: Room, members: list[AbstractBaseUser]) -> None:
    """Replace the members; anyone removed loses their open sockets at once."""
    wanted = {user.pk for user in members}
    current = set(room.members.values_list("pk", flat=True))
    removed = sorted(current - wanted)
    room.members.set(members)
    if removed:
        after_commit(broadcasts.members_revoked, room, removed)


def _require_admin(room: Room, user: AbstractBaseUser) -> None:
    if room.kind != Room.Kind.GROUP:
        raise ChatError(ONLY_GROUPS)
    if not selectors.is_room_admin(room=room, user=user):
        raise RoomPermissionDenied(NOT_ROOM_ADMIN)
