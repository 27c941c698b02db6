"""A second game, tried as a new user would: a Valorant order with options,
priced live as they change, on the claim list of the booster approved for
Valorant only, and moving live when progress is reported in RR."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import exact, open_dashboard

pytestmark = pytest.mark.browser


def test_a_valorant_order_with_duo_and_priority_from_form_to_rr_progress(site, people):
    customer_name, agent_name, laner_name = site.users(
        "gamer", "agent", "laner", roles={"agent": "booster", "laner": "booster"}
    )
    site.task("approve", booster=agent_name, approvals=[["valorant", "radiant"]])  # laner: League only
    customer, agent, laner = people(customer_name), people(agent_name), people(laner_name)
    for booster in (agent, laner):
        open_dashboard(booster)
    # The same booster in another tab, their dashboard filtered to League of Legends.
    league_tab = agent.page.context.new_page()
    league_tab.goto("/dashboard/?game=lol")
    expect(league_tab.locator("#orders-socket")).to_have_attribute("data-state", "open")

    customer.page.goto("/dashboard/")
    form = customer.page.locator("#new-order")
    price = form.locator("#price-preview [data-price]")
    expect(price).to_have_attribute("data-price", "16.00")  # League of Legends, the preset
    form.locator("[name=game]").select_option("valorant")
    # The fields are redrawn for Valorant: its ranks, RR, its servers.
    expect(form.locator("#order-fields")).to_have_attribute("data-game", "valorant")
    expect(form.locator("#order-fields")).to_contain_text("RR")
    expect(form.locator("[name=region] option:checked")).to_have_text(exact("Europe"))
    for name, value in (("current_rank", "gold"), ("current_division", "2")):
        form.locator(f"[name={name}]").select_option(value)
    form.locator("[name=desired_rank]").select_option("platinum")
    form.locator("[name=desired_division]").select_option("1")
    expect(price).to_have_attribute("data-price", "18.00")
    form.locator("[name=duo_queue]").check()
    expect(price).to_have_attribute("data-price", "28.80")
    form.locator("[name=priority_start]").check()
    expect(price).to_have_attribute("data-price", "32.40")
    expect(form.locator("#price-preview")).to_contain_text("Duo queue $10.80")

    form.get_by_role("button", name="Place order").click()
    expect(customer.page).to_have_url(re.compile(r"/orders/\d+/$"))
    order_pk = int(customer.page.url.rstrip("/").rsplit("/", 1)[1])
    page_card = customer.page.locator(f"#order-{order_pk}")
    expect(page_card).to_contain_text("$32.40")
    expect(page_card.locator("[data-options]")).to_contain_text("Duo queue")
    expect(page_card.locator("[data-options]")).to_contain_text("Priority start")
    expect(customer.page.locator("#order-socket")).to_have_attribute("data-state", "open")

    # Live on the claim list of the booster approved for Valorant, with what they would claim...
    claimable = agent.page.locator(f"#claimable-orders #order-{order_pk}")
    expect(claimable).to_contain_text("Gold 2 · 0 RR → Platinum 1")
    expect(claimable.locator("[data-options]")).to_contain_text("Duo queue")
    expect(league_tab.locator(f"#order-{order_pk}")).to_have_count(0)  # not a League order
    # ...and not on the League-only booster's, live or after a reload.
    expect(laner.page.locator(f"#order-{order_pk}")).to_have_count(0)
    open_dashboard(laner)
    expect(laner.page.locator(f"#order-{order_pk}")).to_have_count(0)

    claimable.locator("[data-action=claim]").click()
    own = agent.page.locator(f"#my-orders #order-{order_pk}")
    expect(own).to_have_attribute("data-status", "assigned")
    progress = own.locator("form").filter(has=agent.page.locator("[data-action=progress]"))
    progress.locator("[name=reached_rank]").select_option("gold")
    progress.locator("[name=reached_division]").select_option("3")
    progress.locator("[name=reached_points]").fill("50")
    progress.locator("[data-action=progress]").click()

    # The customer's open order page moves with it, in RR.
    expect(page_card.locator("[data-progress]")).to_have_text(exact("75%"))
    expect(page_card).to_contain_text("Now Gold 3 · 50 RR")
    expect(customer.page.locator("#order-timeline")).to_contain_text("Reached Gold 3 50 RR (75%)")
