"""Chat in a real browser: accounts, live messages, typing, uploads, history,
private rooms, presence."""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    LIVE,
    exact,
    log_in,
    message_bodies,
    open_room,
    pair_in_a_group,
    reader_of_a_backlog,
    send,
)
from tests.browser.harness import PASSWORD

pytestmark = pytest.mark.browser


def test_sign_up_then_log_out_and_back_in(site, browser, server_logs):
    first, second = site.unique("newbie"), site.unique("rookie")
    contexts = [browser.new_context(base_url=site.url) for _ in range(2)]
    try:
        pages = [context.new_page() for context in contexts]
        for page, username in zip(pages, (first, second), strict=True):
            page.goto("/")
            page.get_by_role("link", name="Sign up").first.click()
            form = page.locator("#main form")
            form.locator("[name=email]").fill(f"{username}@example.com")
            form.locator("[name=username]").fill(username)
            form.locator("[name=password1]").fill(PASSWORD)
            form.locator("[name=password2]").fill(PASSWORD)
            form.locator("button[type=submit]").click()
            expect(page.locator("#user-menu summary")).to_contain_text(username, timeout=LIVE)

        # The first one logs out through the menu and back in through the form.
        page = pages[0]
        page.locator("#user-menu summary").click()
        page.get_by_role("button", name="Log out").click()
        if page.url.rstrip("/").endswith("/accounts/logout"):
            page.locator("#main form button[type=submit]").click()
        expect(page.locator("header nav").get_by_role("link", name="Log in")).to_be_visible(timeout=LIVE)
        expect(page.locator("#user-menu")).to_have_count(0)
        log_in(page, first)

        # A wrong password is refused by the same form.
        contexts[1].clear_cookies()
        pages[1].goto("/accounts/login/")
        pages[1].locator("#main [name=login]").fill(second)
        pages[1].locator("#main [name=password]").fill("not-the-password")
        pages[1].locator("#main form button[type=submit]").click()
        expect(pages[1].locator("#main")).to_contain_text("not correct", timeout=LIVE)
        expect(pages[1].locator("#user-menu")).to_have_count(0)
    finally:
        for context in contexts:
            context.close()


def test_two_users_chat_live_in_the_public_room(site, people):
    alice_name, bob_name = site.users("alice", "bob")
    alice, bob = people(alice_name), people(bob_name)
    for person in (alice, bob):
        open_room(person.page, "public-chat")

    hello = f"hello from {alice_name}"
    send(alice.page, hello)
    expect(bob.page.locator("#messages > article.msg").filter(has_text=hello)).to_have_count(1)
    reply = f"hi {alice_name}, {bob_name} here <b>not bold</b>"
    send(bob.page, reply)
    for person in (alice, bob):
        # Once each, in order, and escaped (the tag is text, not markup).
        expect(person.page.locator("#messages > article.msg").filter(has_text=reply)).to_have_count(1)
        mine = [body for body in message_bodies(person.page) if body in (hello, reply)]
        assert mine == [hello, reply]
        expect(person.page.locator("#messages b")).to_have_count(0)
    # The author's name shows to the other side.
    message = bob.page.locator("#messages > article.msg").filter(has_text=hello)
    expect(message.locator(".msg-author")).to_have_text(alice_name)


def test_two_members_chat_live_in_a_group_room_and_see_typing(site, people):
    room, admin, member = pair_in_a_group(site, people)
    for person in (admin, member):
        expect(person.page.locator("#member-list")).to_contain_text(member.username)

    # Typing shows on the other member's page, not the typist's, and clears by itself.
    member.page.locator("#composer-body").press_sequentially("typing a long")
    note = admin.page.locator("#typing-indicator .typing-note")
    expect(note).to_have_text(f"{member.username} is typing…")
    expect(note).to_be_visible()
    expect(member.page.locator("#typing-indicator .typing-note")).not_to_be_visible()
    expect(note).not_to_be_visible(timeout=10_000)

    member.page.locator("#composer-body").fill("")
    send(member.page, "group hello")
    send(admin.page, "group reply")
    for person in (admin, member):
        bodies = person.page.locator("#messages > article.msg p")
        expect(bodies).to_have_text(["group hello", "group reply"])
    assert [row[2] for row in site.task("room_messages", room=room)] == ["group hello", "group reply"]


def png_bytes(width: int = 64, height: int = 40) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (109, 40, 217)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_uploaded_image_shows_its_preview_to_the_other_member(site, people):
    _room, uploader, viewer = pair_in_a_group(site, people)

    uploader.page.locator("#upload-file").set_input_files(
        {"name": "proof-shot.png", "mimeType": "image/png", "buffer": png_bytes()}
    )
    uploader.page.locator("#upload-caption").fill("look at this")
    uploader.page.locator("#upload-form button[type=submit]").click()
    expect(uploader.page.locator("#upload-status")).to_contain_text("Sent")

    for person in (viewer, uploader):
        message = person.page.locator("#messages > article.msg").filter(has_text="look at this")
        expect(message).to_have_count(1)
        image = message.locator("img")
        expect(image).to_have_attribute("alt", "proof-shot.png")
        # The preview really loads (a guarded URL this member may read).
        person.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())

    # A user outside the room cannot fetch the file.
    outsider = people(site.users("outsider")[0])
    src = viewer.page.locator("#messages article.msg img").first.get_attribute("src")
    assert outsider.page.request.get(src).status == 404
    assert viewer.page.request.get(src).status == 200


def test_history_scrolls_back_through_older_messages(site, people):
    bodies = [f"history {n:02d}" for n in range(1, 46)]
    _room, _writer_name, reader = reader_of_a_backlog(site, people, bodies)

    articles = reader.page.locator("#messages > article.msg")
    expect(articles).to_have_count(30)
    expect(articles.first.locator("p")).to_have_text("history 16")
    expect(reader.page.locator("#older-sentinel")).to_have_count(1)

    reader.page.locator("#messages").evaluate("list => { list.scrollTop = 0; }")
    expect(articles).to_have_count(45)
    expect(articles.locator("p")).to_have_text(bodies)
    expect(reader.page.locator("#older-sentinel")).to_have_count(0)


def test_a_private_room_is_refused_to_a_third_user(site, people):
    first_name, second_name, third_name = site.users("pair", "partner", "snoop")
    first = people(first_name)
    first.page.goto(f"/chat/private/{second_name}/")
    expect(first.page).to_have_url(re.compile(r"/chat/dm-\d+-\d+/$"))
    expect(first.page.locator("#chat-socket")).to_have_attribute("data-state", "open")
    send(first.page, "just between us")
    private_path = first.page.url.removeprefix(site.url)

    second = people(second_name)
    open_room(second.page, private_path.split("/")[2])
    expect(second.page.locator("#messages")).to_contain_text("just between us")

    third = people(third_name)
    response = third.page.goto(private_path)
    assert response.status == 404
    expect(third.page.locator("body")).not_to_contain_text("just between us")
    assert third.page.request.get(f"/api/rooms/{private_path.split('/')[2]}/messages/").status == 404


def test_the_online_count_follows_tabs_opening_and_closing(site, people):
    watcher_name, visitor_name = site.users("watcher", "visitor")
    watcher = people(watcher_name)
    count = watcher.page.locator("#online-count")
    # Everyone else's tabs from earlier tests are closed by now.
    expect(count).to_have_text(exact("1"))

    visitor = people(visitor_name)
    expect(count).to_have_text(exact("2"))
    # A second tab of the same user is the same person online.
    second_tab = visitor.context.new_page()
    second_tab.goto("/chat/public-chat/")
    expect(second_tab.locator("#online-count")).to_have_text(exact("2"))
    visitor.page.close()
    # Someone new arriving makes the server publish the count as it is now: the
    # visitor, still online in the other tab, must be in it.
    newcomer = people(site.users("newcomer")[0])
    expect(count).to_have_text(exact("3"))
    expect(newcomer.page.locator("#online-count")).to_have_text(exact("3"))
    second_tab.close()
    expect(count).to_have_text(exact("2"))
    newcomer.close()
    expect(count).to_have_text(exact("1"))
