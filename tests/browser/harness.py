"""Processes the browser tests run: ASGI servers, a private redis-server, a TCP
proxy that can cut a connection, and the throwaway database they share.

Everything listens on loopback only, every wait is bounded, and every process
started here is registered so teardown (or interpreter exit) kills it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
PASSWORD = "browser-Test-pass-4182"
STARTUP_SECONDS = 60
TASK_SECONDS = 120

_started: list[subprocess.Popen] = []


def _kill_leftovers() -> None:
    for process in _started:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)


atexit.register(_kill_leftovers)


def spawn(args: list[str], *, env: dict[str, str] | None = None, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    _started.append(process)
    return process


def stop_process(process: subprocess.Popen | None, *, kill: bool = False, timeout: float = 10) -> None:
    """SIGTERM (or SIGKILL), then SIGKILL after `timeout`; always reaps."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# DATABASE


class Database:
    """A fresh database for the servers: an SQLite file, or a uniquely named
    PostgreSQL database on the server of DATABASE_URL, dropped afterwards."""

    def __init__(self, workdir: Path) -> None:
        base = os.environ.get("DATABASE_URL", "")
        self.admin_url: str | None = None
        self.name: str | None = None
        if base.startswith(("postgres://", "postgresql://")):
            import psycopg

            self.name = f"boostroom_browser_{uuid.uuid4().hex[:12]}"
            self.admin_url = base
            with psycopg.connect(base, autocommit=True, connect_timeout=10) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
            parts = urlsplit(base)
            self.url = urlunsplit(parts._replace(path=f"/{self.name}"))
            self.port = parts.port or 5432
            self.host = parts.hostname or HOST
        else:
            self.url = f"sqlite:///{workdir / 'browser.sqlite3'}"

    @property
    def is_postgres(self) -> bool:
        return self.name is not None

    def url_via(self, port: int) -> str:
        """This database reached through another port on loopback (a proxy)."""
        parts = urlsplit(self.url)
        auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(parts._replace(netloc=f"{auth}{HOST}:{port}"))

    def drop(self) -> None:
        if not self.is_postgres:
            return
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


# SERVERS


def server_env(*, database_url: str, redis_url: str, redis_prefix: str, media_root: Path, **extra: str) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "REDIS_PREFIX", "CLOUDINARY_URL", "MEDIA_ROOT", "LOG_DIR"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DEBUG="1",
        DATABASE_URL=database_url,
        REDIS_PREFIX=redis_prefix,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        MEDIA_ROOT=str(media_root),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        # Fault tests send bursts; the limit itself has its own tests.
        CHAT_RATE_LIMIT="1000",
        # Pages fetch static/ from these servers (tests/settings.py).
        SERVESTATIC_USE_FINDERS="1",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


def run_manage(env: dict, *args: str, log: Path) -> None:
    with open(log, "ab") as out:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=TASK_SECONDS,
        )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{tail(log)}")


def run_task(env: dict, task: str, **arguments) -> object:
    """Run tests/browser/tasks.py against the servers' database; its JSON result."""
    from tests.browser.tasks import RESULT_PREFIX

    result = subprocess.run(
        [sys.executable, "-m", "tests.browser.tasks"],
        cwd=ROOT,
        env=env,
        input=json.dumps({"task": task, **arguments}),
        capture_output=True,
        text=True,
        timeout=TASK_SECONDS,
    )
    for line in result.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    raise RuntimeError(f"task {task} failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")


def makefile_value(name: str) -> str:
    """A `NAME := value` line of the Makefile, with `$(VAR)`s of other such lines expanded."""
    text = (ROOT / "Makefile").read_text()
    value = re.search(rf"^{name} := (.*)$", text, re.M).group(1)
    return re.sub(r"\$\((\w+)\)", lambda var: makefile_value(var.group(1)), value)


def server_args(port: int, app: str = "config.asgi:application") -> list[str]:
    """The production server as `make run` starts it, on a loopback port."""
    flags = makefile_value("SERVER_FLAGS").split()
    return [sys.executable, "-m", "uvicorn", app, "--host", HOST, "--port", str(port), *flags]


class Server:
    """One server process, started as `make run` starts it, serving config.asgi on a loopback port."""

    def __init__(self, *, env: dict, log: Path, port: int | None = None) -> None:
        self.env = env
        self.log = log
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        # A port picked here may be taken (by any process's outgoing connection)
        # before the server binds it; until it has answered once it may move.
        self.moves_left = 0 if port else 3

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> Server:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.process = spawn(server_args(self.port), env=self.env, log=self.log)
        return self

    def wait_healthy(self, timeout: float = STARTUP_SECONDS) -> Server:
        """Until /healthz answers 200 (database and channel layer answer)."""
        return self._wait(timeout, lambda status: status == 200)

    def wait_answering(self, timeout: float = STARTUP_SECONDS) -> Server:
        """Until /healthz answers at all. For restarts under open pages: with the
        Redis layer /healthz answers 503 while the process's fan-out hub is
        receiving (see test_faults.py::test_healthz_stays_ok_while_pages_are_open)."""
        return self._wait(timeout, lambda status: status in (200, 503))

    def _wait(self, timeout: float, good) -> Server:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                if self.moves_left and "address already in use" in tail(self.log, 5):
                    self.moves_left -= 1
                    self.port = free_port()
                    self.start()
                    continue
                raise RuntimeError(f"server on {self.port} exited ({self.process.returncode}):\n{tail(self.log)}")
            status = self.health_status()
            if status is not None and good(status):
                self.moves_left = 0
                return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"server on {self.port}: /healthz {status} after {timeout}s:\n{tail(self.log)}")
            time.sleep(0.1)

    def health_status(self, timeout: float = 5) -> int | None:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=timeout) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return None

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        stop_process(self.process)

    def kill(self) -> None:
        """kill -9: no shutdown, no disconnects, nothing flushed."""
        stop_process(self.process, kill=True)


@contextlib.contextmanager
def embedded_server(workdir: Path, *, seed: bool = False, **extra: str) -> Iterator[Server]:
    """One server with nothing beside it: its own SQLite file and no Redis,
    migrated (and seeded with the demo data if asked), with `extra` added to its
    environment; stopped afterwards, whatever happened."""
    env = server_env(
        database_url=f"sqlite:///{workdir / 'site.sqlite3'}",
        redis_url="",
        redis_prefix=workdir.name,
        media_root=workdir / "media",
        **extra,
    )
    run_manage(env, "migrate", "--noinput", log=workdir / "setup.log")
    if seed:
        run_manage(env, "seed_demo", log=workdir / "setup.log")
    server = Server(env=env, log=workdir / "server.log").start()
    try:
        yield server.wait_healthy()
    finally:
        server.stop()


def start_all(servers: list[Server]) -> None:
    """Start several servers at once (startup is mostly imports) and wait for all."""
    for server in servers:
        server.start()
    for server in servers:
        server.wait_healthy()


# REDIS


class RedisServer:
    """A private, non-persistent redis-server the fault tests may stop and restart
    (the machine's Redis is shared with other runs and is never touched)."""

    def __init__(self, *, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed; the fault tests start their own.")
        args = [binary, "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no"]
        self.process = spawn(args, log=self.log)
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start:\n{tail(self.log)}")
            time.sleep(0.05)

    def stop(self) -> None:
        stop_process(self.process, kill=True)


def redis_delete_prefix(url: str, prefix: str) -> None:
    """Remove what the servers left under their key prefix in a shared Redis."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


# TCP PROXY


class TcpProxy:
    """Forwards a loopback port to a target; `cut()` drops every connection and
    refuses new ones (the target "goes away"), `restore()` brings it back, and
    `switch_to()` sends new connections elsewhere (fail-over)."""

    def __init__(self, *, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._pairs: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, self.port))
        listener.listen(64)
        listener.settimeout(0.2)
        self._listener = listener
        self._stopping.clear()
        self._thread = threading.Thread(target=self._accept_loop, name=f"proxy-{self.port}", daemon=True)
        self._thread.start()
        return self

    def _accept_loop(self) -> None:
        listener = self._listener
        while not self._stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._stopping.is_set():
                    client.close()
                    upstream.close()
                    return
                self._pairs.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, first: socket.socket, second: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        try:
            for sock in (first, second):
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select(timeout=0.5):
                    source = key.fileobj
                    data = source.recv(65536)
                    if not data:
                        return
                    other = second if source is first else first
                    other.setblocking(True)
                    other.sendall(data)
                    other.setblocking(False)
                if self._stopping.is_set():
                    return
        except OSError:
            return
        finally:
            selector.close()
            for sock in (first, second):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
                with self._lock:
                    self._pairs.discard(sock)

    def switch_to(self, *, target_port: int, target_host: str = HOST) -> None:
        """New connections go to another target, as a load balancer does when a
        backend dies; connections already open stay where they are."""
        self.target = (target_host, target_port)

    def cut(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            pairs, self._pairs = list(self._pairs), set()
        for sock in pairs:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        self.start()

    close = cut
