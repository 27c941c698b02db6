import re
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import transaction
from django.utils import timezone

from notifications.services import notifications_send_due
from rooms import selectors, services
from rooms.models import Message, Room

pytestmark = pytest.mark.django_db


def test_message_is_trimmed_and_stored(public_room, make_user):
    message = services.message_post(room=public_room, author=make_user(), body="  hello  ")
    assert Message.objects.get(pk=message.pk).body == "hello"
    public_room.refresh_from_db()
    assert public_room.last_message_at == message.created


@pytest.mark.parametrize(
    "body, error",
    [("", services.MESSAGE_EMPTY), ("   \n\t ", services.MESSAGE_EMPTY), ("x" * 2001, "at most 2000")],
)
def test_invalid_bodies_are_refused_and_store_nothing(public_room, make_user, body, error):
    with pytest.raises(services.ChatError, match=error):
        services.message_post(room=public_room, author=make_user(), body=body)
    assert not Message.objects.exists()


def test_longest_message_is_accepted(public_room, make_user):
    assert len(services.message_post(room=public_room, author=make_user(), body="y" * 2000).body) == 2000


def test_limit_is_a_setting(public_room, make_user, settings):
    settings.CHAT_MESSAGE_MAX_LENGTH = 5
    with pytest.raises(services.ChatError, match="at most 5"):
        services.message_post(room=public_room, author=make_user(), body="123456")


@pytest.mark.parametrize("client_id", ["", "has space", "x" * 65, "<script>"])
def test_bad_client_ids_are_refused(public_room, make_user, client_id):
    with pytest.raises(services.ChatError, match="client_id"):
        services.message_post(room=public_room, author=make_user(), body="hi", client_id=client_id or "bad id")


def test_retried_send_is_stored_once(public_room, make_user):
    author = make_user()
    first = services.message_post(room=public_room, author=author, body="hi", client_id="abc-1")
    again = services.message_post(room=public_room, author=author, body="hi", client_id="abc-1")
    assert again.pk == first.pk and again.is_retry and not first.is_retry
    assert Message.objects.count() == 1


def test_a_retry_past_the_rate_limit_is_still_acknowledged(public_room, make_user, settings):
    """The sender never heard back and retries at once: the stored message is the
    answer, while a new send that fast is refused."""
    author = make_user()
    settings.CHAT_RATE_LIMIT = (1, 10)
    first = services.message_post(room=public_room, author=author, body="hi", client_id="abc-1")
    again = services.message_post(room=public_room, author=author, body="hi", client_id="abc-1")
    assert again.pk == first.pk and again.is_retry
    with pytest.raises(services.ChatError, match=services.MESSAGE_RATE_LIMITED):
        services.message_post(room=public_room, author=author, body="new", client_id="abc-2")
    assert Message.objects.count() == 1


def test_a_post_and_its_push_read_only_what_they_lack(
    public_room, make_user, django_assert_num_queries, django_capture_on_commit_callbacks
):
    """Per message, before the fan-out: the room's lock (its position drawn and
    written with it), the rows written, the author's picture; nothing the post
    already holds (its mentions, its reactions, its position) is read back, and a
    retry is told apart by its insert failing, not by a lookup first."""
    author, mentioned = make_user(), make_user("mentioned")
    with django_capture_on_commit_callbacks(execute=True):
        services.message_post(room=public_room, author=author, body="first", client_id="one")
    # the mention, savepoint, the room's lock and position, message, its mention, change, release
    with django_assert_num_queries(7), django_capture_on_commit_callbacks(execute=True):
        message = services.message_post(room=public_room, author=author, body="hi @mentioned", client_id="two")
    assert list(message.mentions.all()) == [mentioned]
    assert public_room.changes.get(message=message).seq == 2
    public_room.refresh_from_db()
    assert (public_room.last_seq, public_room.last_message_at) == (2, message.created)


def test_same_client_id_from_two_authors_are_two_messages(public_room, make_user):
    services.message_post(room=public_room, author=make_user(), body="a", client_id="same")
    services.message_post(room=public_room, author=make_user(), body="b", client_id="same")
    assert Message.objects.count() == 2


def test_client_id_cannot_be_reused_in_another_room(public_room, group):
    room, owner, _ = group
    services.message_post(room=public_room, author=owner, body="a", client_id="k1")
    with pytest.raises(services.ChatError, match="another room"):
        services.message_post(room=room, author=owner, body="b", client_id="k1")


def test_non_member_cannot_post(group, make_user):
    room, _, _ = group
    with pytest.raises(selectors.RoomAccessDenied):
        services.message_post(room=room, author=make_user(), body="let me in")
    assert not Message.objects.exists()


def test_broadcast_waits_for_commit_and_is_dropped_on_rollback(
    public_room, make_user, django_capture_on_commit_callbacks
):
    author = make_user()
    with django_capture_on_commit_callbacks() as callbacks:
        services.message_post(room=public_room, author=author, body="kept")
    assert len(callbacks) == 1

    class Boom(Exception):
        pass

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(Boom):
        with transaction.atomic():
            services.message_post(room=public_room, author=author, body="rolled back")
            raise Boom
    assert callbacks == []
    assert list(Message.objects.values_list("body", flat=True)) == ["kept"]


def test_group_names_are_validated(make_user):
    creator = make_user()
    for bad in ["ab", "Has Caps!", "new", "public-chat", "dm-1-2", "-lead", "x" * 51]:
        with pytest.raises(services.ChatError):
            services.room_create_group(creator=creator, name=bad)
    room = services.room_create_group(creator=creator, name="raid-night", title="Raid night")
    assert room.admin == creator and list(room.members.all()) == [creator]
    with pytest.raises(services.ChatError, match=services.ROOM_NAME_TAKEN):
        services.room_create_group(creator=make_user(), name="raid-night")


def test_private_room_is_one_per_pair(make_user):
    alice, bob = make_user("alice"), make_user("bob")
    room = services.room_get_or_create_private(user=alice, other=bob)
    assert services.room_get_or_create_private(user=bob, other=alice) == room
    assert set(room.members.all()) == {alice, bob} and room.kind == Room.Kind.PRIVATE
    with pytest.raises(services.ChatError, match=services.PRIVATE_WITH_SELF):
        services.room_get_or_create_private(user=alice, other=alice)


def test_opening_a_private_room_tells_nobody_until_its_first_message(make_user, django_capture_on_commit_callbacks):
    alice, bob, site_url = make_user("alice"), make_user("bob"), django_settings.SITE_URL
    with django_capture_on_commit_callbacks(execute=True):
        room = services.room_get_or_create_private(user=alice, other=bob)
    assert mail.outbox == []
    assert list(selectors.rooms_for_user(user=alice).filter(pk=room.pk)) == [room]
    assert not selectors.rooms_for_user(user=bob).filter(pk=room.pk).exists()
    assert selectors.can_read(room=room, user=bob)  # theirs all the same: /chat/private/alice/ lands here
    assert notifications_send_due(now=timezone.now() + timedelta(hours=1)).emails == 0

    with django_capture_on_commit_callbacks(execute=True):
        services.message_post(room=room, author=alice, body="Duo tonight?")
    assert selectors.rooms_for_user(user=bob).filter(pk=room.pk).exists()
    assert selectors.unread_counts(user=bob, room_ids=[room.pk])[room.pk].unread == 1
    # Away from the site, bob is mailed about it (the batched notification email).
    assert notifications_send_due(now=timezone.now() + timedelta(hours=1)).emails == 1
    assert [m.to for m in mail.outbox] == [[bob.email]]
    assert "Duo tonight?" in mail.outbox[0].body and f"{site_url}/chat/{room.name}/" in mail.outbox[0].body


def test_the_second_user_may_write_first(make_user):
    alice, bob = make_user("alice"), make_user("bob")
    room = services.room_get_or_create_private(user=alice, other=bob)
    services.message_post(room=room, author=bob, body="saw you opened this")
    assert set(room.members.all()) == {alice, bob}


def test_join_needs_verified_email(group, make_user):
    room, _, _ = group
    unverified = make_user(verified=False)
    with pytest.raises(services.ChatError, match=services.EMAIL_NOT_VERIFIED):
        services.room_join(room=room, user=unverified)
    verified = make_user()
    services.room_join(room=room, user=verified)
    assert room.members.filter(pk=verified.pk).exists()


def test_the_admin_hands_the_group_to_a_member_chosen_on_the_way_out(group, make_user):
    room, owner, member = group
    third = make_user("third")
    room.members.add(third)
    for successor, refusal in (
        (None, services.SUCCESSOR_REQUIRED),
        (make_user("outsider"), services.SUCCESSOR_REQUIRED),
    ):
        with pytest.raises(services.ChatError, match=re.escape(refusal)):
            services.room_leave(room=room, user=owner, successor=successor)
        room.refresh_from_db()
        assert room.admin == owner and room.members.filter(pk=owner.pk).exists()
    services.room_leave(room=room, user=owner, successor=third)
    room.refresh_from_db()
    assert room.admin == third and not room.members.filter(pk=owner.pk).exists()


def test_the_last_member_cannot_leave_only_delete(group):
    room, owner, member = group
    services.room_leave(room=room, user=member)
    with pytest.raises(services.ChatError, match=re.escape(services.LAST_MEMBER_DELETES)):
        services.room_leave(room=room, user=owner)
    assert Room.objects.filter(pk=room.pk, admin=owner, members=owner).exists()
    services.room_delete(room=room, by=owner)
    assert not Room.objects.filter(pk=room.pk).exists()


def test_only_admin_updates(group):
    room, owner, member = group
    with pytest.raises(services.RoomPermissionDenied):
        services.room_update(room=room, by=member, title="Mine now", retention_days=None)
    services.room_update(room=room, by=owner, title="Renamed", retention_days=7, remove_user_ids=[member.pk])
    room.refresh_from_db()
    assert room.title == "Renamed" and room.retention == timedelta(days=7)
    assert not room.members.filter(pk=member.pk).exists()
    with pytest.raises(services.ChatError, match="Retention"):
        services.room_update(room=room, by=owner, title="x", retention_days=0)


def test_only_admin_or_staff_deletes(group, make_user):
    room, _, member = group
    with pytest.raises(services.RoomPermissionDenied):
        services.room_delete(room=room, by=member)
    services.room_delete(room=room, by=make_user(role="admin"))
    assert not Room.objects.filter(pk=room.pk).exists()


def test_purge_respects_each_rooms_retention(public_room, group, make_user):
    room, owner, _ = group
    old, fresh, kept = (
        services.message_post(room=public_room, author=owner, body="old"),
        services.message_post(room=public_room, author=owner, body="fresh"),
        services.message_post(room=room, author=owner, body="forever"),
    )
    Message.objects.filter(pk__in=[old.pk, kept.pk]).update(created=timezone.now() - timedelta(days=4))
    assert public_room.retention == timedelta(days=3)
    assert services.messages_purge_expired() == 1
    assert set(Message.objects.values_list("pk", flat=True)) == {fresh.pk, kept.pk}


def test_order_rooms_are_readable_by_members_and_staff_only(make_user):
    customer, booster = make_user(), make_user(role="booster")
    room = services.room_create_for_order(name="Order #12 / Staff!", title="Order 12", members=[customer])
    assert room.name == "order-12-staff" and room.kind == Room.Kind.ORDER
    assert selectors.can_read(room=room, user=customer)
    assert selectors.can_read(room=room, user=make_user(role="manager"))
    assert selectors.can_read(room=room, user=make_user(role="admin"))
    assert not selectors.can_read(room=room, user=booster)
    services.room_set_members(room=room, members=[customer, booster])
    assert selectors.can_read(room=room, user=booster)
    services.room_set_members(room=room, members=[customer])
    assert not selectors.can_read(room=room, user=booster)


def test_typing_is_throttled(public_room, make_user):
    user = make_user()
    assert services.typing_notify(room=public_room, user=user) is True
    assert services.typing_notify(room=public_room, user=user) is False


def test_typing_suppressed_in_big_rooms(public_room, make_user):
    assert services.typing_notify(room=public_room, user=make_user(), member_count=101) is False


def test_throttled_typing_costs_no_query(public_room, make_user, django_assert_num_queries):
    user = make_user()
    assert services.typing_notify(room=public_room, user=user) is True
    # Keystrokes inside the throttle window stop before the member count query.
    with django_assert_num_queries(0):
        assert services.typing_notify(room=public_room, user=user) is False


def test_staff_may_delete_any_group_but_not_other_rooms(group, public_room, make_user):
    room, _, _ = group
    admin = make_user(role="admin")
    assert not room.members.filter(pk=admin.pk).exists()
    with pytest.raises(services.RoomPermissionDenied):
        services.room_delete(room=room, by=make_user(role="manager"))
    with pytest.raises(services.ChatError, match=services.ONLY_GROUPS):
        services.room_delete(room=public_room, by=admin)
    services.room_delete(room=room, by=admin)
    assert not Room.objects.filter(pk=room.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_posts_to_one_room_commit_in_id_order(make_user):
    """While one post is between its insert and its commit, a second post to the
    same room waits: otherwise it could commit a larger id first, and a client
    resuming after that id would never see the smaller one."""
    import threading

    from django.db import connection
    from django.db.models.signals import post_save

    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time anyway; the race needs PostgreSQL")
    owner = make_user("owner")
    room = services.room_create_group(creator=owner, name="race-room")
    inserted, release = threading.Event(), threading.Event()
    results: dict[str, Message] = {}

    def hold_first_insert(sender, instance, created, **kwargs):
        if threading.current_thread().name == "first":
            inserted.set()
            assert release.wait(10)

    def post(label):
        try:
            results[label] = services.message_post(room=room, author=owner, body=label)
        finally:
            connection.close()

    post_save.connect(hold_first_insert, sender=Message)
    try:
        first = threading.Thread(target=post, args=("first",), name="first")
        second = threading.Thread(target=post, args=("second",), name="second")
        first.start()
        assert inserted.wait(10)
        second.start()
        second.join(timeout=1.0)
        assert second.is_alive(), "the second post committed while the first was still open"
        release.set()
        first.join(10)
        second.join(10)
    finally:
        release.set()
        post_save.disconnect(hold_first_insert, sender=Message)
    assert results["first"].pk < results["second"].pk
