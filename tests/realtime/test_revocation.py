"""Revocation after a token was issued or a socket opened: each close code, and
within 2 seconds for sockets that are already open."""

from __future__ import annotations

import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group

from config.asgi import application
from orders import services as order_services
from realtime import auth
from rooms import broadcasts as room_broadcasts
from tests.conftest import expect_close

pytestmark = pytest.mark.django_db(transaction=True)
db = database_sync_to_async
REVOCATION_SECONDS = 2


def token_socket(path: str, token: str) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, f"{path}?token={token}")


async def closed_within(
    socket: WebsocketCommunicator, code: int, seconds: float = REVOCATION_SECONDS, *, told: str | None = None
) -> float:
    """Closed with `code` within `seconds`, after a frame saying `told` if given."""
    started = time.monotonic()
    if told is not None:
        frame = await socket.receive_output(timeout=seconds)
        assert frame["type"] == "websocket.send" and told in frame["text"], frame
    assert await socket.receive_output(timeout=seconds) == {"type": "websocket.close", "code": code}
    elapsed = time.monotonic() - started
    assert elapsed < seconds
    return elapsed


async def test_token_of_a_deleted_user_gets_4002(make_user):
    user = await db(make_user)()
    token = await db(auth.token_issue)(user=user)
    await db(user.delete)()
    await expect_close(token_socket("/ws/chatroom/public-chat/", token), 4002)


async def test_token_of_a_deactivated_user_gets_4002(make_user):
    user = await db(make_user)()
    token = await db(auth.token_issue)(user=user)
    user.is_active = False
    await db(user.save)()
    await expect_close(token_socket("/ws/orders/", token), 4002)


async def test_open_token_socket_closes_with_4002_when_the_user_is_deactivated(make_user):
    user = await db(make_user)()
    socket = token_socket("/ws/chatroom/public-chat/", await db(auth.token_issue)(user=user))
    assert (await socket.connect())[0]
    user.is_active = False
    await db(user.save)()
    await closed_within(socket, 4002)


async def test_open_socket_closes_with_4002_when_the_user_is_deleted(make_user, socket_for):
    user = await db(make_user)()
    by_token = token_socket("/ws/orders/", await db(auth.token_issue)(user=user))
    by_cookie = await socket_for("/ws/chatroom/public-chat/", user)
    for socket in (by_token, by_cookie):
        assert (await socket.connect())[0]
    await db(user.delete)()
    for socket in (by_token, by_cookie):
        await closed_within(socket, 4002)


async def test_non_staff_token_on_the_ping_socket_gets_4004(make_user):
    for role in ("customer", "booster", "manager"):
        user = await db(make_user)(role=role)
        await expect_close(token_socket("/ws/realtime/ping/", await db(auth.token_issue)(user=user)), 4004)
    admin = await db(make_user)(role="admin")
    socket = token_socket("/ws/realtime/ping/", await db(auth.token_issue)(user=admin))
    assert (await socket.connect())[0]
    await socket.send_to(text_data='{"type": "ping"}')
    assert 'id="layer-rtt"' in await socket.receive_from(timeout=3)
    await socket.disconnect()


@pytest.mark.parametrize("transport", ["cookie", "token"])
async def test_booster_removed_from_an_order_loses_its_chat_within_2s(make_user, socket_for, transport):
    def setup():
        for name in ("boosters", "managers"):  # a transactional test's flush removes the migration's groups
            Group.objects.get_or_create(name=name)
        customer = make_user()
        first, second = make_user(role="booster"), make_user(role="booster")
        manager = make_user(role="manager")
        order = order_services.order_create(
            customer=customer, current_rank="silver", current_division=2, desired_rank="gold", desired_division=4
        )
        order = order_services.order_assign(order=order, booster=first, by=manager)
        return order, customer, first, second, manager

    order, customer, first, second, manager = await db(setup)()
    path = f"/ws/chatroom/{order.booster_room.name}/"
    if transport == "token":
        booster_chat = token_socket(path, await db(auth.token_issue)(user=first))
    else:
        booster_chat = await socket_for(path, first)
    customer_chat = await socket_for(path, customer)
    for socket in (booster_chat, customer_chat):
        assert (await socket.connect())[0]

    await db(order_services.order_assign)(order=order, booster=second, by=manager)
    await closed_within(booster_chat, 4004, told=room_broadcasts.GONE_REMOVED)
    # The customer stays in the room with the new booster.
    assert await customer_chat.receive_nothing(timeout=0.3) or (
        (await customer_chat.receive_output())["type"] != "websocket.close"
    )
    await customer_chat.disconnect()
    await expect_close(await socket_for(path, first), 4004)
