"""An access change reaches the user's open sockets within 2 seconds, over the
session cookie and an API token alike: a role lost (the `managers`/`boosters`
groups, `is_staff`), a password changed or reset, a token expired."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, User
from django.test import Client

from config.asgi import application
from orders import services as order_services
from orders.models import BoosterApproval
from realtime import auth
from realtime.consumers import resync_frame
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)
db = database_sync_to_async
WITHIN = 2  # seconds: the bar for an access change to reach open sockets
TRANSPORTS = ["cookie", "token"]


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def role_groups(db):
    for name in ("boosters", "managers"):  # a transactional test's flush removes the migration's groups
        Group.objects.get_or_create(name=name)


async def opened(socket_for, path: str, user: User, transport: str) -> WebsocketCommunicator:
    if transport == "token":
        token = await db(auth.token_issue)(user=user)
        socket = WebsocketCommunicator(application, f"{path}{'&' if '?' in path else '?'}token={token}")
    else:
        socket = await socket_for(path, user)
    assert (await socket.connect())[0]
    return socket


async def closed(socket: WebsocketCommunicator, code: int) -> None:
    """The next thing the socket does, within WITHIN seconds, is close with `code`."""
    while True:
        output = await socket.receive_output(timeout=WITHIN)
        if output["type"] == "websocket.close":
            assert output == {"type": "websocket.close", "code": code}
            return


async def told_to_resync(socket: WebsocketCommunicator) -> None:
    assert await socket.receive_from(timeout=WITHIN) == resync_frame()


def place_order(customer):
    return order_services.order_create(
        customer=customer, current_rank="silver", current_division=2, desired_rank="gold", desired_division=4
    )


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_manager_removed_from_managers_stops_getting_every_order(role_groups, make_user, socket_for, transport):
    manager, colleague, customer = await db(make_user)(role="manager"), await db(make_user)(role="manager"), None
    customer = await db(make_user)()
    order = await db(place_order)(customer)
    dashboard = await opened(socket_for, "/ws/orders/", manager, transport)
    order_page = await opened(socket_for, f"/ws/orders/{order.pk}/", manager, transport)
    staff_chat = await opened(socket_for, f"/ws/chatroom/{order.staff_room.name}/", manager, transport)
    control = await opened(socket_for, "/ws/orders/", colleague, transport)

    await db(manager.groups.remove)(await db(Group.objects.get)(name="managers"))
    await told_to_resync(dashboard)
    await closed(order_page, 4004)
    await closed(staff_chat, 4004)

    fresh = await db(place_order)(customer)
    card = await control.receive_from(timeout=3)
    assert f'id="order-{fresh.pk}"' in card and 'data-audience="staff"' in card
    assert await dashboard.receive_nothing(timeout=0.5), "a former manager still gets every order"
    for socket in (dashboard, control):
        await socket.disconnect()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_booster_removed_from_boosters_loses_the_claim_list(role_groups, make_user, socket_for, transport):
    booster, customer = await db(make_user)(role="booster"), await db(make_user)()
    open_order = await db(place_order)(customer)
    dashboard = await opened(socket_for, "/ws/orders/", booster, transport)
    claimable = await opened(socket_for, f"/ws/orders/{open_order.pk}/", booster, transport)
    colleague = await opened(socket_for, "/ws/orders/", await db(make_user)(role="booster"), transport)

    # From the group's side this time (the admin's group page does this).
    boosters = await db(Group.objects.get)(name="boosters")
    await db(boosters.user_set.remove)(booster)
    await told_to_resync(dashboard)
    await closed(claimable, 4004)

    fresh = await db(place_order)(customer)
    assert f'id="order-{fresh.pk}"' in await colleague.receive_from(timeout=3)
    assert await dashboard.receive_nothing(timeout=0.5), "a former booster still gets the claim list"
    for socket in (dashboard, colleague):
        await socket.disconnect()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_admin_whose_is_staff_is_cleared_loses_staff_sockets(role_groups, make_user, socket_for, transport):
    admin, customer = await db(make_user)(role="admin"), await db(make_user)()
    ping = await opened(socket_for, "/ws/realtime/ping/", admin, transport)
    dashboard = await opened(socket_for, "/ws/orders/", admin, transport)

    def demote():
        user = User.objects.get(pk=admin.pk)  # as the admin site loads it
        user.is_staff = False
        user.save()

    await db(demote)()
    await closed(ping, 4004)
    await told_to_resync(dashboard)
    await db(place_order)(customer)
    assert await dashboard.receive_nothing(timeout=0.5)
    await dashboard.disconnect()


async def test_a_new_role_is_picked_up_too(role_groups, make_user, socket_for):
    customer, newcomer = await db(make_user)(), await db(make_user)()
    # What they may claim once they are a booster (a booster claims only what staff approved).
    await db(BoosterApproval.objects.create)(booster=newcomer, game="lol", max_tier="challenger")
    dashboard = await opened(socket_for, "/ws/orders/", newcomer, "cookie")
    await db(newcomer.groups.add)(await db(Group.objects.get)(name="boosters"))
    await told_to_resync(dashboard)
    fresh = await db(place_order)(customer)
    assert 'data-audience="claim"' in await dashboard.receive_from(timeout=3) and fresh.pk
    await dashboard.disconnect()


async def test_saves_that_change_no_role_leave_sockets_alone(role_groups, make_user, socket_for):
    manager = await db(make_user)(role="manager")
    dashboard = await opened(socket_for, "/ws/orders/", manager, "cookie")

    def unrelated_changes():
        user = User.objects.get(pk=manager.pk)
        user.first_name = "Renamed"
        user.save()
        user.groups.add(Group.objects.create(name="newsletter"))

    await db(unrelated_changes)()
    assert await dashboard.receive_nothing(timeout=0.5)
    await dashboard.disconnect()


def change_password_in(client: Client, new: str) -> int:
    return client.post(
        "/accounts/password/change/", {"oldpassword": PASSWORD, "password1": new, "password2": new}
    ).status_code


async def test_a_password_change_ends_older_tokens_and_other_sessions_but_not_this_one(make_user, socket_for, settings):
    user = await db(make_user)()
    token = await db(auth.token_issue)(user=user)
    by_token = await opened(socket_for, "/ws/chatroom/public-chat/", user, "token")
    other_browser = await opened(socket_for, "/ws/chatroom/public-chat/", user, "cookie")

    def this_browser():
        client = Client()
        client.force_login(user)
        return client

    client = await db(this_browser)()
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    headers = [(b"origin", b"http://testserver"), (b"cookie", cookie.encode())]
    this_tab = WebsocketCommunicator(application, "/ws/chatroom/public-chat/", headers=headers)
    assert (await this_tab.connect())[0]

    assert await db(change_password_in)(client, "a-New-password-8812") == 302
    await closed(by_token, 4003)
    await closed(other_browser, 4001)
    assert await this_tab.receive_nothing(timeout=0.5), "the browser that changed the password keeps its socket"
    # Tokens from before no longer work anywhere; a new one does.
    late = WebsocketCommunicator(application, f"/ws/orders/?token={token}")
    assert (await late.connect())[0]
    assert await late.receive_output(timeout=3) == {"type": "websocket.close", "code": 4003}
    api = await db(lambda: Client().get("/api/chat/messages/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code)()
    assert api == 401
    # The session that changed it is still signed in, over HTTP too.
    assert await db(lambda: client.get("/api/chat/messages/").status_code)() == 200
    await this_tab.disconnect()


async def test_a_password_set_anywhere_else_ends_every_socket(make_user, socket_for):
    user = await db(make_user)()
    by_token = await opened(socket_for, "/ws/orders/", user, "token")
    by_cookie = await opened(socket_for, "/ws/online-status/", user, "cookie")

    def reset_from_the_shell():
        fresh = User.objects.get(pk=user.pk)
        fresh.set_password("reset-By-admin-4410")
        fresh.save()

    await db(reset_from_the_shell)()
    await closed(by_token, 4003)
    await closed(by_cookie, 4001)


async def test_a_password_reset_by_email_ends_older_tokens(make_user, client):
    import re

    from django.core import mail

    user = await db(make_user)()
    token = await db(auth.token_issue)(user=user)

    def reset():
        client.post("/accounts/password/reset/", {"email": user.email})
        link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", mail.outbox[-1].body).group(1)
        form = client.get(link, follow=True)
        new = "reset-Through-mail-6621"
        return client.post(form.request["PATH_INFO"], {"password1": new, "password2": new}).status_code

    assert await db(reset)() == 302
    with pytest.raises(auth.TokenError) as error:
        await db(auth.token_user)(token)
    assert error.value.close_code == 4003


async def test_a_hash_upgrade_at_login_is_not_a_password_change(make_user, settings):
    user = await db(make_user)()
    token = await db(auth.token_issue)(user=user)
    # Logging in with a hasher that has since changed rehashes the password.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher", *settings.PASSWORD_HASHERS]
    assert await db(lambda: User.objects.get(pk=user.pk).check_password(PASSWORD))()
    assert await db(auth.token_user)(token) == user


@pytest.mark.parametrize("path", ["/ws/chatroom/public-chat/", "/ws/orders/", "/ws/online-status/"])
async def test_a_token_socket_closes_with_4003_when_its_token_expires(make_user, settings, path):
    settings.API_TOKEN_MAX_AGE = 1
    user = await db(make_user)()
    socket = WebsocketCommunicator(application, f"{path}?token={await db(auth.token_issue)(user=user)}")
    assert (await socket.connect())[0]
    await closed_after_expiry(socket)


async def closed_after_expiry(socket: WebsocketCommunicator) -> None:
    while True:
        output = await socket.receive_output(timeout=1 + WITHIN)
        if output["type"] == "websocket.close":
            assert output["code"] == 4003
            return
        assert output["type"] == "websocket.send", json.dumps(output)
