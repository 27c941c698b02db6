"""Orders live in a real browser: cards, progress bars and the claim list move
on other people's pages the moment someone acts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from orders.games.ladder import PAST_GOAL
from orders.services import ALREADY_TAKEN
from tests.browser.conftest import exact, open_dashboard

pytestmark = pytest.mark.browser


def test_the_customers_card_and_progress_bar_move_when_the_booster_reports(site, people):
    customer_name, booster_name, manager_name = site.users(
        "client", "player", "boss", roles={"player": "booster", "boss": "manager"}
    )
    order_pk = site.task(
        "order", customer=customer_name, booster=booster_name, current=("silver", 4, 0), desired=("gold", 4)
    )
    customer, booster, manager = people(customer_name), people(booster_name), people(manager_name)
    for person in (customer, booster, manager):
        open_dashboard(person)

    card = customer.page.locator(f"#my-orders #order-{order_pk}")
    staff_card = manager.page.locator(f"#all-orders #order-{order_pk}")
    expect(card).to_have_attribute("data-status", "assigned")
    expect(card.locator("[data-progress]")).to_have_text(exact("0%"))
    expect(card.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "0")

    own = booster.page.locator(f"#my-orders #order-{order_pk}")
    form = own.locator("form").filter(has=booster.page.locator("[data-action=progress]"))
    form.locator("[name=reached_rank]").select_option("silver")
    form.locator("[name=reached_division]").select_option("2")
    form.locator("[name=reached_points]").fill("50")
    form.locator("[data-action=progress]").click()

    # The booster's own card answers first; the others must follow to the same value.
    expect(own).to_have_attribute("data-status", "in_progress")
    progress = own.locator("[data-progress]").inner_text().strip()
    assert progress not in ("0%", "100%")
    for watched in (card, staff_card):
        expect(watched).to_have_attribute("data-status", "in_progress")
        expect(watched.locator("[data-progress]")).to_have_text(exact(progress))
        expect(watched.get_by_role("progressbar")).to_have_attribute("aria-valuenow", progress.rstrip("%"))
        expect(watched.locator(".progress > span")).to_have_attribute("style", f"width: {progress}")
    expect(card).to_contain_text("Silver II")

    # The order page (another socket) shows the same card and the event in its timeline.
    customer.page.goto(f"/orders/{order_pk}/")
    expect(customer.page.locator(f"#order-{order_pk} [data-progress]")).to_have_text(exact(progress))
    expect(customer.page.locator("#order-timeline")).to_contain_text("Reached Silver II 50 LP")


def test_the_claim_list_drops_an_order_another_booster_claimed(site, people):
    customer_name, first_name, second_name = site.users(
        "buyer", "quick", "slow", roles={"quick": "booster", "slow": "booster"}
    )
    order_pk = site.task("order", customer=customer_name)
    first, second = people(first_name), people(second_name)
    for person in (first, second):
        open_dashboard(person)
        expect(person.page.locator(f"#claimable-orders #order-{order_pk}")).to_have_count(1)

    first.page.locator(f"#claimable-orders #order-{order_pk} [data-action=claim]").click()
    expect(first.page.locator(f"#my-orders #order-{order_pk}")).to_have_attribute("data-status", "assigned")
    expect(first.page.locator(f"#claimable-orders #order-{order_pk}")).to_have_count(0)
    expect(second.page.locator(f"#claimable-orders #order-{order_pk}")).to_have_count(0)
    expect(second.page.locator(f"#my-orders #order-{order_pk}")).to_have_count(0)

    # An order the customer places through the form appears on both claim lists
    # without a reload, priced by the server.
    customer = people(customer_name)
    customer.page.goto("/dashboard/")
    form = customer.page.locator("#new-order")
    form.locator("[name=desired_rank]").select_option("platinum")
    expect(form.locator("#price-preview [data-price]")).to_be_visible()
    form.get_by_role("button", name="Place order").click()
    expect(customer.page).to_have_url(re.compile(r"/orders/\d+/$"))
    newer_pk = int(customer.page.url.rstrip("/").rsplit("/", 1)[1])
    assert newer_pk != order_pk
    for person in (first, second):
        expect(person.page.locator(f"#claimable-orders #order-{newer_pk}")).to_have_count(1)


def answer_to(page, path: str):
    return page.expect_response(lambda response: response.url.endswith(path) and response.request.method == "POST")


def test_a_refused_progress_report_is_a_422_shown_on_the_card_and_nothing_changes(site, people):
    customer_name, booster_name = site.users("hopeful", "honest", roles={"honest": "booster"})
    order_pk = site.task(
        "order", customer=customer_name, booster=booster_name, current=("silver", 2, 0), desired=("gold", 4)
    )
    before = site.task("order_state", pk=order_pk)
    booster = people(booster_name)
    open_dashboard(booster)
    errors: list[str] = []
    booster.page.on("console", lambda message: message.type == "error" and errors.append(message.text))

    card = booster.page.locator(f"#my-orders #order-{order_pk}")
    form = card.locator("form").filter(has=booster.page.locator("[data-action=progress]"))
    form.locator("[name=reached_rank]").select_option("diamond")
    form.locator("[name=reached_division]").select_option("1")
    form.locator("[name=reached_points]").fill("60")
    with answer_to(booster.page, f"/orders/{order_pk}/progress/") as answer:
        form.locator("[data-action=progress]").click()
    assert answer.value.status == 422

    expect(booster.page.locator("#order-notice")).to_have_text(PAST_GOAL.format(goal="Gold IV"))
    # Swapped where the booster acted: the card (fresh, with its form) and the page around it stay.
    expect(card).to_have_attribute("data-status", "assigned")
    expect(card.locator("[data-progress]")).to_have_text(exact("0%"))
    expect(card.locator("[data-action=progress]")).to_be_visible()
    assert booster.page.url.endswith("/dashboard/")
    assert site.task("order_state", pk=order_pk) == before
    # The browser reports the refused request's status itself; nothing else may log an error.
    assert [error for error in errors if "status of 422" not in error] == []


def test_a_claim_that_lost_the_race_is_a_409_that_says_so_and_drops_the_card(site, people):
    customer_name, quick_name, slow_name = site.users(
        "racer", "hare", "tortoise", roles={"hare": "booster", "tortoise": "booster"}
    )
    order_pk = site.task("order", customer=customer_name)
    quick, slow = people(quick_name), people(slow_name)
    # The slow booster's sockets hear nothing: the push that the order was taken has not arrived yet.
    slow.page.route_web_socket(re.compile(r"/ws/"), lambda socket: None)
    for person in (quick, slow):
        open_dashboard(person)
    quick.page.locator(f"#claimable-orders #order-{order_pk} [data-action=claim]").click()
    expect(quick.page.locator(f"#my-orders #order-{order_pk}")).to_have_attribute("data-status", "assigned")
    taken = site.task("order_state", pk=order_pk)

    stale = slow.page.locator(f"#claimable-orders #order-{order_pk}")
    expect(stale).to_have_count(1)
    with answer_to(slow.page, f"/orders/{order_pk}/claim/") as answer:
        stale.locator("[data-action=claim]").click()
    assert answer.value.status == 409
    expect(slow.page.locator("#order-notice")).to_have_text(ALREADY_TAKEN)
    expect(stale).to_have_count(0)
    expect(slow.page.locator(f"#my-orders #order-{order_pk}")).to_have_count(0)
    assert site.task("order_state", pk=order_pk) == taken and taken["booster"] == quick_name


def test_an_admin_pause_in_the_django_admin_shows_on_both_dashboards_live(site, people):
    """The real admin action through the browser (the admin is for is_staff users,
    so the one pausing is an admin)."""
    customer_name, booster_name, admin_name = site.users(
        "payer", "grinder", "overseer", roles={"grinder": "booster", "overseer": "admin"}
    )
    order_pk = site.task("order", customer=customer_name, booster=booster_name, start=True)
    customer, booster, admin = people(customer_name), people(booster_name), people(admin_name)
    cards = []
    for person in (customer, booster):
        open_dashboard(person)
        card = person.page.locator(f"#my-orders #order-{order_pk}")
        expect(card).to_have_attribute("data-status", "in_progress")
        cards.append(card)

    admin.page.goto("/admin/orders/order/")
    admin.page.locator(f"input[name=_selected_action][value='{order_pk}']").check()
    admin.page.locator("select[name=action]").select_option("pause_orders")
    admin.page.get_by_role("button", name="Go").click()
    expect(admin.page.locator(".messagelist")).to_contain_text("Paused 1 order(s).")

    for card in cards:
        expect(card).to_have_attribute("data-status", "paused")
        expect(card.locator(".badge[class*=status-]")).to_have_text(exact("Paused"))
    expect(booster.page.locator(f"#order-{order_pk} [data-action=resume]")).to_be_visible()
    expect(customer.page.locator(f"#order-{order_pk} [data-action]")).to_have_count(0)
    # The pushed cards name the other party with a live presence dot.
    customer_card, booster_card = cards
    expect(customer_card.locator(f".presence-{site.pks[booster_name]}")).to_have_attribute("aria-label", "online")
    expect(booster_card.locator(f".presence-{site.pks[customer_name]}")).to_have_attribute("aria-label", "online")
