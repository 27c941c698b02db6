"""A live Boostroom for real browsers.

The package starts one server (as `make run` does) on a free loopback port, with its own
fresh database (an SQLite file here, or a new PostgreSQL database on the server
of DATABASE_URL) and, when REDIS_URL is set, the same Redis under its own key
prefix. Tests make users and data inside that database through
tests/browser/tasks.py, log in through the real login form, and drive Debian's
Chromium with Playwright. Chromium missing is a failure, not a skip; developers
who cannot run a browser deselect these tests with `-m "not browser"`.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.browser import harness

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
# README.md shows docs/screenshots; a run refreshes them only when asked, so
# `make test` leaves the tree clean.
SCREENSHOTS = harness.ROOT / (
    "docs/screenshots" if os.environ.get("UPDATE_SCREENSHOTS") else "test-artifacts/screenshots"
)
# Live updates cross a socket (and Redis); generous, but bounded.
LIVE = 15_000
# The htmx ws extension retries with full jitter (up to 2^n seconds, n capped at
# 6); a few seconds of downtime means a retry within about 16 s after restart.
RECONNECT = 60_000


@pytest.fixture(autouse=True, scope="session")
def _expect_timeout() -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=LIVE)


@dataclass
class Site:
    """The package's running server and what is needed to start more like it."""

    server: harness.Server
    database: harness.Database
    env: dict
    workdir: Path
    redis_url: str
    names: set[str] = field(default_factory=set)
    pks: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def task(self, task: str, /, **arguments):
        return harness.run_task(self.env, task, **arguments)

    def group(self, *, admin: str, members: list[str]) -> str:
        """A new group room with these members; its name."""
        return self.task("group", name=self.unique("room-"), admin=admin, members=members)

    def unique(self, stem: str) -> str:
        name = f"{stem}{uuid.uuid4().hex[:6]}"
        self.names.add(name)
        return name

    def users(self, *stems: str, roles: dict[str, str] | None = None) -> list[str]:
        """New users named after `stems` (made unique); roles by stem."""
        roles = roles or {}
        names = [self.unique(stem) for stem in stems]
        specs = [
            {"username": name, "role": roles.get(stem, "customer")} for stem, name in zip(stems, names, strict=True)
        ]
        self.pks.update(self.task("users", specs=specs, password=harness.PASSWORD))
        return names

    def server_like(self, *, log: Path, port: int | None = None, **env: str) -> harness.Server:
        """Another server on the same database (not started)."""
        return harness.Server(env={**self.env, **env}, log=log, port=port)


@contextlib.contextmanager
def running_site(
    workdir: Path, *, seed: bool = False, collectstatic: bool = False, **server_env: str
) -> Iterator[Site]:
    """A fresh database, migrated (and seeded with the demo data if asked), and a
    server on it (with `server_env` added to its environment, after a
    collectstatic into its STATIC_ROOT if asked); all of it gone afterwards,
    whatever happened."""
    (workdir / "media").mkdir(exist_ok=True)
    database = harness.Database(workdir)
    redis_url = os.environ.get("REDIS_URL", "")
    prefix = f"browser-{uuid.uuid4().hex[:12]}"
    env = harness.server_env(
        database_url=database.url, redis_url=redis_url, redis_prefix=prefix, media_root=workdir / "media", **server_env
    )
    server = harness.Server(env=env, log=workdir / "server.log")
    try:
        harness.run_manage(env, "migrate", "--noinput", log=workdir / "migrate.log")
        if seed:
            harness.run_manage(env, "seed_demo", log=workdir / "migrate.log")
        if collectstatic:
            harness.run_manage(env, "collectstatic", "--noinput", "--verbosity", "0", log=workdir / "migrate.log")
        server.start().wait_healthy()
        yield Site(server=server, database=database, env=env, workdir=workdir, redis_url=redis_url)
    finally:
        server.stop()
        database.drop()
        if redis_url:
            harness.redis_delete_prefix(redis_url, prefix)


@pytest.fixture(scope="package")
def site(tmp_path_factory) -> Iterator[Site]:
    with running_site(tmp_path_factory.mktemp("browser-site")) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the browser tests need it "
            "(apt-get install chromium; .ci/run installs it). "
            'To run everything else, deselect them with -m "not browser".',
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=60_000
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def server_logs(request, site) -> Iterator[list[Path]]:
    """Logs attached to a failing test's report (the site's, plus any added)."""
    logs = [site.server.log]
    yield logs
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        for log in logs:
            report.sections.append((f"server log {log.name}", harness.tail(log, 60)))


@pytest.fixture
def two_servers(site, server_logs, tmp_path):
    """Two more servers on the site's database, started; stopped afterwards."""
    first = site.server_like(log=tmp_path / "first.log")
    second = site.server_like(log=tmp_path / "second.log")
    server_logs.extend([first.log, second.log])
    try:
        harness.start_all([first, second])
        yield first, second
    finally:
        first.stop()
        second.stop()


class Person:
    """One signed-in user in their own browser context."""

    def __init__(self, context, username: str) -> None:
        self.context = context
        self.username = username
        self.page = context.new_page()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def people(site, browser, server_logs) -> Iterator[Callable[..., Person]]:
    """`people(username)` opens a fresh browser context and logs in through the
    real form; `people(username, base_url=...)` aims it at another server."""
    opened: list[Person] = []

    def open_person(
        username: str,
        *,
        base_url: str | None = None,
        viewport: dict | None = None,
        password: str = harness.PASSWORD,
    ) -> Person:
        base = base_url or site.url
        context = browser.new_context(base_url=base, viewport=viewport or {"width": 1280, "height": 860})
        context.set_default_timeout(LIVE)
        person = Person(context, username)
        opened.append(person)
        log_in(person.page, username, password)
        return person

    yield open_person
    for person in opened:
        try:
            person.close()
        except Exception:  # a context of a browser that is already gone
            pass


def log_in(page, username: str, password: str = harness.PASSWORD) -> None:
    from playwright.sync_api import expect

    page.goto("/accounts/login/")
    form = page.locator("#main form")
    form.locator("[name=login]").fill(username)
    form.locator("[name=password]").fill(password)
    form.locator("button[type=submit]").click()
    expect(page.locator("#user-menu summary")).to_contain_text(username)


def choose_theme(page, theme: str) -> None:
    """Through the header's menu (the user menu, or the visitors' theme menu), as a person would."""
    from playwright.sync_api import expect

    menu = page.locator("#user-menu, #theme-dropdown").first
    menu.locator("summary").click()
    menu.locator(f"[data-theme-option][value={theme}]").click()
    expect(page.locator("html")).to_have_attribute("data-theme", theme)
    menu.locator("summary").click()


def open_room(page, name: str) -> None:
    """Open a chat room and wait until its socket is open (so sends go live)."""
    from playwright.sync_api import expect

    page.goto(f"/chat/{name}/")
    expect(page.locator("#chat-socket")).to_have_attribute("data-state", "open")


def open_dashboard(person: Person) -> None:
    """Open the dashboard and wait until its orders socket is open."""
    from playwright.sync_api import expect

    person.page.goto("/dashboard/")
    expect(person.page.locator("#orders-socket")).to_have_attribute("data-state", "open")


def pair_in_a_group(site: Site, people: Callable[..., Person]) -> tuple[str, Person, Person]:
    """A new group of two, both on its page: (the room, its admin, the other member)."""
    admin_name, member_name = site.users("admin", "member")
    room = site.group(admin=admin_name, members=[member_name])
    admin, member = people(admin_name), people(member_name)
    for person in (admin, member):
        open_room(person.page, room)
    return room, admin, member


def reader_of_a_backlog(site: Site, people: Callable[..., Person], bodies: list[str]) -> tuple[str, str, Person]:
    """A new group whose writer has already posted `bodies`, and its other member
    on the room's page: (the room, the writer's name, the reader)."""
    writer_name, reader_name = site.users("writer", "reader")
    room = site.group(admin=writer_name, members=[reader_name])
    site.task("messages", room=room, author=writer_name, bodies=bodies)
    reader = people(reader_name)
    open_room(reader.page, room)
    return room, writer_name, reader


def send(page, text: str) -> None:
    from playwright.sync_api import expect

    composer = page.locator("#composer-body")
    composer.fill(text)
    composer.press("Enter")
    expect(composer).to_have_value("")


def message_bodies(page) -> list[str]:
    return page.locator("#messages > article.msg p").all_inner_texts()


def message_ids(page) -> list[int]:
    return [
        int(value)
        for value in page.locator("#messages > article.msg").evaluate_all("els => els.map(e => e.dataset.id)")
    ]


def screenshot(page, name: str, *, full_page: bool = False) -> None:
    """<name>.png under SCREENSHOTS (docs/screenshots with UPDATE_SCREENSHOTS=1)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page, animations="disabled", caret="hide")


def exact(text: str) -> re.Pattern:
    return re.compile(rf"^\s*{re.escape(text)}\s*$")
