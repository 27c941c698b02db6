"""`Authorization: Bearer <token>` for the JSON API, compressed pages, and static files."""

from __future__ import annotations

import re
from collections.abc import Callable

from asgiref.sync import async_to_sync, sync_to_async
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.middleware.gzip import GZipMiddleware
from servestatic.middleware import ServeStaticMiddleware

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


class StaticFilesMiddleware:
    """ServeStatic's middleware, asked only about paths under its prefix.

    It is async-only, and every other middleware and view here is sync, so Django
    ran it through a hop into the event loop and another back into the request's
    thread for every page and form, to learn that they are not static files.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.static = ServeStaticMiddleware(sync_to_async(get_response, thread_sensitive=True))
        self.static_files = async_to_sync(self.static)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info.startswith(self.static.static_prefix):
            return self.static_files(request)
        return self.get_response(request)
