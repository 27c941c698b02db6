"""Who has something to be told while away, and what.

A message notifies a person when it is a direct message to them, a message in
an order chat they are a member of, or an @mention of them, and it is still
unread (past their read pointer), not their own, and from a room they may read
and have not muted (mentions come through a mute).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q

from accounts.models import Preferences
from notifications.models import Digest, PushSubscription
from rooms.models import Message, ReadState, Room
from rooms.selectors import can_read, notifiable_messages

User = get_user_model()

# Rooms whose every message notifies their members; elsewhere only @mentions do.
NOTIFYING_KINDS = (Room.Kind.PRIVATE, Room.Kind.ORDER)
# Older unread messages are no longer news: they are never emailed or pushed.
LOOKBACK = timedelta(days=1)
# A message younger than this may still have an uncommitted neighbour with a
# smaller id in another room; waiting it out means `*_through` skips nothing.
SETTLE = timedelta(seconds=5)


@dataclass
class Pending:
    user: AbstractBaseUser
    choices: Preferences
    digest: Digest
    messages: list[Message] = field(default_factory=list)
    mentioned: set[int] = field(default_factory=set)  # ids of the messages that mention this user


def pending_notifications(*, now: datetime, exclude_user_ids: Collection[int] = ()) -> list[Pending]:
    """Everyone with unread notifying messages from the last LOOKBACK, oldest
    message first, with their choices and what they were already told."""
    recent = (
        notifiable_messages()
        .filter(created__gte=now - LOOKBACK, created__lte=now - SETTLE)
        .filter(Q(room__kind__in=NOTIFYING_KINDS) | Q(mentions__isnull=False))
        .select_related("room", "author")
        .distinct()
        .order_by("id")
    )
    messages = list(recent)
    if not messages:
        return []
    members: dict[int, set[int]] = defaultdict(set)
    notifying_rooms = {m.room_id for m in messages if m.room.kind in NOTIFYING_KINDS}
    for room_id, user_id in Room.members.through.objects.filter(room_id__in=notifying_rooms).values_list(
        "room_id", "user_id"
    ):
        members[room_id].add(user_id)
    mentions: dict[int, set[int]] = defaultdict(set)
    for message_id, user_id in Message.mentions.through.objects.filter(
        message_id__in=[m.pk for m in messages]
    ).values_list("message_id", "user_id"):
        mentions[message_id].add(user_id)

    recipients: dict[int, list[Message]] = defaultdict(list)
    for message in messages:
        for user_id in (members.get(message.room_id, set()) | mentions.get(message.pk, set())) - {message.author_id}:
            if user_id not in exclude_user_ids:
                recipients[user_id].append(message)
    if not recipients:
        return []

    users = {u.pk: u for u in User.objects.filter(pk__in=recipients, is_active=True)}
    choices = {c.user_id: c for c in Preferences.objects.filter(user_id__in=users)}
    Digest.objects.bulk_create([Digest(user_id=pk) for pk in users], ignore_conflicts=True)
    digests = {d.user_id: d for d in Digest.objects.filter(user_id__in=users)}
    states = {
        (s.user_id, s.room_id): s
        for s in ReadState.objects.filter(user_id__in=users, room_id__in={m.room_id for m in messages})
    }
    pending = []
    for user_id, user in users.items():
        digest = digests[user_id]
        item = Pending(user=user, choices=choices.get(user_id) or Preferences(user_id=user_id), digest=digest)
        for message in recipients[user_id]:
            state = states.get((user_id, message.room_id))
            mentioned = user_id in mentions.get(message.pk, ())
            if state is not None and (message.pk <= state.last_read_id or (state.muted and not mentioned)):
                continue
            # A mention stays news only while its room is readable (members leave groups).
            if message.room_id not in members and not can_read(room=message.room, user=user):
                continue
            item.messages.append(message)
            if mentioned:
                item.mentioned.add(message.pk)
        if item.messages:
            pending.append(item)
    return pending


def push_subscriptions(*, user_ids: Collection[int]) -> dict[int, list[PushSubscription]]:
    found: dict[int, list[PushSubscription]] = defaultdict(list)
    for subscription in PushSubscription.objects.filter(user_id__in=user_ids).order_by("pk"):
        found[subscription.user_id].append(subscription)
    return found
