from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from accounts.models import NotificationSettings


@transaction.atomic
def notification_settings_update(
    *, user: AbstractBaseUser, email_enabled: bool, email_window_minutes: int
) -> NotificationSettings:
    choices, _ = NotificationSettings.objects.update_or_create(
        user_id=user.pk, defaults={"email_enabled": email_enabled, "email_window_minutes": email_window_minutes}
    )
    return choices
