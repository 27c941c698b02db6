"""The notification loop runs inside the server process: the first request or
socket starts it, with nothing else to run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.core import mail
from django.db import close_old_connections

from notifications.asgi import NotifierStarter
from notifications.models import Digest
from notifications.notifier import ensure_notifier, reset_notifiers
from rooms import services
from rooms.models import Message
from tests.presence.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


async def test_the_first_request_starts_the_loop_and_it_sends_due_email(make_user, settings):
    settings.NOTIFICATION_POLL_SECONDS = 0.05
    settings.NOTIFICATION_EMAIL_DELAY_MINUTES = 10

    def unread_dm_from_an_hour_ago():
        alice, bob = make_user("alice"), make_user("bob")
        room = services.room_get_or_create_private(user=bob, other=alice)
        message = services.message_post(room=room, author=bob, body="an hour ago")
        Message.objects.filter(pk=message.pk).update(created=message.created - timedelta(hours=1))
        mail.outbox.clear()
        return alice

    alice = await database_sync_to_async(unread_dm_from_an_hour_ago)()
    calls = []

    async def app(scope, receive, send):
        calls.append(scope["type"])

    await NotifierStarter(app)({"type": "http"}, None, None)
    assert calls == ["http"]
    await wait_for(lambda: len(mail.outbox) == 1)
    assert mail.outbox[0].to == [alice.email]
    notifier = ensure_notifier()
    runs = notifier.runs
    await wait_for(lambda: notifier.runs > runs + 2)
    assert len(mail.outbox) == 1
    assert await database_sync_to_async(Digest.objects.get)(user=alice)
    reset_notifiers()
    await database_sync_to_async(close_old_connections)()


async def test_no_loop_when_the_poll_is_off(settings):
    settings.NOTIFICATION_POLL_SECONDS = 0
    assert ensure_notifier() is None
