"""Search: every word as a prefix, only rooms the user may read, never deleted
messages, matches marked in an escaped excerpt; the same on SQLite (FTS5) and
PostgreSQL (GIN)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from rooms import search, services

pytestmark = pytest.mark.django_db


@pytest.fixture
def rooms(make_user, public_room):
    """alice and bob share a group; carol and dave a private room; an order room
    is readable by staff; each room has a message about 'boosting'."""
    alice, bob, carol, dave = (make_user(name) for name in ("alice", "bob", "carol", "dave"))
    manager = make_user("manager", role="manager")
    group = services.room_create_group(creator=alice, name="squad")
    group.members.add(bob)
    private = services.room_get_or_create_private(user=carol, other=dave)
    order = services.room_create_for_order(name="order-1-staff", title="Order 1", members=[carol])
    posts = {
        "public": services.message_post(room=public_room, author=dave, body="Public: boosting tonight?"),
        "group": services.message_post(room=group, author=bob, body="Squad: Boosting to **Gold** <b>now</b>"),
        "private": services.message_post(room=private, author=carol, body="Private: boosting secrets"),
        "order": services.message_post(room=order, author=carol, body="Order: boosting progress"),
    }
    people = {"alice": alice, "bob": bob, "carol": carol, "dave": dave, "manager": manager}
    return people, posts, {"group": group, "private": private, "order": order, "public": public_room}


# Who finds which room's message for "boost".
MATRIX = {
    "alice": {"public", "group"},
    "bob": {"public", "group"},
    "carol": {"public", "private", "order"},
    "dave": {"public", "private"},
    "manager": {"public", "order"},
}


@pytest.mark.parametrize("who", sorted(MATRIX))
def test_search_finds_only_rooms_the_user_may_read(rooms, who):
    people, posts, _ = rooms
    hits = search.messages_search(user=people[who], query="boost")
    assert {room for room, message in posts.items() if message.pk in {hit.message.pk for hit in hits}} == MATRIX[who]


def test_a_room_scope_narrows_and_removed_members_find_nothing_there(rooms):
    people, posts, by_name = rooms
    hits = search.messages_search(user=people["bob"], query="boost", room=by_name["group"])
    assert [hit.message.pk for hit in hits] == [posts["group"].pk]
    by_name["group"].members.remove(people["bob"])
    hits = search.messages_search(user=people["bob"], query="boost")
    assert [hit.message.pk for hit in hits] == [posts["public"].pk]


def test_every_word_must_match_as_a_prefix_and_operators_are_words(rooms):
    people, posts, _ = rooms
    alice = people["alice"]
    assert [h.message.pk for h in search.messages_search(user=alice, query="squad GOLD")] == [posts["group"].pk]
    assert search.messages_search(user=alice, query="squad tonight") == []
    for hostile in ('" OR 1=1 --', "boost | !gold & (", "NEAR(a b)", "*", "'; DROP TABLE rooms_message; --"):
        search.messages_search(user=alice, query=hostile)  # no syntax error, whatever it finds
    assert search.messages_search(user=alice, query="   ") == []


def test_deleted_and_edited_messages_are_found_as_they_are_now(rooms):
    people, posts, _ = rooms
    bob = people["bob"]
    services.message_edit(message=posts["group"], by=bob, body="Squad: farming instead")
    assert posts["group"].pk not in {h.message.pk for h in search.messages_search(user=bob, query="boosting")}
    assert [h.message.pk for h in search.messages_search(user=bob, query="farming")] == [posts["group"].pk]
    services.message_delete(message=posts["group"], by=bob)
    assert search.messages_search(user=bob, query="farming") == []


def test_matches_are_marked_in_an_escaped_excerpt(rooms):
    people, posts, _ = rooms
    (hit,) = search.messages_search(user=people["bob"], query="gold now", room=rooms[2]["group"])
    assert str(hit.excerpt) == "Squad: Boosting to **<mark>Gold</mark>** &lt;b&gt;<mark>now</mark>&lt;/b&gt;"


def test_search_page_links_to_the_message_and_costs_the_same_queries_for_more_hits(
    rooms, client_for, django_assert_num_queries
):
    people, posts, by_name = rooms
    client = client_for(people["alice"])
    response = client.get("/chat/search/", {"q": "boost"})
    body = response.content.decode()
    assert f"/chat/squad/?around={posts['group'].pk}#message-{posts['group'].pk}" in body
    assert "<mark>Boosting</mark>" in body and "secrets" not in body

    def count(query: str) -> int:
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert client.get("/chat/search/", {"q": query}).status_code == 200
        return len(queries.captured_queries)

    few = count("boost")
    for n in range(20):
        services.message_post(room=by_name["group"], author=people["bob"], body=f"boost number {n}")
    assert count("boost") == few


def test_search_in_a_room_the_user_cannot_read_is_a_404(rooms, client_for):
    people, _, by_name = rooms
    assert (
        client_for(people["alice"]).get("/chat/search/", {"q": "boost", "room": by_name["private"].name}).status_code
        == 404
    )
    assert client_for(None).get("/chat/search/", {"q": "boost"}).status_code == 302


def test_postgres_search_uses_the_gin_index(rooms):
    if connection.vendor != "postgresql":
        pytest.skip("the GIN index exists on PostgreSQL only")
    people, _, _ = rooms
    from rooms.models import Message

    rows = search._matching(Message.objects.all(), ["boost"])
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        sql, params = rows.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET enable_seqscan = on")
    assert "message_body_search" in plan


# THE JSON API: /api/search/ and /api/rooms/<name>/search/


def api_ids(client, url: str, **params) -> list[int]:
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    return [result["id"] for result in response.json()["results"]]


@pytest.mark.parametrize("who", sorted(MATRIX))
def test_api_search_finds_only_rooms_the_user_may_read(rooms, who, client_for):
    people, posts, by_name = rooms
    client = client_for(people[who])
    found = set(api_ids(client, "/api/search/", q="boost"))
    assert {room for room, message in posts.items() if message.pk in found} == MATRIX[who]
    # One room at a time: its message for a reader, a 404 like a missing room for anyone else.
    for label, room in by_name.items():
        response = client.get(f"/api/rooms/{room.name}/search/", {"q": "boost"})
        if label in MATRIX[who]:
            assert [r["id"] for r in response.json()["results"]] == [posts[label].pk]
        else:
            assert response.status_code == 404 and response.json() == {"error": "No such room."}


def test_api_search_result_has_room_author_excerpt_and_link(rooms, client_for):
    people, posts, _ = rooms
    body = client_for(people["alice"]).get("/api/rooms/squad/search/", {"q": "gold"}).json()
    message = posts["group"]
    assert body["query"] == "gold" and body["room"] == "squad" and body["more"] is False
    assert body["next_before"] is None
    assert body["results"] == [
        {
            "id": message.pk,
            "room": "squad",
            "room_title": "squad",
            "author": {"id": people["bob"].pk, "username": "bob", "avatar_url": None},
            "created": message.created.isoformat(),
            "excerpt_html": "Squad: Boosting to **<mark>Gold</mark>** &lt;b&gt;now&lt;/b&gt;",
            "url": f"/chat/squad/?around={message.pk}#message-{message.pk}",
        }
    ]


def test_api_search_never_finds_deleted_messages(rooms, client_for):
    people, posts, _ = rooms
    services.message_delete(message=posts["group"], by=people["bob"])
    client = client_for(people["alice"])
    assert posts["group"].pk not in api_ids(client, "/api/search/", q="boost")
    assert api_ids(client, "/api/rooms/squad/search/", q="boost") == []


def test_api_search_pages_newest_first_without_gaps_or_repeats(rooms, client_for):
    people, posts, by_name = rooms
    extra = [services.message_post(room=by_name["group"], author=people["bob"], body=f"boost {n}") for n in range(6)]
    expected = sorted([m.pk for m in extra] + [posts["group"].pk, posts["public"].pk], reverse=True)
    client = client_for(people["alice"])
    seen, before, pages = [], None, 0
    while True:
        params = {"q": "boost", "limit": 3, **({"before": before} if before else {})}
        body = client.get("/api/search/", params).json()
        seen += [result["id"] for result in body["results"]]
        pages += 1
        if not body["more"]:
            assert body["next_before"] is None
            break
        before = body["next_before"]
        assert before == seen[-1]
    assert seen == expected and pages == 3


@pytest.mark.parametrize(
    "params, error",
    [
        ({}, "q must contain at least one word."),
        ({"q": "  !! "}, "q must contain at least one word."),
        ({"q": "boost", "limit": "0"}, "before must be a message id and limit 1..100."),
        ({"q": "boost", "limit": "101"}, "before must be a message id and limit 1..100."),
        ({"q": "boost", "before": "x"}, "before must be a message id and limit 1..100."),
    ],
)
def test_api_search_bad_input_is_a_400_with_the_reason(rooms, client_for, params, error):
    people, _, _ = rooms
    response = client_for(people["alice"]).get("/api/search/", params)
    assert response.status_code == 400 and response.json() == {"error": error}


def test_api_search_needs_credentials_and_takes_a_token(rooms, client_for):
    from realtime import auth

    people, posts, _ = rooms
    assert client_for(None).get("/api/search/", {"q": "boost"}).status_code == 401
    assert client_for(None).get("/api/rooms/squad/search/", {"q": "boost"}).status_code == 401
    token = auth.token_issue(user=people["alice"])
    response = client_for(None).get("/api/search/", {"q": "squad"}, headers={"Authorization": f"Bearer {token}"})
    assert [r["id"] for r in response.json()["results"]] == [posts["group"].pk]


@pytest.mark.parametrize("url", ["/api/search/", "/api/rooms/squad/search/"])
def test_api_search_costs_the_same_queries_for_more_hits_and_authors(
    rooms, client_for, make_user, url, settings, tmp_path
):
    from django.test.utils import CaptureQueriesContext

    from accounts import services as account_services
    from tests.uploads.samples import image_bytes
    from uploads.validation import validate_upload

    settings.MEDIA_ROOT = tmp_path
    people, _, by_name = rooms
    client = client_for(people["alice"])

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url, {"q": "boost", "limit": 100}).status_code == 200
        return len(queries.captured_queries)

    few = count()
    for n in range(12):
        author = make_user(f"poster{n}")
        by_name["group"].members.add(author)
        if n % 2:
            picture = validate_upload(SimpleUploadedFile(f"p{n}.png", image_bytes()), images_only=True)
            account_services.avatar_set(user=author, image=picture)
        services.message_post(room=by_name["group"], author=author, body=f"boost number {n}")
    assert count() == few
