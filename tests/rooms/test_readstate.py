"""Read state through the services and selectors: a per-user, per-room pointer,
the unread and mention counts that follow from it, mutes and receipts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from realtime import groups
from rooms import broadcasts, selectors, services
from rooms.models import Message, ReadState, Room

pytestmark = pytest.mark.django_db


def post(room, author, body="hi"):
    return services.message_post(room=room, author=author, body=body)


def counts(user, room):
    return selectors.unread_counts(user=user, room_ids=[room.pk])[room.pk]


def test_the_pointer_only_moves_forward_and_never_past_the_newest_message(group):
    room, owner, member = group
    ids = [post(room, owner, f"m{n}").pk for n in range(4)]

    assert services.room_mark_read(room=room, user=member, through=ids[2]) == ids[2]
    assert services.room_mark_read(room=room, user=member, through=ids[0]) == ids[2]
    assert services.room_mark_read(room=room, user=member, through=ids[-1] + 1000) == ids[-1]
    assert ReadState.objects.get(user=member, room=room).last_read_id == ids[-1]


def test_only_readers_have_a_pointer(group, make_user):
    room, owner, _ = group
    outsider = make_user()
    message = post(room, owner)
    with pytest.raises(selectors.RoomAccessDenied):
        services.room_mark_read(room=room, user=outsider, through=message.pk)
    with pytest.raises(selectors.RoomAccessDenied):
        services.room_mute(room=room, user=outsider, muted=True)
    assert not ReadState.objects.exists()


@pytest.mark.parametrize("through", [-1, "12", 1.5, True, None])
def test_a_bad_pointer_is_refused_and_changes_nothing(group, through):
    room, owner, member = group
    post(room, owner)
    with pytest.raises(services.ChatError, match="non-negative message id"):
        services.room_mark_read(room=room, user=member, through=through)
    assert not ReadState.objects.exists()


@pytest.fixture
def published(monkeypatch) -> list:
    """Every (group, payload) the rooms broadcasts publish, still delivered for real."""
    calls = []
    real = broadcasts.publish_many_sync

    def record(events):
        calls.extend(events)
        real(events)

    monkeypatch.setattr(broadcasts, "publish_many_sync", record)
    return calls


def test_reading_is_announced_after_commit_to_the_reader_and_the_room(
    group, published, django_capture_on_commit_callbacks
):
    room, owner, member = group
    message = post(room, owner)
    published.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.room_mark_read(room=room, user=member, through=message.pk)
    assert published == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    assert [group for group, _ in published] == [groups.user_unread(member.pk), groups.room(room.pk)]
    state_html, receipts_html = (payload["html"] for _, payload in published)
    assert 'id="unread-state"' in state_html and "&quot;unread&quot;: 0" in state_html
    assert f'data-user="{member.pk}"' in receipts_html and f'data-through="{message.pk}"' in receipts_html
    # Reading the same message again moves nothing and announces nothing.
    with django_capture_on_commit_callbacks(execute=True) as again:
        services.room_mark_read(room=room, user=member, through=message.pk)
    assert again == []


def test_a_message_is_one_activity_event_for_every_reader(group, published, django_capture_on_commit_callbacks):
    room, owner, member = group
    with django_capture_on_commit_callbacks(execute=True):
        message = post(room, owner, f"@{member.username} ping")
    (chat_group, chat), (activity_group, activity) = published
    assert (chat_group, activity_group) == (groups.room(room.pk), groups.room_activity(room.pk))
    assert f'id="message-{message.pk}"' in chat["html"] and chat["seq"] == room.changes.get(message=message).seq
    html = activity["html"]
    assert 'hx-swap-oob="beforeend:#room-events"' in html
    assert f'data-message="{message.pk}"' in html and f'data-mentions="{member.pk}"' in html
    assert f'data-author="{owner.pk}"' in html and 'data-kind="group"' in html


def test_a_pushed_message_is_the_one_its_stored_rows_render(
    group, make_user, published, django_capture_on_commit_callbacks
):
    """The post renders from what it has in hand (its mentions, no reactions):
    the same bytes as the message and its activity read back from the database."""
    room, owner, member = group
    third = make_user("third")
    room.members.add(third)
    with django_capture_on_commit_callbacks(execute=True):
        message = post(room, owner, f"@{third.username} and @{member.username}, **look**")
    (_, chat), (_, activity) = published
    stored = selectors.messages_by_id(ids=[message.pk])[message.pk]
    assert chat["html"] == broadcasts.render_message(stored) + broadcasts.render_position(chat["seq"])
    assert activity["html"] == broadcasts.render_activity(stored)
    assert f'data-mentions="{member.pk} {third.pk}"' in activity["html"]


def test_pushed_ids_and_positions_never_take_a_locales_number_format(group, settings):
    """A page finds messages by the ids and positions in the fragments: 12,345 would match nothing."""
    settings.USE_THOUSAND_SEPARATOR = True
    room, owner, _ = group
    stored = post(room, owner)
    message = selectors.messages_by_id(ids=[stored.pk])[stored.pk]
    message.pk = 12345

    assert 'data-seq="12345"' in broadcasts.render_position(12345)
    assert 'id="message-12345"' in broadcasts.render_message(message)
    assert 'data-message="12345"' in broadcasts.render_activity(message, mention_ids=[12345])


def test_own_messages_are_never_unread_and_mentions_count_apart(group):
    room, owner, member = group
    post(room, owner, "hello")
    post(room, owner, f"@{member.username} look")
    post(room, member, "my own words")

    assert counts(member, room).unread == 2
    assert counts(member, room).mentions == 1
    assert counts(owner, room).unread == 1  # the member's message
    assert counts(owner, room).mentions == 0


@pytest.mark.parametrize(
    ("body", "mentioned"),
    [
        ("hey @{name}!", True),
        ("@{name}.", True),
        ("(@{name}), see this", True),
        ("@{upper}", True),
        ("`@{name}` is a handle", False),
        ("mail {name}@example.com", False),
        ("@{name}x", False),
        ("@nobody-by-that-name", False),
    ],
)
def test_mention_counts_follow_what_the_server_recognised(group, body, mentioned):
    room, owner, member = group
    post(room, owner, body.format(name=member.username, upper=member.username.upper()))
    assert counts(member, room).mentions == int(mentioned)
    assert counts(member, room).unread == 1


def test_mentions_of_someone_outside_the_room_do_nothing(group, make_user):
    room, owner, _ = group
    outsider = make_user()
    message = post(room, owner, f"@{outsider.username} come here")
    assert list(message.mentions.all()) == []
    assert 'class="mention"' not in message.body_html
    assert selectors.unread_summary(user=outsider).get(room.pk) is None


def test_reading_clears_what_is_read_and_keeps_what_came_after(group):
    room, owner, member = group
    first = post(room, owner, f"@{member.username} one")
    post(room, owner, "two")
    services.room_mark_read(room=room, user=member, through=first.pk)
    entry = counts(member, room)
    assert (entry.unread, entry.mentions, entry.pointer) == (1, 0, first.pk)
    third = post(room, owner, "three")
    assert counts(member, room).unread == 2
    assert counts(member, room).as_of == third.pk


def test_messages_from_before_the_account_existed_are_not_unread(public_room, make_user):
    author = make_user()
    old = post(public_room, author, "old news")
    Message.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=1))
    newcomer = make_user()
    post(public_room, author, "fresh")
    assert counts(newcomer, public_room).unread == 1


def test_joining_a_group_starts_at_its_newest_message(make_user):
    owner, newcomer = make_user(), make_user()
    room = services.room_create_group(creator=owner, name="guild")
    history = [post(room, owner, f"before {n}") for n in range(3)]
    services.room_join(room=room, user=newcomer)
    assert counts(newcomer, room).unread == 0
    assert counts(newcomer, room).pointer == history[-1].pk
    post(room, owner, "welcome!")
    assert counts(newcomer, room).unread == 1


def test_a_muted_room_counts_only_mentions_in_the_total(group, public_room):
    room, owner, member = group
    post(room, owner, "chatter")
    post(room, owner, f"@{member.username} you there?")
    post(public_room, owner, "public")
    services.room_mute(room=room, user=member, muted=True)
    summary = selectors.unread_summary(user=member)
    assert summary[room.pk].muted and summary[room.pk].unread == 2
    assert selectors.unread_total(summary) == 1 + 1  # the group's mention and the public message
    services.room_mute(room=room, user=member, muted=False)
    assert selectors.unread_total(selectors.unread_summary(user=member)) == 3


def test_a_long_backlog_counts_only_the_rooms_newest_window(group, monkeypatch):
    monkeypatch.setattr(selectors, "UNREAD_WINDOW", 5)
    room, owner, member = group
    post(room, owner, f"@{member.username} early")
    ids = [post(room, owner, f"m{n}").pk for n in range(7)]

    entry = counts(member, room)
    # The mention is older than the room's newest five messages: out of sight.
    assert (entry.unread, entry.mentions, entry.as_of) == (5, 0, ids[-1])
    assert selectors.first_unread_id(room=room, user=member, pointer=0) == ids[2]
    services.room_mark_read(room=room, user=member, through=ids[4])
    assert counts(member, room).unread == 2
    assert selectors.first_unread_id(room=room, user=member, pointer=ids[4]) == ids[5]
    # Whoever wrote them, they are the room's newest: the writer's own fill the window too.
    assert counts(owner, room).unread == 0


def test_the_summary_costs_the_same_queries_whatever_the_rooms_and_messages(
    make_user, public_room, django_assert_num_queries
):
    reader, author = make_user(), make_user()

    def add_rooms(count):
        for n in range(count):
            room = services.room_create_group(creator=author, name=f"room-{n}-{Room.objects.count()}")
            room.members.add(reader)
            for i in range(3):
                post(room, author, f"m{i}")

    add_rooms(1)
    with django_assert_num_queries(4) as few:
        selectors.unread_summary(user=reader)
    add_rooms(6)
    for i in range(20):
        post(public_room, author, f"p{i}")
    with django_assert_num_queries(len(few.captured_queries)):
        summary = selectors.unread_summary(user=reader)
    assert sum(entry.unread for entry in summary.values()) == 7 * 3 + 20


def test_receipts_show_only_current_readers_with_their_side(make_user):
    from orders import services as order_services

    customer = make_user("buyer")
    booster = make_user("carry", role="booster")
    manager = make_user("boss", role="manager")
    order = order_services.order_create(
        customer=customer, current_rank="silver", current_division=2, desired_rank="gold", desired_division=4
    )
    order = order_services.order_assign(order=order, booster=booster, by=manager)
    room = order.booster_room
    message = post(room, customer, "hi booster")
    for reader in (customer, booster, manager):
        services.room_mark_read(room=room, user=reader, through=message.pk)
    sides = {reader.user_id: reader.side for reader in selectors.room_readers(room=room)}
    assert sides == {customer.pk: "customer", booster.pk: "team", manager.pk: "team"}


def test_a_removed_member_drops_out_of_the_receipts(group):
    room, owner, member = group
    message = post(room, owner)
    services.room_mark_read(room=room, user=member, through=message.pk)
    assert [r.user_id for r in selectors.room_readers(room=room)] == [member.pk]
    services.room_update(room=room, by=owner, title=room.title, retention_days=None, remove_user_ids=[member.pk])
    assert selectors.room_readers(room=room) == []


def test_large_groups_and_the_public_room_show_no_receipts(group, public_room, settings):
    room, _, _ = group
    assert selectors.shows_receipts(room=room)
    assert not selectors.shows_receipts(room=public_room)
    settings.CHAT_RECEIPTS_MAX_MEMBERS = 1
    assert not selectors.shows_receipts(room=room)


def test_a_deleted_message_is_no_longer_unread_nor_a_mention(group):
    room, owner, member = group
    post(room, owner, "stays")
    gone = post(room, owner, f"@{member.username} oops")
    services.message_delete(message=gone, by=owner)
    entry = counts(member, room)
    assert (entry.unread, entry.mentions) == (1, 0)
