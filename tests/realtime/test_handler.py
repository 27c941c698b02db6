"""Pages through the ASGI application, whose handler runs Django's whole
middleware chain and the view in one worker-thread call (realtime/handler.py):
every middleware still does its part, the sync-only ones included; and that
call runs on a thread kept for the process while one is free."""

from __future__ import annotations

import threading

import pytest
from channels.db import database_sync_to_async
from channels.testing import ApplicationCommunicator
from django.conf import settings
from django.core.signals import request_started
from django.db import connections

from accounts.cookies import THEME_COOKIE
from config.asgi import application
from realtime.handler import SyncChainASGIHandler
from realtime.middleware import TOKEN_REJECTED
from tests.conftest import asgi_request, http_scope, session_headers

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


class RequestThreads:
    """Which thread each request ran on, and its database connection (Django's
    request_started runs on the request's thread)."""

    def __init__(self) -> None:
        self.seen: list[tuple[threading.Thread, object, object]] = []

    def __call__(self, **kwargs) -> None:
        connection = connections["default"]
        connection.ensure_connection()
        self.seen.append((threading.current_thread(), connection, connection.connection))


@pytest.fixture
def request_threads(settings):
    """Two kept request threads, and connections kept as production keeps them;
    closed at the end so the test database can be dropped."""
    settings.REQUEST_THREADS = 2
    seen = RequestThreads()
    request_started.connect(seen)
    kept_for = connections.settings["default"]["CONN_MAX_AGE"]
    connections.settings["default"]["CONN_MAX_AGE"] = 60
    handler = SyncChainASGIHandler()
    yield handler, seen.seen
    connections.settings["default"]["CONN_MAX_AGE"] = kept_for
    request_started.disconnect(seen)
    for thread in handler._idle_threads:
        thread.submit(connections.close_all).result()
        thread.shutdown()


async def test_requests_in_turn_reuse_a_kept_thread_and_its_connection(request_threads):
    handler, seen = request_threads

    for _ in range(3):
        assert (await asgi_request(handler, "/", method="GET"))["status"] == 200

    threads = {thread for thread, _wrapper, _connection in seen}
    connections_used = {connection for _thread, _wrapper, connection in seen}
    assert len(seen) == 3 and len(threads) == 1 and len(connections_used) == 1
    assert threads.isdisjoint({threading.current_thread()})


async def test_requests_past_the_kept_threads_get_threads_of_their_own_that_close_their_connections(
    request_threads,
):
    handler, seen = request_threads
    # Two requests whose bodies have not all arrived hold both kept threads.
    waiting = []
    for _ in range(2):
        communicator = ApplicationCommunicator(handler, http_scope("/"))
        await communicator.send_input({"type": "http.request", "body": b"", "more_body": True})
        waiting.append(communicator)

    first = await asgi_request(handler, "/", method="GET")
    second = await asgi_request(handler, "/", method="GET")

    assert first["status"] == second["status"] == 200
    (thread_a, wrapper_a, _), (thread_b, wrapper_b, _) = seen
    assert thread_a != thread_b
    # Each ended with its request, and took its connection along (Django never
    # closes an in-memory SQLite database: the PostgreSQL run checks this).
    assert all(wrapper.connection is None or wrapper.is_in_memory_db() for wrapper in (wrapper_a, wrapper_b))
    for communicator in waiting:
        await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
        assert (await communicator.receive_output(timeout=5))["status"] == 200
        await communicator.wait(timeout=5)
    kept = {thread for thread, _wrapper, _connection in seen[2:]}
    assert len(kept) == 2 and kept.isdisjoint({thread_a, thread_b})
    # The kept threads keep theirs, for the next request.
    assert all(wrapper.connection is not None for _thread, wrapper, _connection in seen[2:])
    assert (await asgi_request(handler, "/", method="GET"))["status"] == 200
    assert seen[-1][0] in kept and seen[-1][2] in {connection for _thread, _wrapper, connection in seen[2:4]}
