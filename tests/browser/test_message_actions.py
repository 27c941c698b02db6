"""Messages people can work with, in real browsers: bob edits, reacts, replies
and deletes while alice's page has lost its server; when it is back, alice's
page shows every change once, in order, without a reload. And the chat page's
own manners: the connection banner, "sending…" until acknowledged, typing
notes that end with the message, times in the viewer's zone, one page of
history per scroll, an edited message's earlier versions (or, where they would
show, why they did not come)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import RECONNECT, message_ids, open_room, pair_in_a_group, reader_of_a_backlog, send

pytestmark = pytest.mark.browser


def article(page, text: str):
    return page.locator("#messages > article.msg").filter(has_text=text)


def edit(page, message, body: str) -> None:
    """Through the message's own Edit action and the editor that opens."""
    message.hover()
    message.locator("[data-act=edit]").click()
    editor = page.locator("#message-editor-body")
    editor.fill(body)
    editor.press("Enter")


def test_changes_made_while_a_page_was_offline_show_once_in_order_without_a_reload(site, people, two_servers):
    first, second = two_servers
    alice_name, bob_name = site.users("alice", "bob")
    room = site.group(admin=bob_name, members=[alice_name])
    kept_id, _ = site.task("messages", room=room, author=bob_name, bodies=["keep me", "delete me"])
    alice = people(alice_name, base_url=first.url)
    bob = people(bob_name, base_url=second.url)
    open_room(alice.page, room)
    open_room(bob.page, room)
    alice.page.evaluate("window.__sameDocument = true")
    banner = alice.page.locator("#connection-status")
    expect(banner).to_be_hidden()

    first.stop()
    expect(alice.page.locator("#chat-socket")).to_have_attribute("data-state", "closed")
    expect(banner).to_be_visible()
    # Typed while the server is unreachable: it waits, "sending…", unacknowledged.
    composer = alice.page.locator("#composer-body")
    composer.fill("written while offline")
    composer.press("Enter")
    expect(alice.page.locator("#composer-status")).to_have_text("Sending…")
    expect(composer).to_have_value("written while offline")

    # bob edits, reacts, replies and deletes through his page.
    kept = bob.page.locator(f"#message-{kept_id}")
    edit(bob.page, kept, "keep me, **edited**")
    expect(kept.locator(".msg-edited")).to_be_visible()
    expect(bob.page.locator("#message-editor")).to_be_hidden()
    kept.locator("[data-act=react]").click()
    bob.page.locator("#reaction-picker [data-emoji='👍']").click()
    expect(kept.locator(".reaction")).to_have_text(re.compile(r"👍\s*1"))
    kept.locator("[data-act=reply]").click()
    expect(bob.page.locator("#reply-bar")).to_be_visible()
    send(bob.page, "a reply to it")
    expect(article(bob.page, "a reply to it").locator(".reply-quote")).to_contain_text("keep me")
    doomed = article(bob.page, "delete me")
    doomed.hover()
    doomed.locator("[data-act=delete]").click()
    expect(bob.page.locator("#message-box-text")).to_have_text("Delete this message for everyone?")
    bob.page.locator("#message-box button[value=ok]").click()
    expect(bob.page.locator("#messages > article.msg[data-deleted]")).to_have_count(1)

    first.start().wait_answering()
    expect(banner).to_be_hidden(timeout=RECONNECT)
    expect(composer).to_have_value("", timeout=RECONNECT)
    expect(alice.page.locator("#composer-status")).to_have_text("")
    messages = alice.page.locator("#messages > article.msg")
    expect(messages).to_have_count(4)
    kept_for_alice = alice.page.locator(f"#message-{kept_id}")
    expect(kept_for_alice.locator(".msg-body strong")).to_have_text("edited")
    expect(kept_for_alice.locator(".msg-edited")).to_be_visible()
    expect(kept_for_alice.locator(".reaction")).to_have_attribute("title", bob_name)
    reply = article(alice.page, "a reply to it")
    expect(reply.locator(".reply-quote")).to_contain_text("keep me")
    tombstone = alice.page.locator("#messages > article.msg[data-deleted]")
    expect(tombstone).to_have_text(re.compile("message deleted"))
    expect(alice.page.locator("#messages")).not_to_contain_text("delete me")
    expect(article(alice.page, "written while offline")).to_have_count(1)

    stored = site.task("room_messages", room=room)
    assert message_ids(alice.page) == [row[0] for row in stored]
    assert [row[2] for row in stored] == ["keep me, **edited**", "", "a reply to it", "written while offline"]
    assert alice.page.evaluate("window.__sameDocument === true"), "the page was reloaded"

    # alice answers the reply's quote: a click jumps to the original.
    reply.locator(".reply-quote").click()
    expect(kept_for_alice).to_have_class(re.compile("msg-highlight"))


def test_a_typing_note_ends_when_that_users_message_arrives(site, people):
    _room, writer, reader = pair_in_a_group(site, people)
    writer.page.locator("#composer-body").press_sequentially("on my way")
    note = reader.page.locator("#typing-indicator .typing-note")
    expect(note).to_have_text(f"{writer.username} is typing…")
    writer.page.locator("#composer-body").press("Enter")
    expect(article(reader.page, "on my way")).to_have_count(1)
    expect(note).to_have_count(0)


def test_times_read_in_the_viewers_zone_and_age_without_a_request(site, browser, server_logs):
    from tests.browser.conftest import log_in

    name = site.users("clockwatcher")[0]
    room = site.group(admin=name, members=[])
    context = browser.new_context(base_url=site.url, timezone_id="Asia/Tokyo")
    try:
        page = context.new_page()
        page.clock.install()
        log_in(page, name)
        open_room(page, room)
        send(page, "what time is it")
        time = article(page, "what time is it").locator("time")
        expect(time).to_have_text("just now")
        expect(time).to_have_attribute("title", re.compile(r"Japan|GMT\+9"))
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.clock.run_for("03:10")
        expect(time).to_have_text("3 min ago")
        assert requests == []
    finally:
        context.close()


def test_scrolling_up_loads_one_page_and_keeps_the_reading_place(site, people):
    _room, _writer_name, reader = reader_of_a_backlog(site, people, [f"line {n:03d}" for n in range(1, 101)])
    shown = reader.page.locator("#messages > article.msg")
    expect(shown).to_have_count(30)
    top = article(reader.page, "line 071")

    reader.page.locator("#messages").evaluate("list => { list.scrollTop = 0; }")
    expect(shown).to_have_count(60)
    # The message that was at the top is still in view: the place was kept, so
    # the next page's trigger is out of sight and nothing else loads.
    in_view = """([list, el]) => { const a = list.getBoundingClientRect(), b = el.getBoundingClientRect();
        return b.bottom > a.top && b.top < a.bottom; }"""
    assert reader.page.evaluate(in_view, [reader.page.locator("#messages").element_handle(), top.element_handle()])
    assert shown.count() == 60
    reader.page.locator("#messages").evaluate("list => { list.scrollTop = 0; }")
    expect(shown).to_have_count(90)


def test_files_dropped_on_the_room_or_pasted_go_up_one_after_another(site, people):
    import base64

    from tests.browser.test_chat import png_bytes

    name = site.users("dropper")[0]
    room = site.group(admin=name, members=[])
    person = people(name)
    open_room(person.page, room)
    picture = base64.b64encode(png_bytes()).decode()
    make_files = """([picture, names]) => {
        const bytes = Uint8Array.from(atob(picture), c => c.charCodeAt(0));
        const transfer = new DataTransfer();
        for (const name of names) transfer.items.add(new File([bytes], name, { type: "image/png" }));
        return transfer;
    }"""
    dropped = person.page.evaluate_handle(make_files, [picture, ["first.png", "second.png"]])
    person.page.locator("#messages").dispatch_event("drop", {"dataTransfer": dropped})
    pasted = person.page.evaluate_handle(make_files, [picture, ["third.png"]])
    person.page.locator("#composer-body").evaluate(
        "(box, data) => box.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true }))", pasted
    )
    images = person.page.locator("#messages > article.msg img")
    expect(images).to_have_count(3)
    assert sorted(images.evaluate_all("els => els.map(e => e.alt)")) == ["first.png", "second.png", "third.png"]
    assert len(site.task("room_messages", room=room)) == 3


def test_search_finds_a_message_of_a_group_and_opens_the_room_at_it(site, people):
    alice_name, bob_name, carol_name = site.users("alice", "bob", "carol")
    group = site.group(admin=bob_name, members=[alice_name])
    secret = site.group(admin=carol_name, members=[])
    site.task("messages", room=secret, author=carol_name, bodies=["quartz plans, carol only"])
    ids = site.task("messages", room=group, author=bob_name, bodies=["the quartz boost starts at nine"])
    site.task("messages", room=group, author=bob_name, bodies=[f"filler {n}" for n in range(40)])
    alice = people(alice_name)
    open_room(alice.page, "public-chat")
    # From the room's search box, with "only this room" unticked: every room alice may read.
    alice.page.get_by_label("only this room").uncheck()
    alice.page.locator("#room-search").fill("quartz")
    alice.page.locator("#room-search").press("Enter")
    hits = alice.page.locator("#search-results .search-hit")
    expect(hits).to_have_count(1)
    expect(hits.locator("mark")).to_have_text("quartz")
    expect(alice.page.locator("#search-results")).not_to_contain_text("carol only")
    hits.first.locator("a").click()
    expect(alice.page).to_have_url(re.compile(rf"/chat/{group}/\?around={ids[0]}#message-{ids[0]}$"))
    expect(alice.page.locator(f"#message-{ids[0]}")).to_have_class(re.compile("msg-highlight"))
    expect(alice.page.locator(f"#message-{ids[0]}")).to_be_in_viewport()


def test_a_messages_earlier_versions_open_under_it_or_say_there_why_not(site, people):
    [bob_name] = site.users("bob")
    room = site.group(admin=bob_name, members=[])
    [message_id] = site.task("messages", room=room, author=bob_name, bodies=["first words"])
    bob = people(bob_name)
    open_room(bob.page, room)
    mine = bob.page.locator(f"#message-{message_id}")
    edit(bob.page, mine, "second words")
    expect(mine.locator(".msg-body")).to_have_text("second words")
    history = mine.get_by_role("link", name="History")
    mine.hover()
    history.click()
    expect(mine.locator(".msg-versions")).to_contain_text("first words")

    # The request gets no answer: the message says so where its versions go, and
    # the composer's error line, which is about sends, stays empty.
    versions = re.compile(rf"/messages/{message_id}/versions/$")
    bob.page.route(versions, lambda route: route.abort())
    history.click()
    expect(mine.locator(".msg-history [role=alert]")).to_have_text(
        "The earlier versions could not be loaded. Please try again."
    )
    expect(mine.locator(".msg-versions")).to_have_count(0)
    expect(bob.page.locator("#chat-error")).to_have_text("")

    bob.page.unroute(versions)
    history.click()
    expect(mine.locator(".msg-versions")).to_contain_text("first words")
    expect(mine.locator(".msg-history [role=alert]")).to_have_count(0)
