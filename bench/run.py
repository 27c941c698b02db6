"""`make bench`: loopback fan-out benchmark of Boostroom against two references.

Starts each server itself, connects the sockets, drives events through each
server's real path and reports delivered / expected, p50/p99 send-to-receive
latency, server CPU µs per delivered frame, bytes per frame on the wire and
server memory:

- uvicorn: this project as `make run` and production serve it (the Makefile's
  SERVER_FLAGS: uvloop, httptools, no per-message deflate); uvicorn+deflate the
  same with deflate on; daphne, the server before it; to choose on data;
- seeds: the seeds' pattern (a Channels consumer per connection that re-reads
  the row and renders the partial itself) under daphne;
- raw: a `websockets` broadcast server, the floor; raw+deflate the same with
  per-message deflate, the floor for uvicorn+deflate.

Clients negotiate per-message deflate only with the +deflate servers. (They
used to offer it everywhere: the raw floor accepted and paid for compression
that daphne never negotiates, which made the floor about twice as expensive
and every ratio to it look about twice as good.)

Ratios are computed within one run, since this 2-core machine is noisy. The
channel-layer scenarios run on the in-memory layer and, when REDIS_URL is set,
once more on Redis; then the scale scenario: four server processes, the layer
sharded over REDIS_URL and a second Redis the bench starts itself, 10,000
sockets. Results go to bench/results/<time>-<layers>.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.harness import makefile_value  # noqa: E402

RESULTS = ROOT / "bench" / "results"
MARK = re.compile(r"t=(\d+\.\d+) k=(\w+)")
ONLINE_COUNT = re.compile(r'id="online-count"[^>]*>(\d+)<')
TICKS = os.sysconf("SC_CLK_TCK")
# Any 32 characters of the allowed alphabet are a valid CSRF secret: the bench
# sets the cookie and the header itself, as a page's form would.
CSRF = "b" * 32


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


STEADY_SOCKETS = env_int("BENCH_SOCKETS", 500)
STEADY_RATE, STEADY_SECONDS = 20, 5
BURST_SOCKETS, BURST_MESSAGES = 200, 200
ORDER_SOCKETS, ORDER_RATE, ORDER_SECONDS = STEADY_SOCKETS, 10, 5
STORM_SOCKETS = STEADY_SOCKETS
IDLE_SOCKETS = env_int("BENCH_IDLE_SOCKETS", 10_000)
# The scale scenario: sockets per kind, and rates over SCALE_SECONDS.
SCALE_PROCESSES = env_int("BENCH_SCALE_PROCESSES", 4)
SCALE_PUBLIC = env_int("BENCH_SCALE_PUBLIC", 5000)
SCALE_PRIVATE_ROOMS = env_int("BENCH_SCALE_PRIVATE_ROOMS", 500)
SCALE_DASHBOARDS = env_int("BENCH_SCALE_DASHBOARDS", 1000)
SCALE_PRESENCE = env_int("BENCH_SCALE_PRESENCE", 3000)
SCALE_SECONDS, SCALE_PUBLIC_RATE, SCALE_ORDER_RATE = env_int("BENCH_SCALE_SECONDS", 10), 1, 2
WITH_SEEDS = os.environ.get("BENCH_SEEDS", "1") != "0"
PAGE_SMALL, PAGE_MESSAGES, PAGE_ORDERS = 100, 100_000, 10_000
WAIT_SECONDS = 60
# Events each server gets before it is measured, read and dropped.
WARMUP_EVENTS = 5

PRODUCTION = makefile_value("SERVER_FLAGS").split()
WS_MAX = makefile_value("WS_MAX")
UVICORN = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", "{port}"]
DAPHNE = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", "{port}"]
DAPHNE_LIMITS = ["--websocket-max-message-size", WS_MAX, "--websocket-max-frame-size", WS_MAX]
SERVERS = {
    "uvicorn": [*UVICORN, *PRODUCTION],
    "uvicorn+deflate": [*UVICORN, *" ".join(PRODUCTION).replace("deflate false", "deflate true").split()],
    "daphne": [*DAPHNE, *DAPHNE_LIMITS, "config.asgi:application"],
    "seeds": [*DAPHNE, "bench.reference_channels:application"],
    "raw": [sys.executable, "bench/reference_raw.py", "{port}"],
    "raw+deflate": [sys.executable, "bench/reference_raw.py", "{port}", "deflate"],
}
OURS = ("uvicorn", "uvicorn+deflate", "daphne")
# Which floor each server is compared with.
FLOOR = {name: "raw+deflate" if name.endswith("+deflate") else "raw" for name in SERVERS}


@dataclass
class Result:
    server: str
    layer: str
    scenario: str
    sockets: int
    messages: int
    expected: int
    delivered: int = 0
    duplicates: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    cpu_us_per_delivery: float = 0.0
    # The event loop's share (each process's main thread): the floor is all loop;
    # what ours spends beyond it is the worker threads' (posts, requests, renders).
    loop_us_per_delivery: float = 0.0
    wire_bytes_per_frame: float = 0.0
    peak_rss_mb: float = 0.0
    notes: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pids: list[int], *, loop_only: bool = False) -> float:
    """CPU time (user + system) of these processes, or of only their main threads."""
    total = 0
    for pid in pids:
        stat = Path(f"/proc/{pid}/task/{pid}/stat" if loop_only else f"/proc/{pid}/stat")
        fields = stat.read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def bytes_read() -> int:
    """What this (client) process has read: almost all of it the servers' frames."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


def memory_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(ordered: list[float], share: float) -> float:
    return ordered[max(0, int(len(ordered) * share) - 1)] if ordered else 0.0


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class Database:
    """A fresh database for every server of the run, made in this process: SQLite, or
    with a PostgreSQL DATABASE_URL a new database on that server, dropped at the end
    (four processes writing to one SQLite file measure its lock, not the site)."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="boostroom-bench-")
        base = os.environ.get("DATABASE_URL", "")
        self.admin_url = base if base.startswith(("postgres://", "postgresql://")) else ""
        if self.admin_url:
            import psycopg

            self.name = f"boostroom_bench_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
            os.environ["DATABASE_URL"] = self.admin_url.rsplit("/", 1)[0] + f"/{self.name}"
        else:
            os.environ["DATABASE_URL"] = f"sqlite:///{self.dir}/bench.sqlite3"
        # Persistent connections, as production should run them (README, Deploying).
        os.environ["DB_CONN_MAX_AGE"] = "60"
        # Sessions made here must verify in the servers: one key for all.
        os.environ["SECRET_KEY"] = "bench-" + uuid.uuid4().hex * 2
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True, env=os.environ)
        import django

        django.setup()

    @property
    def kind(self) -> str:
        return "postgresql" if self.admin_url else "sqlite"

    def drop(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        if not self.admin_url:
            return
        import psycopg
        from django.db import connections

        connections.close_all()
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

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
        from django.db import transaction

        cookies = []
        with transaction.atomic():
            for user in users:
                session = SessionStore()
                session[SESSION_KEY] = str(user.pk)
                session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
                session[HASH_SESSION_KEY] = user.get_session_auth_hash()
                session.create()
                cookies.append(f"{settings.SESSION_COOKIE_NAME}={session.session_key}")
        return cookies

    def private_rooms(self, users: list) -> list[str]:
        """The private room of each pair (users[2k], users[2k+1]), through the service."""
        from rooms import services

        return [
            services.room_get_or_create_private(user=users[n], other=users[n + 1]).name
            for n in range(0, len(users) - 1, 2)
        ]

    def message_fragment(self, user) -> str:
        """A chat message as our servers push it, with SAMPLE_BODY where the body goes:
        the floor sends frames of the same size and content."""
        from rooms import broadcasts, services
        from rooms.models import Room

        room = Room.objects.get(name="public-chat")
        message = services.message_post(room=room, author=user, body=SAMPLE_BODY, client_id=None)
        with warnings.catch_warnings():  # no request here, so no CSRF token: the floor does not need one
            warnings.simplefilter("ignore")
            return broadcasts.render_message(message)

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


class RedisShard:
    """A second, throwaway redis-server on a free loopback port, for sharding."""

    def __enter__(self) -> str:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="boostroom-bench-redis-")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _listening(self.port):
            if time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.1)
        return f"redis://127.0.0.1:{self.port}/0"

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


class Server:
    def __init__(self, name: str, layer: str, processes: int = 1, **env: str) -> None:
        self.name, self.layer, self.extra_env = name, layer, env
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
            **self.extra_env,
        }
        if self.layer == "memory":
            env.pop("REDIS_URL", None)
        for port in self.ports:
            args = [a.replace("{port}", str(port)) for a in SERVERS[self.name]]
            self.processes.append(
                subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        deadline = time.monotonic() + 60
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


async def connect_all(server: Server, targets: list[tuple[str, str | None]], batch: int = 50) -> list:
    """A socket per (path, cookie), the n-th on the server's process n mod processes, `batch` at a time."""
    import websockets

    async def one(n: int):
        path, cookie = targets[n]
        port = server.ports[n % len(server.ports)]
        return await websockets.connect(
            f"ws://127.0.0.1:{port}{path}",
            origin=f"http://127.0.0.1:{port}",
            additional_headers=[("Cookie", cookie)] if cookie else [],
            compression="deflate" if server.name.endswith("+deflate") else None,
            max_size=2**22,
            # Never stop reading: past its default 16 queued frames a client stops
            # reading its socket, so it no longer answers the server's keepalive
            # pings, and after 20 + 20 s uvicorn closes it (1011). Sockets that
            # sat through a long connect phase unread were lost that way.
            max_queue=None,
            open_timeout=120,
            ping_interval=None,
        )

    sockets = []
    for start in range(0, len(targets), batch):
        sockets.extend(await asyncio.gather(*(one(n) for n in range(start, min(len(targets), start + batch)))))
    return sockets


async def open_sockets(server: Server, path: str, cookies: list[str] | None, count: int) -> list:
    return await connect_all(server, [(path, cookies[n] if cookies else None) for n in range(count)])


class Receivers:
    """Reads every socket and records the send-to-receive latency of each frame.

    Chat frames carry their send time and a key in the body; card frames are
    matched to the n-th update sent, since every update produces one card per
    socket. A chat key seen twice on one socket, or more cards than updates,
    counts as a duplicate.
    """

    def __init__(self, sockets: list, expected: int, card: str | None = None, ports: int = 1) -> None:
        self.expected, self.card = expected, card
        self.latencies: list[float] = []
        self.sent_at: list[float] = []
        self.duplicates = 0
        self.frame_size = 0
        self.by_process: Counter[int] = Counter()
        self.done = asyncio.Event()
        if expected == 0:
            self.done.set()
        self.tasks = [asyncio.create_task(self._drain(n % ports, ws)) for n, ws in enumerate(sockets)]

    async def _drain(self, process: int, ws) -> None:
        seen_cards, seen_keys = 0, set()
        try:
            async for frame in ws:
                text = frame if isinstance(frame, str) else frame.decode()
                now = time.time()
                stamps = []
                if self.card is None:
                    # A message carries its body twice (the text, and data-body for
                    # editing): a key is counted once per frame.
                    for key, stamp in {key: stamp for stamp, key in MARK.findall(text)}.items():
                        if key in seen_keys:
                            self.duplicates += 1
                        else:
                            seen_keys.add(key)
                            stamps.append(float(stamp))
                elif self.card in text:
                    if seen_cards >= len(self.sent_at):
                        self.duplicates += 1
                    stamps, seen_cards = self.sent_at[seen_cards : seen_cards + 1], seen_cards + 1
                    self.frame_size = len(text)
                for stamp in stamps:
                    self.latencies.append(now - stamp)
                self.by_process[process] += len(stamps)
                if len(self.latencies) >= self.expected:
                    self.done.set()
        except Exception:
            pass

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()

    def fill(self, result: Result) -> Result:
        result.delivered = min(len(self.latencies), result.expected)
        result.duplicates = self.duplicates
        ordered = sorted(self.latencies)
        result.p50_ms = statistics.median(ordered) * 1000 if ordered else 0.0
        result.p99_ms = percentile(ordered, 0.99) * 1000
        return result


SAMPLE_BODY = "bench t=0000000000.000000 k=000000000000 n=0"
FRAGMENT: list[str] = []  # the rendered message, filled in by main()


def chat_body(n: int) -> str:
    return f"bench t={time.time():.6f} k={uuid.uuid4().hex[:12]} n={n}"


def floor_frame(n: int, body=chat_body) -> str:
    return FRAGMENT[0].replace(SAMPLE_BODY, body(n))


async def warm_up(sockets: list, send) -> None:
    """The first events after a start compile templates and open database
    connections: a cost each process pays once, not per frame, which would
    otherwise be most of a run's p99. Every server, floors included, gets the same
    few events first; their frames are read and dropped."""
    for n in range(WARMUP_EVENTS):
        await send(n)
        await asyncio.sleep(0.05)
    await asyncio.gather(*(_read_until_quiet(ws) for ws in sockets))


async def _read_until_quiet(ws, quiet: float = 1.0) -> None:
    with contextlib.suppress(Exception):
        while True:
            await asyncio.wait_for(ws.recv(), timeout=quiet)


async def measure(
    server: Server, result: Result, receivers: Receivers, send, rate: float | None, wait: float = WAIT_SECONDS
) -> Result:
    """Send `result.messages` events through `send(n)` and wait (up to `wait` seconds) for every delivery."""
    await asyncio.sleep(0.5)
    cpu_before, read_before = cpu_seconds(server.pids), bytes_read()
    loop_before = cpu_seconds(server.pids, loop_only=True)
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
    loop = cpu_seconds(server.pids, loop_only=True) - loop_before
    wire = bytes_read() - read_before
    receivers.stop()
    receivers.fill(result)
    result.cpu_us_per_delivery = cpu * 1e6 / max(1, result.delivered)
    result.loop_us_per_delivery = loop * 1e6 / max(1, result.delivered)
    result.wire_bytes_per_frame = wire / max(1, result.delivered)
    result.peak_rss_mb = server.peak_rss_mb()
    return result


async def chat(name: str, layer: str, cookies: list[str], scenario: str, processes: int = 1) -> Result:
    count, messages, rate = {
        "room steady 20/s": (STEADY_SOCKETS, STEADY_RATE * STEADY_SECONDS, STEADY_RATE),
        "burst": (BURST_SOCKETS, BURST_MESSAGES, None),
    }[scenario.split(" x")[0]]
    with Server(name, layer, processes) as server:
        raw = name.startswith("raw")
        sockets = await open_sockets(server, "/ws/chatroom/public-chat/", None if raw else cookies, count + 1)
        # The raw server echoes to the sender too, so everyone counts there.
        sender, receivers = sockets[0], sockets if raw else sockets[1:]
        result = Result(name, layer, scenario, len(receivers), messages, len(receivers) * messages)

        async def send(n: int, body=chat_body) -> None:
            if raw:
                await sender.send(floor_frame(n, body))
            else:
                await sender.send(json.dumps({"body": body(n), "client_id": uuid.uuid4().hex}))

        # Warm-up messages carry no mark, so the receivers would not count them anyway.
        await warm_up(sockets, partial(send, body="warm-up {}".format))
        await measure(server, result, Receivers(receivers, result.expected), send, rate)
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        return result


async def order_cards(name: str, layer: str, db: Database, staff_cookies: list[str], card_size: int) -> Result:
    """Progress reports on one order, pushed to every staff dashboard."""
    order_id, booster = await asyncio.to_thread(db.order_in_play)
    booster_cookie = (await asyncio.to_thread(db.cookies, [booster]))[0]
    updates = ORDER_RATE * ORDER_SECONDS
    raw = name.startswith("raw")
    with Server(name, layer) as server:
        path = "/ws/chatroom/public-chat/" if raw else "/ws/orders/"
        sockets = await open_sockets(server, path, None if raw else staff_cookies, ORDER_SOCKETS + 1)
        sender, receivers = sockets[0], sockets if raw else sockets[1:]
        result = Result(name, layer, "order cards 10/s", len(receivers), updates, len(receivers) * updates)
        marker = "card" if raw else f'id="order-{order_id}"'

        async def send(n: int) -> None:
            if name in OURS:
                await asyncio.to_thread(post_progress, server.port, booster_cookie, order_id, n % 100)
            elif name == "seeds":
                await sender.send(json.dumps({"order": order_id, "lp": n % 100}))
            else:  # the floor: a frame the size of our card
                await sender.send("card" + "x" * max(0, card_size - 4))

        await warm_up(sockets, send)
        receiving = Receivers(receivers, result.expected, card=marker)
        await measure(server, result, receiving, send, ORDER_RATE)
        result.notes.append(f"frame {receiving.frame_size} B")
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        return result


def post_progress(port: int, cookie: str, order_id: int, lp: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = urlencode({"reached_rank": "silver", "reached_division": 2, "reached_points": lp})
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
    result = Result("uvicorn", layer, f"presence storm {count}", count, 1, count)
    with Server("uvicorn", layer) as server:
        cpu_before = cpu_seconds(server.pids)
        connect_ms: list[float] = []
        frames = [0] * count
        counts = [0] * count

        async def one(n: int):
            started = time.monotonic()
            [ws] = await connect_all(server, [("/ws/online-status/", cookies[n])])
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


async def idle(cookies: list[str]) -> Result:
    """IDLE_SOCKETS chat sockets of distinct users held open by one process: memory per socket."""
    with Server("uvicorn", "memory") as server:
        pid = server.pids[0]
        await open_sockets(server, "/ws/chatroom/public-chat/", cookies, 20)  # warm up, then measure from here
        await asyncio.sleep(1)
        before = memory_mb(pid, "VmRSS")
        sockets = await open_sockets(server, "/ws/chatroom/public-chat/", cookies, len(cookies))
        await asyncio.sleep(2)
        after = memory_mb(pid, "VmRSS")
        alive = sum(ws.state.name == "OPEN" for ws in sockets)
        result = Result("uvicorn", "memory", f"{len(cookies)} idle sockets", len(sockets), 0, len(sockets))
        result.delivered = alive
        result.peak_rss_mb = server.peak_rss_mb()
        result.notes.append(f"{(after - before) * 1024 / max(1, len(sockets)):.1f} KB per idle connection")
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        return result


@dataclass
class Scale:
    """The scale scenario's people: chat users (the first ones also have a private room each), staff."""

    cookies: list[str]
    rooms: list[str]
    staff_cookies: list[str]
    order_id: int
    booster_cookie: str


async def scale(people: Scale, shard: str) -> list[Result]:
    """SCALE_PROCESSES processes, the layer sharded over two Redis servers, presence on Redis:
    one public room, private rooms, order dashboards and presence sockets, with steady chat
    and order traffic at once. Every event must reach every socket once."""
    processes = SCALE_PROCESSES
    env = {"REDIS_SHARDS": f"{os.environ['REDIS_URL']},{shard}"}
    with Server("uvicorn", "redis", processes, **env) as server:
        public = [("/ws/chatroom/public-chat/", people.cookies[n]) for n in range(SCALE_PUBLIC)]
        private = [(f"/ws/chatroom/{people.rooms[n // 2]}/", people.cookies[n]) for n in range(2 * len(people.rooms))]
        dashboards = [("/ws/orders/", cookie) for cookie in people.staff_cookies]
        presence = [("/ws/online-status/?room=public-chat", people.cookies[n]) for n in range(SCALE_PRESENCE)]
        opened = time.monotonic()
        rss_before = [memory_mb(pid, "VmRSS") for pid in server.pids]
        public_ws = await connect_all(server, public)
        private_ws = await connect_all(server, private)
        dashboard_ws = await connect_all(server, dashboards)
        presence_ws = await connect_all(server, presence)
        total = len(public_ws) + len(private_ws) + len(dashboard_ws) + len(presence_ws)
        opened = time.monotonic() - opened
        presence_frames = [0]
        settled = await presence_settled(presence_ws, len(presence_ws), presence_frames)
        await asyncio.sleep(2)
        presence_frames[0] = 0

        public_messages = SCALE_PUBLIC_RATE * SCALE_SECONDS
        updates = SCALE_ORDER_RATE * SCALE_SECONDS
        rooms = len(people.rooms)
        results = {
            "public": Result("uvicorn", "redis", "scale: public room", len(public_ws), public_messages, 0),
            "private": Result("uvicorn", "redis", "scale: private rooms", len(private_ws), rooms, 0),
            "orders": Result("uvicorn", "redis", "scale: order dashboards", len(dashboard_ws), updates, 0),
        }
        results["public"].expected = len(public_ws) * public_messages
        results["private"].expected = 2 * rooms
        results["orders"].expected = len(dashboard_ws) * updates
        # Each list was opened on its own, the n-th socket on process n mod processes.
        card = f'id="order-{people.order_id}"'
        receivers = {
            "public": Receivers(public_ws, results["public"].expected, ports=processes),
            "private": Receivers(private_ws, results["private"].expected, ports=processes),
            "orders": Receivers(dashboard_ws, results["orders"].expected, card=card, ports=processes),
        }

        async def chat_in_public() -> None:
            for n in range(public_messages):
                await public_ws[0].send(json.dumps({"body": chat_body(n), "client_id": uuid.uuid4().hex}))
                await asyncio.sleep(1 / SCALE_PUBLIC_RATE)

        async def chat_in_private() -> None:
            for n in range(rooms):
                # Room n's members are sockets 2n and 2n+1, on processes 2n and 2n+1 mod 4:
                # picking one by n mod 4 spreads the posts evenly over four processes.
                sender = private_ws[2 * n + (n % 4 >= 2)]
                await sender.send(json.dumps({"body": chat_body(n), "client_id": uuid.uuid4().hex}))
                await asyncio.sleep(SCALE_SECONDS / rooms)

        async def order_updates() -> None:
            for n in range(updates):
                receivers["orders"].sent_at.append(time.time())
                port = server.ports[n % processes]
                await asyncio.to_thread(post_progress, port, people.booster_cookie, people.order_id, n % 100)
                await asyncio.sleep(1 / SCALE_ORDER_RATE)

        cpu_before = [cpu_seconds([pid]) for pid in server.pids]
        await asyncio.gather(chat_in_public(), chat_in_private(), order_updates())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(r.done.wait() for r in receivers.values())), timeout=WAIT_SECONDS)
        cpu = [cpu_seconds([pid]) - before for pid, before in zip(server.pids, cpu_before, strict=True)]
        rss_after = [memory_mb(pid, "VmRSS") for pid in server.pids]
        for receiving in receivers.values():
            receiving.stop()
        frames = Counter()
        for key, receiving in receivers.items():
            receiving.fill(results[key])
            frames.update(receiving.by_process)
            if results[key].delivered < results[key].expected:
                results[key].notes.append("timed out waiting for deliveries")
        delivered = sum(frames.values())
        overall = Result("uvicorn", "redis", f"scale: all, {processes} processes", total, 0, 0)
        overall.expected = sum(r.expected for r in results.values())
        overall.delivered = sum(r.delivered for r in results.values())
        overall.duplicates = sum(r.duplicates for r in results.values())
        everything = sorted(latency for receiving in receivers.values() for latency in receiving.latencies)
        overall.p50_ms = statistics.median(everything) * 1000 if everything else 0.0
        overall.p99_ms = percentile(everything, 0.99) * 1000
        overall.cpu_us_per_delivery = sum(cpu) * 1e6 / max(1, delivered)
        overall.peak_rss_mb = server.peak_rss_mb()
        grown = zip(rss_before, rss_after, strict=True)
        per_socket = [(after - before) * 1024 / (total / processes) for before, after in grown]
        overall.notes += [
            f"{total} sockets opened in {opened:.0f} s",
            f"{settled}; {presence_frames[0]} presence frames meanwhile",
            "per process: "
            + ", ".join(
                f"{frames[n]} frames {cpu[n]:.1f} s cpu {cpu[n] * 1e6 / max(1, frames[n]):.0f} µs/frame"
                for n in range(processes)
            ),
            f"{statistics.mean(per_socket):.1f} KB per socket",
            "2 redis shards",
        ]
        for result in results.values():
            result.cpu_us_per_delivery = overall.cpu_us_per_delivery
        await asyncio.gather(
            *(ws.close() for ws in [*public_ws, *private_ws, *dashboard_ws, *presence_ws]), return_exceptions=True
        )
        return [overall, *results.values()]


async def presence_settled(sockets: list, online: int, frames: list[int]) -> str:
    """Until every presence socket shows `online` users online; keeps counting their frames after.
    What the pages show then, most common first."""
    shown = [0] * len(sockets)
    everyone = asyncio.Event()

    async def read(n: int, ws) -> None:
        with contextlib.suppress(Exception):
            async for frame in ws:
                frames[0] += 1
                for value in ONLINE_COUNT.findall(frame):
                    shown[n] = int(value)
                if shown.count(online) == len(sockets):
                    everyone.set()

    # Kept by the sockets' own lifetime: they end when the sockets close.
    READERS.extend(asyncio.create_task(read(n, ws)) for n, ws in enumerate(sockets))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(everyone.wait(), timeout=WAIT_SECONDS)
    shows = ", ".join(f"{count} pages show {value}" for value, count in Counter(shown).most_common(3))
    return f"presence {'settled' if everyone.is_set() else 'NOT settled'} ({shows} online of {online})"


READERS: list[asyncio.Task] = []


async def scale_floor(frames_per_second: float) -> Result:
    """The raw floor at the scale scenario's total frame rate, over as many processes and sockets."""
    processes, sockets_total = SCALE_PROCESSES, SCALE_PUBLIC + 2 * SCALE_PRIVATE_ROOMS + SCALE_DASHBOARDS
    sockets_total += SCALE_PRESENCE
    per_process = sockets_total // processes
    messages = max(1, round(frames_per_second * SCALE_SECONDS / (per_process * processes)))
    with Server("raw", "-", processes) as server:
        sockets = await open_sockets(server, "/", None, per_process * processes)
        result = Result("raw", "-", "scale: all", len(sockets), messages * processes, len(sockets) * messages)
        receivers = Receivers(sockets, result.expected, ports=processes)

        async def send(n: int) -> None:
            # One broadcast per process: its sockets are n, n + processes, ...
            for first in range(processes):
                await sockets[first].send(floor_frame(n))

        result.messages = messages
        await measure(server, result, receivers, send, messages / SCALE_SECONDS)
        result.notes.append(f"{processes} processes, {messages} broadcasts each")
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
    # A member who reads nothing: every message of the room is unread to them.
    reader = User.objects.create_user("page-reader")
    room = rooms.room_create_group(creator=owner, name=f"flat-{uuid.uuid4().hex[:6]}")
    rooms.room_set_members(room=room, members=[owner, reader])

    def add_messages(count: int) -> None:
        Message.objects.bulk_create((Message(room=room, author=owner, body=f"m{n}") for n in range(count)), 5000)

    def add_orders(count: int) -> None:
        base = dict(
            game="lol", price=10, booster_price=7, current_rank="silver", current_division=2, desired_rank="gold",
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

    owner_client, staff_client, reader_client = Client(), Client(), Client()
    owner_client.force_login(owner)
    staff_client.force_login(staff)
    reader_client.force_login(reader)
    pages = [
        (owner_client, f"/chat/{room.name}/", "room page"),
        (reader_client, f"/chat/{room.name}/", "room page, unread"),
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
    floors = {(r.server, r.scenario): r for r in results if r.server.startswith("raw")}
    lines = [
        f"{'server':16} {'layer':6} {'scenario':30} {'delivered':>13} {'dup':>4} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'cpu µs':>7} {'loop µs':>7} {'B/frame':>7} {'vs seeds':>8} {'vs floor':>8} {'loop/floor':>10} "
        f"{'p99/floor':>9} {'peak MB':>8}"
    ]
    for r in results:
        seeds = refs.get(("seeds", r.layer, r.scenario))
        scenario = "scale: all" if r.scenario.startswith("scale") else r.scenario
        floor = floors.get((FLOOR.get(r.server, "raw"), scenario))
        vs_seeds = f"{r.cpu_us_per_delivery / seeds.cpu_us_per_delivery:.2f}x" if seeds and r.messages else ""
        vs_floor = loop_floor = p99_floor = ""
        loop_us = f"{r.loop_us_per_delivery:.1f}" if r.loop_us_per_delivery else ""
        if floor and floor is not r and floor.cpu_us_per_delivery and floor.p99_ms:
            vs_floor = f"{r.cpu_us_per_delivery / floor.cpu_us_per_delivery:.2f}x"
            if r.loop_us_per_delivery:
                loop_floor = f"{r.loop_us_per_delivery / floor.cpu_us_per_delivery:.2f}x"
            p99_floor = f"{r.p99_ms / floor.p99_ms:.2f}x"
        lines.append(
            f"{r.server:16} {r.layer:6} {r.scenario:30} {f'{r.delivered}/{r.expected}':>13} {r.duplicates:4} "
            f"{r.p50_ms:8.1f} {r.p99_ms:8.1f} {r.cpu_us_per_delivery:7.1f} {loop_us:>7} "
            f"{r.wire_bytes_per_frame:7.0f} {vs_seeds:>8} {vs_floor:>8} {loop_floor:>10} {p99_floor:>9} "
            f"{r.peak_rss_mb:8.1f}  {'; '.join(r.notes)}"
        )
    return "\n".join(lines)


def only(name: str) -> bool:
    """BENCH_ONLY=chat,orders runs just those groups of scenarios (for development)."""
    wanted = os.environ.get("BENCH_ONLY")
    return not wanted or name in wanted.split(",")


async def run_all(db: Database, people: Scale, staff_cookies: list[str]) -> tuple[list[Result], list[str]]:
    cookies = people.cookies
    layers = ["memory", "redis"] if os.environ.get("REDIS_URL") else ["memory"]
    results: list[Result] = []
    chat_servers = [*OURS, *(["seeds"] if WITH_SEEDS else [])]

    def log(result: Result) -> None:
        results.append(result)
        print(
            f"  {result.server} {result.layer} {result.scenario}: {result.delivered}/{result.expected} "
            f"(load {loadavg()})",
            flush=True,
        )

    if only("chat"):
        for scenario in ("room steady 20/s", "burst"):
            for floor in ("raw", "raw+deflate"):
                log(await chat(floor, "-", cookies, scenario))
        for layer in layers:
            for scenario in ("room steady 20/s", "burst"):
                for name in chat_servers:
                    log(await chat(name, layer, cookies, scenario))
            if layer == "redis":
                log(await chat("uvicorn", layer, cookies, "room steady 20/s x2 processes", processes=2))
    if only("orders"):
        for layer in layers:
            ours = await order_cards("uvicorn", layer, db, staff_cookies, 0)
            log(ours)
            if layer == layers[0]:
                log(await order_cards("daphne", layer, db, staff_cookies, 0))
                size = int(ours.notes[-1].split()[1])
                log(await order_cards("raw", "-", db, staff_cookies, size))
            if WITH_SEEDS:
                log(await order_cards("seeds", layer, db, staff_cookies, 0))
    if only("presence"):
        for layer in layers:
            log(await presence_storm(layer, cookies[:STORM_SOCKETS]))
    if only("idle"):
        log(await idle(cookies[:IDLE_SOCKETS]))
    if only("scale") and "redis" in layers:
        with RedisShard() as shard:
            for result in await scale(people, shard):
                log(result)
        total = next(r for r in results if r.scenario.startswith("scale: all"))
        log(await scale_floor(total.expected / SCALE_SECONDS))
    pages = await asyncio.to_thread(pages_flat) if only("pages") else []
    return results, pages


def main() -> None:
    # 10,000 sockets need as many descriptors here and in the servers started from here.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    started_load = loadavg()
    db = Database()
    users = db.users(max(STEADY_SOCKETS, BURST_SOCKETS, IDLE_SOCKETS, STORM_SOCKETS, SCALE_PUBLIC) + 1)
    staff_cookies = db.cookies(db.users(max(ORDER_SOCKETS, SCALE_DASHBOARDS) + 1, staff=True))
    order_id, booster = db.order_in_play()
    FRAGMENT.append(db.message_fragment(users[0]))
    people = Scale(
        cookies=db.cookies(users),
        rooms=db.private_rooms(users[: 2 * SCALE_PRIVATE_ROOMS]),
        staff_cookies=staff_cookies[:SCALE_DASHBOARDS],
        order_id=order_id,
        booster_cookie=db.cookies([booster])[0],
    )
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        results, pages = runner(run_all(db, people, staff_cookies))
    finally:
        db.drop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    layers = "memory+redis" if os.environ.get("REDIS_URL") else "memory"
    out = RESULTS / f"{time.strftime('%Y%m%d-%H%M%S')}-{layers}.json"
    load = f"database {db.kind}; load average {started_load} before, {loadavg()} after"
    out.write_text(
        json.dumps({"layers": layers, "load": load, "results": [asdict(r) for r in results], "pages": pages}, indent=1)
    )
    print()
    print(table(results))
    print()
    print("\n".join(pages))
    print(f"\n{load}\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
