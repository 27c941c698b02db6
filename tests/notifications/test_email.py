"""The offline email: one batch after the delay, never twice, never for what was
read, once however many processes look, and as each person chose."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import close_old_connections, connection
from django.utils import timezone

from accounts import services as account_services
from notifications.services import notifications_send_due
from rooms import services
from tests.conftest import go_online

pytestmark = pytest.mark.django_db


def later(minutes: float = 10):
    return timezone.now() + timedelta(minutes=minutes)


@pytest.fixture
def dm(make_user):
    alice, bob = make_user("alice"), make_user("bob")
    return services.room_get_or_create_private(user=bob, other=alice), alice, bob


def post(room, author, body):
    return services.message_post(room=room, author=author, body=body)


def test_one_email_after_the_delay_with_every_unread_message_and_no_second(dm, settings):
    settings.SITE_URL = "https://boostroom.example"
    room, alice, bob = dm
    mail.outbox.clear()  # the "started a private chat" note
    first, second = post(room, bob, "are you there?"), post(room, bob, "ping me back")

    assert notifications_send_due(now=later(9)).emails == 0
    assert notifications_send_due(now=later(10)).emails == 1
    assert notifications_send_due(now=later(11)).emails == 0
    assert notifications_send_due(now=later(60)).emails == 0

    (email,) = mail.outbox
    assert email.to == [alice.email]
    assert "2 unread messages" in email.subject
    assert "are you there?" in email.body and "ping me back" in email.body
    for message in (first, second):
        assert f"https://boostroom.example/chat/{room.name}/#message-{message.pk}" in email.body
    assert "https://boostroom.example/accounts/settings/" in email.body


def test_never_more_than_one_per_window_and_never_the_same_message_twice(dm):
    room, alice, bob = dm
    mail.outbox.clear()
    post(room, bob, "first")
    notifications_send_due(now=later(10))
    post(room, bob, "second")
    # The second message is old enough at +21, but the last email was at +10.
    assert notifications_send_due(now=later(15)).emails == 0
    assert notifications_send_due(now=later(20)).emails == 1
    assert [("second" in m.body, "first" in m.body) for m in mail.outbox] == [(False, True), (True, False)]


def test_messages_already_read_are_left_out(dm):
    room, alice, bob = dm
    mail.outbox.clear()
    read = post(room, bob, "seen this one")
    services.room_mark_read(room=room, user=alice, through=read.pk)
    assert notifications_send_due(now=later()).emails == 0
    post(room, bob, "not this one")
    notifications_send_due(now=later(20))
    (email,) = mail.outbox
    assert "not this one" in email.body and "seen this one" not in email.body


def test_a_user_with_an_open_socket_gets_no_email(dm):
    room, alice, bob = dm
    mail.outbox.clear()
    post(room, bob, "hi")
    go_online(alice)
    assert notifications_send_due(now=later()).emails == 0


def test_preferences_are_honoured(dm):
    room, alice, bob = dm
    mail.outbox.clear()
    account_services.preferences_update(user=alice, email_enabled=True, email_window_minutes=30)
    post(room, bob, "hi")
    assert notifications_send_due(now=later(20)).emails == 0
    assert notifications_send_due(now=later(30)).emails == 1
    account_services.preferences_update(user=alice, email_enabled=False)
    post(room, bob, "again")
    assert notifications_send_due(now=later(120)).emails == 0


def test_mentions_and_order_chats_notify_and_plain_group_chatter_does_not(group, make_user):
    from orders import services as order_services

    room, owner, member = group
    mail.outbox.clear()
    post(room, owner, "plain chatter")
    assert notifications_send_due(now=later()).emails == 0
    post(room, owner, f"@{member.username} your turn")
    booster, manager = make_user(role="booster"), make_user(role="manager")
    order = order_services.order_create(
        customer=member, current_rank="silver", current_division=2, desired_rank="gold", desired_division=4
    )
    order = order_services.order_assign(order=order, booster=booster, by=manager)
    mail.outbox.clear()
    post(order.booster_room, booster, "starting your games")
    assert notifications_send_due(now=later()).emails == 1
    (email,) = mail.outbox
    assert email.to == [member.email]
    assert "your turn" in email.body and "(mentioned you)" in email.body
    assert "starting your games" in email.body and "plain chatter" not in email.body


def test_a_muted_room_emails_only_mentions(dm):
    room, alice, bob = dm
    mail.outbox.clear()
    services.room_mute(room=room, user=alice, muted=True)
    post(room, bob, "quiet please")
    assert notifications_send_due(now=later()).emails == 0
    post(room, bob, f"@{alice.username} this one matters")
    assert notifications_send_due(now=later(20)).emails == 1
    assert "this one matters" in mail.outbox[0].body and "quiet please" not in mail.outbox[0].body


def test_a_failed_send_is_tried_again_later(dm, settings):
    room, alice, bob = dm
    mail.outbox.clear()
    post(room, bob, "hello")
    settings.EMAIL_BACKEND = "tests.rooms.failing_email.EmailBackend"
    assert notifications_send_due(now=later()).emails == 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notifications_send_due(now=later(11)).emails == 1


def test_the_command_sends_what_is_due(dm, capsys):
    room, alice, bob = dm
    mail.outbox.clear()
    post(room, bob, "hi")
    call_command("send_notifications")  # not due yet: the message is seconds old
    assert mail.outbox == []
    assert "0 email(s)" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="threads racing one SQLite file lock the table; runs in the CI pass on PostgreSQL",
)
def test_two_processes_racing_send_one_email(dm):
    room, alice, bob = dm
    post(room, bob, "race")
    post(room, bob, "condition")
    mail.outbox.clear()  # the private room's first-message mail; the batch is what races
    start, results = threading.Barrier(4), []

    def process() -> None:
        start.wait()
        try:
            results.append(notifications_send_due(now=later()).emails)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=process) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 0, 0, 1]
    assert len([m for m in mail.outbox if "unread message" in m.subject]) == 1
