"""`Authorization: Bearer <token>` for the JSON API, and compressed pages."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.gzip import GZipMiddleware

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


# Pages, fragments, JSON and plain text. Uploads and images are compressed already
# (or not worth it) and stream with their length; static files come compressed
# from ServeStatic, which answers before this middleware runs.
COMPRESSIBLE = re.compile(r"^(text/(html|plain)|application/json)\b")


class TextCompressionMiddleware(GZipMiddleware):
    """Django's gzip (with its BREACH mitigation, random padding per response),
    for text responses only."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not COMPRESSIBLE.match(response.get("Content-Type", "")):
            return response
        return super().process_response(request, response)
