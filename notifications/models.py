from __future__ import annotations

from django.conf import settings
from django.db import models


class Digest(models.Model):
    """What the offline notifications have told one user so far.

    Every server process (and the cron command) may look for due notifications
    at the same time; a process sends only after it has moved these fields with
    one conditional UPDATE from the values it read, so each email and push goes
    once.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+")
    last_emailed_at = models.DateTimeField(null=True, blank=True)
    # Message ids: nothing at or below them is emailed (pushed) again.
    emailed_through = models.PositiveBigIntegerField(default=0)
    pushed_through = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"digest of {self.user_id}"


class PushSubscription(models.Model):
    """One browser's Web Push endpoint for a user (the Push API's subscription)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"push of {self.user_id}"

    def subscription_info(self) -> dict:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}
