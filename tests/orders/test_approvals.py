"""Booster approvals: a booster claims only the games and tiers staff approved
them for, over HTTP and over the sockets, and an approval changed by staff
reaches their open claim list."""

from __future__ import annotations

import json
from html import escape

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from orders import services
from orders.games import OrderOptions
from orders.models import BoosterApproval, Order
from realtime.consumers import resync_frame
from tests.conftest import expect_close
from tests.orders.conftest import approve, commit_point, place

db = database_sync_to_async
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "http://testserver/dashboard/"}


def valorant(customer, *, desired=("platinum", 1), **options) -> Order:
    """Gold 2 -> `desired`, Valorant."""
    return place(
        customer,
        game="valorant",
        current_rank="gold",
        current_division=2,
        desired_rank=desired[0],
        desired_division=desired[1],
        options=OrderOptions(**options),
    )


@pytest.fixture
def valorant_booster(people):
    """`booster` boosts Valorant too; `other_booster` only League of Legends."""
    approve(people["booster"], "valorant", "radiant", by=people["admin"])
    if connection.in_atomic_block:
        commit_point()
    return people["booster"]


def claim_list(client) -> str:
    return client.get("/dashboard/").content.decode().split('id="claimable-orders"', 1)[1]


# OVER HTTP


@pytest.mark.django_db
def test_the_claim_list_shows_only_the_games_and_tiers_a_booster_is_approved_for(client_for, people, valorant_booster):
    lol_gold, lol_platinum = place(people["customer"]), place(people["customer"], desired_rank="platinum")
    val = valorant(people["customer"])
    approve(people["other_booster"], "lol", "gold", by=people["admin"])

    both = claim_list(client_for(valorant_booster))
    assert all(f'id="order-{order.pk}"' in both for order in (lol_gold, lol_platinum, val))
    lol_up_to_gold = claim_list(client_for(people["other_booster"]))
    assert f'id="order-{lol_gold.pk}"' in lol_up_to_gold
    assert f'id="order-{lol_platinum.pk}"' not in lol_up_to_gold and f'id="order-{val.pk}"' not in lol_up_to_gold
    assert "League of Legends up to Gold" in client_for(people["other_booster"]).get("/dashboard/").content.decode()

    services.booster_approval_set(booster=people["other_booster"], game="lol", max_tier="", by=people["admin"])
    nothing = client_for(people["other_booster"]).get("/dashboard/").content.decode()
    assert "You aren't approved for any game yet" in nothing
    assert f'id="order-{lol_gold.pk}"' not in nothing.split('id="claimable-orders"', 1)[1]


@pytest.mark.django_db
def test_an_unapproved_booster_can_neither_see_nor_claim_the_order(client_for, people, valorant_booster):
    order = valorant(people["customer"])
    client = client_for(people["other_booster"])
    assert client.get(f"/orders/{order.pk}/").status_code == 404
    html = client.post(f"/orders/{order.pk}/claim/", **HTMX).content.decode()
    assert escape(services.NOT_APPROVED.format(game="Valorant", rank="Platinum 1")) in html
    assert "<article" not in html
    assert client.post(f"/orders/{order.pk}/claim/").status_code == 403
    assert Order.objects.get(pk=order.pk).booster is None and order.events.count() == 1

    with pytest.raises(services.OrderPermissionDenied):
        services.order_claim(order=order, booster=people["other_booster"])
    assert client_for(valorant_booster).get(f"/orders/{order.pk}/").status_code == 200
    assert services.order_claim(order=order, booster=valorant_booster).booster == valorant_booster


@pytest.mark.django_db
def test_priority_orders_top_the_claim_list(client_for, people):
    plain, urgent = place(people["customer"]), place(people["customer"], options=OrderOptions(priority_start=True))
    html = claim_list(client_for(people["booster"]))
    assert html.index(f'id="order-{urgent.pk}"') < html.index(f'id="order-{plain.pk}"')


@pytest.mark.django_db
def test_staff_set_approvals_on_the_boosters_page(client_for, people):
    client = client_for(people["manager"])
    page = client.get("/staff/boosters/").content.decode()
    row = page.split(f'id="booster-{people["booster"].pk}"', 1)[1].split("</li>", 1)[0]
    assert '<option value="challenger" selected>up to Challenger</option>' in row
    assert '<select name="valorant"' in row and '<option value="" selected>Not approved</option>' in row
    assert 'href="/staff/boosters/"' in client.get("/dashboard/").content.decode()

    url = f"/staff/boosters/{people['booster'].pk}/"
    html = client.post(url, {"lol": "diamond", "valorant": "ascendant"}, **HTMX).content.decode()
    assert html.lstrip().startswith(f'<li id="booster-{people["booster"].pk}"') and "Saved." in html
    assert set(BoosterApproval.objects.filter(booster=people["booster"]).values_list("game", "max_tier")) == {
        ("lol", "diamond"),
        ("valorant", "ascendant"),
    }

    # A tier the game does not have: refused, and the row's other change is not kept either.
    refused = client.post(url, {"lol": "", "valorant": "emerald"}, **HTMX)
    assert refused.status_code == 422  # refused input, swapped in by base.html's responseHandling
    assert "Unknown rank." in refused.content.decode()
    assert BoosterApproval.objects.filter(booster=people["booster"]).count() == 2

    assert client.post(url, {"valorant": ""}).status_code == 302  # without htmx: back to the page
    assert not BoosterApproval.objects.filter(booster=people["booster"], game="valorant").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("viewer", ["customer", "booster"])
def test_only_staff_see_or_change_approvals(client_for, people, viewer):
    client = client_for(people[viewer])
    assert client.get("/staff/boosters/").status_code == 403
    response = client.post(f"/staff/boosters/{people['booster'].pk}/", {"valorant": "radiant"})
    assert response.status_code == 403 and 'class="card error-card' in response.content.decode()
    assert not BoosterApproval.objects.filter(game="valorant").exists()
    with pytest.raises(services.OrderPermissionDenied):
        services.booster_approval_set(booster=people["booster"], game="valorant", max_tier="radiant", by=people[viewer])


@pytest.mark.django_db
def test_approvals_are_edited_in_the_django_admin_through_the_service(client_for, people, published):
    admin = people["admin"]
    admin.is_superuser = True
    admin.save()
    client = client_for(admin)
    form = {"booster": people["other_booster"].pk, "game": "valorant", "max_tier": "diamond"}
    assert client.post("/admin/orders/boosterapproval/add/", form).status_code == 302
    approval = BoosterApproval.objects.get(booster=people["other_booster"], game="valorant")
    assert (approval.max_tier, approval.approved_by) == ("diamond", admin)

    wrong = client.post(f"/admin/orders/boosterapproval/{approval.pk}/change/", {**form, "max_tier": "emerald"})
    assert wrong.status_code == 200 and "Valorant has no tier" in wrong.content.decode()
    client.post(f"/admin/orders/boosterapproval/{approval.pk}/delete/", {"post": "yes"})
    assert not BoosterApproval.objects.filter(pk=approval.pk).exists()


# OVER THE SOCKETS


async def connected(socket_for, path: str, user):
    socket = await socket_for(path, user)
    assert (await socket.connect())[0]
    return socket


@pytest.mark.django_db(transaction=True)
async def test_a_new_order_reaches_only_the_claim_lists_approved_for_it(socket_for, people, valorant_booster):
    both = await connected(socket_for, "/ws/orders/", valorant_booster)
    lol_only = await connected(socket_for, "/ws/orders/", people["other_booster"])
    lol_only_json = await connected(socket_for, "/ws/orders/?format=json", people["other_booster"])

    order = await db(valorant)(people["customer"], duo_queue=True, priority_start=True)
    frame = await both.receive_from(timeout=3)
    assert f'hx-swap-oob="outerHTML:#claimable-orders #order-{order.pk}"' in frame and 'data-game="valorant"' in frame
    assert "Duo queue" in frame and "Priority start" in frame  # what they are claiming
    assert await lol_only.receive_nothing(timeout=0.3)
    assert await lol_only_json.receive_nothing(timeout=0.1)

    # Its claim leaves no trace for them either.
    await db(services.order_claim)(order=order, booster=valorant_booster)
    assert await lol_only.receive_nothing(timeout=0.3)
    assert await lol_only_json.receive_nothing(timeout=0.1)

    lol = await db(place)(people["customer"])
    assert f'id="order-{lol.pk}"' in await lol_only.receive_from(timeout=3)
    assert json.loads(await lol_only_json.receive_from(timeout=3))["game"] == "lol"
    for socket in (both, lol_only, lol_only_json):
        await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_unapproved_boosters_order_page_socket_is_refused(socket_for, people, valorant_booster):
    order = await db(valorant)(people["customer"])
    await expect_close(await socket_for(f"/ws/orders/{order.pk}/", people["other_booster"]), 4004)
    page = await connected(socket_for, f"/ws/orders/{order.pk}/", valorant_booster)
    await page.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_approval_from_staff_reaches_the_open_claim_list(socket_for, people):
    dashboard = await connected(socket_for, "/ws/orders/", people["other_booster"])
    await db(valorant)(people["customer"])
    assert await dashboard.receive_nothing(timeout=0.3)

    await db(services.booster_approval_set)(
        booster=people["other_booster"], game="valorant", max_tier="immortal", by=people["manager"]
    )
    # The page re-reads its claim list (which now has the order)...
    assert await dashboard.receive_from(timeout=3) == resync_frame()
    # ...and the socket keeps the new approval's orders from now on.
    later = await db(valorant)(people["customer"], desired=("diamond", 1))
    assert f'id="order-{later.pk}"' in await dashboard.receive_from(timeout=3)
    await dashboard.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_progress_in_rr_moves_the_valorant_card_live(socket_for, people, valorant_booster):
    order = await db(valorant)(people["customer"])
    order = await db(services.order_claim)(order=order, booster=valorant_booster)
    customer = await connected(socket_for, "/ws/orders/", people["customer"])
    await db(services.order_progress_update)(
        order=order, booster=valorant_booster, reached_rank="gold", reached_division=3, reached_points=50
    )
    frame = await customer.receive_from(timeout=3)
    assert 'style="width: 75%"' in frame and "Now Gold 3 · 50 RR" in frame and 'data-status="in_progress"' in frame
    await customer.disconnect()
