"""`make bench`: loopback fan-out benchmark of Boostroom against two references.

Starts each server itself, connects the sockets, drives events through each
server's real path and reports delivered / expected, p50/p99 send-to-receive
latency, server CPU µs per delivered frame and server memory:

- boostroom: this project under daphne (and under uvicorn, to choose the
  production server on data);
- seeds: the seeds' pattern (a Channels consumer per connection that re-reads
  the row and renders the partial itself) under daphne;
- raw: a `websockets` broadcast server, the floor.

Ratios are computed within one run, since this 2-core machine is noisy. The
channel-layer scenarios run on the in-memory layer and, when REDIS_URL is set,
once more on Redis. Results go to bench/results/<time>-<layers>.json.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
MARK = re.compile(r"t=(\d+\.\d+)")
ONLINE_COUNT = re.compile(r'id="online-count"[^>]*>(\d+)<')
TICKS = os.sysconf("SC_CLK_TCK")
# Any 32 characters of the allowed alphabet are a valid CSRF secret: the bench
# sets the cookie and the header itself, as a page's form would.
CSRF = "b" * 32

STEADY_SOCKETS = int(os.environ.get("BENCH_SOCKETS", "500"))
STEADY_RATE, STEADY_SECONDS = 20, 5
BURST_SOCKETS, BURST_MESSAGES = 200, 200
ORDER_SOCKETS, ORDER_RATE, ORDER_SECONDS = STEADY_SOCKETS, 10, 5
STORM_SOCKETS = STEADY_SOCKETS
IDLE_SOCKETS = int(os.environ.get("BENCH_IDLE_SOCKETS", "2000"))
PAGE_SMALL, PAGE_MESSAGES, PAGE_ORDERS = 100, 100_000, 10_000
DAPHNE = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", "{port}"]
SERVERS = {
    "boostroom": [*DAPHNE, "config.asgi:application"],
    "uvicorn": [
        *(
            sys.executable,
            "-m",
            "uvicorn",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--log-level",
            "warning",
            "--no-access-log",
        ),
        *("--ws", "websockets-sansio", "config.asgi:application"),
    ],
    "seeds": [*DAPHNE, "bench.reference_channels:application"],
    "raw": [sys.executable, "bench/reference_raw.py", "{port}"],
}


@dataclass
class Result:
    server: str
    layer: str
    scenario: str
    sockets: int
    messages: int
    expected: int
    delivered: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    cpu_us_per_delivery: float = 0.0
    peak_rss_mb: float = 0.0
    notes: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def memory_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(ordered: list[float], share: float) -> float:
    return ordered[max(0, int(len(ordered) * share) - 1)] if ordered else 0.0


class Database:
    """A fresh SQLite database for every server of the run, made in this process."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="boostroom-bench-")
        os.environ["DATABASE_URL"] = f"sqlite:///{self.dir}/bench.sqlite3"
        # Sessions made here must verify in the servers: one key for all.
        os.environ["SECRET_KEY"] = "bench-" + uuid.uuid4().hex * 2
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
        sys.path.insert(0, str(ROOT))
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True, env=os.environ)
        import django

        django.setup()

    def users(self, count: int, *, staff: bool = False) -> list:
        from django.contrib.auth.models import User

        prefix = uuid.uuid4().hex[:6]
        return User.objects.bulk_create(
            [
                User(username=f"b{prefix}{n}", password="!", email=f"b{prefix}{n}@bench.local", is_staff=staff)
                for n in range(count)
            ]
        )

    def cookies(self, users: list) -> list[str]:
        from django.conf import settings
        from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
        from django.contrib.sessions.backends.db import SessionStore

        cookies = []
        for user in users:
            session = SessionStore()
            session[SESSION_KEY] = str(user.pk)
            session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session.create()
            cookies.append(f"{settings.SESSION_COOKIE_NAME}={session.session_key}")
        return cookies

    def order_in_play(self) -> tuple[int, object]:
        """An order assigned to a new booster, through the services; its pk and booster."""
        from django.contrib.auth.models import Group

        from orders import services

        customer, booster, admin = self.users(1)[0], self.users(1)[0], self.users(1, staff=True)[0]
        booster.groups.add(Group.objects.get(name="boosters"))
        order = services.order_create(
            customer=customer, current_rank="silver", current_division=2, desired_rank="gold", desired_division=4
        )
        services.order_assign(order=order, booster=booster, by=admin)
        return order.pk, booster


class Server:
    def __init__(self, name: str, layer: str, processes: int = 1) -> None:
        self.name, self.layer = name, layer
        self.ports = [free_port() for _ in range(processes)]
        self.port = self.ports[0]
        self.processes: list[subprocess.Popen] = []

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def __enter__(self) -> Server:
        env = {
            **os.environ,
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "CHAT_RATE_LIMIT": "1000000",
            "SOCKETS_PER_USER": "100000",
            "LOG_LEVEL": "WARNING",
            # A fresh namespace: presence of an earlier server must not count.
            "REDIS_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
        }
        if self.layer == "memory":
            env.pop("REDIS_URL", None)
        for port in self.ports:
            args = [a.replace("{port}", str(port)) for a in SERVERS[self.name]]
            self.processes.append(
                subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        deadline = time.monotonic() + 30
        for port in self.ports:
            while not _listening(port):
                if time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError(f"{self.name} did not start")
                time.sleep(0.2)
        return self

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            process.kill()
            process.wait()

    def peak_rss_mb(self) -> float:
        return sum(memory_mb(pid, "VmHWM") for pid in self.pids)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


async def open_sockets(server: Server, path: str, cookies: list[str] | None, count: int, batch: int = 50) -> list:
    """`count` sockets, spread over the server's processes, opened `batch` at a time."""
    import websockets

    async def one(n: int):
        port = server.ports[n % len(server.ports)]
        headers = [("Cookie", cookies[n])] if cookies else []
        return await websockets.connect(
            f"ws://127.0.0.1:{port}{path}",
            origin=f"http://127.0.0.1:{port}",
            additional_headers=headers,
            max_size=2**22,
            open_timeout=60,
        )

    sockets = []
    for start in range(0, count, batch):
        sockets.extend(await asyncio.gather(*(one(n) for n in range(start, min(count, start + batch)))))
    return sockets


class Receivers:
    """Reads every socket and records the send-to-receive latency of each frame.

    Chat frames carry their send time in the body; card frames are matched to
    the n-th update sent, since every update produces one card per socket.
    """

    def __init__(self, sockets: list, expected: int, card: str | None = None) -> None:
        self.expected, self.card = expected, card
        self.latencies: list[float] = []
        self.sent_at: list[float] = []
        self.frame_size = 0
        self.done = asyncio.Event()
        self.tasks = [asyncio.create_task(self._drain(ws)) for ws in sockets]

    async def _drain(self, ws) -> None:
        seen = 0
        try:
            async for frame in ws:
                text = frame if isinstance(frame, str) else frame.decode()
                now = time.time()
                if self.card is None:
                    stamps = [float(stamp) for stamp in MARK.findall(text)]
                elif self.card in text:
                    stamps, seen = self.sent_at[seen : seen + 1], seen + 1
                    self.frame_size = len(text)
                else:
                    stamps = []
                for stamp in stamps:
                    self.latencies.append(now - stamp)
                if len(self.latencies) >= self.expected:
                    self.done.set()
        except Exception:
            pass

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()


async def measure(
    server: Server, result: Result, receivers: Receivers, send, rate: float | None, wait: float = 60
) -> Result:
    """Send `result.messages` events through `send(n)` and wait (up to `wait` seconds) for every delivery."""
    await asyncio.sleep(0.5)
    cpu_before = cpu_seconds(server.pids)
    for n in range(result.messages):
        receivers.sent_at.append(time.time())
        await send(n)
        if rate:
            await asyncio.sleep(1 / rate)
    try:
        await asyncio.wait_for(receivers.done.wait(), timeout=wait)
    except TimeoutError:
        result.notes.append("timed out waiting for deliveries")
    cpu = cpu_seconds(server.pids) - cpu_before
    receivers.stop()
    result.delivered = min(len(receivers.latencies), result.expected)
    ordered = sorted(receivers.latencies)
    result.p50_ms = statistics.median(ordered) * 1000 if ordered else 0.0
    result.p99_ms = percentile(ordered, 0.99) * 1000
    result.cpu_us_per_delivery = cpu * 1e6 / max(1, result.delivered)
    result.peak_rss_mb = server.peak_rss_mb()
    return result


async def chat(name: str, layer: str, cookies: list[str], scenario: str, processes: int = 1) -> Result:
    count, messages, rate = {
        "room steady 20/s": (STEADY_SOCKETS, STEADY_RATE * STEADY_SECONDS, STEADY_RATE),
        "burst": (BURST_SOCKETS, BURST_MESSAGES, None),
    }[scenario.split(" x")[0]]
    with Server(name, layer, processes) as server:
        sockets = await open_sockets(server, "/ws/chatroom/public-chat/", None if name == "raw" else cookies, count + 1)
        # The raw server echoes to the sender too, so everyone counts there.
        sender, receivers = sockets[0], sockets if name == "raw" else sockets[1:]
        result = Result(name, layer, scenario, len(receivers), messages, len(receivers) * messages)

        async def send(n: int) -> None:
            body = f"bench t={time.time():.6f} n={n}"
            await sender.send(json.dumps({"body": body, "client_id": uuid.uuid4().hex}))

        await measure(server, result, Receivers(receivers, result.expected), send, rate)
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        return result


async def order_cards(name: str, layer: str, db: Database, staff_cookies: list[str], card_size: int) -> Result:
    """Progress reports on one order, pushed to every staff dashboard."""
    order_id, booster = await asyncio.to_thread(db.order_in_play)
    booster_cookie = (await asyncio.to_thread(db.cookies, [booster]))[0]
    updates = ORDER_RATE * ORDER_SECONDS
    with Server(name, layer) as server:
        path = "/ws/orders/" if name != "raw" else "/ws/chatroom/public-chat/"
        sockets = await open_sockets(server, path, None if name == "raw" else staff_cookies, ORDER_SOCKETS + 1)
        sender, receivers = sockets[0], sockets if name == "raw" else sockets[1:]
        result = Result(name, layer, "order cards 10/s", len(receivers), updates, len(receivers) * updates)
        marker = f'id="order-{order_id}"' if name != "raw" else "card"

        async def send(n: int) -> None:
            if name == "boostroom":
                await asyncio.to_thread(post_progress, server.port, booster_cookie, order_id, n % 100)
            elif name == "seeds":
                await sender.send(json.dumps({"order": order_id, "lp": n % 100}))
            else:  # the floor: a frame the size of our card
                await sender.send("card" + "x" * max(0, card_size - 4))

        receiving = Receivers(receivers, result.expected, card=marker)
        await measure(server, result, receiving, send, ORDER_RATE)
        result.notes.append(f"frame {receiving.frame_size} B")
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        return result


def post_progress(port: int, cookie: str, order_id: int, lp: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = urlencode({"reached_rank": "silver", "reached_division": 2, "reached_lp": lp})
    headers = {
        "Cookie": f"{cookie}; csrftoken={CSRF}",
        "X-CSRFToken": CSRF,
        "Origin": f"http://127.0.0.1:{port}",
        "Content-Type": "application/x-www-form-urlencoded",
        "HX-Request": "true",
    }
    connection.request("POST", f"/orders/{order_id}/progress/", body, headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    if response.status >= 400:
        raise RuntimeError(f"progress update answered {response.status}")


async def presence_storm(layer: str, cookies: list[str]) -> Result:
    """Every user opens the presence socket at once; every page must end up showing them all."""
    count = len(cookies)
    result = Result("boostroom", layer, f"presence storm {count}", count, 1, count)
    with Server("boostroom", layer) as server:
        cpu_before = cpu_seconds(server.pids)
        connect_ms: list[float] = []
        frames = [0] * count
        counts = [0] * count

        async def one(n: int):
            started = time.monotonic()
            ws = await presence_socket(server, cookies[n])
            connect_ms.append((time.monotonic() - started) * 1000)
            return ws

        started = time.monotonic()
        sockets = await asyncio.gather(*(one(n) for n in range(count)), return_exceptions=True)
        opened = [ws for ws in sockets if not isinstance(ws, BaseException)]

        everyone = asyncio.Event()

        async def read(n: int, ws) -> None:
            try:
                async for frame in ws:
                    frames[n] += 1
                    for value in ONLINE_COUNT.findall(frame):
                        counts[n] = int(value)
                    if counts.count(count) == len(opened):
                        everyone.set()
            except Exception:
                pass

        readers = [asyncio.create_task(read(n, ws)) for n, ws in enumerate(opened)]
        try:
            await asyncio.wait_for(everyone.wait(), timeout=20)
        except TimeoutError:
            result.notes.append("timed out waiting for every page to show everyone")
        converged = time.monotonic() - started
        result.delivered = sum(c == count for c in counts)
        ordered = sorted(connect_ms)
        result.p50_ms = statistics.median(ordered) if ordered else 0.0
        result.p99_ms = percentile(ordered, 0.99)
        result.cpu_us_per_delivery = (cpu_seconds(server.pids) - cpu_before) * 1e6 / max(1, len(opened))
        result.peak_rss_mb = server.peak_rss_mb()
        if everyone.is_set():
            result.notes.append(f"every page showed {count} online {converged:.1f} s after the first connect")
        result.notes += [
            f"{len(opened)}/{count} connected; p50/p99 are connect times",
            f"{statistics.mean(frames[: len(opened)]):.1f} presence frames per socket",
            "cpu is per connect",
        ]
        for task in readers:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    return result


async def presence_socket(server: Server, cookie: str):
    import websockets

    return await websockets.connect(
        f"ws://127.0.0.1:{server.port}/ws/online-status/",
        origin=f"http://127.0.0.1:{server.port}",
        additional_headers=[("Cookie", cookie)],
        open_timeout=60,
    )


async def idle(cookies: list[str]) -> Result:
    with Server("boostroom", "memory") as server:
        pid = server.pids[0]
        before = memory_mb(pid, "VmRSS")
        sockets = await open_sockets(server, "/ws/chatroom/public-chat/", cookies, IDLE_SOCKETS)
        await asyncio.sleep(2)
        after = memory_mb(pid, "VmRSS")
        alive = sum(ws.state.name == "OPEN" for ws in sockets)
        result = Result("boostroom", "memory", f"{IDLE_SOCKETS} idle sockets", len(sockets), 0, len(sockets))
        result.delivered = alive
        result.peak_rss_mb = server.peak_rss_mb()
        result.notes.append(f"{(after - before) * 1024 / max(1, len(sockets)):.1f} KB per idle connection")
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        return result


def pages_flat() -> list[str]:
    """The room page and the dashboards at a small history and at 100k messages / 10k orders:
    the same queries and near the same time (in-process, Django's test client)."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from orders.models import Order
    from rooms import services as rooms
    from rooms.models import Message

    owner, staff = User.objects.create_user("page-owner"), User.objects.create_user("page-staff", is_staff=True)
    room = rooms.room_create_group(creator=owner, name=f"flat-{uuid.uuid4().hex[:6]}")

    def add_messages(count: int) -> None:
        Message.objects.bulk_create((Message(room=room, author=owner, body=f"m{n}") for n in range(count)), 5000)

    def add_orders(count: int) -> None:
        base = dict(
            price=10, booster_price=7, current_rank="silver", current_division=2, desired_rank="gold",
            desired_division=4, reached_rank="silver", reached_division=2,
        )  # fmt: skip
        Order.objects.bulk_create((Order(customer=owner, **base) for _ in range(count)), 5000)

    def timed(client: Client, url: str) -> tuple[float, int]:
        for _ in range(2):
            client.get(url)
        times = []
        for _ in range(15):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - started)
            assert response.status_code == 200, (url, response.status_code)
        return statistics.median(times) * 1000, len(queries)

    owner_client, staff_client = Client(), Client()
    owner_client.force_login(owner)
    staff_client.force_login(staff)
    pages = [
        (owner_client, f"/chat/{room.name}/", "room page"),
        (owner_client, "/dashboard/", "customer dashboard"),
        (staff_client, "/dashboard/", "staff dashboard"),
    ]
    add_messages(PAGE_SMALL)
    add_orders(PAGE_SMALL)
    small = [timed(client, url) for client, url, _ in pages]
    add_messages(PAGE_MESSAGES - PAGE_SMALL)
    add_orders(PAGE_ORDERS - PAGE_SMALL)
    large = [timed(client, url) for client, url, _ in pages]
    lines = [f"{'page':20} {'queries':>15} {'ms small':>9} {'ms large':>9} {'ratio':>6}"]
    for (_, _, label), (ms_small, q_small), (ms_large, q_large) in zip(pages, small, large, strict=True):
        lines.append(
            f"{label:20} {f'{q_small} -> {q_large}':>15} {ms_small:9.1f} {ms_large:9.1f} {ms_large / ms_small:6.2f}"
        )
    return lines


def table(results: list[Result]) -> str:
    refs = {(r.server, r.layer, r.scenario): r for r in results}
    raws = {r.scenario: r for r in results if r.server == "raw"}
    lines = [
        f"{'server':10} {'layer':6} {'scenario':22} {'delivered':>13} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'cpu µs':>8} {'vs seeds':>9} {'vs raw':>7} {'peak MB':>8}"
    ]
    for r in results:
        seeds, raw = refs.get(("seeds", r.layer, r.scenario)), raws.get(r.scenario)
        vs_seeds = f"{r.cpu_us_per_delivery / seeds.cpu_us_per_delivery:.2f}x" if seeds and r.messages else ""
        vs_raw = f"{r.cpu_us_per_delivery / raw.cpu_us_per_delivery:.2f}x" if raw and r.messages else ""
        lines.append(
            f"{r.server:10} {r.layer:6} {r.scenario:22} {f'{r.delivered}/{r.expected}':>13} {r.p50_ms:8.1f} "
            f"{r.p99_ms:8.1f} {r.cpu_us_per_delivery:8.1f} {vs_seeds:>9} {vs_raw:>7} {r.peak_rss_mb:8.1f}  "
            f"{'; '.join(r.notes)}"
        )
    return "\n".join(lines)


async def run_all(db: Database, cookies: list[str], staff_cookies: list[str]) -> tuple[list[Result], list[str]]:
    layers = ["memory", "redis"] if os.environ.get("REDIS_URL") else ["memory"]
    results: list[Result] = []

    def log(result: Result) -> None:
        results.append(result)
        print(f"  {result.server} {result.layer} {result.scenario}: {result.delivered}/{result.expected}", flush=True)

    for scenario in ("room steady 20/s", "burst"):
        log(await chat("raw", "-", cookies, scenario))
    for layer in layers:
        for scenario in ("room steady 20/s", "burst"):
            for name in ("boostroom", "uvicorn", "seeds"):
                log(await chat(name, layer, cookies, scenario))
        if layer == "redis":
            log(await chat("boostroom", layer, cookies, "room steady 20/s x2 processes", processes=2))
        ours = await order_cards("boostroom", layer, db, staff_cookies, 0)
        log(ours)
        log(await order_cards("seeds", layer, db, staff_cookies, 0))
        if layer == layers[0]:
            size = int(ours.notes[-1].split()[1])
            log(await order_cards("raw", "-", db, staff_cookies, size))
        log(await presence_storm(layer, cookies[:STORM_SOCKETS]))
    log(await idle(cookies[:IDLE_SOCKETS]))
    pages = await asyncio.to_thread(pages_flat)
    return results, pages


def main() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    db = Database()
    cookies = db.cookies(db.users(max(STEADY_SOCKETS, BURST_SOCKETS, IDLE_SOCKETS, STORM_SOCKETS) + 1))
    staff_cookies = db.cookies(db.users(ORDER_SOCKETS + 1, staff=True))
    results, pages = asyncio.run(run_all(db, cookies, staff_cookies))
    RESULTS.mkdir(parents=True, exist_ok=True)
    layers = "memory+redis" if os.environ.get("REDIS_URL") else "memory"
    out = RESULTS / f"{time.strftime('%Y%m%d-%H%M%S')}-{layers}.json"
    out.write_text(json.dumps({"layers": layers, "results": [asdict(r) for r in results], "pages": pages}, indent=1))
    print()
    print(table(results))
    print()
    print("\n".join(pages))
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
