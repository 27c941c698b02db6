"""Group invites are unguessable tokens the room's admin can replace, revoke or
let expire; a room's name grants nothing, and a removed member's old link does
not let them back in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from django.utils.html import escape

from rooms import selectors, services
from rooms.models import Message, Room, RoomInvite


def link_of(room: Room) -> str:
    return selectors.invite_live(room=room).get_absolute_url()


def members(room: Room) -> set[str]:
    return set(room.members.values_list("username", flat=True))


@pytest.mark.django_db
class TestJoining:
    def test_the_room_name_grants_nothing(self, group, make_user, client_for):
        room, _, _ = group
        stranger = make_user("stranger")
        client = client_for(stranger)
        for method in (client.get, client.post):
            assert method(f"/chat/{room.name}/join/").status_code == 404
            assert method(f"/chat/join/{room.name}/").status_code == 404
        assert client.get(f"/chat/{room.name}/").status_code == 404
        assert client.get(f"/api/rooms/{room.name}/messages/").status_code == 404
        assert "stranger" not in members(room)

    def test_a_valid_link_lets_a_verified_user_in(self, group, make_user, client_for):
        room, _, _ = group
        services.message_post(room=room, author=room.admin, body="history")
        client = client_for(make_user("invited"))
        page = client.get(link_of(room))
        assert page.status_code == 200 and "Join the group" in page.content.decode()
        assert "history" not in page.content.decode()
        response = client.post(link_of(room))
        assert response.status_code == 302 and response["Location"] == f"/chat/{room.name}/"
        assert "invited" in members(room)
        # Once in, the link just leads to the room.
        assert client.get(link_of(room))["Location"] == f"/chat/{room.name}/"

    @pytest.mark.parametrize("token", ["garbage", "x" * 64, "squad"])
    def test_an_unknown_token_is_refused_and_changes_nothing(self, group, make_user, client_for, token):
        room, _, _ = group
        response = client_for(make_user("guesser")).post(f"/chat/join/{token}/")
        assert response.status_code == 404
        assert escape(services.INVITE_INVALID) in response.content.decode()
        assert "guesser" not in members(room)

    def test_tokens_are_long_random_and_unrelated_to_the_name(self, make_user):
        owner = make_user()
        tokens = {
            selectors.invite_live(room=services.room_create_group(creator=owner, name=f"room-{n}")).token
            for n in range(5)
        }
        assert len(tokens) == 5 and all(len(token) >= 32 and "room" not in token for token in tokens)

    def test_a_replaced_link_stops_working_and_the_new_one_works(self, group, make_user, client_for):
        room, owner, _ = group
        old = link_of(room)
        services.invite_regenerate(room=room, by=owner)
        new = link_of(room)
        assert new != old
        client = client_for(make_user("late"))
        assert client.post(old).status_code == 404 and "late" not in members(room)
        assert client.post(new).status_code == 302 and "late" in members(room)

    def test_a_revoked_link_stops_working(self, group, make_user, client_for):
        room, owner, _ = group
        old = link_of(room)
        services.invite_revoke(room=room, by=owner)
        assert selectors.invite_live(room=room) is None
        response = client_for(make_user("late")).post(old)
        assert response.status_code == 404 and "late" not in members(room)

    def test_an_expired_link_stops_working(self, group, make_user, client_for):
        room, owner, _ = group
        invite = services.invite_regenerate(room=room, by=owner, expires_in_days=7)
        assert invite.expires_at - invite.created == timedelta(days=7)
        client = client_for(make_user("punctual"))
        assert client.get(invite.get_absolute_url()).status_code == 200
        # A week later (the row as it is then).
        RoomInvite.objects.filter(pk=invite.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        assert client.post(invite.get_absolute_url()).status_code == 404
        assert "punctual" not in members(room)

    def test_a_removed_member_cannot_rejoin_through_the_old_link(self, group, client_for):
        room, owner, member = group
        old = link_of(room)
        services.room_update(room=room, by=owner, title="Squad", retention_days=None, remove_user_ids=[member.pk])
        client = client_for(member)
        response = client.post(old)
        assert response.status_code == 403 and escape(services.INVITE_PREDATES_REMOVAL) in response.content.decode()
        assert member.username not in members(room)
        assert client.get(f"/chat/{room.name}/").status_code == 404
        # The admin can let them back in with a link made after the removal.
        services.invite_regenerate(room=room, by=owner)
        assert client.post(link_of(room)).status_code == 302 and member.username in members(room)

    def test_someone_who_left_may_come_back_through_the_link(self, group, client_for):
        room, _, member = group
        services.room_leave(room=room, user=member)
        assert client_for(member).post(link_of(room)).status_code == 302
        assert member.username in members(room)

    def test_a_removed_member_is_refused_by_the_service_too(self, group):
        room, owner, member = group
        token = selectors.invite_live(room=room).token
        services.room_update(room=room, by=owner, title="Squad", retention_days=None, remove_user_ids=[member.pk])
        with pytest.raises(services.RoomPermissionDenied):
            services.room_join_by_invite(token=token, user=member)
        with pytest.raises(services.ChatError, match="not valid"):
            services.room_join_by_invite(token="nope", user=member)
        assert member.username not in members(room)


@pytest.mark.django_db
class TestManaging:
    def test_only_the_admin_sees_and_manages_the_link(self, group, make_user, client_for):
        room, owner, member = group
        token = selectors.invite_live(room=room).token
        admin_page = client_for(owner).get(f"/chat/{room.name}/").content.decode()
        assert token in admin_page
        assert token not in client_for(member).get(f"/chat/{room.name}/").content.decode()
        assert token in client_for(owner).get(f"/chat/{room.name}/edit/").content.decode()
        for user, status in ((member, 403), (make_user("outsider"), 404)):
            for action in ("regenerate", "revoke"):
                response = client_for(user).post(f"/chat/{room.name}/invite/", {"action": action})
                assert response.status_code == status
        assert selectors.invite_live(room=room).token == token

    def test_the_admin_replaces_and_revokes_the_link_from_the_edit_page(self, group, client_for):
        room, owner, _ = group
        client = client_for(owner)
        old = selectors.invite_live(room=room).token
        response = client.post(f"/chat/{room.name}/invite/", {"action": "regenerate", "expires_days": "3"})
        assert response.status_code == 302 and response["Location"] == f"/chat/{room.name}/edit/#invite"
        invite = selectors.invite_live(room=room)
        assert invite.token != old and invite.expires_at is not None
        page = client.get(f"/chat/{room.name}/edit/").content.decode()
        assert f"/chat/join/{invite.token}/" in page and "Works until" in page
        assert client.post(f"/chat/{room.name}/invite/", {"action": "revoke"}).status_code == 302
        assert selectors.invite_live(room=room) is None
        assert 'id="invite-none"' in client.get(f"/chat/{room.name}/edit/").content.decode()

    @pytest.mark.parametrize("days", ["0", "366", "soon", "-1"])
    def test_a_bad_expiry_is_refused_inline_and_changes_nothing(self, group, client_for, days):
        room, owner, _ = group
        token = selectors.invite_live(room=room).token
        response = client_for(owner).post(f"/chat/{room.name}/invite/", {"action": "regenerate", "expires_days": days})
        assert response.status_code == 422
        assert 'id="invite-error"' in response.content.decode()
        assert escape(services.INVITE_EXPIRY_INVALID) in response.content.decode()
        assert selectors.invite_live(room=room).token == token


@pytest.mark.django_db(transaction=True)
def test_groups_made_before_invites_get_a_token_by_migration():
    executor = MigrationExecutor(connection)
    before, after = [("rooms", "0003_message_body_html_mentions")], [("rooms", "0004_invites")]
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    User = old_apps.get_model("auth", "User")
    owner = User.objects.create(username="old-owner")
    old_apps.get_model("rooms", "Room").objects.create(name="old-group", kind="group", title="Old", admin_id=owner.pk)
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    room = Room.objects.get(name="old-group")
    invite = selectors.invite_live(room=room)
    assert invite is not None and len(invite.token) >= 32 and invite.created_by_id == owner.pk
    assert not RoomInvite.objects.filter(room__kind=Room.Kind.PUBLIC).exists()
    assert Message.objects.count() == 0
