from __future__ import annotations

from django.conf import settings
from django.db import models


class NotificationSettings(models.Model):
    """How a person wants to hear about chat while they are away.

    No row means the defaults: email on, the site's batch window.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="notification_settings"
    )
    email_enabled = models.BooleanField(
        "Email me about unread messages while I am away",
        default=True,
        help_text="Direct messages, @mentions and your order chats, batched into one email.",
    )
    # Minutes; null means the site's NOTIFICATION_EMAIL_DELAY_MINUTES.
    email_window_minutes = models.PositiveSmallIntegerField("Batch window", null=True, blank=True)

    def __str__(self) -> str:
        return f"notifications of {self.user_id}"
