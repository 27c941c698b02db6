"""A theme change reaches every open page of the user over the presence socket
(`/ws/online-status/`, one on every signed-in page), end to end."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from accounts import services
from accounts.models import Theme
from orders import services as order_services
from tests.presence.conftest import presence_clock, receive_until, settle_presence  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/online-status/"
WIN98_STATE = '<div id="theme-state" data-theme="win98" hx-swap-oob="true" hidden></div>'


async def connected(socket_for, user):
    socket = await socket_for(PATH, user)
    ok, _ = await socket.connect()
    assert ok
    await receive_until(socket, lambda frame: 'id="online-count"' in frame)  # the connect snapshot
    return socket


def has_theme(frame: str) -> bool:
    return 'id="theme-state"' in frame


async def test_a_theme_change_reaches_every_tab_of_that_user_and_nobody_else(socket_for, make_user):
    alice, bob = [await database_sync_to_async(make_user)() for _ in range(2)]
    first_tab, second_tab, bobs_tab = [await connected(socket_for, user) for user in (alice, alice, bob)]

    await database_sync_to_async(services.preferences_update)(user=alice, theme=Theme.WIN98)

    for tab in (first_tab, second_tab):
        frames = await receive_until(tab, has_theme)
        assert frames[-1] == WIN98_STATE  # the same bytes to each tab
    # Bob's own change is the next thing his tab hears: nothing of alice's came first.
    await database_sync_to_async(services.preferences_update)(user=bob, theme=Theme.DARK)
    frames = await receive_until(bobs_tab, has_theme)
    assert [frame for frame in frames if has_theme(frame)] == [WIN98_STATE.replace("win98", "dark")]
    for tab in (first_tab, second_tab, bobs_tab):
        await tab.disconnect()


async def test_a_reconnecting_page_gets_the_theme_chosen_while_it_was_away(socket_for, make_user):
    alice = await database_sync_to_async(make_user)()
    await database_sync_to_async(services.preferences_update)(user=alice, theme=Theme.WIN98)
    socket = await socket_for(PATH, alice)
    ok, _ = await socket.connect()
    assert ok
    frames = await receive_until(socket, has_theme)
    assert WIN98_STATE in frames[-1]
    await socket.disconnect()


async def test_a_user_who_never_chose_gets_no_theme_on_connect(socket_for, make_user):
    """Their page shows their browser's cookie theme; the socket does not know it."""
    alice = await database_sync_to_async(make_user)()
    socket = await socket_for(PATH, alice)
    ok, _ = await socket.connect()
    assert ok
    snapshot = await socket.receive_from(timeout=3)
    assert 'id="online-count"' in snapshot and not has_theme(snapshot)
    await socket.disconnect()


async def test_order_cards_on_the_users_group_stay_off_the_presence_socket(socket_for, make_user):
    """groups.user(pk) also carries the user's order cards, for the orders socket only."""
    customer = await database_sync_to_async(make_user)()
    presence = await connected(socket_for, customer)
    orders = await socket_for("/ws/orders/", customer)
    ok, _ = await orders.connect()
    assert ok

    await database_sync_to_async(order_services.order_create)(
        customer=customer, current_rank="silver", current_division=2, desired_rank="gold", desired_division=4
    )

    card = await orders.receive_from(timeout=3)
    assert 'id="order-' in card
    # A later event on the same group marks the end: no card came before it.
    await database_sync_to_async(services.preferences_update)(user=customer, theme=Theme.WIN98)
    frames = await receive_until(presence, has_theme)
    assert not any('id="order-' in frame for frame in frames)
    await presence.disconnect()
    await orders.disconnect()
