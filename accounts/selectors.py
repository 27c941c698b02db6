from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from accounts.models import NotificationSettings


def notification_settings_for(*, user: AbstractBaseUser) -> NotificationSettings:
    """The user's choices, or the defaults (unsaved) when they never chose."""
    found = NotificationSettings.objects.filter(user_id=user.pk).first()
    return found or NotificationSettings(user_id=user.pk)


def email_window(choices: NotificationSettings) -> timedelta:
    """How long an offline user's first unread message waits before the email,
    and the least time between two emails."""
    return timedelta(minutes=choices.email_window_minutes or settings.NOTIFICATION_EMAIL_DELAY_MINUTES)
