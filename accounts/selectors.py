"""Reads of a person's preferences and picture."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpRequest

from accounts.cookies import theme_from_cookie
from accounts.models import Avatar, Preferences


def preferences_for(*, user: AbstractBaseUser) -> Preferences:
    """The user's saved preferences, or unsaved defaults if they never saved any."""
    return Preferences.objects.filter(user=user).first() or Preferences(user=user)


def saved_theme(*, user_id: int) -> str | None:
    return Preferences.objects.filter(user_id=user_id).values_list("theme", flat=True).first()


def theme_for_request(request: HttpRequest) -> str:
    """The theme a page is rendered in: the user's saved one, else this browser's."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        saved = saved_theme(user_id=user.pk)
        if saved is not None:
            return saved
    return theme_from_cookie(request)


def email_window(preferences: Preferences) -> timedelta:
    """How long an offline user's first unread message waits before the email,
    and the least time between two emails."""
    return timedelta(minutes=preferences.email_window_minutes or settings.NOTIFICATION_EMAIL_DELAY_MINUTES)


def avatar_for(*, user_id: int) -> Avatar | None:
    """The user's uploaded picture, if they have one (any signed-in user may see it)."""
    return Avatar.objects.filter(user_id=user_id).first()


def avatar_of(user: AbstractBaseUser | None) -> Avatar | None:
    """The picture of a user already loaded, without a query when the caller
    selected `avatar` with them (message rows, member lists do)."""
    if user is None:
        return None
    try:
        return user.avatar
    except ObjectDoesNotExist:
        return None
