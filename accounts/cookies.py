"""The theme cookie. Signed-out visitors keep their theme here; signed-in users
too, so the pages after logging out (sign-in included) keep the theme they had."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from accounts.models import Theme

THEME_COOKIE = "theme"
THEME_COOKIE_MAX_AGE = 365 * 24 * 3600


def theme_from_cookie(request: HttpRequest | None) -> str:
    value = request.COOKIES.get(THEME_COOKIE) if request is not None else None
    return value if value in Theme.values else Theme.SYSTEM


def remember_theme(response: HttpResponse, theme: str) -> None:
    response.set_cookie(
        THEME_COOKIE,
        theme,
        max_age=THEME_COOKIE_MAX_AGE,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
    )
