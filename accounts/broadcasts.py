"""Pushes of a person's own settings to their open pages.

The theme goes to `groups.user(pk)`, which the presence socket (one on every
signed-in page) forwards when the event's kind is THEME_EVENT; the orders socket
on the same group ignores it. One render per change, the same bytes to every tab.
"""

from __future__ import annotations

from functools import lru_cache

from django.template.loader import render_to_string

from accounts import selectors
from realtime import groups
from realtime.fanout import publish_sync

THEME_EVENT = "accounts.theme"


@lru_cache(maxsize=8)
def theme_state_html(theme: str) -> str:
    """The out-of-band #theme-state; it depends on the theme alone, so once per process."""
    return render_to_string("base.html#theme-state", {"theme": theme, "oob": True})


def theme_changed(*, user_id: int, theme: str) -> None:
    publish_sync(groups.user(user_id), kind=THEME_EVENT, html=theme_state_html(theme))


def theme_snapshot(*, user_id: int) -> str:
    """What a (re)connecting page socket gets: a change made while it was down is
    otherwise lost. Users who never saved a theme see their cookie's, which the
    page already has."""
    theme = selectors.saved_theme(user_id=user_id)
    return theme_state_html(theme) if theme is not None else ""
