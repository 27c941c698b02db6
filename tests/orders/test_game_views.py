"""Both games over HTTP: the new-order form and its live price, options on
every card, the game filters, the staff search over options, and dashboards
that stay flat in queries with orders of both games."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.games import OrderOptions
from orders.models import Order
from tests.orders.conftest import Status, approve, commit_point, drive_to, place

pytestmark = pytest.mark.django_db

GOLD_2_TO_PLATINUM_1 = {
    "game": "valorant",
    "current_rank": "gold",
    "current_division": "2",
    "current_points": "0",
    "desired_rank": "platinum",
    "desired_division": "1",
    "region": "eu",
}


def valorant(customer, **options) -> Order:
    return place(
        customer,
        game="valorant",
        current_rank="gold",
        current_division=2,
        desired_rank="platinum",
        desired_division=1,
        options=OrderOptions(**options),
    )


def card(html: str, pk: int) -> str:
    return html.split(f'id="order-{pk}"', 1)[1].split("</article>", 1)[0]


def price_of(html: str) -> str:
    return re.search(r'data-price="([\d.]+)"', html).group(1)


# THE NEW-ORDER FORM


def test_the_price_changes_with_each_option(client_for, people):
    client = client_for(people["customer"])
    steps = [
        ({}, "18.00"),
        ({"duo_queue": "on"}, "28.80"),
        ({"duo_queue": "on", "priority_start": "on"}, "32.40"),
        ({"duo_queue": "on", "priority_start": "on", "preferences": "Jett"}, "34.20"),
        ({"duo_queue": "on", "priority_start": "on", "preferences": "Jett", "appear_offline": "on"}, "35.10"),
    ]
    for options, price in steps:
        html = client.get("/orders/price/", {**GOLD_2_TO_PLATINUM_1, "shown_game": "valorant", **options}).content
        assert price_of(html.decode()) == price, options


def test_switching_the_game_redraws_the_fields_for_that_game(client_for, people):
    client = client_for(people["customer"])
    page = client.get("/dashboard/").content.decode()
    assert 'name="shown_game" value="lol"' in page and 'data-price="16.00"' in page
    # The customer picked Valorant; the ranks on the page are still League's.
    switched = client.get(
        "/orders/price/", {"game": "valorant", "shown_game": "lol", "current_rank": "emerald", "current_division": "4"}
    ).content.decode()
    assert 'data-price="18.00"' in switched  # Valorant's preset: Gold 2 -> Platinum 1
    fields = switched.split('<div id="order-fields"', 1)[1]
    assert fields.startswith(' class="space-y-3" hx-swap-oob="true" data-game="valorant"')
    assert 'name="shown_game" value="valorant"' in fields and "RR" in fields and '<option value="eu"' in fields
    assert "emerald" not in fields and "Radiant has no divisions" in fields
    # Later changes only re-price.
    again = client.get("/orders/price/", {**GOLD_2_TO_PLATINUM_1, "shown_game": "valorant"}).content.decode()
    assert 'id="order-fields"' not in again


def test_the_price_is_the_servers_whatever_the_form_posts(client_for, people):
    data = {
        **GOLD_2_TO_PLATINUM_1,
        "shown_game": "valorant",
        "duo_queue": "on",
        "priority_start": "on",
        "price": "0.01",
        "booster_price": "999",
        "base": "1",
        "duo_queue_price": "0",
    }
    response = client_for(people["customer"]).post("/orders/new/", data)
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == order.get_absolute_url()
    assert (order.game, str(order.price), str(order.booster_price)) == ("valorant", "32.40", "22.68")
    assert (order.duo_queue, order.priority_start, order.appear_offline, order.region) == (True, True, False, "eu")
    assert order.name == f"VAL-{order.pk:06d}"


def test_a_form_posted_right_after_a_game_switch_asks_for_that_games_ranks(client_for, people):
    data = {**GOLD_2_TO_PLATINUM_1, "shown_game": "lol", "current_rank": "emerald"}
    response = client_for(people["customer"]).post("/orders/new/", data)
    assert response.status_code == 422 and not Order.objects.exists()
    html = response.content.decode()
    assert "You picked Valorant: choose your ranks for it." in html and 'data-game="valorant"' in html


@pytest.mark.parametrize(
    "change, error",
    [
        ({"region": "euw"}, "Select a valid choice."),  # a League server
        ({"preferences": "x" * 121}, "at most 120 characters"),
        ({"current_rank": "emerald"}, "Select a valid choice."),  # a League tier
        ({"game": "chess"}, "Select a valid choice."),
        ({"current_points": "101"}, "less than or equal to 100"),
    ],
)
def test_bad_options_or_ranks_are_refused_with_the_reason(client_for, people, change, error):
    data = {**GOLD_2_TO_PLATINUM_1, "shown_game": "valorant", **change}
    response = client_for(people["customer"]).post("/orders/new/", data)
    assert response.status_code == 422 and error in response.content.decode()
    assert not Order.objects.exists()


def test_a_form_without_a_game_is_league_of_legends(client_for, people):
    """What clients sent before Valorant keeps working."""
    data = {"current_rank": "silver", "current_division": "2", "current_points": "0", "desired_rank": "gold"}
    response = client_for(people["customer"]).post("/orders/new/", {**data, "desired_division": "4"})
    assert response.status_code == 302
    assert (Order.objects.get().game, Order.objects.get().price) == ("lol", 16)


# OPTIONS WHERE BOOSTERS AND CUSTOMERS LOOK


def test_options_show_on_the_card_the_order_page_and_the_claim_list_escaped(client_for, people):
    approve(people["booster"], "valorant", "radiant", by=people["admin"])
    order = valorant(people["customer"], duo_queue=True, priority_start=True, preferences="<b>Jett</b> & Sage")
    pages = {
        "customer dashboard": client_for(people["customer"]).get("/dashboard/"),
        "order page": client_for(people["customer"]).get(f"/orders/{order.pk}/"),
        "claim list": client_for(people["booster"]).get("/dashboard/"),
        "staff": client_for(people["manager"]).get("/dashboard/"),
    }
    for where, response in pages.items():
        shown = card(response.content.decode(), order.pk)
        assert '<span class="badge">Duo queue</span>' in shown and '<span class="badge">Priority start</span>' in shown
        assert "Appear offline" not in shown and 'data-region="eu">Europe<' in shown, where
        assert "&lt;b&gt;Jett&lt;/b&gt; &amp; Sage" in shown and "<b>Jett" not in shown, where
        assert "Gold 2 · 0 RR → <strong>Platinum 1</strong>" in shown and 'data-game="valorant"' in shown, where
    assert order.events.get().message == "Order placed: Gold 2 → Platinum 1 (Duo queue, Priority start)"


def test_a_valorant_boosters_progress_form_speaks_rr(client_for, people):
    approve(people["booster"], "valorant", "radiant", by=people["admin"])
    order = drive_to(valorant(people["customer"]), Status.IN_PROGRESS, booster=people["booster"], staff=None)
    client = client_for(people["booster"])
    form = card(client.get(f"/orders/{order.pk}/").content.decode(), order.pk).split('data-action="progress"')[0]
    assert '<option value="immortal">Immortal</option>' in form and "Emerald" not in form
    assert 'name="reached_points" min="0" max="100"' in form and ">RR <input" in form
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": f"http://testserver/orders/{order.pk}/"}
    data = {"reached_rank": "gold", "reached_division": "3", "reached_points": "50"}
    html = client.post(f"/orders/{order.pk}/progress/", data, **headers).content.decode()
    assert 'style="width: 75%"' in html and "Now Gold 3 · 50 RR" in html
    for bad, error in (
        ({"reached_division": "4"}, "4 is not one of the available choices"),
        ({"reached_division": ""}, "Gold needs a division (1 to 3)."),
    ):
        refused = client.post(f"/orders/{order.pk}/progress/", {**data, **bad}, **headers).content.decode()
        assert error in refused, bad
    assert Order.objects.get(pk=order.pk).reached == ("gold", 3, 50)


# FILTERS AND SEARCH


def test_every_dashboard_filters_by_game(client_for, people):
    approve(people["booster"], "valorant", "radiant", by=people["admin"])
    lol, val = place(people["customer"]), valorant(people["customer"])
    for who in ("customer", "booster", "manager"):
        client = client_for(people[who])
        everything = client.get("/dashboard/").content.decode()
        assert f'id="order-{lol.pk}"' in everything and f'id="order-{val.pk}"' in everything, who
        only = client.get("/dashboard/?game=valorant").content.decode()
        assert f'id="order-{val.pk}"' in only and f'id="order-{lol.pk}"' not in only, who
        assert f'id="order-{lol.pk}"' in client.get("/dashboard/?game=nope").content.decode(), who
    listed = client_for(people["customer"]).get("/orders/?game=lol").content.decode()
    assert f'id="order-{lol.pk}"' in listed and f'id="order-{val.pk}"' not in listed


@pytest.mark.parametrize(
    "query, wanted",
    [
        ("duo", {"duo"}),
        ("PRIORITY", {"priority"}),
        ("jett", {"preferences"}),
        ("europe", {"duo", "priority", "preferences"}),  # Valorant's EU server
        ("na", {"lol_na"}),  # a server code
        ("valorant", {"duo", "priority", "preferences"}),
    ],
)
def test_the_staff_search_covers_options(client_for, people, query, wanted):
    orders = {
        "duo": valorant(people["customer"], duo_queue=True),
        "priority": valorant(people["customer"], priority_start=True),
        "preferences": valorant(people["customer"], preferences="Jett or Raze"),
        "lol_na": place(people["customer"], options=OrderOptions(region="na")),
        "plain": place(people["customer"]),
    }
    html = client_for(people["manager"]).get("/dashboard/", {"q": query}).content.decode()
    found = {name for name, order in orders.items() if f'<article id="order-{order.pk}"' in html}
    assert found == wanted


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("role", ["customer", "booster", "manager"])
def test_dashboards_stay_flat_in_queries_with_both_games(client_for, people, role):
    approve(people["booster"], "valorant", "radiant", by=people["admin"])

    def add(count: int) -> None:
        for _ in range(count):
            for order in (place(people["customer"]), valorant(people["customer"], duo_queue=True)):
                drive_to(order, Status.IN_PROGRESS, booster=people["booster"], staff=people["manager"])
            place(people["customer"], options=OrderOptions(priority_start=True))
            valorant(people["customer"], preferences="Sova")
        commit_point()

    client = client_for(people[role])
    urls = ["/dashboard/", "/dashboard/?game=valorant", "/orders/"] if role != "manager" else ["/dashboard/"]
    add(1)
    few = [_queries(client, url) for url in urls]
    add(5)
    assert [_queries(client, url) for url in urls] == few


# THE DEMO


def test_seed_demo_has_both_games_in_several_states(db):
    call_command("seed_demo", stdout=io.StringIO())
    states = {
        game: set(Order.objects.filter(game=game).values_list("status", flat=True)) for game in ("lol", "valorant")
    }
    assert states["lol"] == {Status.PENDING, Status.IN_PROGRESS, Status.PAUSED, Status.COMPLETED, Status.CANCELLED}
    assert states["valorant"] == {Status.PENDING, Status.IN_PROGRESS, Status.COMPLETED}
    pending = Order.objects.get(game="valorant", status=Status.PENDING)
    assert (pending.duo_queue, pending.priority_start, pending.desired_label) == (True, True, "Platinum 1")
    count = Order.objects.count()
    call_command("seed_demo", stdout=io.StringIO())
    assert Order.objects.count() == count
