"""A person's actions on their own account: settings, their picture, and what we add around allauth's."""

from __future__ import annotations

from urllib.parse import urlsplit

from allauth.account.internal.flows.email_verification import (
    get_address_for_user,
    send_verification_email_to_address,
)
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sites.models import Site
from django.db import transaction
from django.http import HttpRequest

from accounts import broadcasts
from accounts.models import Avatar, Preferences, Theme
from realtime.aftercommit import after_commit
from uploads import storage
from uploads.validation import IMAGE_CONTENT_TYPES, UPLOAD_IMAGES_ONLY, ValidatedFile

UNKNOWN_THEME = "Choose one of the themes offered."
EMAIL_WINDOW_INVALID = "The email batch window is 1 to 1440 minutes."
VERIFICATION_RECENTLY_SENT = (
    "A verification link went to {email} a few minutes ago and still works. "
    "Check your inbox (and spam), or ask again in a few minutes."
)


class PreferencesError(ValueError):
    pass


class AvatarError(ValueError):
    pass


@transaction.atomic
def preferences_update(
    *,
    user: AbstractBaseUser,
    theme: str | None = None,
    email_enabled: bool | None = None,
    email_window_minutes: int | None = None,
) -> Preferences:
    """Save the settings given (None leaves one as it is); every open page of the
    user follows a theme change once it is committed."""
    if theme is not None and theme not in Theme.values:
        raise PreferencesError(UNKNOWN_THEME)
    if email_window_minutes is not None and not 1 <= email_window_minutes <= 1440:
        raise PreferencesError(EMAIL_WINDOW_INVALID)
    preferences, created = Preferences.objects.select_for_update().get_or_create(user=user)
    email = {"email_enabled": email_enabled, "email_window_minutes": email_window_minutes}
    email = {name: value for name, value in email.items() if value is not None}
    if email:
        for name, value in email.items():
            setattr(preferences, name, value)
        preferences.save(update_fields=list(email))
    # A user without a row saw this browser's cookie theme, so a first save is a change too.
    if theme is not None and (created or theme != preferences.theme):
        preferences.theme = theme
        preferences.save(update_fields=["theme"])
        after_commit(broadcasts.theme_changed, user_id=user.pk, theme=theme)
    return preferences


def email_verification_resend(*, request: HttpRequest, user: AbstractBaseUser) -> bool:
    """Mail `user` a new verification link, and say so on their next page.

    allauth sends at most one link per address every few minutes and says nothing
    when it skips one; the user is then told the earlier link still works. The
    link carries on the request's `next` (accounts.adapter). Returns whether a
    mail went out.
    """
    address = get_address_for_user(user)
    if address is None or address.verified:
        return False
    # allauth's own flow: its rate limit, its mail, its "Confirmation email sent" message.
    sent = send_verification_email_to_address(request, address)
    if not sent:
        messages.info(request, VERIFICATION_RECENTLY_SENT.format(email=address.email))
    return sent


@transaction.atomic
def avatar_set(*, user: AbstractBaseUser, image: ValidatedFile) -> Avatar:
    """Make `image` (already through uploads.validation) the user's picture.

    The files of the picture it replaces are deleted once this commits; if
    saving the row fails, the new files go again and the old picture stays.
    """
    if image.content_type not in IMAGE_CONTENT_TYPES or not image.thumbnail:
        raise AvatarError(UPLOAD_IMAGES_ONLY)
    old = Avatar.objects.select_for_update().filter(user=user).first()
    name, thumbnail_name = storage.save_validated(file=image, prefix=f"avatars/{user.pk}")
    try:
        avatar, _ = Avatar.objects.update_or_create(user=user, defaults={"image": name, "thumbnail": thumbnail_name})
    except Exception:
        storage.delete_stored(name, thumbnail_name)
        raise
    if old is not None:
        storage.delete_after_commit([old.image.name, old.thumbnail.name])
    return avatar


@transaction.atomic
def avatar_remove(*, user: AbstractBaseUser) -> bool:
    """Go back to initials; the files go after commit. Returns whether there was a picture."""
    old = Avatar.objects.select_for_update().filter(user=user).first()
    if old is None:
        return False
    names = [old.image.name, old.thumbnail.name]
    old.delete()
    storage.delete_after_commit(names)
    return True


def site_sync(*, using: str = "default") -> Site:
    """Make the sites framework's row say what SITE_URL and SITE_NAME say.

    allauth (and anything else asking `get_current_site`) reads this row; left
    alone it says "example.com". Run after every migrate, so a deploy with a new
    SITE_URL corrects it.
    """
    site, _created = Site.objects.using(using).update_or_create(
        pk=settings.SITE_ID, defaults={"domain": urlsplit(settings.SITE_URL).netloc, "name": settings.SITE_NAME}
    )
    Site.objects.clear_cache()
    return site
