"""Reads and permission checks for rooms: the one place that decides who may
see what. Views translate `RoomAccessDenied` to 404/403, consumers to 4004."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import asdict, dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from realtime.roles import MANAGERS_GROUP, ROLE_GROUPS, is_booster, is_staff_user
from rooms.models import (
    PUBLIC_ROOM_NAME,
    Message,
    Reaction,
    ReadState,
    Room,
    RoomChange,
    RoomInvite,
    RoomRemoval,
    default_public_retention,
)

User = get_user_model()


class RoomAccessDenied(Exception):
    """The room does not exist or this user may not read it (deliberately the same)."""


# The inverse of services.private_room_name: "dm-<lower user id>-<higher user id>".
_PRIVATE_NAME = re.compile(r"^dm-(\d+)-(\d+)$")


def private_pair(*, room: Room) -> set[int]:
    """The two users a private room is for, whether or not it is in their lists yet."""
    match = _PRIVATE_NAME.match(room.name) if room.kind == Room.Kind.PRIVATE else None
    return {int(match[1]), int(match[2])} if match else set()


class InviteInvalid(Exception):
    """No live invite carries this token (unknown, revoked or expired: deliberately the same)."""


def can_read(*, room: Room, user: AbstractBaseUser | AnonymousUser) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if room.kind == Room.Kind.PUBLIC:
        return True
    if room.members.filter(pk=user.pk).exists():
        return True
    # A private room is listed (membership) for the second user only from its
    # first message on, but it is theirs to read and write from the start.
    if user.pk in private_pair(room=room):
        return True
    return room.staff_access and is_staff_user(user)


def room_for_user(*, name: str, user: AbstractBaseUser | AnonymousUser) -> Room:
    """The room called `name` if `user` may read and write it."""
    try:
        room = public_room() if name == PUBLIC_ROOM_NAME else Room.objects.get(name=name)
    except Room.DoesNotExist:
        raise RoomAccessDenied(name) from None
    if not can_read(room=room, user=user):
        raise RoomAccessDenied(name)
    return room


def public_room() -> Room:
    """The public chat; a migration creates it, and it comes back if a flush removed it."""
    room, _ = Room.objects.get_or_create(
        name=PUBLIC_ROOM_NAME,
        defaults={"kind": Room.Kind.PUBLIC, "title": "Public chat", "retention": default_public_retention()},
    )
    return room


def is_room_admin(*, room: Room, user: AbstractBaseUser | AnonymousUser) -> bool:
    return user.is_authenticated and room.kind == Room.Kind.GROUP and room.admin_id == user.pk


def can_delete(*, room: Room, user: AbstractBaseUser | AnonymousUser) -> bool:
    """A group's admin, and site admins (is_staff) for any group, may delete it."""
    if not user.is_authenticated or not user.is_active or room.kind != Room.Kind.GROUP:
        return False
    return is_room_admin(room=room, user=user) or user.is_staff


def room_for_deletion(*, name: str, user: AbstractBaseUser | AnonymousUser) -> Room:
    """The room called `name` if `user` may read it or delete it.

    Site admins need not be members to delete a group; whether this user may
    actually delete it is `can_delete`'s answer (403 for a plain member).
    """
    room = Room.objects.filter(name=name).first()
    if room is not None and can_delete(room=room, user=user):
        return room
    return room_for_user(name=name, user=user)


def readable_rooms(*, user: AbstractBaseUser) -> QuerySet[Room]:
    """Every room `user` may read: what `can_read` says, as one query."""
    if not user.is_authenticated or not user.is_active:
        return Room.objects.none()
    readable = Q(kind=Room.Kind.PUBLIC) | Q(pk__in=Room.members.through.objects.filter(user=user).values("room_id"))
    if is_staff_user(user):
        readable |= Q(staff_access=True)
    return Room.objects.filter(readable)


NEWEST_ACTIVITY_FIRST = (F("last_message_at").desc(nulls_last=True), "name")


def rooms_for_user(*, user: AbstractBaseUser) -> QuerySet[Room]:
    """Every room in the user's chat list, newest activity first: the public room
    and their memberships."""
    return Room.objects.filter(Q(kind=Room.Kind.PUBLIC) | Q(members=user)).distinct().order_by(*NEWEST_ACTIVITY_FIRST)


def with_last_message(rooms: QuerySet[Room]) -> QuerySet[Room]:
    """`rooms` with their newest message's author, body and attachment name
    (`last_author`, `last_body`, `last_attachment`): one index probe per room."""
    newest = Message.objects.filter(room=OuterRef("pk")).order_by("-id")
    return rooms.annotate(
        last_author=Subquery(newest.values("author__username")[:1]),
        last_body=Subquery(newest.values("body")[:1]),
        last_attachment=Subquery(newest.values("attachment_name")[:1]),
    )


def chat_index(*, user: AbstractBaseUser) -> list[Room]:
    """/chat/: the user's chat list with each room's last message."""
    return list(with_last_message(rooms_for_user(user=user)))


SUPPORT_INBOX_SIZE = 50


def support_inbox(*, user: AbstractBaseUser) -> list[Room]:
    """The order rooms staff may enter, newest activity first, with their last
    message; nothing for anyone else."""
    if not is_staff_user(user):
        return []
    rooms = Room.objects.filter(kind=Room.Kind.ORDER, staff_access=True).order_by(*NEWEST_ACTIVITY_FIRST)
    return list(with_last_message(rooms)[:SUPPORT_INBOX_SIZE])


def room_member_ids(*, room: Room) -> set[int] | None:
    """Member ids, or None for the public room (everyone)."""
    if room.kind == Room.Kind.PUBLIC:
        return None
    return set(room.members.values_list("pk", flat=True))


def messages_latest(*, room: Room, limit: int | None = None) -> list[Message]:
    limit = limit or settings.CHAT_PAGE_SIZE
    rows = list(_message_rows(room).order_by("-id")[:limit])
    rows.reverse()
    return rows


def messages_before(*, room: Room, before: int, limit: int | None = None) -> list[Message]:
    """Keyset page: the `limit` messages just older than id `before`, oldest first."""
    limit = limit or settings.CHAT_PAGE_SIZE
    rows = list(_message_rows(room).filter(id__lt=before).order_by("-id")[:limit])
    rows.reverse()
    return rows


def messages_from(*, room: Room, first: int, context: int = 10) -> list[Message] | None:
    """From a few messages before `first` through the newest, oldest first: the
    room opened at that message. None when it is not in the room or so far back
    that more than CHAT_AROUND_LIMIT messages follow it."""
    if not Message.objects.filter(room=room, pk=first).exists():
        return None
    earlier = Message.objects.filter(room=room, id__lt=first).order_by("-id").values_list("id", flat=True)
    earlier = list(earlier[:context])
    start = earlier[-1] if earlier else first
    limit = settings.CHAT_AROUND_LIMIT
    rows = list(_message_rows(room).filter(id__gte=start).order_by("id")[: limit + 1])
    return rows if len(rows) <= limit else None


def messages_after(*, room: Room, after: int, limit: int | None = None) -> list[Message]:
    """What a client that last saw id `after` missed, oldest first."""
    limit = limit or settings.CHAT_RESUME_LIMIT
    return list(_message_rows(room).filter(id__gt=after).order_by("id")[:limit])


def latest_message_id(*, room: Room) -> int:
    newest = Message.objects.filter(room=room).order_by("-id").values_list("id", flat=True).first()
    return newest or 0


def room_seq(*, room: Room) -> int:
    """The position of the newest committed change to the room."""
    return Room.objects.filter(pk=room.pk).values_list("last_seq", flat=True).first() or 0


def changes_after(*, room: Room, after: int, limit: int) -> list[RoomChange]:
    """The room's changes after position `after`, in order (at most `limit`)."""
    return list(RoomChange.objects.filter(room=room, seq__gt=after).order_by("seq")[:limit])


def seq_of_message(*, room: Room, message_id: int) -> int:
    """The position a client that holds every message up to `message_id` is at
    (the older `resume` by message id)."""
    found = (
        RoomChange.objects.filter(room=room, kind=RoomChange.Kind.POSTED, message_id__lte=message_id)
        .order_by("-seq")
        .values_list("seq", flat=True)
        .first()
    )
    return found or 0


def messages_by_id(*, ids: list[int]) -> dict[int, Message]:
    """Messages ready to render, by id."""
    return {message.pk: message for message in message_rows().filter(pk__in=ids)}


def message_in_room(*, room: Room, message_id: int) -> Message | None:
    return message_rows().filter(room=room, pk=message_id).first()


def message_rows() -> QuerySet[Message]:
    """Messages with everything the message partial shows, in a fixed number of queries."""
    reactions = Prefetch("reactions", queryset=Reaction.objects.select_related("user").order_by("id"))
    # The author's picture comes with them: the message partial shows it, at no query per message.
    return Message.objects.select_related(
        "room", "author", "author__avatar", "reply_to", "reply_to__author"
    ).prefetch_related(reactions)


def _message_rows(room: Room) -> QuerySet[Message]:
    return message_rows().filter(room=room)


def can_change(*, message: Message, user: AbstractBaseUser) -> bool:
    """Whether `user` may edit or delete `message` at all (the window aside)."""
    return message.author_id == user.pk or is_staff_user(user)


def versions_for(*, message: Message, user: AbstractBaseUser) -> list:
    """Earlier bodies of an edited message: its author and staff may see them."""
    if not can_read(room=message.room, user=user):
        raise RoomAccessDenied(message.room.name)
    if message.author_id != user.pk and not is_staff_user(user):
        return []
    return list(message.versions.order_by("id"))


def room_member_count(*, room: Room) -> int:
    if room.kind == Room.Kind.PUBLIC:
        return User.objects.filter(is_active=True).count()
    return room.members.count()


def room_members(*, room: Room) -> list:
    """Members for the member list (the public room lists nobody: it is everyone)."""
    if room.kind == Room.Kind.PUBLIC:
        return []
    return list(room.members.order_by("username").select_related("avatar").only("pk", "username", "avatar__thumbnail"))


def invite_for_token(*, token: str) -> RoomInvite:
    """The live invite carrying `token`, with its room."""
    invite = RoomInvite.objects.select_related("room").filter(token=token, room__kind=Room.Kind.GROUP).first()
    if invite is None or not invite.is_live():
        raise InviteInvalid(token)
    return invite


def invite_live(*, room: Room) -> RoomInvite | None:
    """The group's invite link in force, if any."""
    now = timezone.now()
    live = RoomInvite.objects.filter(room=room, revoked_at=None).filter(Q(expires_at=None) | Q(expires_at__gt=now))
    return live.order_by("-id").first()


def removed_since(*, room: Room, user: AbstractBaseUser, invite: RoomInvite) -> bool:
    """Whether the admin removed `user` after `invite` was made."""
    return RoomRemoval.objects.filter(room=room, user=user, newest_invite_id__gte=invite.pk).exists()


def has_verified_email(*, user: AbstractBaseUser) -> bool:
    from allauth.account.models import EmailAddress

    return EmailAddress.objects.filter(user=user, verified=True).exists()


def users_search(*, query: str, exclude: AbstractBaseUser, limit: int = 10) -> list:
    """People to start a private chat with."""
    query = (query or "").strip()
    if not query:
        return []
    return list(
        User.objects.filter(is_active=True, username__istartswith=query)
        .exclude(pk=exclude.pk)
        .order_by("username")[:limit]
    )


# READ STATE


@dataclass(frozen=True)
class RoomUnread:
    """One room as a user's badges see it.

    `as_of` is the newest message id the counts account for: the page counts a
    live message only if its id is above it, so a count and the live events
    around it never add the same message twice.
    """

    room_id: int
    unread: int = 0
    mentions: int = 0
    pointer: int = 0
    as_of: int = 0
    muted: bool = False

    def as_json(self) -> dict:
        return asdict(self)


def notifiable_messages() -> QuerySet[Message]:
    """Messages that can be unread, counted or notified at all: every unread count,
    divider, email and push starts here: a deleted message is none of them."""
    return Message.objects.filter(deleted_at__isnull=True)


def unread_candidates(*, user: AbstractBaseUser) -> QuerySet[Message]:
    """Messages that are unread for `user` once past their pointer: not their own,
    and not from before they had an account."""
    return notifiable_messages().filter(created__gte=user.date_joined).exclude(author_id=user.pk)


def read_states(*, user: AbstractBaseUser, room_ids: Collection[int]) -> dict[int, ReadState]:
    return {state.room_id: state for state in ReadState.objects.filter(user_id=user.pk, room_id__in=room_ids)}


def read_pointer(*, room: Room, user: AbstractBaseUser) -> int:
    """The newest message id `user` has read in `room` (0: none yet)."""
    return (
        ReadState.objects.filter(user_id=user.pk, room_id=room.pk).values_list("last_read_id", flat=True).first() or 0
    )


# Unread messages and mentions are looked for among each room's newest
# UNREAD_WINDOW messages only: counting every message past the pointer read all
# of a long room's backlog (100,000 took 53 ms) on every page and every unread
# push. Badges say "99+" past UNREAD_SHOWN_MAX, and a window five times that keeps
# every number they show exact unless the viewer's own or deleted messages fill
# most of it.
UNREAD_WINDOW = 500
UNREAD_SHOWN_MAX = 99


def _window_start(room_ref: int | OuterRef) -> Subquery:
    """The oldest message id of the room's window (NULL when it has fewer
    messages): a walk of at most UNREAD_WINDOW entries of the room's index."""
    newest = Message.objects.filter(room=room_ref).order_by("-id").values("id")
    return Subquery(newest[UNREAD_WINDOW - 1 : UNREAD_WINDOW])


def _window_starts(room_ids: Collection[int]) -> dict[int, int]:
    """Where each room's window starts, for rooms longer than it, in one query."""
    rows = Room.objects.filter(pk__in=room_ids).annotate(start=_window_start(OuterRef("pk"))).values_list("pk", "start")
    return {room_id: start for room_id, start in rows if start is not None}


def unread_counts(*, user: AbstractBaseUser, room_ids: Collection[int]) -> dict[int, RoomUnread]:
    """Unread and mention counts of these rooms for `user` (of each room's
    window), in three queries whatever the number of rooms or messages."""
    room_ids = sorted(set(room_ids))
    if not room_ids:
        return {}
    states = read_states(user=user, room_ids=room_ids)
    pointers = {room_id: (states[room_id].last_read_id if room_id in states else 0) for room_id in room_ids}
    starts = _window_starts(room_ids)
    past_pointer = Q()
    for room_id, pointer in pointers.items():
        # As first_unread_id: past the pointer and inside the window.
        past_pointer |= Q(room_id=room_id, id__gte=max(pointer + 1, starts.get(room_id, 0)))
    mentioned = Exists(Message.mentions.through.objects.filter(message_id=OuterRef("pk"), user_id=user.pk))
    rows = (
        unread_candidates(user=user)
        .filter(past_pointer)
        .values("room_id")
        .annotate(unread=Count("id"), mentions=Count("id", filter=Q(mentioned)), newest=Max("id"))
        .order_by()
    )
    found = {row["room_id"]: row for row in rows}
    result = {}
    for room_id, pointer in pointers.items():
        row = found.get(room_id, {})
        result[room_id] = RoomUnread(
            room_id=room_id,
            unread=row.get("unread", 0),
            mentions=row.get("mentions", 0),
            pointer=pointer,
            as_of=max(pointer, row.get("newest", 0)),
            muted=room_id in states and states[room_id].muted,
        )
    return result


def unread_summary(*, user: AbstractBaseUser) -> dict[int, RoomUnread]:
    """Every room of the user's chat list with its counts."""
    return unread_counts(user=user, room_ids=list(rooms_for_user(user=user).values_list("pk", flat=True)))


def unread_total(summary: dict[int, RoomUnread]) -> int:
    """The header's and the tab title's number: muted rooms count only their mentions."""
    return sum(entry.mentions if entry.muted else entry.unread for entry in summary.values())


def first_unread_id(*, room: Room, user: AbstractBaseUser, pointer: int) -> int | None:
    """Where the new-messages divider goes when the room opens: the first unread
    message of the room's window."""
    # One bound, not two: the databases start the index range only at one of them.
    start = Greatest(Value(pointer + 1), Coalesce(_window_start(room.pk), 0))
    rows = unread_candidates(user=user).filter(room=room, id__gte=start).order_by("id")
    return rows.values_list("id", flat=True).first()


# READ RECEIPTS

# Members' pointers are shown in private, order and group rooms; the public room
# (everyone) shows none.
RECEIPT_KINDS = (Room.Kind.PRIVATE, Room.Kind.ORDER, Room.Kind.GROUP)
TEAM = "team"
CUSTOMER = "customer"


@dataclass(frozen=True)
class Reader:
    user_id: int
    username: str
    through: int
    # Whose "Seen" a viewer is shown: the other member in a private room; in an
    # order room the customer sees the booster's and staff's, and they the customer's.
    side: str


def shows_receipts(*, room: Room) -> bool:
    if room.kind not in RECEIPT_KINDS:
        return False
    return room.kind != Room.Kind.GROUP or room.members.count() <= settings.CHAT_RECEIPTS_MAX_MEMBERS


def receipt_side(*, room: Room, user: AbstractBaseUser) -> str:
    if room.kind == Room.Kind.ORDER:
        return TEAM if is_staff_user(user) or is_booster(user) else CUSTOMER
    return str(user.pk)


def room_readers(*, room: Room) -> list[Reader]:
    """How far each current reader of the room has read, furthest first, in one
    query. Only people who may read the room now: a removed member's old pointer
    says nothing any more."""
    may_read = Q(user__chat_rooms=room)
    if room.staff_access:
        may_read |= Q(user__is_staff=True) | Q(user__groups__name=MANAGERS_GROUP)
    team_groups = User.groups.through.objects.filter(user_id=OuterRef("user_id"), group__name__in=ROLE_GROUPS)
    in_team = Q(user__is_staff=True) | Exists(team_groups)
    rows = (
        ReadState.objects.filter(may_read, room=room, user__is_active=True, last_read_id__gt=0)
        .annotate(team=ExpressionWrapper(in_team, output_field=BooleanField()))
        .values_list("user_id", "user__username", "last_read_id", "team")
        .distinct()
        .order_by("-last_read_id", "user_id")[: settings.CHAT_RECEIPTS_MAX_MEMBERS]
    )
    order_room = room.kind == Room.Kind.ORDER
    return [
        Reader(user_id, username, through, (TEAM if team else CUSTOMER) if order_room else str(user_id))
        for user_id, username, through, team in rows
    ]


def muted_rooms(*, user: AbstractBaseUser) -> list[Room]:
    return list(Room.objects.filter(read_states__user_id=user.pk, read_states__muted=True).order_by("name"))
