"""Offline notifications: one batched email per window, Web Push, and the
browser's push subscriptions.

`notifications_send_due` runs in every server process (notifications.notifier)
and from `manage.py send_notifications`; a claim on the user's Digest row makes
each email and push go once however many of them run at the same moment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.selectors import email_window
from notifications import push, selectors
from notifications.models import Digest, PushSubscription
from presence.selectors import online_user_ids
from realtime.mail import send_mail_safely

logger = logging.getLogger("boostroom.notifications")

PUSH_ENDPOINT_INVALID = "A push subscription needs an https endpoint and its p256dh and auth keys."
# A push is for now; an older message waits for the email instead.
PUSH_MAX_AGE = timedelta(minutes=15)
EXCERPT_CHARS = 140


class PushError(ValueError):
    """A subscription the browser sent is not usable; `str()` is safe to show."""


@dataclass(frozen=True)
class Sent:
    emails: int = 0
    pushes: int = 0


def notifications_send_due(*, now: datetime | None = None) -> Sent:
    """Email and push whoever is due, now; what was sent."""
    now = now or timezone.now()
    pending = selectors.pending_notifications(now=now, exclude_user_ids=online_user_ids())
    emails = sum(_email_if_due(item, now) for item in pending)
    pushes = 0
    if push.configured():
        subscriptions = selectors.push_subscriptions(user_ids=[item.user.pk for item in pending])
        pushes = sum(_push_if_due(item, subscriptions.get(item.user.pk, []), now) for item in pending)
    return Sent(emails=emails, pushes=pushes)


def _claim(digest: Digest, **changes) -> bool:
    """Move the digest from the values this process read to `changes`; False if
    another process (or the cron command) moved it first."""
    seen = {name: getattr(digest, name) for name in changes}
    won = Digest.objects.filter(pk=digest.pk, **seen).update(**changes) == 1
    if won:
        for name, value in changes.items():
            setattr(digest, name, value)
    return won


def _email_if_due(item: selectors.Pending, now: datetime) -> int:
    user, digest = item.user, item.digest
    if not item.choices.email_enabled or not user.email:
        return 0
    window = email_window(item.choices)
    news = [message for message in item.messages if message.pk > digest.emailed_through]
    if not news or min(message.created for message in news) > now - window:
        return 0
    if digest.last_emailed_at is not None and digest.last_emailed_at > now - window:
        return 0
    before = {"emailed_through": digest.emailed_through, "last_emailed_at": digest.last_emailed_at}
    if not _claim(digest, emailed_through=max(message.pk for message in news), last_emailed_at=now):
        return 0
    context = {
        "user": user,
        "messages": news,
        "mentioned": item.mentioned,
        "site_url": settings.SITE_URL,
        "settings_url": settings.SITE_URL + reverse("accounts:settings"),
    }
    subject = render_to_string("notifications/digest_subject.txt", context).strip()
    body = render_to_string("notifications/digest.txt", context)
    if send_mail_safely(subject=subject, body=body, recipients=[user.email]):
        return 1
    # Not sent: give the claim back so a later run tries again.
    _claim(digest, **before)
    return 0


def _push_if_due(item: selectors.Pending, subscriptions: list[PushSubscription], now: datetime) -> int:
    digest = item.digest
    news = [m for m in item.messages if m.pk > digest.pushed_through and m.created >= now - PUSH_MAX_AGE]
    if not subscriptions or not news or not _claim(digest, pushed_through=max(m.pk for m in news)):
        return 0
    newest = news[-1]
    payload = {
        "title": f"{newest.author.username} · {newest.room.display_title}",
        "body": (newest.body or "sent a file")[:EXCERPT_CHARS],
        "url": f"{settings.SITE_URL}{newest.room.get_absolute_url()}#message-{newest.pk}",
        "tag": f"room-{newest.room_id}",
        "count": len(news),
    }
    delivered = 0
    for subscription in subscriptions:
        status = push.send(subscription, payload)
        if status in push.GONE:
            subscription.delete()
        elif status is not None and status < 300:
            delivered += 1
    return delivered


@transaction.atomic
def push_subscribe(*, user: AbstractBaseUser, endpoint: object, p256dh: object, auth: object) -> PushSubscription:
    """Remember this browser's push endpoint for `user` (a browser has one; re-subscribing moves it)."""
    values = (endpoint, p256dh, auth)
    if not all(isinstance(value, str) and value for value in values) or not str(endpoint).startswith("https://"):
        raise PushError(PUSH_ENDPOINT_INVALID)
    if len(endpoint) > 1000 or len(p256dh) > 200 or len(auth) > 100:
        raise PushError(PUSH_ENDPOINT_INVALID)
    subscription, _ = PushSubscription.objects.update_or_create(
        endpoint=endpoint, defaults={"user": user, "p256dh": p256dh, "auth": auth}
    )
    return subscription


@transaction.atomic
def push_unsubscribe(*, user: AbstractBaseUser, endpoint: str) -> bool:
    deleted, _ = PushSubscription.objects.filter(user_id=user.pk, endpoint=endpoint).delete()
    return bool(deleted)
