"""Pages through the ASGI application, whose handler runs Django's whole
middleware chain and the view in one worker-thread call (realtime/handler.py):
every middleware still does its part, the sync-only ones included."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from accounts.cookies import THEME_COOKIE
from config.asgi import application
from realtime.middleware import TOKEN_REJECTED
from tests.conftest import asgi_request, session_headers

pytestmark = pytest.mark.django_db(transaction=True)


async def get(path: str, headers: list[tuple[bytes, bytes]] = ()) -> dict:
    return await asgi_request(application, path, headers=headers, method="GET")


async def test_a_signed_in_page_passes_every_middleware(make_user):
    user = await database_sync_to_async(make_user)("handlerpage")
    headers = await database_sync_to_async(session_headers)(user, origin=None)

    response = await get("/accounts/settings/", headers)

    assert response["status"] == 200
    # The session and the user (sessions, auth), the view's page.
    assert "handlerpage" in response["body"]
    # Security, clickjacking and CSP headers, from the chain's first to its last.
    assert response["headers"][b"x-content-type-options"] == b"nosniff"
    assert response["headers"][b"x-frame-options"] == b"DENY"
    assert b"default-src" in response["headers"][b"content-security-policy"]
    # The sync-only theme middleware keeps the cookie in step with the page's theme.
    assert f"{THEME_COOKIE}=".encode() in response["headers"][b"set-cookie"]


async def test_a_post_without_its_csrf_token_is_refused(make_user):
    user = await database_sync_to_async(make_user)("handlerpost")
    headers = await database_sync_to_async(session_headers)(user, origin=None)

    response = await asgi_request(
        application,
        "/chat/new/",
        [b"name=nocsrf"],
        [*headers, (b"content-type", b"application/x-www-form-urlencoded")],
    )

    assert response["status"] == 403


async def test_a_bad_bearer_token_is_answered_by_its_middleware():
    response = await get("/api/token/revoke/", [(b"authorization", b"Bearer not-a-token")])

    assert response["status"] == 401
    assert TOKEN_REJECTED in response["body"]


async def test_a_missing_page_is_the_sites_own_404():
    response = await get("/no-such-page/")

    assert response["status"] == 404
    assert settings.SITE_NAME in response["body"]
