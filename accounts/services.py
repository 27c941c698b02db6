"""A person's actions on their own account settings."""

from __future__ import annotations

from functools import partial

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from accounts import broadcasts
from accounts.models import Preferences, Theme

UNKNOWN_THEME = "Choose one of the themes offered."


class PreferencesError(ValueError):
    pass


@transaction.atomic
def preferences_update(*, user: AbstractBaseUser, theme: str | None = None) -> Preferences:
    """Save the settings given (None leaves one as it is); every open page of the
    user follows a theme change once it is committed."""
    if theme is not None and theme not in Theme.values:
        raise PreferencesError(UNKNOWN_THEME)
    preferences, created = Preferences.objects.select_for_update().get_or_create(user=user)
    # A user without a row saw this browser's cookie theme, so a first save is a change too.
    if theme is not None and (created or theme != preferences.theme):
        preferences.theme = theme
        preferences.save(update_fields=["theme"])
        transaction.on_commit(partial(broadcasts.theme_changed, user_id=user.pk, theme=theme))
    return preferences
