from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts.cookies import THEME_COOKIE, remember_theme


def theme_cookie_middleware(get_response: Callable[[HttpRequest], HttpResponse]):
    """Keeps a signed-in user's cookie in step with the theme their page showed,
    so logging out keeps it even when they chose it on another device."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        # Set by the context processor, only on pages that rendered the theme.
        rendered = getattr(request, "theme_rendered", None)
        user = getattr(request, "user", None)
        if (
            rendered
            and user is not None
            and user.is_authenticated
            and request.COOKIES.get(THEME_COOKIE) != rendered
            and THEME_COOKIE not in response.cookies
        ):
            remember_theme(response, rendered)
        return response

    return middleware
