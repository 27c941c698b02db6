"""A push that fails after the commit never fails the action that made the change:
the change is stored, and whoever missed the push catches up."""

from __future__ import annotations

import pytest

from accounts import services as account_services
from orders import services as order_services
from orders.models import BoosterApproval
from realtime import fanout
from rooms import services as room_services
from rooms.models import Room

pytestmark = pytest.mark.django_db


class LayerAway:
    async def group_send(self, group, message):
        raise ConnectionError("the channel layer is away")


@pytest.fixture
def layer_away(monkeypatch):
    monkeypatch.setattr(fanout, "get_channel_layer", LayerAway)


def test_every_push_failing_after_commit_leaves_the_action_done(
    make_user, layer_away, django_capture_on_commit_callbacks
):
    owner, member, booster, staff = make_user(), make_user(), make_user(role="booster"), make_user(role="admin")
    with django_capture_on_commit_callbacks(execute=True) as pushes:
        room = room_services.room_create_group(creator=owner, name="squad")
        room_services.room_add_member(room=room, by=owner, username=member.username)
        message = room_services.message_post(room=room, author=owner, body="hello")
        room_services.room_mark_read(room=room, user=member, through=message.pk)
        room_services.room_mute(room=room, user=member, muted=True)
        account_services.preferences_update(user=member, theme="dark")
        order_services.booster_approval_set(booster=booster, game="valorant", max_tier="radiant", by=staff)
    assert pushes  # every action above scheduled at least one push, and each one failed quietly
    room = Room.objects.get(pk=room.pk)
    assert room.members.filter(pk=member.pk).exists()
    assert room_services.selectors.read_pointer(room=room, user=member) == message.pk
    assert member.preferences.theme == "dark"
    assert BoosterApproval.objects.filter(booster=booster, game="valorant").exists()
