"""`Authorization: Bearer <token>` for the JSON API."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from realtime.auth import TokenError, token_user

TOKEN_REJECTED = "The token is invalid, expired or revoked."


class BearerTokenMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        header = request.headers.get("Authorization", "")
        if request.path.startswith("/api/") and header.startswith("Bearer "):
            try:
                request.user = token_user(header.removeprefix("Bearer ").strip())
            except TokenError:
                return JsonResponse({"error": TOKEN_REJECTED}, status=401)
            # No cookie carries this credential, so there is nothing to forge.
            request._dont_enforce_csrf_checks = True
        return self.get_response(request)
