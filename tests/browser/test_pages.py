"""Errors that never wipe the page, a room that tells its page it is gone, and
static files as production serves them: in a real browser.

The package's server runs with DEBUG on, as `make run` does: that is where
django-htmx's debug helper used to replace the whole page with a refusal.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
from playwright.sync_api import expect

from accounts.views import CSRF_FAILED
from rooms.broadcasts import GONE_REMOVED
from tests.browser import harness
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, log_in, open_room, running_site
from uploads.validation import UPLOAD_TYPE_NOT_ALLOWED

pytestmark = pytest.mark.browser


def watch_console(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def test_a_refused_upload_is_shown_by_the_upload_form_and_the_page_stays(site, people):
    [owner_name] = site.users("uploader")
    room = site.group(admin=owner_name, members=[])
    page = people(owner_name).page
    errors = watch_console(page)
    open_room(page, room)
    page.locator("#composer-body").fill("a draft that must survive")

    page.locator("#upload-file").set_input_files(
        files=[{"name": "setup.exe", "mimeType": "application/octet-stream", "buffer": b"MZ\x90\x00" + bytes(512)}]
    )
    page.locator("#upload-form button[type=submit]").click()

    expect(page.locator("#upload-status [data-upload-error]")).to_have_text(UPLOAD_TYPE_NOT_ALLOWED)
    expect(page.locator("#room-title")).to_have_text(room)
    expect(page.locator("#composer-body")).to_have_value("a draft that must survive")
    expect(page.locator("#upload-form button[type=submit]")).to_be_enabled()
    assert page.url.endswith(f"/chat/{room}/")
    # The browser reports the refused request's status itself; nothing else may log an error.
    assert [error for error in errors if "status of 422" not in error] == []


def test_a_removed_member_sees_at_once_why_and_can_no_longer_send(site, people):
    admin_name, member_name = site.users("boss", "kicked")
    room = site.group(admin=admin_name, members=[member_name])
    member = people(member_name).page
    errors = watch_console(member)
    open_room(member, room)
    expect(member.locator("#room-gone")).to_be_hidden()

    admin = people(admin_name).page
    admin.goto(f"/chat/{room}/edit/")
    admin.locator(f"input[name=remove][value='{site.pks[member_name]}']").check()
    admin.locator("#main form button[type=submit]", has_text="Save").click()
    expect(admin).to_have_url(re.compile(rf"/chat/{room}/$"))

    expect(member.locator("#room-gone")).to_be_visible()
    expect(member.locator("#room-gone")).to_have_text(GONE_REMOVED)
    expect(member.locator("#chat-socket")).to_have_attribute("data-state", "gone")
    for control in ("#composer-body", "#composer button[type=submit]", "#upload-file", "#upload-form button"):
        expect(member.locator(control)).to_be_disabled()
    assert errors == []


def test_an_expired_form_token_is_a_notice_above_the_page_and_nothing_changes(site, people):
    [name] = site.users("stale")
    person = people(name)
    page = person.page
    page.goto("/accounts/settings/")
    errors = watch_console(page)
    # What a logout and login in another tab does to this page's token.
    person.context.clear_cookies(name="csrftoken")
    menu = page.locator("#user-menu")
    menu.locator("summary").click()
    with page.expect_response(lambda response: response.url.endswith("/accounts/theme/")) as answer:
        menu.locator("[data-theme-option][value=dark]").click()
    assert answer.value.status == 403

    expect(page.locator("#page-error [role=alert]")).to_contain_text(CSRF_FAILED)
    expect(page.locator("html")).to_have_attribute("data-theme", "system")
    expect(page.locator("#main h1")).to_be_visible()  # the page is still the settings page
    assert page.url.endswith("/accounts/settings/")
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "system")
    assert [error for error in errors if "status of 403" not in error] == []


# STATIC FILES IN PRODUCTION

PRODUCTION = {
    # The site's own settings (the suite's skip the manifest), after collectstatic.
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "0",
    "SECRET_KEY": "browser-tests-only-" + "s" * 40,
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
    "SECURE_HSTS_SECONDS": "0",
}
TEXT_TYPES = re.compile(r"^(text/|application/(javascript|json)|image/svg)")
YEAR = 365 * 24 * 3600


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("static-site")
    with running_site(workdir, collectstatic=True, STATIC_ROOT=str(workdir / "static"), **PRODUCTION) as running:
        yield running


def test_every_static_file_of_the_chat_page_is_hashed_compressed_and_cached_for_a_year(production, browser):
    """Beyond what Lighthouse checks (below): the names are hashed, so a year of
    caching never serves a stale file."""
    [name] = production.users("reader")
    context = browser.new_context(base_url=production.url)
    try:
        page = context.new_page()
        log_in(page, name)
        static: list = []
        page.on("response", lambda response: "/static/" in response.url and static.append(response))
        page.goto("/chat/public-chat/")
        expect(page.locator("#chat-socket")).to_have_attribute("data-state", "open")
        kinds = {response.request.resource_type for response in static}
        assert {"stylesheet", "script"} <= kinds, kinds
        for response in static:
            headers = response.all_headers()
            assert response.status == 200, response.url
            assert re.search(r"\.[0-9a-f]{12}\.\w+$", response.url), f"{response.url}: no content hash"
            max_age = int(re.search(r"max-age=(\d+)", headers.get("cache-control", "")).group(1))
            assert max_age >= YEAR and "immutable" in headers["cache-control"], response.url
            if TEXT_TYPES.match(headers.get("content-type", "")):
                assert headers.get("content-encoding") in {"br", "gzip"}, response.url
    finally:
        context.close()


LIGHTHOUSE = harness.ROOT / "tests/browser/node_modules/lighthouse/cli/index.js"
AUDITS = ("uses-text-compression", "uses-long-cache-ttl")


def test_the_chat_page_passes_lighthouses_compression_and_cache_lifetime_audits(production, browser):
    """Lighthouse itself (pinned in tests/browser/package.json), only these two
    audits, headless Chromium, signed in through the session cookie."""
    node = shutil.which("node")
    if node is None or not LIGHTHOUSE.exists():
        missing = f"Lighthouse needs node and `npm ci` in {LIGHTHOUSE.parents[3]} (make test does it)."
        pytest.fail(missing, pytrace=False)
    [name] = production.users("auditor")
    context = browser.new_context(base_url=production.url)
    try:
        log_in(context.new_page(), name)
        cookie = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies() if c["name"] == "sessionid")
    finally:
        context.close()
    assert cookie, "not signed in"
    result = subprocess.run(
        [
            node,
            str(LIGHTHOUSE),
            f"{production.url}/chat/public-chat/",
            f"--only-audits={','.join(AUDITS)}",
            "--output=json",
            "--output-path=stdout",
            "--quiet",
            "--chrome-flags=" + " ".join(CHROMIUM_ARGS),
            f"--extra-headers={json.dumps({'Cookie': cookie})}",
        ],
        env={**os.environ, "CHROME_PATH": CHROMIUM},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    # The page Lighthouse audited is the chat room itself, not the login form.
    assert report["finalDisplayedUrl"].endswith("/chat/public-chat/"), report["finalDisplayedUrl"]
    assert report.get("runtimeError") is None, report["runtimeError"]
    for audit in AUDITS:
        found = report["audits"][audit]
        assert found["score"] == 1, (
            audit,
            found.get("errorMessage"),  # a score of None: the audit could not run
            found.get("displayValue"),
            found.get("details", {}).get("items"),
        )
