"""Reconnect without loss: the server under an open page stops, messages are
sent meanwhile through another server process on the same database, the server
comes back on the same port, and the page shows every missed message once, in
order, without a reload. This is what the chat socket's `resume` is for."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import RECONNECT, message_ids, open_room, send

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_a_page_catches_up_after_its_server_comes_back(site, people, two_servers, how):
    first, second = two_servers
    reader_name, writer_name = site.users("reader", "writer")
    room = site.group(admin=writer_name, members=[reader_name])
    reader = people(reader_name, base_url=first.url)
    writer = people(writer_name, base_url=second.url)
    open_room(reader.page, room)
    open_room(writer.page, room)
    # Each server has its own in-memory channel layer in the embedded run, so
    # the reader's own server carries the first message.
    send(reader.page, "before the outage")
    expect(reader.page.locator("#messages > article.msg")).to_have_count(1)
    # Survives only if the page is never reloaded.
    reader.page.evaluate("window.__sameDocument = true")

    (first.stop if how == "stop" else first.kill)()
    expect(reader.page.locator("#chat-socket")).to_have_attribute("data-state", "closed")

    missed = [f"missed {n} while {how}" for n in range(1, 6)]
    for text in missed:
        send(writer.page, text)
    expect(writer.page.locator("#messages > article.msg").filter(has_text=missed[-1])).to_have_count(1)
    assert [row[2] for row in site.task("room_messages", room=room)] == ["before the outage", *missed]

    first.start().wait_answering()
    reader_list = reader.page.locator("#messages > article.msg")
    expect(reader_list).to_have_count(6, timeout=RECONNECT)
    expect(reader.page.locator("#chat-socket")).to_have_attribute("data-state", "open")
    expect(reader_list.locator("p")).to_have_text(["before the outage", *missed])

    stored = site.task("room_messages", room=room)
    assert message_ids(reader.page) == [row[0] for row in stored]
    assert reader.page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    # And the socket is live again: this send goes over it, not the HTTP fallback.
    send(reader.page, "after the restart")
    expect(reader_list).to_have_count(7)
    assert site.task("room_messages", room=room)[-1][1:] == [reader_name, "after the restart"]
    expect(reader_list.last.locator("p")).to_have_text("after the restart")
