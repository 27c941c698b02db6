from __future__ import annotations

from functools import lru_cache
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.urls import reverse


class Theme(models.TextChoices):
    # System first: it is the default and follows the device's light or dark setting.
    SYSTEM = "system", "System"
    LIGHT = "light", "Light"
    DARK = "dark", "Dark"
    WIN98 = "win98", "Windows 98"


class Preferences(models.Model):
    """A person's settings: one row per user, made the first time they save one.
    Until then every setting has its default, so most users never need a row."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="preferences"
    )
    theme = models.CharField(max_length=16, choices=Theme.choices, default=Theme.SYSTEM)
    # The offline email of unread direct messages, @mentions and order chats (notifications/).
    email_enabled = models.BooleanField(
        "Email me about unread messages while I am away",
        default=True,
        help_text="Direct messages, @mentions and your order chats, batched into one email.",
    )
    # Minutes; null means the site's NOTIFICATION_EMAIL_DELAY_MINUTES.
    email_window_minutes = models.PositiveSmallIntegerField("Email batch window", null=True, blank=True)

    class Meta:
        verbose_name_plural = "preferences"

    def __str__(self) -> str:
        return f"Preferences of user {self.user_id}"


class Avatar(models.Model):
    """A person's uploaded picture; without a row they show initials on a colour.

    Both files went through uploads.validation like any image; pages show the
    thumbnail. The URL carries the thumbnail's server-made name as its version,
    so a new picture gets a new URL and a browser may cache each one for long.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="avatar"
    )
    image = models.FileField(max_length=255)
    thumbnail = models.FileField(max_length=255)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Avatar of user {self.user_id}"

    @property
    def version(self) -> str:
        return PurePosixPath(self.thumbnail.name).stem

    def get_absolute_url(self) -> str:
        return _avatar_url(self.user_id, self.version)


# Every message shows its author's picture; resolving the same URL once per version
# instead of once per render keeps a message partial's render close to the initials'.
@lru_cache(maxsize=4096)
def _avatar_url(user_id: int, version: str) -> str:
    return reverse("accounts:avatar", args=[user_id, version])
