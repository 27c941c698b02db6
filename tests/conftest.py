"""Shared fixtures: users by role, logged-in clients and sockets."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, User
from django.test import Client

from notifications.notifier import reset_notifiers
from presence.services import reset_presence
from presence.store import new_store
from realtime.consumers import socket_slots
from realtime.fanout import reset_hubs
from rooms import services as room_services

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def isolated_realtime(settings):
    """Each test gets its own channel-layer namespace and a fresh process hub.

    Redis is shared by concurrent runs (and CI's two runs), so keys get a
    per-test prefix instead of a flush.
    """
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    settings.REDIS_PREFIX = prefix
    layers = {name: {**conf} for name, conf in django_settings.CHANNEL_LAYERS.items()}
    for conf in layers.values():
        if "prefix" in conf.get("CONFIG", {}):
            conf["CONFIG"] = {**conf["CONFIG"], "prefix": f"{prefix}:asgi"}
    settings.CHANNEL_LAYERS = layers
    caches = {name: {**conf} for name, conf in django_settings.CACHES.items()}
    for conf in caches.values():
        conf["KEY_PREFIX"] = f"{prefix}:cache"
    settings.CACHES = caches
    # Tests post hundreds of messages quickly; the limit itself has its own tests.
    settings.CHAT_RATE_LIMIT = (10_000, 10)
    # The offline-notification loop runs only where a test starts it.
    settings.NOTIFICATION_POLL_SECONDS = 0
    reset_hubs()
    reset_presence()
    socket_slots.counts.clear()
    channel_layers.backends.clear()
    yield
    reset_notifiers()
    reset_hubs()
    reset_presence()
    channel_layers.backends.clear()


@pytest.fixture
def make_user(db) -> Callable[..., User]:
    def make(
        username: str | None = None,
        *,
        role: str = "customer",
        verified: bool = True,
        is_active: bool = True,
    ) -> User:
        from allauth.account.models import EmailAddress

        username = username or f"user{uuid.uuid4().hex[:8]}"
        user = User.objects.create_user(
            username=username,
            email=f"{username}@example.com",
            password=PASSWORD,
            is_staff=role == "admin",
            is_active=is_active,
        )
        if role == "booster":
            from orders.models import BoosterApproval

            user.groups.add(Group.objects.get_or_create(name="boosters")[0])
            # Like every booster from before Valorant: they may claim any League of Legends order.
            BoosterApproval.objects.create(booster=user, game="lol", max_tier="challenger")
        elif role == "manager":
            user.groups.add(Group.objects.get_or_create(name="managers")[0])
        EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=verified)
        return user

    return make


@pytest.fixture
def group(make_user):
    """A group owned by `owner` with one other member; returns (room, owner, member)."""
    owner, member = make_user("owner"), make_user("member")
    room = room_services.room_create_group(creator=owner, name="squad", title="The Squad")
    room.members.add(member)
    return room, owner, member


@pytest.fixture
def client_for() -> Callable[[User | None], Client]:
    def make(user: User | None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


def session_headers(user: User | None, origin: str | None = "http://testserver") -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if user is not None:
        client = Client()
        client.force_login(user)
        cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
        headers.append((b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    return headers


def http_scope(path: str, headers: list[tuple[bytes, bytes]] = (), *, method: str = "GET") -> dict:
    path, _, query = path.partition("?")
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }


async def asgi_request(
    app, path: str, chunks: list[bytes] = (b"",), headers: list[tuple[bytes, bytes]] = (), *, method: str = "POST"
) -> dict:
    """One HTTP request through an ASGI application, its body streamed as `chunks`:
    the response's status, headers and text."""
    from channels.testing import ApplicationCommunicator

    communicator = ApplicationCommunicator(app, http_scope(path, headers, method=method))
    for index, chunk in enumerate(chunks):
        await communicator.send_input({"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1})
    start = await communicator.receive_output(timeout=5)
    body = b""
    while True:
        part = await communicator.receive_output(timeout=5)
        body += part.get("body", b"")
        if not part.get("more_body"):
            break
    await communicator.wait(timeout=5)
    headers: dict[bytes, bytes] = {}
    for name, value in start["headers"]:
        # Names in lower case, as HTTP/2 sends them; several Set-Cookie headers joined.
        name = name.lower()
        headers[name] = headers[name] + b", " + value if name in headers else value
    return {"status": start["status"], "headers": headers, "body": body.decode()}


def go_online(*users: User) -> None:
    """Put a connection of each user in the presence store, as a socket's connect does."""

    async def add() -> None:
        store = new_store()
        for user in users:
            await store.add(user_id=user.pk, conn_id=f"tab-of-{user.pk}")
        await store.close()

    # A private loop: async_to_sync here left a database session open on asgiref's
    # shared thread after the socket tests, and PostgreSQL then refused to drop
    # the test database.
    asyncio.run(add())


@pytest.fixture
def socket_for():
    """Open a socket through the real ASGI application (origin check, session auth)."""
    from channels.db import database_sync_to_async

    from config.asgi import application

    opened: list[WebsocketCommunicator] = []

    async def make(path: str, user: User | None = None, origin: str | None = "http://testserver"):
        headers = await database_sync_to_async(session_headers)(user, origin)
        communicator = WebsocketCommunicator(application, path, headers=headers)
        opened.append(communicator)
        return communicator

    yield make
    # Communicators are disconnected by the tests; this only stops stray tasks.
    for communicator in opened:
        try:
            communicator.future.cancel()
        except Exception:
            pass


async def expect_close(communicator: WebsocketCommunicator, code: int) -> None:
    """The socket was accepted, then closed with `code` (what browsers see)."""
    connected, _ = await communicator.connect()
    assert connected, "socket should be accepted before it is closed"
    output = await communicator.receive_output(timeout=3)
    assert output == {"type": "websocket.close", "code": code}
