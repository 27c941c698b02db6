"""Read state in the pages: badges, the tab title, the new-messages divider,
receipts, the HTTP mark-as-read fallback, mutes and the /chat/ list."""

from __future__ import annotations

import re

import pytest

from rooms import services
from rooms.models import Message, ReadState

pytestmark = pytest.mark.django_db


def badge(body: str, room_id: int) -> tuple[str | None, str | None]:
    """(mentions, unread) shown in the first badge of a room; None when hidden."""
    match = re.search(rf'data-unread-badges="{room_id}">(.*?)</span></span>', body)
    assert match, "no badge for the room"
    parts = re.findall(r'class="(mention-count|unread-count)"[^>]*?( hidden)?>([^<]*)<', match.group(1) + "</span>")
    shown = {kind: (None if hidden else text) for kind, hidden, text in parts}
    return shown.get("mention-count"), shown.get("unread-count")


def test_badges_title_and_divider_show_what_is_unread(group, public_room, client_for):
    room, owner, member = group
    read = services.message_post(room=room, author=owner, body="old")
    services.room_mark_read(room=room, user=member, through=read.pk)
    first_unread = services.message_post(room=room, author=owner, body=f"@{member.username} new")
    services.message_post(room=room, author=owner, body="newer")

    body = client_for(member).get(f"/chat/{public_room.name}/").content.decode()
    assert "<title>(2) Public chat · Boostroom</title>" in body
    assert badge(body, room.pk) == ("@1", "2")
    assert re.search(r'id="unread-total"[^>]*>2<', body)

    body = client_for(member).get(f"/chat/{room.name}/").content.decode()
    divider = body.index('id="unread-divider"')
    assert body.index(f'id="message-{read.pk}"') < divider < body.index(f'id="message-{first_unread.pk}"')
    assert 'id="jump-unread"' in body
    assert body.count('id="unread-divider"') == 1


def test_badges_and_title_stop_at_99_plus(group, client_for):
    room, owner, member = group
    Message.objects.bulk_create(Message(room=room, author=owner, body=f"m{n}") for n in range(120))
    body = client_for(member).get(f"/chat/{room.name}/").content.decode()
    assert badge(body, room.pk) == (None, "99+")
    assert re.search(r'id="unread-total"[^>]*>99\+<', body)
    assert "<title>(99+) " in body
    # The page labels what it counts live the same way, from the same limit.
    assert 'data-shown-max="99"' in body


def test_a_room_read_to_the_end_has_no_divider_and_its_writer_sees_none(group, client_for):
    room, owner, member = group
    message = services.message_post(room=room, author=owner, body="hello")
    body = client_for(owner).get(f"/chat/{room.name}/").content.decode()
    assert 'id="unread-divider"' not in body  # own messages are never unread
    services.room_mark_read(room=room, user=member, through=message.pk)
    body = client_for(member).get(f"/chat/{room.name}/").content.decode()
    assert 'id="unread-divider"' not in body and badge(body, room.pk) == (None, None)


def test_an_older_page_carries_the_divider_when_the_first_unread_is_there(group, client_for):
    room, owner, member = group
    ids = [services.message_post(room=room, author=owner, body=f"m{n}").pk for n in range(40)]
    services.room_mark_read(room=room, user=member, through=ids[4])
    client = client_for(member)
    assert 'id="unread-divider"' not in client.get(f"/chat/{room.name}/").content.decode()
    older = client.get(f"/chat/older/{room.name}/?before={ids[10]}").content.decode()
    assert older.index(f'id="message-{ids[4]}"') < older.index('id="unread-divider"')
    assert older.index('id="unread-divider"') < older.index(f'id="message-{ids[5]}"')


def test_an_older_page_puts_the_divider_where_it_was_when_the_room_opened(group, client_for):
    room, owner, member = group
    ids = [services.message_post(room=room, author=owner, body=f"m{n}").pk for n in range(40)]
    services.room_mark_read(room=room, user=member, through=ids[4])
    client = client_for(member)
    page = client.get(f"/chat/{room.name}/").content.decode()
    # The page shows the newest and marks them read before its reader scrolls back.
    services.room_mark_read(room=room, user=member, through=ids[-1])
    sentinel = re.search(r'id="older-sentinel"[^>]*hx-get="([^"]+)"', page).group(1).replace("&amp;", "&")
    older = client.get(sentinel).content.decode()
    assert older.index(f'id="message-{ids[4]}"') < older.index('id="unread-divider"')
    assert older.index('id="unread-divider"') < older.index(f'id="message-{ids[5]}"')


def test_the_http_fallback_marks_read_forward_only(group, client_for):
    room, owner, member = group
    ids = [services.message_post(room=room, author=owner, body=f"m{n}").pk for n in range(3)]
    client = client_for(member)
    assert client.post(f"/chat/{room.name}/read/", {"through": ids[1]}).status_code == 204
    assert client.post(f"/chat/{room.name}/read/", {"through": ids[0]}).status_code == 204
    assert ReadState.objects.get(user=member, room=room).last_read_id == ids[1]
    response = client.post(f"/chat/{room.name}/read/", {"through": "lots"})
    assert response.status_code == 400 and b"non-negative message id" in response.content
    assert ReadState.objects.get(user=member, room=room).last_read_id == ids[1]


def test_receipts_are_shown_to_members_only(group, client_for, make_user):
    room, owner, member = group
    message = services.message_post(room=room, author=owner, body="seen?")
    services.room_mark_read(room=room, user=member, through=message.pk)
    body = client_for(owner).get(f"/chat/{room.name}/").content.decode()
    assert re.search(rf'id="read-receipts"[^>]*><i data-user="{member.pk}"[^>]*data-through="{message.pk}"', body)
    outsider = client_for(make_user())
    assert outsider.get(f"/chat/{room.name}/").status_code == 404
    assert outsider.post(f"/chat/{room.name}/read/", {"through": message.pk}).status_code == 404


def test_muting_from_the_room_page(group, client_for):
    room, owner, member = group
    client = client_for(member)
    response = client.post(f"/chat/{room.name}/mute/", {"muted": "1"}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Unmute" in response.content.decode()
    assert ReadState.objects.get(user=member, room=room).muted
    page = client.get("/accounts/settings/").content.decode()
    assert room.display_title in page
    assert client.post(f"/chat/{room.name}/mute/", {"muted": "0"}).status_code == 302
    assert not ReadState.objects.get(user=member, room=room).muted


def test_the_chat_list_shows_every_room_with_its_badge(group, public_room, client_for):
    room, owner, member = group
    services.message_post(room=room, author=owner, body="one")
    body = client_for(member).get("/chat/").content.decode()
    listed = re.search(r'id="chat-index">(.*?)</ul>', body, re.S).group(1)
    assert room.get_absolute_url() in listed and public_room.get_absolute_url() in listed
    assert badge(listed, room.pk) == (None, "1")


def test_a_page_that_meets_a_new_room_gets_every_list_again(make_user, client_for):
    alice, bob = make_user("alice"), make_user("bob")
    room = services.room_get_or_create_private(user=bob, other=alice)
    # Opening it tells nobody; its first message puts it in her lists.
    assert f'data-unread-badges="{room.pk}"' not in client_for(alice).get("/chat/lists/").content.decode()
    services.message_post(room=room, author=bob, body="psst")
    body = client_for(alice).get("/chat/lists/").content.decode()
    for list_id in ("room-list", "chat-index", "chat-dropdown-rooms"):
        assert re.search(rf'id="{list_id}" hx-swap-oob="true"', body), list_id
    assert body.count(f'data-unread-badges="{room.pk}"') == 3
