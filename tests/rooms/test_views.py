import json
import re

import pytest
from django.urls import reverse

from rooms import selectors, services
from rooms.models import Message, Room

pytestmark = pytest.mark.django_db


def shown_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'id="message-(\d+)"', response.content.decode())]


@pytest.fixture
def order_room(make_user):
    customer = make_user("customer")
    room = services.room_create_for_order(name="order-1-staff", title="Order 1", members=[customer])
    return room, customer


# Who may open which page: anonymous, non-member, member, room admin, staff.
@pytest.mark.parametrize(
    "who, status",
    [("anonymous", 302), ("outsider", 404), ("member", 200), ("owner", 200), ("admin", 404), ("manager", 404)],
)
def test_group_room_page_permissions(group, make_user, client_for, who, status):
    room, owner, member = group
    users = {"anonymous": None, "member": member, "owner": owner}
    user = users[who] if who in users else make_user(role={"outsider": "customer"}.get(who, who))
    response = client_for(user).get(f"/chat/{room.name}/")
    assert response.status_code == status


@pytest.mark.parametrize("who, status", [("customer", 200), ("manager", 200), ("admin", 200), ("booster", 404)])
def test_order_room_is_for_members_and_staff(order_room, make_user, client_for, who, status):
    room, customer = order_room
    user = customer if who == "customer" else make_user(role=who)
    assert client_for(user).get(f"/chat/{room.name}/").status_code == status


def test_public_room_shows_latest_30_messages_in_order(public_room, make_user, client_for):
    author = make_user()
    ids = [services.message_post(room=public_room, author=author, body=f"n{i}").pk for i in range(35)]
    response = client_for(author).get("/chat/public-chat/")
    shown = [m.pk for m in response.context["chat_messages"]]
    assert shown == ids[-30:]
    body = response.content.decode()
    assert 'ws-connect="/ws/chatroom/public-chat/"' in body
    assert f"before={ids[5]}" in body  # infinite scroll asks for what is older


def test_room_page_query_count_is_flat(public_room, make_user, client_for, django_assert_max_num_queries):
    viewer = make_user()
    client = client_for(viewer)
    client.get("/chat/public-chat/")

    def count_queries():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/chat/public-chat/").status_code == 200
        return len(ctx.captured_queries)

    for i in range(5):
        services.message_post(room=public_room, author=make_user(), body=f"a{i}")
    few = count_queries()
    for i in range(40):
        services.message_post(room=public_room, author=make_user(), body=f"b{i}")
    assert count_queries() == few


def test_older_is_keyset_and_never_duplicates(public_room, make_user, client_for):
    author = make_user()
    ids = [services.message_post(room=public_room, author=author, body=f"n{i}").pk for i in range(70)]
    client = client_for(author)
    page = client.get(f"/chat/older/public-chat/?before={ids[40]}")
    assert shown_ids(page) == ids[10:40]
    # New messages arriving between pages do not shift the next page.
    services.message_post(room=public_room, author=author, body="new")
    page = client.get(f"/chat/older/public-chat/?before={ids[10]}")
    assert shown_ids(page) == ids[:10]
    assert "older-sentinel" not in page.content.decode()
    assert client.get("/chat/older/public-chat/?before=abc").status_code == 400


def test_older_query_count_is_flat(public_room, make_user, client_for, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(make_user())
    lone_author = make_user()
    small = [services.message_post(room=public_room, author=lone_author, body=f"s{i}") for i in range(3)]
    full = [services.message_post(room=public_room, author=make_user(), body=f"f{i}") for i in range(30)]
    newest = services.message_post(room=public_room, author=lone_author, body="newest")
    client.get(f"/chat/older/public-chat/?before={newest.pk}")  # session and user warmed up

    with CaptureQueriesContext(connection) as small_page:
        response = client.get(f"/chat/older/public-chat/?before={full[0].pk}")
    assert shown_ids(response) == [m.pk for m in small]
    with django_assert_num_queries(len(small_page.captured_queries)):
        response = client.get(f"/chat/older/public-chat/?before={newest.pk}")
    assert shown_ids(response) == [m.pk for m in full]
    assert "older-sentinel" in response.content.decode()


EVIL_BODY = '<script>alert(1)</script><div hx-get="/admin/" hx-on::load="alert(2)">x</div>'


def assert_escaped(html: str) -> None:
    assert "<script>alert(1)" not in html and 'hx-get="/admin/"' not in html and 'hx-on::load="' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;div hx-get=&quot;/admin/&quot; hx-on::load=&quot;alert(2)&quot;&gt;" in html


def test_bodies_are_escaped_everywhere(public_room, make_user, client_for):
    author = make_user()
    client = client_for(author)
    stored = services.message_post(room=public_room, author=author, body=EVIL_BODY)
    newer = services.message_post(room=public_room, author=author, body="newer")
    assert_escaped(client.get("/chat/public-chat/").content.decode())
    older = client.get(f"/chat/older/public-chat/?before={newer.pk}").content.decode()
    assert f'id="message-{stored.pk}"' in older
    assert_escaped(older)
    fallback = client.post(
        "/chat/public-chat/messages/", {"body": EVIL_BODY, "client_id": "x1"}, HTTP_HX_REQUEST="true"
    )
    assert fallback.status_code == 201
    assert_escaped(fallback.content.decode())


def test_room_page_tells_the_upload_form_the_size_cap(group, client_for, settings):
    room, owner, _ = group
    settings.UPLOAD_MAX_BYTES = 123_456
    page = client_for(owner).get(f"/chat/{room.name}/").content.decode()
    assert 'data-max-bytes="123456"' in page


def test_private_room_link_creates_and_hides_from_third_user(make_user, client_for):
    alice, bob, eve = make_user("alice"), make_user("bob"), make_user("eve")
    response = client_for(alice).get("/chat/private/bob/")
    room = Room.objects.get(kind=Room.Kind.PRIVATE)
    assert response.status_code == 302 and response["Location"] == f"/chat/{room.name}/"
    assert client_for(bob).get(f"/chat/{room.name}/").status_code == 200
    assert client_for(eve).get(f"/chat/{room.name}/").status_code == 404
    assert client_for(eve).get(f"/api/rooms/{room.name}/messages/").status_code == 404
    assert client_for(alice).get("/chat/private/nobody/").status_code == 404


def test_new_group_page(make_user, client_for):
    client = client_for(make_user())
    assert client.get("/chat/new/").status_code == 200
    response = client.post("/chat/new/", {"name": "Bad Name", "title": ""})
    assert response.status_code == 422 and services.ROOM_NAME_INVALID in response.content.decode()
    response = client.post("/chat/new/", {"name": "duo-queue", "title": "Duo queue"})
    assert response.status_code == 302 and response["Location"] == "/chat/duo-queue/"


def test_invite_link_needs_verified_email(group, make_user, client_for):
    room, _, _ = group
    link = selectors.invite_live(room=room).get_absolute_url()
    unverified = make_user(verified=False)
    response = client_for(unverified).post(link)
    assert response.status_code == 403
    assert "verified email" in response.content.decode() and "Resend verification" in response.content.decode()
    assert not room.members.filter(pk=unverified.pk).exists()
    verified = make_user()
    client = client_for(verified)
    assert client.get(link).status_code == 200
    assert client.post(link).status_code == 302
    assert room.members.filter(pk=verified.pk).exists()


def test_edit_is_for_the_room_admin_only(group, make_user, client_for):
    room, owner, member = group
    assert client_for(member).get(f"/chat/{room.name}/edit/").status_code == 403
    assert client_for(make_user()).get(f"/chat/{room.name}/edit/").status_code == 404
    client = client_for(owner)
    assert client.get(f"/chat/{room.name}/edit/").status_code == 200
    response = client.post(
        f"/chat/{room.name}/edit/", {"title": "New title", "retention_days": "2", "remove": [member.pk]}
    )
    assert response.status_code == 302
    room.refresh_from_db()
    assert room.title == "New title" and not room.members.filter(pk=member.pk).exists()


@pytest.mark.parametrize(
    "who, status", [("outsider", 404), ("member", 403), ("manager", 404), ("admin", 302), ("owner", 302)]
)
def test_delete_permissions(group, make_user, client_for, who, status):
    room, owner, member = group
    user = {"owner": owner, "member": member}.get(who) or make_user(role={"outsider": "customer"}.get(who, who))
    response = client_for(user).post(f"/chat/{room.name}/delete/")
    assert response.status_code == status
    assert Room.objects.filter(pk=room.pk).exists() == (status != 302)


def test_delete_and_leave_ask_first_and_are_checked(group, client_for):
    room, owner, member = group
    assert client_for(member).get(f"/chat/{room.name}/delete/").status_code == 403
    assert client_for(member).post(f"/chat/{room.name}/delete/").status_code == 403
    assert client_for(member).get(f"/chat/{room.name}/leave/").status_code == 200
    assert client_for(member).post(f"/chat/{room.name}/leave/").status_code == 302
    assert not room.members.filter(pk=member.pk).exists()
    assert client_for(owner).post(f"/chat/{room.name}/delete/").status_code == 302
    assert not Room.objects.filter(pk=room.pk).exists()


def test_http_fallback_posts_and_returns_what_the_page_missed(public_room, make_user, client_for):
    author, other = make_user(), make_user()
    before = services.message_post(room=public_room, author=other, body="earlier")
    page_seq = Room.objects.get(pk=public_room.pk).last_seq  # what a page showing `before` holds
    missed = services.message_post(room=public_room, author=other, body="missed")
    client = client_for(author)
    response = client.post(
        "/chat/public-chat/messages/",
        {"body": "via http", "client_id": "fb-1", "seq": page_seq},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 201
    html = response.content.decode()
    mine = Message.objects.get(body="via http")
    assert f'id="message-{before.pk}"' not in html
    assert html.index(f'id="message-{missed.pk}"') < html.index(f'id="message-{mine.pk}"')
    assert f'data-seq="{page_seq + 2}"' in html  # the page's new position
    # A retry of the same send stores nothing new.
    client.post("/chat/public-chat/messages/", {"body": "via http", "client_id": "fb-1"}, HTTP_HX_REQUEST="true")
    assert Message.objects.filter(body="via http").count() == 1
    response = client.post("/chat/public-chat/messages/", {"body": " "}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and services.MESSAGE_EMPTY in response.content.decode()


def test_http_fallback_refuses_non_members(group, make_user, client_for):
    room, _, _ = group
    response = client_for(make_user()).post(f"/chat/{room.name}/messages/", {"body": "hi"})
    assert response.status_code == 404 and not Message.objects.exists()


def test_people_search(make_user, client_for):
    make_user("zed"), make_user("zara")
    response = client_for(make_user("me")).get(reverse("rooms:people"), {"q": "za"})
    assert "zara" in response.content.decode() and "zed" not in response.content.decode()


# JSON API


def test_api_get_and_post(public_room, make_user, client_for):
    user = make_user("poster")
    client = client_for(user)
    response = client.post(
        "/api/chat/messages/", json.dumps({"body": "  json hi ", "client_id": "j1"}), content_type="application/json"
    )
    assert response.status_code == 201
    data = response.json()
    assert data["body"] == "json hi" and data["author"] == {"id": user.pk, "username": "poster", "avatar_url": None}
    assert {"id", "created", "attachment", "room"} <= set(data)
    again = client.post(
        "/api/chat/messages/", json.dumps({"body": "json hi", "client_id": "j1"}), content_type="application/json"
    )
    assert again.json()["id"] == data["id"] and Message.objects.count() == 1
    second = services.message_post(room=public_room, author=user, body="second")
    listing = client.get("/api/chat/messages/", {"after": data["id"]}).json()
    assert [m["id"] for m in listing["messages"]] == [second.pk]
    listing = client.get("/api/rooms/public-chat/messages/", {"before": second.pk}).json()
    assert [m["id"] for m in listing["messages"]] == [data["id"]]


@pytest.mark.parametrize(
    "payload, error",
    [
        ("not json", "must be JSON"),
        ("[1]", "JSON object"),
        ('{"body": 5}', "body must be a string"),
        ('{"body": ""}', services.MESSAGE_EMPTY),
        (json.dumps({"body": "x" * 2001}), "at most 2000"),
    ],
)
def test_api_rejects_bad_input(public_room, make_user, client_for, payload, error):
    response = client_for(make_user()).post("/api/chat/messages/", payload, content_type="application/json")
    assert response.status_code == 400 and error in response.json()["error"]
    assert not Message.objects.exists()


def test_api_permissions(group, make_user, client_for):
    room, owner, _ = group
    assert client_for(None).get("/api/chat/messages/").status_code == 401
    assert client_for(make_user()).get(f"/api/rooms/{room.name}/messages/").status_code == 404
    assert client_for(owner).get(f"/api/rooms/{room.name}/messages/").status_code == 200
    assert client_for(owner).get("/api/chat/messages/", {"limit": "0"}).status_code == 400


def test_api_post_needs_csrf_token_with_session_auth(public_room, make_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user())
    response = client.post("/api/chat/messages/", '{"body": "x"}', content_type="application/json")
    assert response.status_code == 403 and not Message.objects.exists()


# ACTIONS OVER HTTP, VERSIONS, THE CHANGE STREAM


def test_http_fallback_edits_reacts_and_deletes_and_brings_the_page_up_to_date(group, client_for):
    room, owner, member = group
    message = services.message_post(room=room, author=owner, body="draft")
    seq = Room.objects.get(pk=room.pk).last_seq
    client = client_for(owner)
    url = f"/chat/{room.name}/messages/"

    response = client.post(
        url,
        {"type": "edit", "message": message.pk, "body": "final", "client_id": "e", "seq": seq},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200 and 'data-stored="e"' in html
    assert (
        re.search(f'<article id="message-{message.pk}"[^>]* hx-swap-oob="true"', html)
        and "final" in html
        and f'data-seq="{seq + 1}"' in html
    )

    react = {"type": "react", "message": message.pk, "emoji": "🎉", "on": "true", "seq": seq + 1}
    assert "🎉" in client_for(member).post(url, react, HTTP_HX_REQUEST="true").content.decode()
    response = client_for(member).post(url, {"type": "delete", "message": message.pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 403 and services.NOT_YOUR_MESSAGE in response.content.decode()
    assert client.post(url, {"type": "delete", "message": message.pk}, HTTP_HX_REQUEST="true").status_code == 200
    assert Message.objects.get(pk=message.pk).is_deleted
    assert client.post(url, {"type": "dance"}, HTTP_HX_REQUEST="true").status_code == 422


def test_earlier_versions_are_for_the_author_and_staff(group, make_user, client_for):
    room, owner, member = group
    manager = make_user(role="manager")
    room.members.add(manager)
    message = services.message_post(room=room, author=owner, body="first **try**")
    services.message_edit(message=message, by=owner, body="second try")
    url = f"/chat/{room.name}/messages/{message.pk}/versions/"
    for viewer in (owner, manager):
        response = client_for(viewer).get(url)
        assert response.status_code == 200 and "<strong>try</strong>" in response.content.decode()
    assert client_for(member).get(url).status_code == 403
    assert client_for(make_user()).get(url).status_code == 404


def test_the_room_opens_at_a_message_with_everything_after_it(group, client_for, settings):
    settings.CHAT_PAGE_SIZE = 5
    room, owner, _ = group
    ids = [services.message_post(room=room, author=owner, body=f"m{n}").pk for n in range(40)]
    body = client_for(owner).get(f"/chat/{room.name}/", {"around": ids[3]}).content.decode()
    assert shown_ids_in(body) == ids  # from a few before it through the newest
    body = client_for(owner).get(f"/chat/{room.name}/", {"around": ids[20]}).content.decode()
    assert shown_ids_in(body) == ids[10:] and "older-sentinel" in body
    # Unknown or foreign ids open the room as usual.
    assert shown_ids_in(client_for(owner).get(f"/chat/{room.name}/", {"around": 10**9}).content.decode()) == ids[-5:]


def shown_ids_in(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<article id="message-(\d+)"', html)]


def test_changes_api_pages_through_the_stream(group, client_for):
    room, owner, member = group
    first = services.message_post(room=room, author=owner, body="one")
    services.message_post(room=room, author=member, body="two", reply_to_id=first.pk)
    services.reaction_set(message=first, user=member, emoji="👍", on=True)
    services.message_delete(message=first, by=owner)
    client = client_for(member)
    data = client.get(f"/api/rooms/{room.name}/changes/", {"after": 0, "limit": 2}).json()
    assert [c["kind"] for c in data["changes"]] == ["posted", "posted"] and data["seq"] == 2 and data["more"]
    assert data["changes"][0]["message"]["deleted"] is not None  # the message as it is now
    data = client.get(f"/api/rooms/{room.name}/changes/", {"after": data["seq"]}).json()
    assert [(c["kind"], c["emoji"]) for c in data["changes"]] == [("reacted", "👍"), ("deleted", None)]
    assert data["seq"] == 4 and not data["more"]
    assert client.get(f"/api/rooms/{room.name}/changes/", {"after": 99}).json() == {
        "room": room.name,
        "seq": 4,
        "more": False,
        "changes": [],
    }
    assert client.get(f"/api/rooms/{room.name}/changes/", {"after": "x"}).status_code == 400
    assert client_for(None).get(f"/api/rooms/{room.name}/changes/").status_code == 401


def test_replies_reactions_and_edits_cost_no_query_per_message(group, make_user, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    room, owner, member = group
    client = client_for(member)

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries.captured_queries)

    plain = [services.message_post(room=room, author=owner, body=f"plain {n}") for n in range(3)]
    client.get(f"/chat/{room.name}/")
    few_page, few_older = count(f"/chat/{room.name}/"), count(f"/chat/older/{room.name}/?before={plain[-1].pk + 1}")
    for n in range(30):
        reader = make_user()
        room.members.add(reader)
        reply = services.message_post(room=room, author=reader, body=f"reply {n}", reply_to_id=plain[n % 3].pk)
        services.reaction_set(message=reply, user=member, emoji="👍", on=True)
        services.reaction_set(message=reply, user=reader, emoji="😂", on=True)
        services.message_edit(message=reply, by=reader, body=f"reply {n}, edited")
    assert count(f"/chat/{room.name}/") == few_page
    assert count(f"/chat/older/{room.name}/?before={reply.pk + 1}") == few_older


def test_json_api_edits_deletes_reacts_and_replies(group, make_user, client_for):
    room, owner, member = group
    base = f"/api/rooms/{room.name}/messages/"
    owner_api, member_api = client_for(owner), client_for(member)
    posted = owner_api.post(base, json.dumps({"body": "hello"}), content_type="application/json").json()
    reply = member_api.post(base, json.dumps({"body": "hi", "reply_to": posted["id"]}), content_type="application/json")
    assert reply.status_code == 201 and reply.json()["reply_to"] == posted["id"]

    url = f"{base}{posted['id']}/"
    edited = owner_api.patch(url, json.dumps({"body": "hello **all**"}), content_type="application/json")
    assert edited.status_code == 200 and edited.json()["body_html"] == "<p>hello <strong>all</strong></p>"
    assert edited.json()["edited"] is not None
    refused = member_api.patch(url, json.dumps({"body": "mine now"}), content_type="application/json")
    assert refused.status_code == 403 and refused.json() == {"error": services.NOT_YOUR_MESSAGE}

    reacted = member_api.post(
        f"{url}reactions/", json.dumps({"emoji": "👍", "on": True}), content_type="application/json"
    )
    assert reacted.json()["reactions"] == [{"emoji": "👍", "users": [{"id": member.pk, "username": member.username}]}]
    assert member_api.post(f"{url}reactions/", "{}", content_type="application/json").status_code == 400

    assert member_api.delete(url).status_code == 403
    deleted = owner_api.delete(url)
    assert deleted.status_code == 200 and deleted.json()["deleted"] and deleted.json()["body"] == ""
    assert owner_api.delete(f"{base}{10**9}/").status_code == 404
    assert client_for(make_user()).delete(url).status_code == 404
    assert client_for(None).delete(url).status_code == 401
