"""Initial presence rendered into pages from the store."""

from __future__ import annotations

import logging

import pytest
from django.template import Context, Template

from presence import selectors
from rooms.models import PUBLIC_ROOM_NAME, Room
from tests.conftest import go_online

pytestmark = pytest.mark.django_db


def render(source: str, **context) -> str:
    return Template("{% load presence_tags %}" + source).render(Context(context))


@pytest.fixture
def people(make_user):
    alice, bob, eve = make_user("alice"), make_user("bob"), make_user("eve")
    go_online(alice, eve)
    return alice, bob, eve


def test_dots_show_who_is_online_without_touching_the_database(people, django_assert_num_queries):
    alice, bob, _ = people
    with django_assert_num_queries(0):
        html = render(
            "{% online_dot a %}{% online_dot b %}{% include 'presence/dot.html' with person=a %}", a=alice, b=bob
        )
    assert html.count(f'class="dot presence-{alice.pk} dot-online"') == 2
    assert f'class="dot presence-{bob.pk}"' in html
    assert "hx-swap-oob" not in html


def test_room_counts(people):
    alice, bob, eve = people
    group = Room.objects.create(name="squad", kind=Room.Kind.GROUP)
    group.members.add(alice, bob)
    public, _ = Room.objects.get_or_create(name=PUBLIC_ROOM_NAME, defaults={"kind": Room.Kind.PUBLIC})

    assert render("{% room_online_count r %}", r=group).strip() == (
        f'<span class="room-online-{group.pk}" data-room-online="{group.pk}">1</span>'
    )
    assert f">{2}</span>" in render("{% room_online_count r %}", r=public)


def member_list(page: str) -> str:
    start = page.index('id="member-list"')
    return page[start : page.index("</div>", start)]


def test_room_pages_list_members_with_their_dots(people, client_for):
    alice, bob, eve = people
    group = Room.objects.create(name="squad", kind=Room.Kind.GROUP, admin=alice)
    group.members.add(alice, bob)
    private = Room.objects.create(name="private-be", kind=Room.Kind.PRIVATE)
    private.members.add(bob, eve)

    members = member_list(client_for(alice).get("/chat/squad/").content.decode())
    assert f'class="dot presence-{alice.pk} dot-online"' in members
    assert f'class="dot presence-{bob.pk}"' in members
    assert f"presence-{eve.pk}" not in members
    # In a private room that dot is the other participant's status.
    assert f'class="dot presence-{eve.pk} dot-online"' in member_list(
        client_for(bob).get("/chat/private-be/").content.decode()
    )


def test_every_page_gives_signed_in_users_the_socket_and_their_rooms(people, client_for):
    alice, bob, eve = people
    public, _ = Room.objects.get_or_create(name=PUBLIC_ROOM_NAME, defaults={"kind": Room.Kind.PUBLIC})
    theirs = Room.objects.create(name="private-be", kind=Room.Kind.PRIVATE)
    theirs.members.add(bob, eve)
    mine = Room.objects.create(name="private-ab", kind=Room.Kind.PRIVATE)
    mine.members.add(alice, bob)

    page = client_for(alice).get("/").content.decode()
    assert 'ws-connect="/ws/online-status/"' in page
    assert '<span id="online-count">2</span>' in page
    assert 'href="/chat/private-ab/"' in page and f'class="room-online-{mine.pk}"' in page
    assert "private-be" not in page and f"room-online-{theirs.pk}" not in page
    # The chat dropdown: the public room counts everyone online, a private room its members online.
    assert f'data-room-online="{public.pk}">2</span>' in page
    assert f'data-room-online="{mine.pk}">1</span>' in page


def test_anonymous_visitors_see_no_presence(client):
    page = client.get("/").content.decode()
    assert "/ws/online-status/" not in page and "online-count" not in page


def test_pages_render_without_presence_while_redis_is_down(people, client_for, settings, caplog):
    alice, _, _ = people
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="boostroom.realtime"):
        response = client_for(alice).get("/")
    assert response.status_code == 200
    assert '<span id="online-count">0</span>' in response.content.decode()
    assert selectors.PRESENCE_UNAVAILABLE in caplog.text
