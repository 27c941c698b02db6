"""How big and how often: request body caps at the ASGI edge, before Django reads
the body, and the rate limit of uploads.

Django's ASGI handler reads the whole body (spooling to a temporary file past
FILE_UPLOAD_MAX_MEMORY_SIZE) before any view runs, so the views' own size checks
come only after an oversize body has been taken in completely. This middleware
answers 413 first: at once when Content-Length is over the cap, and as soon as
the streamed bytes pass it when there is no (or a false) Content-Length. The
upload endpoints allow an upload and the form around it; every other path
allows the larger of that and the biggest form Django accepts
(DATA_UPLOAD_MAX_MEMORY_SIZE).

The production server (uvicorn, see the Makefile) hands the body over in pieces
of at most 64 KB as the application asks for them and stops reading while it
waits, so with these caps no request makes a process hold more than about
FILE_UPLOAD_MAX_MEMORY_SIZE of its body (tests/uploads/test_body_memory.py).
Daphne, by contrast, copied a multipart body several times in memory before
the application ran.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpRequest

from realtime import ratelimit
from uploads.validation import too_large_message

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

UPLOAD_RATE_LIMITED = "You are uploading too quickly. Wait a minute and try again."
# Multipart boundaries and the other form fields ride along with the file.
MULTIPART_OVERHEAD = 64 * 1024
REQUEST_TOO_LARGE = "This request is too large."
# The multipart upload endpoints: chat files, order proof screenshots, profile pictures.
GUARDED_PATHS = re.compile(r"^/(?:chat/upload/[^/]+|orders/\d+/proofs|accounts/settings/avatar)/$")


def request_cap() -> int:
    """The largest body an upload request may have: the file plus the form around it."""
    return settings.UPLOAD_MAX_BYTES + MULTIPART_OVERHEAD


def upload_was_too_large(request: HttpRequest) -> bool:
    """Whether the request body (or a file in it) went past UPLOAD_MAX_BYTES.

    Reads only the Content-Length header and the size handler's flag, so it is
    safe to call before touching `request.FILES`.
    """
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > request_cap():
        return True
    request.FILES  # noqa: B018 - parse now so the size handler has run
    return any(getattr(handler, "too_large", False) for handler in request.upload_handlers)


def upload_rate_exceeded(*, user: AbstractBaseUser) -> bool:
    """Count this upload attempt; True once the user is past UPLOAD_RATE_LIMIT a window."""
    return not ratelimit.allow(
        f"uploads:{user.pk}", limit=settings.UPLOAD_RATE_LIMIT, window=settings.UPLOAD_RATE_WINDOW_SECONDS
    )


def body_cap(path: str) -> int:
    """The largest body a request to `path` may have."""
    if GUARDED_PATHS.match(path):
        return request_cap()
    return max(request_cap(), settings.DATA_UPLOAD_MAX_MEMORY_SIZE + MULTIPART_OVERHEAD)


class UploadSizeLimitMiddleware:
    """ASGI middleware around the HTTP application (config/asgi.py)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        cap = body_cap(path)
        message = too_large_message() if GUARDED_PATHS.match(path) else REQUEST_TOO_LARGE
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            return await _too_large(send, message)

        received = 0
        overflowed = False
        response_started = False

        async def counted_receive() -> dict[str, Any]:
            nonlocal received, overflowed
            if overflowed:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    # Django treats a disconnect while reading the body as an
                    # aborted request and returns without answering; the 413
                    # below is then the only response.
                    overflowed = True
                    return {"type": "http.disconnect"}
            return message

        async def watched_send(message: dict[str, Any]) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, counted_receive, watched_send)
        if overflowed and not response_started:
            await _too_large(send, message)


def _content_length(scope: dict[str, Any]) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # unreadable: count the bytes instead
    return None


async def _too_large(send: Any, message: str) -> None:
    body = message.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
