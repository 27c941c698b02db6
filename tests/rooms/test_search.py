"""Search: every word as a prefix, only rooms the user may read, never deleted
messages, matches marked in an escaped excerpt; the same on SQLite (FTS5) and
PostgreSQL (GIN)."""

from __future__ import annotations

import pytest
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
