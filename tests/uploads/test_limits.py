"""The size cap at the ASGI edge: oversize bodies are refused before Django reads them."""

from __future__ import annotations

import pytest

from tests.conftest import asgi_request
from uploads import limits, validation


def recording_app():
    """A stand-in for Django that reads the whole body, then answers 200."""
    seen = {"bytes": 0}

    async def app(scope, receive, send):
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            seen["bytes"] += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app, seen


@pytest.mark.parametrize("path", ["/chat/upload/squad/", "/orders/7/proofs/"])
async def test_oversize_content_length_is_refused_before_the_app_reads_it(settings, path):
    from config.asgi import application

    settings.UPLOAD_MAX_BYTES = 1000
    cap = 1000 + limits.MULTIPART_OVERHEAD
    # Through the real application: the answer comes without Django, a session or the database.
    response = await asgi_request(application, path, [b"x" * 10], [(b"content-length", str(cap + 1).encode())])

    assert response["status"] == 413
    assert response["body"] == validation.too_large_message() == "Files can be at most 1000\xa0bytes."
    assert response["headers"][b"content-type"].startswith(b"text/plain")


async def test_streamed_body_without_length_is_cut_off_at_the_cap(settings):
    from config.asgi import application

    settings.UPLOAD_MAX_BYTES = 1000
    chunk = b"x" * 16 * 1024
    response = await asgi_request(application, "/chat/upload/squad/", [chunk] * 10)

    assert response["status"] == 413 and "at most 1000" in response["body"]


async def test_the_cap_counts_bytes_even_when_content_length_lies(settings):
    from uploads.limits import UploadSizeLimitMiddleware

    settings.UPLOAD_MAX_BYTES = 1000
    app, seen = recording_app()
    chunk = b"x" * 16 * 1024
    response = await asgi_request(
        UploadSizeLimitMiddleware(app), "/chat/upload/squad/", [chunk] * 10, [(b"content-length", b"100")]
    )

    assert response["status"] == 413
    assert seen["bytes"] <= 1000 + limits.MULTIPART_OVERHEAD


async def test_bodies_under_the_cap_and_other_paths_pass_untouched(settings):
    from uploads.limits import UploadSizeLimitMiddleware

    settings.UPLOAD_MAX_BYTES = 1000
    big = [b"x" * 100_000]
    app, seen = recording_app()
    under = await asgi_request(UploadSizeLimitMiddleware(app), "/chat/upload/squad/", [b"x" * 2000])
    assert under["status"] == 200 and seen["bytes"] == 2000
    app, seen = recording_app()
    elsewhere = await asgi_request(UploadSizeLimitMiddleware(app), "/chat/squad/messages/", big)
    assert elsewhere["status"] == 200 and seen["bytes"] == 100_000
