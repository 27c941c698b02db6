"""The chat pages around the rooms: /chat/ and the support inbox, private rooms
that tell nobody until their first message, leaving and deleting that ask first,
adding members by username, and what a page gets once its room is gone."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape

from notifications.services import notifications_send_due
from rooms import broadcasts, selectors, services
from rooms.models import Message, Room
from tests.orders.conftest import place

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def entries(html: str, list_id: str) -> list[str]:
    """The room URLs of one list on a page, in order."""
    section = html.split(f'id="{list_id}"', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'<a href="(/chat/[^"]+/)"', section)


def aged(message: Message, minutes: int) -> None:
    """Pretend `message` (and its room's activity) is `minutes` old."""
    when = timezone.now() - timedelta(minutes=minutes)
    Message.objects.filter(pk=message.pk).update(created=when)
    Room.objects.filter(pk=message.room_id).update(last_message_at=when)


def test_chat_index_lists_rooms_newest_activity_first_with_kind_and_last_message(
    group, public_room, make_user, client_for
):
    room, owner, member = group
    aged(services.message_post(room=public_room, author=member, body="gg everyone"), 30)
    aged(services.message_post(room=room, author=member, body="**duo** at 8?"), 5)
    quiet = services.room_create_group(creator=owner, name="quiet-room", title="Quiet")

    response = client_for(owner).get("/chat/")
    html = response.content.decode()
    assert response.status_code == 200
    assert entries(html, "chat-index") == [room.get_absolute_url(), public_room.get_absolute_url(), "/chat/quiet-room/"]
    listing = html.split('id="chat-index"', 1)[1]
    row = listing.split(f'href="{room.get_absolute_url()}"', 1)[1].split("</li>", 1)[0]
    assert "The Squad" in row and "Group" in row and "member: **duo** at 8?" in row
    assert "No messages yet." in listing.split('href="/chat/quiet-room/"', 1)[1].split("</li>", 1)[0]
    assert quiet.pk and 'id="support-inbox"' not in html  # customers have no support inbox


def test_chat_index_query_count_is_flat(group, make_user, client_for, django_assert_max_num_queries):
    room, owner, _ = group
    client = client_for(owner)
    client.get("/chat/")
    for index in range(15):
        extra = services.room_create_group(creator=owner, name=f"extra-{index}", title=f"Extra {index}")
        services.message_post(room=extra, author=owner, body=f"hello {index}")
    with django_assert_max_num_queries(12):
        assert client.get("/chat/").status_code == 200


@pytest.mark.parametrize("url", ["/", "/chat/public-chat/"])
def test_a_page_reads_the_users_chat_list_once_for_its_header(group, client_for, url):
    """The chat dropdown and the unread badges' state are of the same rooms: one read."""
    room, owner, _ = group
    client = client_for(owner)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url).content.decode()
    chat_list = connection.ops.quote_name("rooms_room_members")
    reads = [q["sql"] for q in queries.captured_queries if "DISTINCT" in q["sql"] and f"JOIN {chat_list}" in q["sql"]]
    # The room page's own sidebar lists them again, from its view.
    assert len(reads) == (1 if url == "/" else 2)
    assert 'id="chat-dropdown-rooms"' in page and f'data-unread-badges="{room.pk}"' in page


def test_staff_see_every_order_room_they_may_enter_newest_first(make_user, client_for):
    customer, other = make_user("cust"), make_user("cust2")
    older = place(customer)
    newer = place(other, current_rank="gold", desired_rank="platinum")
    aged(services.message_post(room=older.staff_room, author=customer, body="where is my booster?"), 1)
    aged(services.message_post(room=newer.staff_room, author=other, body="hello support"), 20)

    for role in ("manager", "admin"):
        html = client_for(make_user(role=role)).get("/chat/").content.decode()
        assert entries(html, "support-inbox") == [
            older.staff_room.get_absolute_url(),
            newer.staff_room.get_absolute_url(),
        ]
        assert "cust: where is my booster?" in html
    customer_page = client_for(customer).get("/chat/").content.decode()
    assert 'id="support-inbox"' not in customer_page
    assert newer.staff_room.get_absolute_url() not in customer_page


def test_opening_a_private_room_mails_nobody_and_lists_it_for_the_opener_only(make_user, client_for, public_room):
    alice, bob = make_user("alice"), make_user("bob")
    response = client_for(alice).get("/chat/private/bob/")
    room = Room.objects.get(kind=Room.Kind.PRIVATE)
    assert response.status_code == 302 and response["Location"] == room.get_absolute_url()
    assert mail.outbox == []
    assert room.get_absolute_url() in entries(client_for(alice).get("/chat/").content.decode(), "chat-index")
    assert room.get_absolute_url() not in entries(client_for(bob).get("/chat/").content.decode(), "chat-index")
    # The link keeps landing on the pair's one room, from either side.
    assert client_for(bob).get("/chat/private/alice/")["Location"] == room.get_absolute_url()
    assert Room.objects.filter(kind=Room.Kind.PRIVATE).count() == 1


def test_the_first_private_message_puts_the_room_in_the_others_list_and_mails_them(
    make_user, client_for, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://boost.example"
    alice, bob = make_user("alice"), make_user("bob")
    client = client_for(alice)
    room_url = client.get("/chat/private/bob/")["Location"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"{room_url}messages/", {"body": "ready for ranked?"}, **HTMX)
    assert room_url in entries(client_for(bob).get("/chat/").content.decode(), "chat-index")
    assert notifications_send_due(now=timezone.now() + timedelta(hours=1)).emails == 1
    assert [m.to for m in mail.outbox] == [[bob.email]]
    assert f"https://boost.example{room_url}" in mail.outbox[0].body and "ready for ranked?" in mail.outbox[0].body


def test_leaving_asks_the_admin_for_a_successor(group, make_user, client_for):
    room, owner, member = group
    client = client_for(owner)
    page = client.get(f"/chat/{room.name}/leave/").content.decode()
    assert 'name="successor"' in page and f'value="{member.pk}">{member.username}' in page
    refused = client.post(f"/chat/{room.name}/leave/")
    assert refused.status_code == 422 and escape(services.SUCCESSOR_REQUIRED) in refused.content.decode()
    assert Room.objects.filter(pk=room.pk, admin=owner, members=owner).exists()
    done = client.post(f"/chat/{room.name}/leave/", {"successor": member.pk})
    assert done.status_code == 302 and done["Location"] == "/chat/"
    assert Room.objects.filter(pk=room.pk, admin=member).exclude(members=owner).exists()


def test_the_last_member_is_sent_to_delete_with_a_warning(group, client_for):
    room, owner, member = group
    services.room_leave(room=room, user=member)
    services.message_post(room=room, author=owner, body="last words")
    client = client_for(owner)
    leave = client.get(f"/chat/{room.name}/leave/").content.decode()
    assert f'href="/chat/{room.name}/delete/"' in leave and 'name="successor"' not in leave
    refused = client.post(f"/chat/{room.name}/leave/")
    assert refused.status_code == 422 and escape(services.LAST_MEMBER_DELETES) in refused.content.decode()
    warning = client.get(f"/chat/{room.name}/delete/")
    assert warning.status_code == 200 and "1 message and their files" in warning.content.decode()
    assert Room.objects.filter(pk=room.pk).exists()  # asking deleted nothing
    assert client.post(f"/chat/{room.name}/delete/")["Location"] == "/chat/"
    assert not Room.objects.filter(pk=room.pk).exists()


def test_the_room_page_links_to_the_questions_not_to_the_actions(group, client_for):
    room, owner, _ = group
    html = client_for(owner).get(room.get_absolute_url()).content.decode()
    assert f'href="/chat/{room.name}/leave/"' in html and f'href="/chat/{room.name}/delete/"' in html
    assert f'action="/chat/{room.name}/leave/"' not in html and f'action="/chat/{room.name}/delete/"' not in html


def test_the_admin_adds_a_member_by_username(
    group, make_user, client_for, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://boost.example"
    room, owner, member = group
    newcomer = make_user("newcomer")
    client = client_for(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/chat/{room.name}/members/", {"username": "NewComer"}, follow=True)
    assert response.redirect_chain == [(f"/chat/{room.name}/edit/", 302)]
    assert "newcomer is in The Squad now." in response.content.decode()
    assert room.members.filter(pk=newcomer.pk).exists()
    assert [m.to for m in mail.outbox] == [[newcomer.email]]
    assert f"https://boost.example/chat/{room.name}/" in mail.outbox[0].body
    assert client_for(newcomer).get(room.get_absolute_url()).status_code == 200


@pytest.mark.parametrize(
    "username, error",
    [
        ("ghost", services.ADD_UNKNOWN_USER.format(username="ghost")),
        ("member", services.ADD_ALREADY_MEMBER.format(username="member")),
        ("unverified", services.ADD_NOT_VERIFIED.format(username="unverified")),
    ],
)
def test_adding_by_username_refuses_with_the_reason_inline(group, make_user, client_for, username, error):
    room, owner, _ = group
    make_user("unverified", verified=False)
    before = set(room.members.values_list("pk", flat=True))
    response = client_for(owner).post(f"/chat/{room.name}/members/", {"username": username})
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="add-error"' in html and escape(error) in html
    assert set(room.members.values_list("pk", flat=True)) == before and mail.outbox == []


def test_only_the_admin_adds_members(group, make_user, client_for):
    room, _, member = group
    make_user("newcomer")
    assert client_for(member).post(f"/chat/{room.name}/members/", {"username": "newcomer"}).status_code == 403
    assert not room.members.filter(username="newcomer").exists()


def test_a_page_whose_room_is_gone_gets_the_notice_in_place(group, client_for):
    room, owner, member = group
    services.room_update(room=room, by=owner, title=room.title, retention_days=None, remove_user_ids=[member.pk])
    response = client_for(member).post(f"/chat/{room.name}/messages/", {"body": "still here?"}, **HTMX)
    assert response.status_code == 403
    assert response.content.decode() == broadcasts.room_gone_fragment(broadcasts.GONE_DEFAULT)
    assert not Message.objects.filter(room=room).exists()
    # Without htmx, and for a room that never existed, it is the same 404 as ever.
    assert client_for(member).post(f"/chat/{room.name}/messages/", {"body": "x"}).status_code == 404
    unknown = client_for(member).post("/chat/nowhere/messages/", {"body": "x"}, **HTMX)
    assert unknown.status_code == 403 and unknown.content == response.content


def test_a_refused_send_is_422_and_too_fast_is_429(public_room, make_user, client_for, settings):
    client = client_for(make_user())
    assert client.post("/chat/public-chat/messages/", {"body": "x" * 2001}, **HTMX).status_code == 422
    settings.CHAT_RATE_LIMIT = (1, 10)
    assert client.post("/chat/public-chat/messages/", {"body": "one"}, **HTMX).status_code == 201
    too_fast = client.post("/chat/public-chat/messages/", {"body": "two"}, **HTMX)
    assert too_fast.status_code == 429 and services.MESSAGE_RATE_LIMITED in too_fast.content.decode()
    # Edits and reactions have their own count, and the same answer past it.
    message = Message.objects.get(body="one")
    react = {"type": "react", "message": message.pk, "emoji": "🎉", "on": "true"}
    assert client.post("/chat/public-chat/messages/", react, **HTMX).status_code == 200
    again = client.post("/chat/public-chat/messages/", {**react, "on": "false"}, **HTMX)
    assert again.status_code == 429 and escape(services.ACTION_RATE_LIMITED) in again.content.decode()
    assert message.reactions.count() == 1


def test_the_api_docs_name_the_answers_to_sending_too_fast(public_room, make_user, client_for, settings):
    """docs/api.md's limits table says what each way of sending answers past the limit."""
    client = client_for(make_user())
    settings.CHAT_RATE_LIMIT = (1, 10)
    client.post("/chat/public-chat/messages/", {"body": "one"}, **HTMX)
    fallback = client.post("/chat/public-chat/messages/", {"body": "two"}, **HTMX).status_code
    api = client.post("/api/chat/messages/", {"body": "three"}, content_type="application/json").status_code
    docs = (Path(django_settings.BASE_DIR) / "docs" / "api.md").read_text()
    [row] = [line for line in docs.splitlines() if line.startswith("| messages per user per room |")]
    assert f"`{fallback}` with the fragment from the page's HTTP fallback" in row, row
    assert f"`{api}` from the JSON API" in row, row
    # Too fast is its own answer on every way of sending, and nothing is stored.
    assert fallback == api == 429
    assert not Message.objects.filter(body__in=["two", "three"]).exists()


def test_selectors_support_inbox_is_empty_for_non_staff(make_user):
    assert selectors.support_inbox(user=make_user(role="booster")) == []


def test_the_lists_a_page_refetches_keep_the_last_message(group, client_for):
    """/chat/lists/ (a page that met a new room) renders /chat/'s list as /chat/ does."""
    room, owner, member = group
    services.message_post(room=room, author=member, body="fresh news")
    body = client_for(owner).get("/chat/lists/").content.decode()
    listing = body.split('id="chat-index"', 1)[1]
    assert "member: fresh news" in listing.split(f'href="{room.get_absolute_url()}"', 1)[1].split("</li>", 1)[0]


def test_a_member_added_by_username_starts_reading_at_the_newest_message(group, make_user):
    room, owner, member = group
    services.message_post(room=room, author=member, body="before you came")
    newcomer = make_user("newcomer")
    services.room_add_member(room=room, by=owner, username="newcomer")
    assert selectors.unread_counts(user=newcomer, room_ids=[room.pk])[room.pk].unread == 0
