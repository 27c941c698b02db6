"""API tokens over HTTP and sockets; origin policy; revocation; limits."""

import json
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core import signing

from config.asgi import application
from realtime import auth
from rooms import services
from rooms.models import Message, Room
from tests.conftest import PASSWORD, expect_close

db = database_sync_to_async


def get_token(client, login, password=PASSWORD):
    return client.post(
        "/api/token/", json.dumps({"login": login, "password": password}), content_type="application/json"
    )


def token_socket(path: str, token: str | None, origin: bytes | None = None, cookie: bytes | None = None):
    headers = []
    if origin:
        headers.append((b"origin", origin))
    if cookie:
        headers.append((b"cookie", cookie))
    query = f"?token={token}" if token is not None else ""
    return WebsocketCommunicator(application, f"{path}{query}", headers=headers)


@pytest.mark.django_db
class TestTokenEndpoint:
    def test_username_or_email_gets_a_token(self, client, make_user):
        user = make_user("tokenuser")
        for login in ("tokenuser", "TOKENUSER@example.com"):
            response = get_token(client, login)
            assert response.status_code == 200
            assert auth.token_user(response.json()["token"]) == user
            assert response.json()["expires_in"] == 3600

    def test_wrong_password_and_inactive_users_get_nothing(self, client, make_user):
        make_user("sleepy", is_active=False)
        make_user("awake")
        for login, password in (("awake", "nope"), ("sleepy", PASSWORD), ("ghost", PASSWORD), ("", "")):
            response = get_token(client, login, password)
            assert response.status_code == 400 and response.json()["error"] == auth.CREDENTIALS_INVALID

    def test_rate_limited(self, client, make_user, settings):
        settings.API_TOKEN_RATE_LIMIT = (3, 60)
        make_user("target")
        codes = [get_token(client, "target", "guess").status_code for _ in range(5)]
        assert codes == [400, 400, 400, 429, 429]
        assert get_token(client, "target").status_code == 429  # even the right password, for now

    def test_token_expires(self, make_user, settings):
        token = auth.token_issue(user=make_user())
        settings.API_TOKEN_MAX_AGE = -1
        with pytest.raises(auth.TokenError) as error:
            auth.token_user(token)
        assert error.value.close_code == 4003

    def test_forged_and_garbage_tokens_are_invalid(self, make_user):
        user = make_user()
        forged = signing.dumps({"u": user.pk, "iat": time.time()}, salt="another-salt")
        for token in (forged, "garbage", ""):
            with pytest.raises(auth.TokenError) as error:
                auth.token_user(token)
            assert error.value.close_code == 4003

    def test_deactivated_user_token_is_4002(self, make_user):
        user = make_user()
        token = auth.token_issue(user=user)
        user.is_active = False
        user.save()
        with pytest.raises(auth.TokenError) as error:
            auth.token_user(token)
        assert error.value.close_code == 4002

    def test_log_out_everywhere_revokes_earlier_tokens(self, client_for, make_user):
        user = make_user()
        old = auth.token_issue(user=user)
        response = client_for(None).post("/api/token/revoke/", HTTP_AUTHORIZATION=f"Bearer {old}")
        assert response.status_code == 200
        with pytest.raises(auth.TokenError):
            auth.token_user(old)
        time.sleep(0.01)
        assert auth.token_user(auth.token_issue(user=user)) == user

    def test_bearer_token_on_the_json_api_needs_no_csrf(self, make_user, db):
        from django.test import Client

        user = make_user()
        token = auth.token_issue(user=user)
        client = Client(enforce_csrf_checks=True)
        response = client.post(
            "/api/chat/messages/",
            '{"body": "from a bot"}',
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert response.status_code == 201 and response.json()["author"]["id"] == user.pk
        response = client.get("/api/chat/messages/", HTTP_AUTHORIZATION="Bearer not-a-token")
        assert response.status_code == 401


@pytest.mark.django_db(transaction=True)
class TestTokenSockets:
    async def test_token_connects_without_origin_or_cookie(self, make_user):
        user = await db(make_user)()
        token = await db(auth.token_issue)(user=user)
        socket = token_socket("/ws/chatroom/public-chat/", token)
        connected, _ = await socket.connect()
        assert connected
        await socket.send_to(text_data=json.dumps({"body": "hello from a script"}))
        received = [await socket.receive_from(timeout=3) for _ in range(2)]
        assert any("hello from a script" in frame for frame in received)
        await socket.disconnect()

    async def test_close_codes(self, make_user, settings):
        user = await db(make_user)()
        await expect_close(token_socket("/ws/chatroom/public-chat/", "garbage"), 4003)
        token = await db(auth.token_issue)(user=user)
        settings.API_TOKEN_MAX_AGE = -1
        await expect_close(token_socket("/ws/chatroom/public-chat/", token), 4003)
        settings.API_TOKEN_MAX_AGE = 3600
        user.is_active = False
        await db(user.save)()
        await expect_close(token_socket("/ws/chatroom/public-chat/", token), 4002)
        other = await db(make_user)()
        room = await db(services.room_create_group)(creator=other, name="secret-club")
        token = await db(auth.token_issue)(user=other)
        await expect_close(
            token_socket(f"/ws/chatroom/{room.name}/", await db(auth.token_issue)(user=await db(make_user)())), 4004
        )
        socket = token_socket(f"/ws/chatroom/{room.name}/", token)
        assert (await socket.connect())[0]
        await socket.disconnect()

    async def test_no_origin_and_no_token_is_refused(self, socket_for, make_user):
        user = await db(make_user)()
        socket = await socket_for("/ws/chatroom/public-chat/", user, origin=None)
        assert (await socket.connect())[0] is False

    async def test_anonymous_with_allowed_origin_gets_4001(self, socket_for):
        await expect_close(await socket_for("/ws/chatroom/public-chat/"), 4001)

    async def test_foreign_origin_with_cookie_is_refused(self, socket_for, make_user):
        user = await db(make_user)()
        socket = await socket_for("/ws/chatroom/public-chat/", user, origin="https://evil.example")
        assert (await socket.connect())[0] is False
        assert await db(Message.objects.count)() == 0


@pytest.mark.django_db(transaction=True)
class TestRevocation:
    async def test_logout_closes_every_socket_of_the_user_within_2s(self, socket_for, make_user):
        from django.test import Client

        user = await db(make_user)()
        sockets = [await socket_for("/ws/chatroom/public-chat/", user) for _ in range(3)]
        for socket in sockets:
            assert (await socket.connect())[0]
        other = await db(make_user)()
        bystander = await socket_for("/ws/chatroom/public-chat/", other)
        assert (await bystander.connect())[0]

        def log_out():
            client = Client()
            client.force_login(user)
            client.post("/accounts/logout/")

        started = time.monotonic()
        await db(log_out)()
        for socket in sockets:
            assert await socket.receive_output(timeout=2) == {"type": "websocket.close", "code": 4001}
        assert time.monotonic() - started < 2
        assert await bystander.receive_nothing(timeout=0.2)
        await bystander.disconnect()

    async def test_deactivation_closes_sockets(self, socket_for, make_user):
        user = await db(make_user)()
        socket = await socket_for("/ws/chatroom/public-chat/", user)
        assert (await socket.connect())[0]
        user.is_active = False
        await db(user.save)()
        assert await socket.receive_output(timeout=2) == {"type": "websocket.close", "code": 4002}

    async def test_revoking_tokens_closes_token_sockets(self, make_user):
        user = await db(make_user)()
        token = await db(auth.token_issue)(user=user)
        socket = token_socket("/ws/chatroom/public-chat/", token)
        assert (await socket.connect())[0]

        def revoke():
            from django.test import Client

            return Client().post("/api/token/revoke/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code

        assert await db(revoke)() == 200
        assert await socket.receive_output(timeout=2) == {"type": "websocket.close", "code": 4001}


@pytest.mark.django_db(transaction=True)
class TestLimits:
    async def test_sockets_per_user(self, socket_for, make_user, settings):
        settings.SOCKETS_PER_USER = 2
        user = await db(make_user)()
        first, second = [await socket_for("/ws/chatroom/public-chat/", user) for _ in range(2)]
        assert (await first.connect())[0] and (await second.connect())[0]
        await expect_close(await socket_for("/ws/chatroom/public-chat/", user), 4008)
        await first.disconnect()
        third = await socket_for("/ws/chatroom/public-chat/", user)
        assert (await third.connect())[0]
        await second.disconnect()
        await third.disconnect()

    async def test_message_rate_per_user_per_room(self, socket_for, make_user, settings):
        settings.CHAT_RATE_LIMIT = (20, 10)
        user = await db(make_user)()
        socket = await socket_for("/ws/chatroom/public-chat/", user)
        assert (await socket.connect())[0]
        errors = 0
        for i in range(22):
            await socket.send_to(text_data=json.dumps({"body": f"spam {i}"}))
        for _ in range(22 * 2 - 2):
            frame = await socket.receive_from(timeout=3)
            errors += "too fast" in frame
        assert errors == 2
        assert await db(Message.objects.count)() == 20
        # Another room has its own budget.
        room = await db(services.room_create_group)(creator=user, name="quiet-room")
        assert await db(Room.objects.filter(pk=room.pk).exists)()
        await db(services.message_post)(room=room, author=user, body="still fine")
        await socket.disconnect()

    async def test_deeply_nested_json_is_refused(self, socket_for, make_user):
        user = await db(make_user)()
        socket = await socket_for("/ws/chatroom/public-chat/", user)
        assert (await socket.connect())[0]
        await socket.send_to(text_data=json.dumps({"body": "x", "extra": [[[[[[[[[[[["deep"]]]]]]]]]]]]}))
        assert "could not be read" in await socket.receive_from(timeout=3)
        assert await db(Message.objects.count)() == 0
        await socket.disconnect()


@pytest.mark.django_db
def test_security_headers(client, make_user):
    response = client.get("/")
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"].startswith("'self' 'nonce-") and "unsafe" not in directives["script-src"]
    nonce = directives["script-src"].split("'nonce-")[1].rstrip("'")
    assert f'nonce="{nonce}"' in response.content.decode()
    assert "frame-ancestors 'none'" in policy
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    body = response.content.decode()
    assert '"allowEval": false' in body and '"allowScriptTags": false' in body and '"selfRequestsOnly": true' in body
    assert "<script>" not in body  # no inline scripts at all
