"""The main pages, photographed for README.md (docs/screenshots/*.png): each in
the Light theme, and chat, a dashboard, the order page and a phone in Dark and in
Windows 98 (`<name>-dark.png`, `<name>-win98.png`).

A server of its own with the demo data (`manage.py seed_demo`), so the pictures
show what `make run` shows and nothing other tests made.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from orders.management.commands.seed_demo import DEMO_PASSWORD
from tests.browser.conftest import choose_theme, open_room, running_site, screenshot, send

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with running_site(tmp_path_factory.mktemp("screenshot-site"), seed=True) as running:
        yield running


def test_screenshots_of_the_main_pages(site, people):
    alice = people("alice", password=DEMO_PASSWORD)
    bob = people("bob", password=DEMO_PASSWORD)
    for person in (alice, bob):
        open_room(person.page, "public-chat")
    # seed_demo's three public messages, then one sent live.
    send(bob.page, "Nice! Same here, booster1 is on mine.")
    expect(alice.page.locator("#messages > article.msg")).to_have_count(4)
    screenshot(alice.page, "chat")

    alice.page.goto("/dashboard/")
    expect(alice.page.locator("#my-orders article.order-card").first).to_be_visible()
    expect(alice.page.locator("#price-preview [data-price]")).to_be_visible()
    screenshot(alice.page, "dashboard-customer", full_page=True)

    booster = people("booster1", password=DEMO_PASSWORD)
    booster.page.goto("/dashboard/")
    expect(booster.page.locator("#claimable-orders article.order-card").first).to_be_visible()
    expect(booster.page.locator("#payouts")).to_be_visible()
    screenshot(booster.page, "dashboard-booster", full_page=True)

    manager = people("manager", password=DEMO_PASSWORD)
    manager.page.goto("/dashboard/")
    expect(manager.page.locator("#all-orders article.order-card")).to_have_count(8)
    screenshot(manager.page, "dashboard-staff", full_page=True)

    bob.page.goto("/dashboard/")
    bob.page.locator("#my-orders article.order-card[data-status=in_progress] a").first.click()
    expect(bob.page.locator("#order-timeline li").first).to_be_visible()
    expect(bob.page.locator("#order-socket")).to_have_attribute("data-state", "open")
    screenshot(bob.page, "order", full_page=True)

    phone = people("carol", password=DEMO_PASSWORD, viewport=PHONE)
    open_room(phone.page, "public-chat")
    expect(phone.page.locator("#messages > article.msg")).to_have_count(4)
    # Nothing is wider than the phone: no sideways scrolling.
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(phone.page, "chat-mobile")
    phone.page.goto("/dashboard/")
    expect(phone.page.locator("#my-orders article.order-card").first).to_be_visible()
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(phone.page, "dashboard-mobile", full_page=True)

    for theme in ("dark", "win98"):
        for person in (alice, bob, phone):
            choose_theme(person.page, theme)
        open_room(alice.page, "public-chat")
        expect(alice.page.locator("#messages > article.msg")).to_have_count(4)
        screenshot(alice.page, f"chat-{theme}")
        alice.page.goto("/dashboard/")
        expect(alice.page.locator("#price-preview [data-price]")).to_be_visible()
        screenshot(alice.page, f"dashboard-customer-{theme}", full_page=True)
        bob.page.reload()
        expect(bob.page.locator("#order-socket")).to_have_attribute("data-state", "open")
        screenshot(bob.page, f"order-{theme}", full_page=True)
        open_room(phone.page, "public-chat")
        expect(phone.page.locator("#messages > article.msg")).to_have_count(4)
        assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(phone.page, f"chat-mobile-{theme}")
