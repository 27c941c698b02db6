"""Abuse edges: the token endpoint's per-login budget and timing, and the cookie
socket's Origin check (scheme, host and port)."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.hashers import MD5PasswordHasher

from config.asgi import application
from tests.conftest import PASSWORD, session_headers

db = database_sync_to_async


class CountingHasher(MD5PasswordHasher):
    """A real hasher that counts how often it hashes: a login that costs no hash
    answers faster, and tells an attacker the account does not exist."""

    algorithm = "counting_md5"
    hashes = 0

    def encode(self, password, salt):
        CountingHasher.hashes += 1
        return super().encode(password, salt)


def get_token(client, login, password=PASSWORD, **extra):
    return client.post(
        "/api/token/", json.dumps({"login": login, "password": password}), content_type="application/json", **extra
    )


@pytest.mark.django_db
class TestTokenEndpoint:
    def test_the_per_login_budget_counts_the_login_as_looked_up(self, client, make_user, settings):
        settings.API_TOKEN_RATE_LIMIT = (3, 60)
        make_user("target")
        spellings = [" target", "target ", "\ttarget", "TARGET", "ｔａｒｇｅｔ", "target"]
        # A fresh address each time: only the per-login budget can refuse.
        codes = [
            get_token(client, login, "guess", REMOTE_ADDR=f"10.0.0.{n}").status_code
            for n, login in enumerate(spellings, start=1)
        ]
        assert codes == [400, 400, 400, 429, 429, 429]

    def test_an_unknown_login_costs_the_same_password_hash_as_a_known_one(self, client, make_user, settings):
        settings.PASSWORD_HASHERS = ["tests.realtime.test_abuse.CountingHasher"]
        make_user("known")
        make_user("sleeper", is_active=False)
        costs = {}
        for login, password in (("known", "wrong"), ("nobody-at-all", "wrong"), ("sleeper", PASSWORD), ("", "x")):
            before = CountingHasher.hashes
            response = get_token(client, login, password)
            assert response.status_code == 400
            costs[login] = CountingHasher.hashes - before
        assert costs == {"known": 1, "nobody-at-all": 1, "sleeper": 1, "": 1}


async def outcome(headers: list[tuple[bytes, bytes]]) -> str:
    socket = WebsocketCommunicator(application, "/ws/chatroom/public-chat/", headers=headers)
    connected, _ = await socket.connect()
    if not connected:
        return "refused"
    output = await socket.receive_output(timeout=0.5) if not await socket.receive_nothing(timeout=0.3) else None
    await socket.disconnect()
    return "closed" if output and output["type"] == "websocket.close" else "open"


@pytest.mark.django_db(transaction=True)
class TestOrigin:
    @pytest.mark.parametrize(
        "host, origin, extra, expected",
        [
            ("127.0.0.1:8000", "http://127.0.0.1:8000", [], "open"),
            ("127.0.0.1:8000", "http://127.0.0.1:9999", [], "refused"),  # another port is another origin
            ("127.0.0.1:8000", "https://127.0.0.1:8000", [], "refused"),  # and another scheme
            ("127.0.0.1:8000", "http://localhost:8000", [], "refused"),  # and another allowed host
            ("127.0.0.1:8000", "http://127.0.0.1:8000.evil.example", [], "refused"),
            ("127.0.0.1:8000", "null", [], "refused"),
            ("localhost", "http://localhost", [], "open"),  # default ports may be left out
            ("localhost", "http://localhost:80", [], "open"),
            # Behind a TLS proxy that says so (SECURE_PROXY_SSL_HEADER).
            ("localhost", "https://localhost", [(b"x-forwarded-proto", b"https")], "open"),
            ("localhost", "http://localhost", [(b"x-forwarded-proto", b"https")], "refused"),
            # A Host the site does not serve.
            ("evil.example", "http://evil.example", [], "refused"),
        ],
    )
    async def test_a_cookie_socket_needs_the_site_s_own_origin(self, make_user, host, origin, extra, expected):
        user = await db(make_user)()
        headers = [*await db(session_headers)(user, origin), (b"host", host.encode()), *extra]
        assert await outcome(headers) == expected

    async def test_csrf_trusted_origins_are_the_site_s_too(self, make_user, settings):
        settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com", "https://*.boost.example"]
        user = await db(make_user)()
        for origin, expected in (
            ("https://chat.example.com", "open"),
            ("https://eu.boost.example", "open"),
            ("http://chat.example.com", "refused"),
            ("https://chat.example.com:8443", "refused"),
        ):
            headers = [*await db(session_headers)(user, origin), (b"host", b"127.0.0.1:8000")]
            assert await outcome(headers) == expected, origin
