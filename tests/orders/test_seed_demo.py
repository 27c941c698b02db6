"""`manage.py seed_demo` also fills the chat: a group, a private room, messages."""

import io

import pytest
from django.core.management import call_command

from orders.management.commands.seed_demo import DEMO_GROUP
from rooms.models import PUBLIC_ROOM_NAME, Message, Room

pytestmark = pytest.mark.django_db


def chat_state() -> dict:
    return {
        room.name: (
            room.kind,
            room.admin.username if room.admin else None,
            sorted(m.username for m in room.members.all()),
        )
        for room in Room.objects.exclude(kind=Room.Kind.ORDER).select_related("admin").prefetch_related("members")
    }


def test_seed_demo_creates_rooms_and_messages_once():
    call_command("seed_demo", stdout=io.StringIO())
    state = chat_state()
    assert state[DEMO_GROUP] == (Room.Kind.GROUP, "alice", ["alice", "bob", "booster1", "carol"])
    (private,) = [name for name, (kind, _, _) in state.items() if kind == Room.Kind.PRIVATE]
    assert state[private][2] == ["alice", "bob"]
    public = Message.objects.filter(room__name=PUBLIC_ROOM_NAME).select_related("author")
    assert public.count() == 3 and {m.author.username for m in public} == {"alice", "bob", "booster1"}
    assert Message.objects.filter(room__name=DEMO_GROUP).count() == 2
    assert Message.objects.filter(room__name=private).count() == 1
    messages = Message.objects.count()

    call_command("seed_demo", stdout=io.StringIO())
    assert chat_state() == state
    assert Message.objects.count() == messages
