"""Order pages and actions over HTTP: who sees what, what each action does, and
query counts that stay flat however many orders a dashboard shows."""

from __future__ import annotations

import io
import re
from html import escape
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from orders import broadcasts, selectors, services
from orders.admin import ONLY_ASSIGNED_START, PICK_A_BOOSTER
from orders.games import ladder
from orders.models import Order, OrderEvent, ProofScreenshot
from realtime import groups
from tests.conftest import go_online
from tests.orders.conftest import SILVER_II_TO_GOLD_IV, Status, commit_point, place
from uploads.validation import UPLOAD_MISSING

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "http://testserver/dashboard/"}


def _png(size: tuple[int, int] = (32, 24)) -> io.BytesIO:
    data = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(data, format="PNG")
    data.seek(0)
    data.name = "proof.png"
    return data


# PERMISSIONS


@pytest.mark.parametrize(
    "viewer, status, expected",
    [
        ("customer", Status.PENDING, 200),
        ("other_customer", Status.PENDING, 404),
        ("booster", Status.PENDING, 200),  # unassigned: any booster may look before claiming
        ("booster", Status.IN_PROGRESS, 200),  # the assigned booster
        ("other_booster", Status.IN_PROGRESS, 404),
        ("other_customer", Status.IN_PROGRESS, 404),
        ("manager", Status.IN_PROGRESS, 200),
        ("admin", Status.CANCELLED, 200),
    ],
)
def test_order_page_permissions(client_for, people, order_in, viewer, status, expected):
    order = order_in(status)
    assert client_for(people[viewer]).get(f"/orders/{order.pk}/").status_code == expected


def test_anonymous_is_sent_to_log_in(client_for, order_in):
    order = order_in()
    for url in ("/dashboard/", f"/orders/{order.pk}/"):
        response = client_for(None).get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_nonexistent_order_is_404(client_for, people):
    assert client_for(people["manager"]).get("/orders/999999/").status_code == 404


@pytest.mark.parametrize("action", ["claim", "assign", "status", "progress", "complete", "cancel", "proofs"])
def test_actions_are_post_only(client_for, people, order_in, action):
    order = order_in()
    assert client_for(people["manager"]).get(f"/orders/{order.pk}/{action}/").status_code == 405


@pytest.mark.parametrize(
    "viewer, action, data, expected",
    [
        ("other_customer", "cancel", {}, 404),  # may not even see it
        ("other_booster", "status", {"status": "paused"}, 404),
        ("customer", "status", {"status": "paused"}, 403),
        ("customer", "assign", {"booster": "BOOSTER"}, 403),
        ("booster", "assign", {"booster": "BOOSTER"}, 403),
        ("customer", "complete", {}, 403),
        ("customer", "progress", {"reached_rank": "gold", "reached_division": "4", "reached_points": "0"}, 403),
    ],
)
def test_forbidden_actions_change_nothing(client_for, people, order_in, viewer, action, data, expected):
    order = order_in(Status.IN_PROGRESS)
    data = {key: str(people["booster"].pk) if value == "BOOSTER" else value for key, value in data.items()}
    response = client_for(people[viewer]).post(f"/orders/{order.pk}/{action}/", data)
    assert response.status_code == expected
    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.status, fresh.booster, fresh.reached_rank) == (Status.IN_PROGRESS, people["booster"], "silver")


# DASHBOARDS


def test_customer_dashboard_shows_own_orders_and_the_order_form(client_for, people):
    mine, theirs = place(people["customer"]), place(people["other_customer"])
    html = client_for(people["customer"]).get("/dashboard/").content.decode()
    assert f'id="order-{mine.pk}"' in html and f'id="order-{theirs.pk}"' not in html
    assert 'id="new-order"' in html and 'hx-get="/orders/price/"' in html
    assert 'data-price="16.00"' in html  # the preset Silver II -> Gold IV, priced without JavaScript
    assert 'ws-connect="/ws/orders/"' in html


def test_booster_dashboard_lists_own_and_claimable_orders(client_for, people, order_in):
    claimable = order_in()
    mine = order_in(Status.IN_PROGRESS)
    someone_elses = order_in(Status.IN_PROGRESS, booster=people["other_booster"])
    html = client_for(people["booster"]).get("/dashboard/").content.decode()
    claim_list = html.split('id="claimable-orders"')[1]
    my_list = html.split('id="my-orders"')[1].split('id="claimable-orders"')[0]
    assert f'id="order-{mine.pk}"' in my_list and 'data-action="progress"' in my_list
    assert f'id="order-{claimable.pk}"' in claim_list and 'data-action="claim"' in claim_list
    assert f'id="order-{someone_elses.pk}"' not in html
    assert 'id="payouts"' in html


def test_staff_dashboard_shows_everything_with_status_filters(client_for, people, order_in):
    pending, paused = order_in(), order_in(Status.PAUSED)
    client = client_for(people["manager"])
    html = client.get("/dashboard/").content.decode()
    assert f'id="order-{pending.pk}"' in html and f'id="order-{paused.pk}"' in html
    assert 'data-action="assign"' in html
    filtered = client.get("/dashboard/?status=paused").content.decode()
    assert f'id="order-{paused.pk}"' in filtered and f'id="order-{pending.pk}"' not in filtered
    partial = client.get("/dashboard/?status=paused", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="staff-orders")
    assert partial.content.decode().lstrip().startswith('<div id="staff-orders"')


def _card_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<article id="order-(\d+)"', html)]


def _more_link(html: str) -> str | None:
    match = re.search(r'<a class="btn" href="([^"]+)" hx-get="[^"]+" hx-target="#orders-more"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def test_staff_list_pages_by_keyset_25_at_a_time(client_for, people):
    orders = [place(people["customer"]) for _ in range(30)]
    client = client_for(people["manager"])
    first = client.get("/dashboard/").content.decode()
    newest = [order.pk for order in reversed(orders)]
    assert _card_ids(first) == newest[:25]
    more = _more_link(first)
    assert more and "after=" in more

    # Orders placed meanwhile do not push cards from page one onto page two.
    late = place(people["other_customer"])
    second = client.get(f"/dashboard/{more}", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="orders-more")
    html = second.content.decode()
    assert html.lstrip().startswith('<div hx-swap-oob="beforeend:#all-orders">')
    assert _card_ids(html) == newest[25:] and late.pk not in _card_ids(html)
    assert _more_link(html) is None

    # Without JavaScript the link opens that page alone, with a way back.
    plain = client.get(f"/dashboard/{more}").content.decode()
    assert _card_ids(plain) == newest[25:] and "Back to the first page" in plain


@pytest.mark.parametrize("field", ["name", "customer", "booster"])
def test_staff_search_finds_orders_by_name_customer_or_booster(client_for, people, order_in, make_user, field):
    wanted = order_in(Status.IN_PROGRESS, customer=make_user("Zelda"), booster=people["other_booster"])
    other = order_in(Status.IN_PROGRESS)
    query = {"name": wanted.name.lower(), "customer": "zeL", "booster": "BOOST2"}[field]
    response = client_for(people["manager"]).get(
        "/dashboard/", {"q": query}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="staff-orders"
    )
    assert _card_ids(response.content.decode()) == [wanted.pk]
    assert other.pk not in _card_ids(
        client_for(people["manager"]).get("/dashboard/?q=nobody-like-this").content.decode()
    )


def test_staff_list_sorts_by_newest_or_last_change(client_for, people, order_in):
    older, newer = order_in(Status.IN_PROGRESS), order_in(Status.IN_PROGRESS)
    services.order_status_set(order=older, status=Status.PAUSED, by=people["manager"])
    client = client_for(people["manager"])
    assert _card_ids(client.get("/dashboard/").content.decode()) == [newer.pk, older.pk]
    assert _card_ids(client.get("/dashboard/?sort=changed").content.decode()) == [older.pk, newer.pk]
    # An unknown sort or status is no filter at all.
    assert _card_ids(client.get("/dashboard/?sort=price&status=won").content.decode()) == [newer.pk, older.pk]


def test_staff_pages_stay_flat_in_queries_with_search_and_sort(client_for, people, order_in, django_assert_num_queries):
    client = client_for(people["manager"])
    urls = ["/dashboard/", "/dashboard/?q=cust&sort=changed", "/dashboard/?status=in_progress&q=boost"]
    for _ in range(2):
        order_in(Status.IN_PROGRESS)
    few = [_dashboard_queries(client, url) for url in urls]
    for _ in range(28):
        order_in(Status.IN_PROGRESS)
    for url, count in zip(urls, few, strict=True):
        with django_assert_num_queries(count):
            html = client.get(url).content.decode()
        assert len(_card_ids(html)) == 25, url


def test_orders_page_lists_the_users_own_orders_and_the_header_links_there(client_for, people, order_in):
    mine = [order_in(Status.IN_PROGRESS) for _ in range(3)]
    theirs = order_in(Status.IN_PROGRESS, customer=people["other_customer"], booster=people["other_booster"])
    pending = order_in()
    customer = client_for(people["customer"]).get("/orders/").content.decode()
    assert '<a href="/orders/" class="nav-link">Orders</a>' in customer
    assert _card_ids(customer) == [pending.pk, *reversed([order.pk for order in mine])]
    assert 'ws-connect="/ws/orders/"' in customer and 'id="my-orders"' in customer
    booster = client_for(people["booster"]).get("/orders/").content.decode()
    assert _card_ids(booster) == [order.pk for order in reversed(mine)]  # the ones they boost
    assert 'data-action="progress"' in booster and theirs.pk not in _card_ids(booster)
    staff = client_for(people["manager"]).get("/orders/")
    assert staff.status_code == 302 and staff["Location"] == "/dashboard/"


def test_orders_page_shows_25_at_a_time(client_for, people):
    orders = [place(people["customer"]) for _ in range(27)]
    client = client_for(people["customer"])
    first = client.get("/orders/").content.decode()
    assert len(_card_ids(first)) == 25 and orders[0].pk not in _card_ids(first)
    more = re.search(r'href="(\?after=[^"]+)" hx-get', first).group(1)
    rest = client.get(f"/orders/{more}", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="orders-more").content.decode()
    assert rest.lstrip().startswith('<div hx-swap-oob="beforeend:#my-orders">')
    assert _card_ids(rest) == [orders[1].pk, orders[0].pk] and "data-more" not in rest


def _dashboard_queries(client, url: str = "/dashboard/") -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("role", ["customer", "booster", "manager"])
def test_dashboard_queries_do_not_grow_with_orders(client_for, people, order_in, django_assert_num_queries, role):
    def add_orders(count: int) -> None:
        for _ in range(count):
            order_in(Status.IN_PROGRESS)  # on the customer's, booster's and staff lists
            order_in()  # on the claim list

    client = client_for(people[role])
    add_orders(2)
    few = _dashboard_queries(client)
    add_orders(4)
    shown = Order.objects.count()
    with django_assert_num_queries(few):
        html = client.get("/dashboard/").content.decode()
    assert html.count('class="card order-card') == shown


# CREATING ORDERS


def test_customer_places_an_order_priced_by_the_server(client_for, people):
    data = {**SILVER_II_TO_GOLD_IV, "price": "0.01", "booster_price": "999"}
    response = client_for(people["customer"]).post("/orders/new/", data)
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/orders/{order.pk}/"
    assert (order.price, str(order.booster_price)) == (16, "11.20")
    assert order.customer == people["customer"]


def test_invalid_order_is_refused_with_the_reason(client_for, people):
    data = {**SILVER_II_TO_GOLD_IV, "desired_rank": "bronze"}
    response = client_for(people["customer"]).post("/orders/new/", data)
    assert response.status_code == 422
    assert "The desired rank must be above the current rank." in response.content.decode()
    assert not Order.objects.exists()


def test_only_customers_place_orders(client_for, people):
    assert client_for(people["booster"]).post("/orders/new/", SILVER_II_TO_GOLD_IV).status_code == 403
    assert not Order.objects.exists()


def test_price_preview(client_for, people):
    client = client_for(people["customer"])
    html = client.get("/orders/price/", {**SILVER_II_TO_GOLD_IV, "desired_rank": "platinum"}).content.decode()
    assert 'data-price="60.00"' in html  # two Silver steps (2 x 8) + four Gold steps (4 x 11)
    error = client.get("/orders/price/", {**SILVER_II_TO_GOLD_IV, "desired_division": ""}).content.decode()
    assert "Gold needs a division" in error


# ACTIONS


def test_booster_claims_from_the_claim_list(client_for, people, order_in):
    order = order_in()
    response = client_for(people["booster"]).post(f"/orders/{order.pk}/claim/", **HTMX)
    assert response.status_code == 200
    # The claimed card leaves the claim list (an empty swap); the socket brings it to "my orders".
    assert "<article" not in response.content.decode()
    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.status, fresh.booster) == (Status.ASSIGNED, people["booster"])


def test_claiming_from_the_order_page_shows_the_boosters_card(client_for, people, order_in):
    order = order_in()
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": f"http://testserver/orders/{order.pk}/"}
    html = client_for(people["booster"]).post(f"/orders/{order.pk}/claim/", **headers).content.decode()
    assert f'<article id="order-{order.pk}"' in html and 'data-audience="booster"' in html
    assert 'data-action="start"' in html


def test_claiming_a_taken_order_explains_and_removes_it(client_for, people, order_in):
    order = order_in()
    services.order_claim(order=order, booster=people["booster"])
    response = client_for(people["other_booster"]).post(f"/orders/{order.pk}/claim/", **HTMX)
    html = response.content.decode()
    assert response.status_code == 409
    assert escape(services.ALREADY_TAKEN) in html and 'id="order-notice"' in html
    assert "<article" not in html  # the stale card is swapped away, nothing of the order is shown
    assert Order.objects.get(pk=order.pk).booster == people["booster"]
    # Non-boosters learn nothing about the order.
    assert client_for(people["other_customer"]).post(f"/orders/{order.pk}/claim/", **HTMX).status_code == 404


def test_refused_transition_shows_the_reason(client_for, people, order_in):
    order = order_in(Status.PAUSED)
    html = client_for(people["booster"]).post(f"/orders/{order.pk}/status/", {"status": "paused"}, **HTMX)
    text = html.content.decode()
    assert 'id="order-notice"' in text and "can&#x27;t go from paused to paused" in text
    assert Order.objects.get(pk=order.pk).status == Status.PAUSED


def test_booster_reports_progress_from_the_order_page(client_for, people, order_in):
    order = order_in(Status.IN_PROGRESS)
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": f"http://testserver/orders/{order.pk}/"}
    data = {"reached_rank": "silver", "reached_division": "1", "reached_points": "50"}
    html = client_for(people["booster"]).post(f"/orders/{order.pk}/progress/", data, **headers).content.decode()
    assert html.startswith(f'<article id="order-{order.pk}"')  # replaces the posting card
    assert 'style="width: 75%"' in html and 'data-audience="booster"' in html
    assert Order.objects.get(pk=order.pk).reached_points == 50
    assert order.events.latest("id").message == "Reached Silver I 50 LP (75%)"


def test_a_progress_report_reads_the_order_once(client_for, people, order_in, django_assert_num_queries):
    """The request's own work: session, user, the order as the booster sees it,
    the role check, then the service's lock, the event and one write of the
    order with the event's time. The card it answers with
    is the order the service saved, not a second read, and a booster's card
    needs no list of boosters to assign."""
    order = order_in(Status.IN_PROGRESS)
    client = client_for(people["booster"])
    data = {"reached_rank": "silver", "reached_division": "1", "reached_points": "40"}
    client.post(f"/orders/{order.pk}/progress/", data, **HTMX)
    data["reached_points"] = "50"
    # session, user, order, role; savepoint, lock, event, order, release
    with django_assert_num_queries(9):
        response = client.post(f"/orders/{order.pk}/progress/", data, **HTMX)
    assert response.status_code == 200 and 'style="width: 75%"' in response.content.decode()


@pytest.mark.parametrize(
    "actor, status, action, data, audience",
    [
        ("booster", Status.IN_PROGRESS, "progress", {"reached_rank": "gold", "reached_division": "4"}, "booster"),
        ("booster", Status.IN_PROGRESS, "status", {"status": "paused"}, "booster"),
        ("manager", Status.IN_PROGRESS, "status", {"status": "paused"}, "staff"),
        ("manager", Status.ASSIGNED, "assign", {"booster": "other_booster"}, "staff"),
        ("manager", Status.IN_PROGRESS, "complete", {"reason": "done early"}, "staff"),
        ("customer", Status.PENDING, "cancel", {}, "customer"),
        ("booster", Status.PENDING, "claim", {}, "booster"),
    ],
)
def test_an_action_answers_the_card_a_fresh_read_renders(
    client_for, people, order_in, actor, status, action, data, audience
):
    order = order_in(status)
    data = {"reached_points": "0", **data} if action == "progress" else data
    data = {key: people[value].pk if value in people else value for key, value in data.items()}
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": f"http://testserver/orders/{order.pk}/"}
    response = client_for(people[actor]).post(f"/orders/{order.pk}/{action}/", data, **headers)
    assert response.status_code == 200
    fresh = selectors.order_for_push(order_id=order.pk)
    assert fresh.events.count() > 1
    boosters = selectors.boosters_for_assign() if audience == "staff" else None
    card = broadcasts.render_card(fresh, audience, boosters=boosters)
    assert response.content.decode() == card + broadcasts.render_notice()


def test_progress_form_errors_are_shown(client_for, people, order_in):
    order = order_in(Status.IN_PROGRESS)
    data = {"reached_rank": "gold", "reached_division": "", "reached_points": "10"}
    html = client_for(people["booster"]).post(f"/orders/{order.pk}/progress/", data, **HTMX).content.decode()
    assert "Gold needs a division" in html
    assert Order.objects.get(pk=order.pk).reached_rank == "silver"


def test_progress_past_the_goal_is_refused_inline(client_for, people, order_in):
    order = order_in(Status.IN_PROGRESS)
    data = {"reached_rank": "diamond", "reached_division": "1", "reached_points": "60"}
    html = client_for(people["booster"]).post(f"/orders/{order.pk}/progress/", data, **HTMX).content.decode()
    assert 'id="order-notice"' in html and escape(ladder.PAST_GOAL.format(goal="Gold IV")) in html
    assert f'<article id="order-{order.pk}"' in html  # the card stays, with its form
    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.reached_rank, fresh.reached_division, fresh.reached_points) == ("silver", 2, 0)


def test_mark_complete_is_offered_at_the_goal_and_to_staff_with_a_reason(client_for, people, order_in):
    order = order_in(Status.IN_PROGRESS)
    page = f"/orders/{order.pk}/"
    booster, manager = client_for(people["booster"]), client_for(people["manager"])
    assert 'data-action="complete"' not in booster.get(page).content.decode()
    staff_html = manager.get(page).content.decode()
    assert 'data-action="complete"' in staff_html and 'name="reason"' in staff_html

    refused = manager.post(f"/orders/{order.pk}/complete/", **HTMX).content.decode()
    assert escape(services.EARLY_COMPLETION_NEEDS_REASON.format(goal="Gold IV")) in refused
    assert Order.objects.get(pk=order.pk).status == Status.IN_PROGRESS

    data = {"reached_rank": "gold", "reached_division": "4", "reached_points": "0"}
    reached = booster.post(f"/orders/{order.pk}/progress/", data, **HTMX).content.decode()
    assert 'data-action="complete"' in reached and 'name="reason"' not in reached
    assert 'name="reason"' not in manager.get(page).content.decode()
    booster.post(f"/orders/{order.pk}/complete/", **HTMX)
    assert Order.objects.get(pk=order.pk).status == Status.COMPLETED


def _state(order: Order) -> tuple:
    fresh = Order.objects.get(pk=order.pk)
    return (
        fresh.status,
        fresh.booster_id,
        fresh.reached_rank,
        fresh.reached_division,
        fresh.reached_points,
        fresh.events.count(),
    )


@pytest.mark.parametrize(
    "actor, status, action, data, expected, message",
    [
        # 403: may see the order, may not do this to it.
        ("customer", Status.IN_PROGRESS, "status", {"status": "paused"}, 403, services.NOT_ASSIGNEE),
        ("customer", Status.ASSIGNED, "cancel", {}, 403, services.CANCEL_BY_CUSTOMER),
        ("booster", Status.IN_PROGRESS, "assign", {"booster": "other_booster"}, 403, services.NOT_STAFF),
        # 409: the order is no longer where the action needs it.
        ("other_booster", Status.ASSIGNED, "claim", {}, 409, services.ALREADY_TAKEN),
        ("booster", Status.PAUSED, "status", {"status": "paused"}, 409, "can't go from paused to paused"),
        (
            "booster",
            Status.PAUSED,
            "progress",
            {"reached_rank": "silver", "reached_division": "1"},
            409,
            services.PROGRESS_NEEDS_PLAY,
        ),
        ("booster", Status.IN_PROGRESS, "complete", {}, 409, services.GOAL_NOT_REACHED.format(goal="Gold IV")),
        ("manager", Status.COMPLETED, "cancel", {}, 409, "can't go from completed to cancelled"),
        # 422: refused input.
        ("booster", Status.IN_PROGRESS, "status", {"status": "flying"}, 422, services.STATUS_UNKNOWN),
        (
            "booster",
            Status.IN_PROGRESS,
            "progress",
            {"reached_rank": "diamond", "reached_division": "1"},
            422,
            ladder.PAST_GOAL.format(goal="Gold IV"),
        ),
        (
            "booster",
            Status.IN_PROGRESS,
            "progress",
            {"reached_rank": "gold", "reached_division": ""},
            422,
            "Gold needs a division",
        ),
        (
            "manager",
            Status.IN_PROGRESS,
            "complete",
            {},
            422,
            services.EARLY_COMPLETION_NEEDS_REASON.format(goal="Gold IV"),
        ),
        ("manager", Status.PENDING, "assign", {"booster": "x"}, 422, services.BOOSTER_INVALID),
    ],
)
def test_a_refused_action_answers_what_happened_with_the_notice_and_changes_nothing(
    client_for, people, order_in, actor, status, action, data, expected, message
):
    order = order_in(status)
    before = _state(order)
    data = {"reached_points": "0", **data} if action == "progress" else data
    data = {key: people[value].pk if value in people else value for key, value in data.items()}
    response = client_for(people[actor]).post(f"/orders/{order.pk}/{action}/", data, **HTMX)
    html = response.content.decode()
    assert response.status_code == expected, html
    assert 'id="order-notice"' in html and 'hx-swap-oob="true"' in html and escape(message) in html
    assert _state(order) == before


def test_a_refused_action_without_htmx_is_the_styled_403_page(client_for, people, order_in):
    order = order_in(Status.IN_PROGRESS)
    response = client_for(people["customer"]).post(f"/orders/{order.pk}/status/", {"status": "paused"})
    html = response.content.decode()
    assert response.status_code == 403
    assert 'class="card error-card' in html and escape(services.NOT_ASSIGNEE) in html
    assert Order.objects.get(pk=order.pk).status == Status.IN_PROGRESS


def test_non_htmx_actions_redirect_back(client_for, people, order_in):
    order = order_in(Status.IN_PROGRESS)
    response = client_for(people["manager"]).post(f"/orders/{order.pk}/status/", {"status": "paused"})
    assert response.status_code == 302 and response["Location"] == f"/orders/{order.pk}/"
    assert Order.objects.get(pk=order.pk).status == Status.PAUSED


def test_staff_assign_and_complete(client_for, people, order_in):
    order = order_in()
    client = client_for(people["manager"])
    client.post(f"/orders/{order.pk}/assign/", {"booster": people["other_booster"].pk}, **HTMX)
    assert Order.objects.get(pk=order.pk).booster == people["other_booster"]
    client.post(f"/orders/{order.pk}/status/", {"status": "in_progress"}, **HTMX)
    client.post(f"/orders/{order.pk}/complete/", {"reason": "played out by support"}, **HTMX)
    order.refresh_from_db()
    assert order.status == Status.COMPLETED and order.payout.booster == people["other_booster"]


def test_order_page_links_the_chat_rooms_each_role_may_read(client_for, people, order_in):
    order = order_in(Status.IN_PROGRESS)
    staff_link, booster_link = f"/chat/order-{order.pk}-staff/", f"/chat/order-{order.pk}-booster/"
    customer_html = client_for(people["customer"]).get(f"/orders/{order.pk}/").content.decode()
    booster_html = client_for(people["booster"]).get(f"/orders/{order.pk}/").content.decode()
    assert staff_link in customer_html and booster_link in customer_html
    assert booster_link in booster_html and staff_link not in booster_html
    assert 'id="order-timeline"' in customer_html and f'ws-connect="/ws/orders/{order.pk}/"' in customer_html


def dot(user, *, online: bool) -> str:
    return f'class="dot presence-{user.pk}{" dot-online" if online else ""}"'


def test_cards_show_the_other_partys_presence_dot(client_for, people, order_in, published):
    order, claimable = order_in(Status.IN_PROGRESS), order_in()
    customer, booster = people["customer"], people["booster"]
    go_online(booster)

    def card(html: str, pk: int) -> str:
        return html.split(f'id="order-{pk}"', 1)[1].split("</article>", 1)[0]

    mine = card(client_for(customer).get("/dashboard/").content.decode(), order.pk)
    assert dot(booster, online=True) in mine and f"presence-{customer.pk}" not in mine
    boosting = client_for(booster).get("/dashboard/").content.decode()
    assert dot(customer, online=False) in card(boosting, order.pk)
    assert "presence-" not in card(boosting, claimable.pk)  # the claim list names nobody
    staff = card(client_for(people["manager"]).get("/dashboard/").content.decode(), order.pk)
    assert dot(customer, online=False) in staff and dot(booster, online=True) in staff
    page = client_for(customer).get(f"/orders/{order.pk}/").content.decode()
    assert dot(booster, online=True) in card(page, order.pk)

    # Pushed cards carry the dots as they are when the change happens.
    go_online(customer)
    services.order_status_set(order=order, status=Status.PAUSED, by=booster)
    commit_point()
    pushed = dict(published)
    assert dot(customer, online=True) in pushed[groups.user(booster.pk)]["html"]
    assert dot(booster, online=True) in pushed[groups.user(customer.pk)]["html"]


# ADMIN


@pytest.fixture
def superuser(people):
    admin = people["admin"]
    admin.is_superuser = True
    admin.save()
    return admin


def admin_action(client, action: str, orders: list[Order], **extra: object):
    data = {"action": action, "_selected_action": [order.pk for order in orders], **extra}
    return client.post("/admin/orders/order/", data, follow=True)


def test_admin_pause_action_uses_the_service_and_pushes_to_customer_and_booster(
    client_for, superuser, people, order_in, published, django_capture_on_commit_callbacks
):
    order = order_in(Status.IN_PROGRESS)
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(superuser).post(
            "/admin/orders/order/", {"action": "pause_orders", "_selected_action": [order.pk]}
        )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == Status.PAUSED
    event = order.events.latest("id")
    assert (event.actor, event.to_status) == (superuser, Status.PAUSED)
    pushed = dict(published)
    for person in ("customer", "booster"):
        card = pushed[groups.user(people[person].pk)]["html"]
        assert f'id="order-{order.pk}"' in card and 'data-status="paused"' in card, person
    assert 'data-status="paused"' in pushed[groups.STAFF]["html"]


def test_admin_assign_action_hands_orders_to_the_chosen_booster(
    client_for, superuser, people, order_in, published, django_capture_on_commit_callbacks
):
    pending, taken = order_in(), order_in(Status.IN_PROGRESS)
    client = client_for(superuser)
    changelist = client.get("/admin/orders/order/").content.decode()
    assert 'name="booster"' in changelist and people["other_booster"].username in changelist
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_action(client, "assign_orders", [pending, taken], booster=people["other_booster"].pk)
    assert "Assigned to boost2: 2 order(s)." in response.content.decode()
    for order in (pending, taken):
        order.refresh_from_db()
        assert order.booster == people["other_booster"]
        assert order.events.latest("id").actor == superuser
    assert (pending.status, taken.status) == (Status.ASSIGNED, Status.IN_PROGRESS)
    assert people["other_booster"] in pending.booster_room.members.all()
    # The new booster's dashboard gets both cards; the previous one loses theirs.
    to_new = [payload for group, payload in published if group == groups.user(people["other_booster"].pk)]
    assert len(to_new) == 2
    to_old = [payload for group, payload in published if group == groups.user(people["booster"].pk)]
    assert [f"delete:#my-orders #order-{taken.pk}" in payload["html"] for payload in to_old] == [True]


def test_admin_assign_action_needs_a_booster_and_changes_nothing_without_one(client_for, superuser, people, order_in):
    order = order_in()
    client = client_for(superuser)
    response = admin_action(client, "assign_orders", [order])
    assert escape(PICK_A_BOOSTER) in response.content.decode()
    response = admin_action(client, "assign_orders", [order], booster=people["customer"].pk)
    assert escape(PICK_A_BOOSTER) in response.content.decode()  # not a booster: not a choice
    order.refresh_from_db()
    assert (order.status, order.booster) == (Status.PENDING, None)


def test_admin_start_action_starts_assigned_orders_only(client_for, superuser, order_in):
    assigned, paused = order_in(Status.ASSIGNED), order_in(Status.PAUSED)
    response = admin_action(client_for(superuser), "start_orders", [assigned, paused])
    html = response.content.decode()
    assert "Started 1 order(s)." in html and escape(ONLY_ASSIGNED_START) in html
    assigned.refresh_from_db()
    paused.refresh_from_db()
    assert (assigned.status, paused.status) == (Status.IN_PROGRESS, Status.PAUSED)
    event = assigned.events.latest("id")
    assert (event.actor, event.message) == (superuser, f"Started by {superuser.username}")


def test_admin_complete_action_before_the_goal_needs_the_reason_field(client_for, superuser, order_in):
    order = order_in(Status.IN_PROGRESS)
    client = client_for(superuser)
    refused = admin_action(client, "complete_orders", [order]).content.decode()
    assert escape(services.EARLY_COMPLETION_NEEDS_REASON.format(goal="Gold IV")) in refused
    assert Order.objects.get(pk=order.pk).status == Status.IN_PROGRESS
    admin_action(client, "complete_orders", [order], reason="refunded half, customer agreed")
    order.refresh_from_db()
    assert order.status == Status.COMPLETED
    assert order.events.latest("id").message.endswith(": refunded half, customer agreed")


def test_admin_action_reports_refused_transitions(client_for, superuser, order_in):
    order = order_in(Status.COMPLETED)
    response = client_for(superuser).post(
        "/admin/orders/order/", {"action": "pause_orders", "_selected_action": [order.pk]}, follow=True
    )
    assert "can&#x27;t go from completed to paused" in response.content.decode()


class _FormValues(HTMLParser):
    """The values a browser would submit from the admin change form."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "checkbox"):
            self.values[name] = attrs.get("value") or ""
        elif tag == "select" and name:
            self._select = name
            self.values.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attrs:
            self.values[self._select] = attrs.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def change_form_values(client, order: Order) -> dict[str, str]:
    parser = _FormValues()
    parser.feed(client.get(f"/admin/orders/order/{order.pk}/change/").content.decode())
    return parser.values


def test_admin_change_form_save_pushes_after_commit_and_is_on_the_timeline(
    client_for, superuser, order_in, published, django_capture_on_commit_callbacks
):
    order = order_in(Status.IN_PROGRESS)
    client = client_for(superuser)
    data = {**change_form_values(client, order), "reached_points": "70"}
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/orders/order/{order.pk}/change/", data)
        assert published == []
    assert response.status_code == 302
    assert Order.objects.get(pk=order.pk).reached_points == 70
    assert [group for group, _ in published].count(groups.order(order.pk)) == 1
    assert order.events.latest("id").kind == OrderEvent.Kind.EDITED


@pytest.mark.parametrize(
    "edit, field, error",
    [
        ({"reached_rank": "master", "reached_division": "2"}, "reached_division", "Master has no divisions."),
        ({"current_division": ""}, "current_division", "Silver needs a division (IV to I)."),
        ({"reached_points": "150"}, "reached_points", "LP must be between 0 and 100."),
        ({"desired_rank": "silver", "desired_division": "3"}, "desired_rank", ladder.DESIRED_NOT_HIGHER),
        ({"reached_rank": "diamond", "reached_division": "1"}, "reached_rank", ladder.PAST_GOAL.format(goal="Gold IV")),
    ],
)
def test_admin_change_form_refuses_impossible_ranks(
    client_for, superuser, order_in, published, django_capture_on_commit_callbacks, edit, field, error
):
    order = order_in(Status.IN_PROGRESS)
    client = client_for(superuser)
    unchanged = change_form_values(client, order)
    events = order.events.count()
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/orders/order/{order.pk}/change/", {**unchanged, **edit})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field] == [error]
    saved = Order.objects.get(pk=order.pk)
    assert (saved.current_division, saved.desired_rank, saved.reached_rank) == (2, "gold", "silver")
    assert saved.reached_points == 0
    assert order.events.count() == events and published == []


# PROOF SCREENSHOTS


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_booster_uploads_proof_and_only_allowed_viewers_get_it(client_for, people, order_in, media):
    order = order_in(Status.IN_PROGRESS)
    response = client_for(people["booster"]).post(
        f"/orders/{order.pk}/proofs/", {"file": _png()}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 201
    proof = ProofScreenshot.objects.get(order=order)
    html = response.content.decode()
    assert 'id="order-proofs" hx-swap-oob="true"' in html and proof.get_thumbnail_url() in html
    assert proof.file.name.startswith(f"proofs/{order.pk}/") and "proof" not in proof.file.name.rsplit("/", 1)[1]

    for viewer, expected in [("customer", 200), ("manager", 200), ("booster", 200), ("other_customer", 404)]:
        served = client_for(people[viewer]).get(proof.get_absolute_url())
        assert served.status_code == expected, viewer
        if expected == 200:
            assert served["Content-Type"] == "image/png"
    assert client_for(people["other_booster"]).get(proof.get_thumbnail_url()).status_code == 404


def test_proof_upload_is_refused_for_others_and_for_non_images(client_for, people, order_in, media):
    order = order_in(Status.IN_PROGRESS)
    customer = client_for(people["customer"]).post(
        f"/orders/{order.pk}/proofs/", {"file": _png()}, HTTP_HX_REQUEST="true"
    )
    assert escape(services.PROOF_NOT_ALLOWED) in customer.content.decode()
    text = io.BytesIO(b"hello")
    text.name = "notes.txt"
    booster = client_for(people["booster"]).post(f"/orders/{order.pk}/proofs/", {"file": text}, HTTP_HX_REQUEST="true")
    assert "Only PNG, JPEG, GIF and WebP images" in booster.content.decode()
    assert not ProofScreenshot.objects.exists()
    assert not list(media.rglob("*.*"))


def _proof_error_line(html: str) -> tuple[str, str]:
    """The attributes and the text of the `#proof-error` line in `html`."""
    match = re.search(r'<p id="proof-error"([^>]*)>(.*?)</p>', html, re.S)
    assert match, html
    return match.group(1), match.group(2)


def test_proof_errors_swap_into_the_error_line_and_a_stored_proof_clears_it(client_for, people, order_in, media):
    order = order_in(Status.IN_PROGRESS)
    booster = client_for(people["booster"])

    page = booster.get(order.get_absolute_url()).content.decode()
    refused = booster.post(f"/orders/{order.pk}/proofs/", {"body": "no file"}, HTTP_HX_REQUEST="true")
    stored = booster.post(f"/orders/{order.pk}/proofs/", {"file": _png()}, HTTP_HX_REQUEST="true")

    attributes, text = _proof_error_line(page)
    assert "hx-swap-oob" not in attributes and text == ""
    assert refused.status_code == 422  # refused input, swapped by base.html's responseHandling
    attributes, text = _proof_error_line(refused.content.decode())
    assert 'hx-swap-oob="true"' in attributes and text == UPLOAD_MISSING
    assert stored.status_code == 201
    attributes, text = _proof_error_line(stored.content.decode())
    assert 'hx-swap-oob="true"' in attributes and text == ""


def test_proof_refusals_answer_what_happened(client_for, people, order_in, media, settings):
    order = order_in(Status.IN_PROGRESS)
    not_theirs = client_for(people["customer"]).post(f"/orders/{order.pk}/proofs/", {"file": _png()}, **HTMX)
    assert not_theirs.status_code == 403
    assert _proof_error_line(not_theirs.content.decode())[1] == escape(services.PROOF_NOT_ALLOWED)
    settings.UPLOAD_RATE_LIMIT = 1
    booster = client_for(people["booster"])
    assert booster.post(f"/orders/{order.pk}/proofs/", {"file": _png()}, **HTMX).status_code == 201
    too_fast = booster.post(f"/orders/{order.pk}/proofs/", {"file": _png()}, **HTMX)
    assert too_fast.status_code == 429
    assert ProofScreenshot.objects.count() == 1


def _card_times(html: str, pk: int) -> tuple[str, str]:
    card = html.split(f'id="order-{pk}"', 1)[1].split("</article>", 1)[0]
    placed = re.search(r'<time datetime="([^"]+)" data-placed>', card)
    changed = re.search(r'<time datetime="([^"]+)" data-changed>', card)
    assert placed and changed, card
    return placed.group(1), changed.group(1)


def test_cards_show_when_the_order_was_placed_and_last_changed(client_for, people, order_in, media, published):
    order = order_in(Status.IN_PROGRESS)
    placed, changed = _card_times(client_for(people["customer"]).get("/dashboard/").content.decode(), order.pk)
    assert placed == order.created.isoformat()
    assert changed == order.events.latest("id").created.isoformat()

    # A proof does not save the order, but it is its latest change.
    client_for(people["booster"]).post(f"/orders/{order.pk}/proofs/", {"file": _png()}, HTTP_HX_REQUEST="true")
    commit_point()
    proof_event = order.events.latest("id")
    assert proof_event.kind == OrderEvent.Kind.PROOF
    assert Order.objects.get(pk=order.pk).updated == proof_event.created
    pushed = dict(published)[groups.user(people["customer"].pk)]["html"]
    assert _card_times(pushed, order.pk) == (placed, proof_event.created.isoformat())


def test_card_markup_scopes_dashboard_swaps(client_for, people, order_in):
    order = order_in()
    html = client_for(people["booster"]).get("/dashboard/").content.decode()
    # Page-rendered cards carry no oob attributes; pushes add them.
    assert not re.search(rf'id="order-{order.pk}"[^>]*hx-swap-oob', html)
