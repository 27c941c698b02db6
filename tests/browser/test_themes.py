"""Themes in a real browser: every page in every theme as every role, a change
that reaches every open tab, one pushed message in two themes at once, the theme
on first paint and across logout and login.

The server runs with DEBUG off (so the real 403/404 pages show) on the demo data.
axe-core comes from tests/browser/node_modules (`npm ci` there; .ci/run does it).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect, sync_playwright

from orders.management.commands.seed_demo import DEMO_PASSWORD
from tests.browser import harness
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, choose_theme, log_in, open_room, running_site, send

pytestmark = pytest.mark.browser

AXE = harness.ROOT / "tests/browser/node_modules/axe-core/axe.min.js"
THEMES = ["light", "dark", "win98", "system"]
# What each theme paints behind the page (the body's background).
DESKTOP = {"light": "rgb(246, 247, 251)", "dark": "rgb(14, 17, 24)", "win98": "rgb(0, 128, 128)"}
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "browser-tests-only-" + "x" * 40,
    "SERVE_STATIC": "1",
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
    "SECURE_HSTS_SECONDS": "0",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with running_site(tmp_path_factory.mktemp("themes-site"), seed=True, **PRODUCTION) as running:
        yield running


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"axe-core is missing: run `npm ci` in {AXE.parents[2]} (.ci/run does).", pytrace=False)
    return AXE.read_text()


def demo(people, username: str, **options):
    return people(username, password=DEMO_PASSWORD, **options)


def background(page, selector: str = "body") -> str:
    return page.locator(selector).first.evaluate("el => getComputedStyle(el).backgroundColor")


# LIVE CHANGE


def test_choosing_windows_98_in_one_tab_turns_every_open_tab_without_a_reload(site, people, browser):
    alice = demo(people, "alice")
    chat = alice.page
    open_room(chat, "public-chat")
    dashboard = alice.context.new_page()
    dashboard.goto("/dashboard/")
    elsewhere = browser.new_context(base_url=site.url)  # the same user on another device
    try:
        other_device = elsewhere.new_page()
        log_in(other_device, "alice", DEMO_PASSWORD)
        other_device.goto("/accounts/settings/")
        tabs = [chat, dashboard, other_device]
        for tab in tabs:
            expect(tab.locator("#presence-socket")).to_have_attribute("data-state", "open")
            tab.evaluate("window.notReloaded = true")

        choose_theme(dashboard, "win98")

        for tab in tabs:
            expect(tab.locator("html")).to_have_attribute("data-theme", "win98")
            assert background(tab) == DESKTOP["win98"]
            assert tab.evaluate("window.notReloaded === true")
        # The menu and the settings form follow too.
        expect(chat.locator("#user-menu [data-theme-option][value=win98]")).to_have_attribute("aria-pressed", "true")
        expect(other_device.locator("input[name=theme][value=win98]")).to_be_checked()
        choose_theme(other_device, "light")
        expect(chat.locator("html")).to_have_attribute("data-theme", "light")
    finally:
        elsewhere.close()


def test_one_pushed_message_looks_right_in_windows_98_and_in_dark_at_once(site, people, axe_source):
    bob, carol, alice = demo(people, "bob"), demo(people, "carol"), demo(people, "alice")
    for person, theme in ((bob, "win98"), (carol, "dark")):
        person.page.goto("/accounts/settings/")
        choose_theme(person.page, theme)
        open_room(person.page, "public-chat")
    open_room(alice.page, "public-chat")

    send(alice.page, "Queue up at eight?")

    fragments = []
    for person in (bob, carol):
        message = person.page.locator("#messages > article.msg").last
        expect(message).to_contain_text("Queue up at eight?")
        fragments.append(message.evaluate("el => el.outerHTML"))
        assert contrast_violations(person.page, axe_source, "#messages") == []
    assert fragments[0] == fragments[1]  # one render, the same bytes for both themes
    win98_bubble, dark_bubble = (p.page.locator("#messages > article.msg").last for p in (bob, carol))
    assert background(bob.page, "#messages > article.msg:last-child") == "rgb(234, 234, 234)"
    assert win98_bubble.evaluate("el => getComputedStyle(el).fontFamily").startswith('"Pixelated MS Sans Serif"')
    assert background(carol.page, "#messages > article.msg:last-child") == "rgb(28, 34, 48)"
    assert not dark_bubble.evaluate("el => getComputedStyle(el).fontFamily").startswith('"Pixelated')


# MESSAGE BOXES


def test_confirmations_and_the_invite_link_are_the_pages_own_message_box(site, people):
    customer_name, friend_name = site.users("canceller", "friend")
    order_pk = site.task("order", customer=customer_name)
    room = site.group(admin=customer_name, members=[friend_name])
    customer = people(customer_name)
    page = customer.page
    choose_theme(page, "win98")
    page.goto("/dashboard/")
    card = page.locator(f"#my-orders #order-{order_pk}")
    box = page.locator("#message-box")

    card.locator("[data-action=cancel]").click()
    expect(box).to_be_visible()
    expect(box.locator("#message-box-text")).to_have_text(re.compile(r"^Cancel LOL-\d+\?$"))
    assert background(page, "#message-box") == "rgb(192, 192, 192)"  # a 98 window, not the browser's dialog
    box.get_by_role("button", name="Cancel").click()
    expect(box).to_be_hidden()
    expect(card).to_have_attribute("data-status", "pending")

    card.locator("[data-action=cancel]").click()
    box.get_by_role("button", name="OK").click()
    expect(card).to_have_attribute("data-status", "cancelled")

    page.goto(f"/chat/{room}/")
    page.get_by_role("button", name="Invite link").click()
    expect(box).to_be_visible()
    expect(box.locator("#message-box-text")).to_contain_text("/chat/join/")
    expect(box.get_by_role("button", name="Cancel")).to_be_hidden()
    box.get_by_role("button", name="OK").click()
    expect(box).to_be_hidden()


# FIRST PAINT, LOGOUT AND LOGIN


def first_paint(page, url: str, tmp_path: Path, name: str) -> tuple[int, int, int]:
    """The page's first screenshot with every script blocked: what the server's
    HTML and CSS paint before any script could change a theme."""
    from PIL import Image

    page.route("**/*.js", lambda route: route.abort())
    try:
        page.goto(url, wait_until="domcontentloaded")
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path))
    finally:
        page.unroute("**/*.js")
    with Image.open(path) as shot:
        return shot.convert("RGB").getpixel((shot.width - 5, shot.height - 5))


def test_the_theme_is_on_the_first_paint_and_survives_logout_and_login(site, people, tmp_path):
    [name] = site.users("painter")
    person = people(name)
    choose_theme(person.page, "win98")
    assert first_paint(person.page, "/dashboard/", tmp_path, "signed-in") == (0, 128, 128)

    person.page.locator("#user-menu summary").click()
    person.page.locator("#user-menu button", has_text="Log out").click()
    expect(person.page.locator("#user-menu")).to_have_count(0)
    assert first_paint(person.page, "/accounts/login/", tmp_path, "signed-out") == (0, 128, 128)

    log_in(person.page, name)
    expect(person.page.locator("html")).to_have_attribute("data-theme", "win98")
    # Dark on a device that prefers light: the server's choice, not the media query.
    choose_theme(person.page, "dark")
    person.page.emulate_media(color_scheme="light")
    assert first_paint(person.page, "/chat/public-chat/", tmp_path, "dark") == (14, 17, 24)


# EVERY PAGE, EVERY THEME, EVERY ROLE


def contrast_violations(page, axe_source: str, include: str = "body") -> list[str]:
    """axe-core's colour-contrast findings, with every dropdown opened so their items count."""
    page.evaluate("document.querySelectorAll('details.dropdown').forEach(d => d.open = true)")
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source)
    result = page.evaluate(
        "sel => axe.run(document.querySelector(sel), {runOnly: ['color-contrast'], resultTypes: ['violations']})",
        include,
    )
    page.evaluate("document.querySelectorAll('details.dropdown').forEach(d => d.open = false)")
    return [
        f"{node['target']}: {node['any'][0]['message'] if node['any'] else violation['help']}"
        for violation in result["violations"]
        for node in violation["nodes"]
    ]


# Pages that differ between signed-in roles only in the layout's menu, which
# each role's own pages check: one role checks these.
ACCOUNT_PAGES = [
    "/accounts/settings/",
    "/accounts/email/",
    "/accounts/password/change/",
    "/accounts/logout/",
    "/chat/new/",
    "/no-such-page/",
]
ACCOUNT_PAGES_ROLE = "customer"


def pages_of(page, role: str) -> list[str]:
    """The pages a person in this role reaches from the site's own links."""
    if role == "anonymous":
        return [
            "/",
            "/accounts/login/",
            "/accounts/signup/",
            "/accounts/password/reset/",
            "/accounts/password/reset/done/",
            "/accounts/password/reset/key/1-bad/",
            "/accounts/confirm-email/",
            "/accounts/confirm-email/bad-key/",
            "/accounts/inactive/",
            "/no-such-page/",
        ]
    urls = ["/", "/dashboard/", *(ACCOUNT_PAGES if role == ACCOUNT_PAGES_ROLE else []), "/chat/", "/chat/public-chat/"]
    page.goto("/dashboard/")
    cards = page.locator("#my-orders article.order-card > header a, #all-orders article.order-card > header a")
    urls += [cards.first.get_attribute("href")] if cards.count() else []
    page.goto("/chat/public-chat/")
    rooms = page.locator("#room-list a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    urls += [room for room in rooms if room != "/chat/public-chat/"][:3]
    group = next((room for room in rooms if room.startswith("/chat/duo")), None)
    if group:
        page.goto(group)
        urls += [group]
        actions = '#main a[href$="/edit/"], #main a[href$="/leave/"], #main a[href$="/delete/"]'
        urls += page.locator(actions).evaluate_all("links => links.map(a => a.getAttribute('href'))")
        invite = page.locator("#main [data-copy*='/chat/join/']")
        urls += [urlsplit(invite.get_attribute("data-copy")).path] if invite.count() else []
    page.goto("/chat/")
    # Staff: the support inbox's order rooms.
    urls += page.locator("#support-inbox a").evaluate_all("links => links.map(a => a.getAttribute('href'))")[:2]
    if role == "admin":
        urls += ["/realtime/test/"]
    return list(dict.fromkeys(urls))


# Counts the frames the presence socket has applied (an init script: no CSP applies to it).
PRESENCE_FRAMES = """document.addEventListener("htmx:wsAfterMessage", (event) => {
  if (event.target.id === "presence-socket") window.presenceFrames = (window.presenceFrames || 0) + 1;
});"""
SYSTEM_PAGES = 3
ROLES = {"anonymous": None, "customer": "alice", "booster": "booster1", "manager": "manager", "admin": "admin"}


def test_every_page_in_every_theme_has_no_console_error_and_enough_contrast(site, browser, axe_source):
    # Two browsers at once, each with its share of the roles: one waits on the
    # server while the other runs axe, and the test takes about half as long.
    with ThreadPoolExecutor(max_workers=1) as second:
        there = second.submit(_in_a_browser_of_its_own, site, axe_source, SECOND_BROWSER)
        here = [_every_page_as(browser, site, axe_source, role) for role in ROLES if role not in SECOND_BROWSER]
        checked = [*here, *there.result()]
    visited = sum(count for count, _ in checked)
    problems = [problem for _, found in checked for problem in found]
    assert visited >= 150
    assert problems == [], "\n".join(problems)


# The roles the second browser checks: about half of the pages.
SECOND_BROWSER = ("customer", "manager")


def _in_a_browser_of_its_own(site, axe_source: str, roles: tuple[str, ...]) -> list[tuple[int, list[str]]]:
    # Playwright's sync API is per thread: this thread gets its own.
    with sync_playwright() as playwright:
        other = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=60_000)
        try:
            return [_every_page_as(other, site, axe_source, role) for role in roles]
        finally:
            other.close()


def _every_page_as(browser, site, axe_source: str, role: str) -> tuple[int, list[str]]:
    """Every page the role reaches, in every theme: how many were visited, and what was wrong."""
    username = ROLES[role]
    problems: list[str] = []
    visited = 0
    context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 860})
    try:
        context.add_init_script(PRESENCE_FRAMES)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.on("pageerror", lambda error: errors.append(str(error)))
        # Any request of the page that failed or was refused, but the page's own document.
        # Only requests the checked page made: one the page before it started as it was
        # left (a font its new theme asked for) is aborted by the navigation, not failed.
        made: set = set()
        page.on("request", lambda request: made.add(request))
        page.on("requestfailed", lambda request: request in made and errors.append(f"failed: {request.url}"))
        page.on(
            "response",
            lambda response: (
                response.status >= 400
                and response.request.resource_type != "document"
                and errors.append(f"status {response.status}: {response.url}")
            ),
        )
        if username:
            log_in(page, username, DEMO_PASSWORD)
        else:
            page.goto("/")
        urls = pages_of(page, role)
        for theme in THEMES:
            page.emulate_media(color_scheme="dark" if theme == "system" else "light")
            page.goto("/accounts/settings/" if username else "/")
            choose_theme(page, theme)
            # System paints with the same variant as Dark (tailwind/input.css), which
            # every page proves above; a few pages show it follows the device.
            for url in urls if theme != "system" else urls[:SYSTEM_PAGES]:
                errors.clear()
                made.clear()
                response = page.goto(url)
                visited += 1
                where = f"{role} {theme} {url}"
                if page.locator("#presence-socket").count():
                    expect(page.locator("#presence-socket")).to_have_attribute("data-state", "open")
                    # Its first frame, the snapshot (every online user's dot), is applied.
                    page.wait_for_function("() => window.presenceFrames > 0")
                if page.locator("html").get_attribute("data-theme") != theme:
                    problems.append(f"{where}: not in the site's layout")
                    continue
                if theme != "system":
                    if background(page) != DESKTOP[theme]:
                        problems.append(f"{where}: not painted in the theme ({background(page)})")
                elif background(page) != DESKTOP["dark"]:
                    problems.append(f"{where}: system theme ignored a dark device ({background(page)})")
                # The browser reports the 404 document itself; nothing else may log an error.
                expected = [] if response.ok else [f"status of {response.status}"]
                unexpected = [e for e in errors if not any(x in e for x in expected)]
                problems += [f"{where}: console: {error}" for error in unexpected]
                problems += [f"{where}: contrast: {v}" for v in contrast_violations(page, axe_source)]
    finally:
        context.close()
    return visited, problems


def test_the_error_pages_are_the_sites_own(site, browser):
    context = browser.new_context(base_url=site.url)
    try:
        page = context.new_page()
        response = page.goto("/no-such-page/")
        assert response.status == 404
        expect(page.locator("#main .error-card h1")).to_have_text("Page not found")
        assert re.search(r"Boostroom$", page.title())
    finally:
        context.close()
