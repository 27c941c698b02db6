"""Conversation state in real browsers: badges and the tab title live across
tabs, read receipts, toasts for what is addressed to you, the new-messages
divider and the "N new messages" button."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import RECONNECT, open_room, reader_of_a_backlog, send

pytestmark = pytest.mark.browser


def badge(page, room_name: str, where: str = "#chat-dropdown-rooms"):
    return page.locator(f'{where} a[href="/chat/{room_name}/"] [data-unread-badges]')


def test_a_direct_message_shows_everywhere_clears_in_every_tab_and_is_seen(site, people):
    alice_name, bob_name, carol_name = site.users("alice", "bob", "carol")
    alice = people(alice_name)
    open_room(alice.page, "public-chat")
    dashboard = alice.context.new_page()
    dashboard.goto("/dashboard/")
    expect(dashboard.locator("#presence-socket")).to_have_attribute("data-state", "open")

    bob = people(bob_name)
    bob.page.goto(f"/chat/private/{alice_name}/")
    expect(bob.page.locator("#chat-socket")).to_have_attribute("data-state", "open")
    dm = bob.page.url.rstrip("/").rsplit("/", 1)[-1]
    send(bob.page, "hi alice, got a minute?")

    # At once, on the page she is on: the sidebar (a room it did not list), the header, the title, a toast.
    expect(badge(alice.page, dm, "#room-list").locator(".unread-count")).to_have_text("1")
    expect(alice.page.locator("#unread-total")).to_have_text("1")
    expect(alice.page).to_have_title(re.compile(r"^\(1\) "))
    expect(alice.page.locator(".toast")).to_contain_text(bob_name)
    expect(badge(dashboard, dm).locator(".unread-count")).to_have_text("1")

    # She opens it in her other tab: the badge clears in both, and bob sees "Seen".
    open_room(dashboard, dm)
    expect(dashboard.locator("#messages")).to_contain_text("got a minute?")
    expect(badge(alice.page, dm, "#room-list").locator(".unread-count")).to_be_hidden()
    expect(alice.page.locator("#unread-total")).to_be_hidden()
    expect(alice.page).not_to_have_title(re.compile(r"^\("))
    expect(bob.page.locator("#receipt-line")).to_have_text("Seen")

    # carol mentions her in a group while she is on her dashboard: a toast, and a mention badge.
    group = site.group(admin=carol_name, members=[alice_name])
    dashboard.goto("/dashboard/")
    expect(dashboard.locator("#presence-socket")).to_have_attribute("data-state", "open")
    carol = people(carol_name)
    open_room(carol.page, group)
    send(carol.page, f"@{alice_name} can you take this one?")
    expect(dashboard.locator(".toast")).to_contain_text(f"{carol_name} mentioned you")
    expect(badge(dashboard, group).locator(".mention-count")).to_have_text("@1")
    # In the group, carol sees who has read her message once alice opens it.
    open_room(dashboard, group)
    expect(carol.page.locator("#receipt-line")).to_have_text(f"Seen by {alice_name}")
    expect(dashboard.locator(f'.msg .mention[data-user-id="{site.pks[alice_name]}"]')).to_be_visible()


def test_the_divider_the_jump_and_new_messages_while_scrolled_up(site, people):
    room, writer_name, reader = reader_of_a_backlog(site, people, [f"backlog {n:02d}" for n in range(1, 46)])

    # All 45 are unread; the first is older than the page: jumping pages back to it.
    jump = reader.page.locator("#jump-unread")
    expect(jump).to_be_visible()
    jump.click()
    divider = reader.page.locator("#unread-divider")
    expect(divider).to_be_in_viewport()
    expect(reader.page.locator("#messages > article.msg")).to_have_count(45)
    expect(divider.locator("xpath=following-sibling::article[1]")).to_contain_text("backlog 01")

    # Scrolled up, new messages wait behind a button instead of moving the list.
    writer = people(writer_name)
    open_room(writer.page, room)
    send(writer.page, "fresh one")
    send(writer.page, "fresh two")
    button = reader.page.locator("#new-below")
    expect(button).to_have_text("2 new messages ↓")
    button.click()
    expect(button).to_be_hidden()
    expect(reader.page.locator("#messages > article.msg").last).to_be_in_viewport()


def test_counts_past_99_say_99_plus_live_too(site, people):
    writer_name, reader_name = site.users("writer", "reader")
    room = site.group(admin=writer_name, members=[reader_name])
    site.task("messages", room=room, author=writer_name, bodies=[f"backlog {n}" for n in range(98)])
    reader = people(reader_name)
    reader.page.goto("/dashboard/")
    expect(reader.page.locator("#presence-socket")).to_have_attribute("data-state", "open")
    expect(reader.page.locator("#unread-total")).to_have_text("98")

    writer = people(writer_name)
    open_room(writer.page, room)
    send(writer.page, "ninety-nine")
    expect(reader.page.locator("#unread-total")).to_have_text("99")
    send(writer.page, "one hundred")
    expect(reader.page.locator("#unread-total")).to_have_text("99+")
    expect(badge(reader.page, room).locator(".unread-count")).to_have_text("99+")
    expect(reader.page).to_have_title(re.compile(r"^\(99\+\) "))


def test_a_read_mark_that_cannot_leave_says_nothing_and_goes_once_the_socket_is_back(site, people):
    writer_name, reader_name = site.users("writer", "reader")
    room = site.group(admin=writer_name, members=[reader_name])
    writer = people(writer_name)
    open_room(writer.page, room)
    send(writer.page, "are you there?")
    receipt = writer.page.locator("#receipt-line")

    # The reader's chat socket is refused, and the read mark it sends over HTTP instead finds no server.
    allowed = {"socket": False}

    def chat_socket(socket) -> None:
        if allowed["socket"]:
            socket.connect_to_server()
        else:
            socket.close(code=1013, reason="try again later")

    page = people(reader_name).page
    page.route_web_socket(re.compile(r"/ws/chatroom/"), chat_socket)
    read_url = re.compile(r"/chat/[^/]+/read/$")
    page.route(read_url, lambda route: route.abort("connectionrefused"))
    page.add_init_script(
        "window.__readFailures = 0; document.addEventListener('htmx:sendError', function (event) {"
        " if (event.detail.elt && event.detail.elt.id === 'chat-socket') window.__readFailures += 1; });"
    )
    page.goto(f"/chat/{room}/")
    # Once this listener has seen the failure, the page's own handlers have run too.
    page.wait_for_function("() => window.__readFailures > 0")
    expect(page.locator("#chat-error")).to_have_text("")
    expect(page.locator("#connection-status")).to_be_visible()
    expect(receipt).to_have_count(0)

    page.unroute(read_url)
    allowed["socket"] = True
    expect(page.locator("#chat-socket")).to_have_attribute("data-state", "open", timeout=RECONNECT)
    expect(receipt).to_have_text(f"Seen by {reader_name}")


def test_desktop_notifications_are_turned_on_per_browser(site, people):
    (name,) = site.users("notified")
    person = people(name)
    person.context.grant_permissions(["notifications"])
    person.page.goto("/accounts/settings/")
    status = person.page.locator("[data-desktop-status]")
    expect(status).to_have_text("Off in this browser.")
    person.page.locator("[data-desktop-toggle]").click()
    expect(status).to_have_text("On in this browser.")
    person.page.reload()
    expect(status).to_have_text("On in this browser.")
