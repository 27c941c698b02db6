from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts import selectors
from accounts.models import Theme


def theme(request: HttpRequest) -> dict:
    """`theme` for `<html data-theme>`, read only by templates that use it (a
    fragment rendered for htmx costs no query)."""

    def resolve() -> str:
        value = selectors.theme_for_request(request)
        # The middleware keeps this browser's cookie in step with what was shown.
        request.theme_rendered = value
        return value

    return {"theme": SimpleLazyObject(resolve), "theme_choices": Theme.choices}
