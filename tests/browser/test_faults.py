"""Faults with two ASGI processes sharing Redis, seen from real browsers.

The processes share the package's database and a private, non-persistent
redis-server started here on a free port (`--save ""`), whatever REDIS_URL says:
so these run in both CI passes, never skip for want of Redis, and can stop and
restart their Redis without touching the machine's, which other runs share.
PRESENCE_HEARTBEAT_SECONDS is 2, so a dead process's connections lapse after 4 s
(1 s left too little slack on a loaded 2-core machine: live entries lapsed
between heartbeats). Browsers that must move off a killed process reach it
through a TCP proxy, the load balancer, which then sends them to the survivor.
The database outage goes through a TCP proxy that is cut, never by stopping the
machine's PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from tests.browser import harness
from tests.browser.conftest import RECONNECT, exact, message_ids, open_room, send
from tests.browser.traffic import Peer, Sender, Traffic, assert_nothing_lost, token_for

pytestmark = pytest.mark.browser

# Numbered messages per sender in the traffic runs (two senders each).
FAULT_MESSAGES = int(os.environ.get("FAULT_MESSAGES", "150"))
# An outage lasts until each sender cut off has failed this often (about 3-4 s).
OUTAGE_FAILURES = 25
STORED_OR_TOLD = """text => document.querySelector("#chat-error").textContent.trim() !== ""
    || [...document.querySelectorAll("#messages > article.msg p")].some(p => p.textContent === text)"""


@dataclass
class Cluster:
    redis: harness.RedisServer
    servers: list[harness.Server]


@pytest.fixture
def cluster(site, tmp_path, server_logs):
    redis = harness.RedisServer(log=tmp_path / "redis.log")
    env = {
        "REDIS_URL": redis.url,
        "REDIS_PREFIX": f"faults-{uuid.uuid4().hex[:8]}",
        "PRESENCE_HEARTBEAT_SECONDS": "2",
        # Each traffic run asks for a token per user.
        "API_TOKEN_RATE_LIMIT": "1000",
    }
    servers = [site.server_like(log=tmp_path / f"process-{n}.log", **env) for n in (1, 2)]
    server_logs.extend(server.log for server in servers)
    try:
        redis.start()
        harness.start_all(servers)
        yield Cluster(redis=redis, servers=servers)
    finally:
        for server in servers:
            server.stop()
        redis.stop()


def member_dot(page, site, username: str):
    return page.locator(f"#member-list .presence-{site.pks[username]}")


def room_bodies(site, room: str) -> list[str]:
    return [row[2] for row in site.task("room_messages", room=room)]


def test_a_message_sent_through_one_process_reaches_clients_of_the_other(site, people, cluster):
    first, second = cluster.servers
    one_name, two_name = site.users("east", "west")
    room = site.group(admin=one_name, members=[two_name])
    one = people(one_name, base_url=first.url)
    two = people(two_name, base_url=second.url)
    for person in (one, two):
        open_room(person.page, room)

    send(one.page, "from process one")
    send(two.page, "from process two")
    for person in (one, two):
        expect(person.page.locator("#messages > article.msg p")).to_have_text(["from process one", "from process two"])
        # Presence is shared too: each sees the other online.
        expect(person.page.locator("#online-count")).to_have_text(exact("2"))
    expect(member_dot(one.page, site, two_name)).to_have_attribute("aria-label", "online")
    expect(member_dot(two.page, site, one_name)).to_have_attribute("aria-label", "online")


def test_healthz_stays_ok_while_pages_are_open(site, people, cluster):
    """A load balancer polls /healthz: it must not fail just because sockets are open."""
    first, _second = cluster.servers
    name = site.users("healthy")[0]
    person = people(name, base_url=first.url)
    open_room(person.page, "public-chat")
    statuses = [first.health_status() for _ in range(3)]
    assert statuses == [200, 200, 200], f"/healthz answered {statuses} with one chat page open"


@contextlib.contextmanager
def balancer(target: harness.Server):
    """A TCP proxy in front of `target`: the address the browsers know."""
    proxy = harness.TcpProxy(target_host=harness.HOST, target_port=target.port).start()
    try:
        yield proxy
    finally:
        proxy.close()


def test_kill_9_mid_traffic_fails_over_losing_and_duplicating_nothing_and_leaving_no_ghosts(site, people, cluster):
    """Clients of a process killed mid-traffic reconnect through the balancer to
    the other process, which is all that is left: the killed one is never
    restarted, so catching up can only come from the survivor."""
    doomed, survivor = cluster.servers
    reader_name, writer_name, ghost_name = site.users("reader", "writer", "ghost")
    room = site.group(admin=writer_name, members=[reader_name, ghost_name])
    with balancer(doomed) as proxy:
        behind = f"http://{harness.HOST}:{proxy.port}"
        reader = people(reader_name, base_url=behind)
        ghost = people(ghost_name, base_url=behind)
        writer = people(writer_name, base_url=survivor.url)
        for person in (reader, ghost, writer):
            open_room(person.page, room)
        for name in (reader_name, ghost_name):
            expect(member_dot(writer.page, site, name)).to_have_attribute("aria-label", "online")
        expect(writer.page.locator("#online-count")).to_have_text(exact("3"))
        reader.page.evaluate("window.__sameDocument = true")

        sent = [f"burst {n:02d}" for n in range(1, 31)]
        send(writer.page, sent[0])
        expect(reader.page.locator("#messages > article.msg")).to_have_count(1)

        def kill_and_fail_over() -> None:
            doomed.kill()
            proxy.switch_to(target_port=survivor.port)

        # kill -9 lands while the writer is still sending (and the doomed process delivering).
        killer = threading.Timer(0.4, kill_and_fail_over)
        killer.start()
        try:
            for text in sent[1:20]:
                send(writer.page, text)
        finally:
            killer.join()
        assert not doomed.is_running()
        # The ghost's browser goes away while its server is dead: no disconnect
        # ever reaches any server; only the heartbeat expiry can take it offline.
        ghost.close()
        for text in sent[20:]:
            send(writer.page, text)

        assert room_bodies(site, room) == sent, "the database must hold every acknowledged send exactly once"
        articles = reader.page.locator("#messages > article.msg")
        expect(articles).to_have_count(len(sent), timeout=RECONNECT)
        expect(articles.locator("p")).to_have_text(sent)
        assert message_ids(reader.page) == [row[0] for row in site.task("room_messages", room=room)]
        assert reader.page.evaluate("window.__sameDocument === true"), "the page was reloaded"

        # Presence: the ghost lapsed; the reader is back online, through the survivor.
        expect(member_dot(writer.page, site, ghost_name)).to_have_attribute("aria-label", "offline")
        expect(member_dot(writer.page, site, reader_name)).to_have_attribute("aria-label", "online")
        expect(writer.page.locator("#online-count")).to_have_text(exact("2"))
        expect(reader.page.locator("#online-count")).to_have_text(exact("2"))
        # Live from the survivor, both ways.
        send(reader.page, "reader is live again")
        expect(writer.page.locator("#messages > article.msg p").last).to_have_text("reader is live again")
        assert not doomed.is_running(), "the killed process was never restarted"


def wait_until_unhealthy(server: harness.Server) -> None:
    """Until the process itself reports the outage (bounded)."""
    deadline = time.monotonic() + 20
    while server.health_status() == 200:
        assert time.monotonic() < deadline, f"server on {server.port} never noticed the outage"
        time.sleep(0.1)


def chat_traffic(site, room: str, *, senders: dict[str, str], listeners: dict[str, str]) -> Traffic:
    """Numbered senders and listening peers (username -> base URL) on `room`, over token sockets."""
    urls = {**senders, **listeners}
    tokens = {name: token_for(url, name, harness.PASSWORD) for name, url in urls.items()}
    return Traffic(
        [Sender(name, url, tokens[name], room, tag=name, count=FAULT_MESSAGES) for name, url in senders.items()],
        [Peer(name, url, tokens[name], room) for name, url in listeners.items()],
    )


def settle(site, traffic: Traffic, room: str, request, fault: str) -> list[list]:
    """Every send acknowledged, every peer caught up (bounded); the figures checked
    against the database and attached to the report."""
    traffic.finish(lambda: {row[0] for row in site.task("room_messages", room=room)})
    rows = site.task("room_messages", room=room)
    figures = traffic.figures(rows)
    request.node.user_properties.append((f"fault figures: {fault}", json.dumps(figures)))
    print(f"\nFAULT FIGURES {fault}: {json.dumps(figures)}")
    assert_nothing_lost(figures)
    return rows


def test_redis_restart_under_traffic_from_two_processes_loses_and_duplicates_nothing(site, people, cluster, request):
    """Two senders post numbered messages through the two processes while Redis is
    stopped and restarted empty (every group membership gone); every receiver,
    the senders included and a browser page too, must end up with exactly what the
    database holds, and every stored message must have been acknowledged."""
    first, second = cluster.servers
    east, west, north, south, reader_name = site.users("east", "west", "north", "south", "listener")
    room = site.group(admin=east, members=[west, north, south, reader_name])
    reader = people(reader_name, base_url=first.url)
    open_room(reader.page, room)
    traffic = chat_traffic(
        site, room, senders={east: first.url, west: second.url}, listeners={north: first.url, south: second.url}
    ).start()
    traffic.acknowledged_at_least(FAULT_MESSAGES // 3)

    cluster.redis.stop()
    for server in (first, second):
        wait_until_unhealthy(server)
    traffic.failures_at_least(OUTAGE_FAILURES)
    # An empty Redis comes back on the same port: every group membership is gone.
    cluster.redis.start()
    rows = settle(site, traffic, room, request, "redis restart")

    expect(reader.page.locator("#messages > article.msg")).to_have_count(len(rows), timeout=30_000)
    assert message_ids(reader.page) == [row[0] for row in rows]
    # Live again, from the page.
    send(reader.page, "reader is live again")
    expect(reader.page.locator("#messages > article.msg p").last).to_have_text("reader is live again")


def test_kill_9_under_traffic_from_two_processes_loses_and_duplicates_nothing(site, cluster, request):
    """One process is killed mid-traffic; its sender and receiver reconnect through
    the balancer to the survivor and resume there."""
    doomed, survivor = cluster.servers
    east, west, north, south = site.users("east", "west", "north", "south")
    room = site.group(admin=east, members=[west, north, south])
    with balancer(doomed) as proxy:
        behind = f"http://{harness.HOST}:{proxy.port}"
        traffic = chat_traffic(
            site, room, senders={east: behind, west: survivor.url}, listeners={north: behind, south: survivor.url}
        ).start()
        traffic.acknowledged_at_least(FAULT_MESSAGES // 3)
        doomed.kill()
        proxy.switch_to(target_port=survivor.port)
        settle(site, traffic, room, request, "kill -9")
    assert not doomed.is_running()


def test_a_send_during_a_redis_outage_is_stored_or_refused_clearly(site, people, cluster):
    _first, second = cluster.servers
    name = site.users("stubborn")[0]
    room = site.group(admin=name, members=[])
    person = people(name, base_url=second.url)
    open_room(person.page, room)
    send(person.page, "before redis stops")

    cluster.redis.stop()
    wait_until_unhealthy(second)
    composer = person.page.locator("#composer-body")
    composer.fill("while redis is down")
    composer.press("Enter")
    # Either it is stored and shown, or the sender is told (never silently dropped).
    person.page.wait_for_function(STORED_OR_TOLD, arg="while redis is down")
    cluster.redis.start()
    shown = person.page.locator("#messages > article.msg p").all_inner_texts()
    assert shown == room_bodies(site, room)


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="PostgreSQL only: the outage is a cut TCP proxy in front of PostgreSQL (CI's DATABASE_URL pass)",
)
def test_database_outage_fails_sends_clearly_and_acknowledges_nothing_unstored(site, people, tmp_path, server_logs):
    """The database goes away under an open chat page.

    The outage is a TCP proxy between one server and PostgreSQL that is cut: the
    machine's PostgreSQL is shared with other engineers' and CI's concurrent runs,
    so stopping it would break them. It is PostgreSQL-only because SQLite is a
    file, not a connection that can be cut. A send during the outage must fail
    with a clear error and stay unacknowledged (the composer keeps it); once the
    database is back, the retry (same client_id) is stored exactly once.
    """
    proxy = harness.TcpProxy(target_host=site.database.host, target_port=site.database.port).start()
    server = site.server_like(log=tmp_path / "behind-proxy.log", DATABASE_URL=site.database.url_via(proxy.port))
    server_logs.append(server.log)
    try:
        server.start().wait_healthy()
        name, other_name = site.users("stored", "observer")
        room = site.group(admin=name, members=[other_name])
        person = people(name, base_url=server.url)
        open_room(person.page, room)
        send(person.page, "stored before the outage")
        expect(person.page.locator("#messages > article.msg")).to_have_count(1)

        proxy.cut()
        composer = person.page.locator("#composer-body")
        composer.fill("sent during the outage")
        composer.press("Enter")
        expect(person.page.locator("#chat-error")).not_to_be_empty()
        # Not acknowledged: the composer still holds the text, nothing new is shown...
        expect(composer).to_have_value("sent during the outage")
        expect(person.page.locator("#messages > article.msg")).to_have_count(1)

        proxy.restore()
        # ...and nothing was stored: only what is stored was ever shown.
        stored = room_bodies(site, room)
        assert stored == ["stored before the outage"]
        assert person.page.locator("#messages > article.msg p").all_inner_texts() == stored

        # The retry after the outage is acknowledged only once it is stored, exactly once.
        composer.press("Enter")
        expect(composer).to_have_value("")
        stored = room_bodies(site, room)
        assert stored == ["stored before the outage", "sent during the outage"]
        expect(person.page.locator("#messages > article.msg p")).to_have_text(stored)
        person.page.reload()
        expect(person.page.locator("#messages > article.msg p")).to_have_text(stored)
    finally:
        server.stop()
        proxy.cut()


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="PostgreSQL only: the outage is a cut TCP proxy in front of PostgreSQL (CI's DATABASE_URL pass)",
)
def test_postgres_cut_under_traffic_loses_nothing_acknowledged(site, tmp_path, server_logs, request):
    """One of two processes loses PostgreSQL mid-traffic (the proxy between them is
    cut: its connections drop, new ones are refused) and gets it back. Sends in
    flight may have been committed without their sender hearing so; their retry
    must find them, and every receiver must get them."""
    redis = harness.RedisServer(log=tmp_path / "redis.log")
    proxy = harness.TcpProxy(target_host=site.database.host, target_port=site.database.port).start()
    env = {"REDIS_URL": redis.url, "REDIS_PREFIX": f"pgcut-{uuid.uuid4().hex[:8]}", "API_TOKEN_RATE_LIMIT": "1000"}
    cut_off = site.server_like(log=tmp_path / "cut-off.log", DATABASE_URL=site.database.url_via(proxy.port), **env)
    steady = site.server_like(log=tmp_path / "steady.log", **env)
    server_logs.extend([cut_off.log, steady.log])
    try:
        redis.start()
        harness.start_all([cut_off, steady])
        east, west, north, south = site.users("east", "west", "north", "south")
        room = site.group(admin=east, members=[west, north, south])
        traffic = chat_traffic(
            site, room, senders={east: cut_off.url, west: steady.url}, listeners={north: cut_off.url, south: steady.url}
        ).start()
        traffic.acknowledged_at_least(FAULT_MESSAGES // 3)
        proxy.cut()
        traffic.failures_at_least(OUTAGE_FAILURES, senders=traffic.senders[:1])
        proxy.restore()
        settle(site, traffic, room, request, "postgres cut")
    finally:
        for server in (cut_off, steady):
            server.stop()
        proxy.cut()
        redis.stop()
