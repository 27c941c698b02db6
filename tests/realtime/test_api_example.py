"""docs/api.md against a live server: the runnable example runs as printed, the
server's frame limit behaves as documented, and with LOG_DIR set the socket log
is written with tokens redacted.

One server process, started the way `make run` starts it (the Makefile's
server and flags, frame limit included), on a free loopback port with a fresh SQLite database
and the demo data. The processes come from tests/browser/harness.py, which
needs no browser.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import websockets
from websockets.sync.client import connect

from tests.browser import harness, traffic

ROOT = harness.ROOT
EXAMPLE_SECONDS = 60


def documented_example() -> str:
    text = (ROOT / "docs" / "api.md").read_text()
    section = text.split("## 5. A runnable example", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def makefile_ws_max() -> int:
    return int(harness.makefile_value("WS_MAX"))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("api-example")
    log_dir = workdir / "logs" / "not-yet-there"
    with harness.embedded_server(workdir, seed=True, LOG_DIR=str(log_dir), LOG_LEVEL="INFO") as server:
        yield server, log_dir


def host_of(server) -> str:
    return f"{harness.HOST}:{server.port}"


def token_for(server) -> str:
    return traffic.token_for(server.url, "alice", "boostroom-demo")


def run_example(server) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", documented_example()],
        env={**os.environ, "BOOSTROOM_HOST": host_of(server)},
        capture_output=True,
        text=True,
        timeout=EXAMPLE_SECONDS,
    )


def test_the_documented_example_runs_and_stores_its_message_once(site):
    server, _ = site
    first = run_example(server)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.splitlines()[-1] == "stored script-1"
    # Run again: the same client_id is a retry, acknowledged again and stored once.
    second = run_example(server)
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.splitlines()[-1] == "stored script-1"
    assert re.search(r"^messages \d+", second.stdout, re.M), "the resume brought the history"

    request = urllib.request.Request(
        f"{server.url}/api/chat/messages/?limit=100", headers={"Authorization": f"Bearer {token_for(server)}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        bodies = [message["body"] for message in json.load(response)["messages"]]
    assert bodies.count("hello from a script") == 1


def test_frames_over_the_server_limit_close_the_connection_with_1009(site):
    server, _ = site
    url = f"ws://{host_of(server)}/ws/chatroom/public-chat/?token={token_for(server)}"
    with connect(url, open_timeout=10) as socket:
        # 80 KB of UTF-8 in 40,000 characters: under the server's limit, over the chat socket's.
        socket.send("é" * 40_000)
        assert "That message is too large." in socket.recv(timeout=5)
        socket.send("x" * (makefile_ws_max() + 1))
        with pytest.raises(websockets.ConnectionClosedError) as closed:
            socket.recv(timeout=5)
    # The server refuses the frame itself, with a close frame: 1009 "message too big".
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_log_dir_is_created_and_realtime_log_redacts_tokens(site):
    server, log_dir = site
    token = token_for(server)
    with connect(f"ws://{host_of(server)}/ws/orders/?format=json&token={token}", open_timeout=10) as socket:
        socket.send("{}")  # the order socket ignores it; the connect is what gets logged
    with pytest.raises(websockets.InvalidStatus) as refused:
        connect(f"ws://{host_of(server)}/ws/chatroom/public-chat/", origin="https://evil.example", open_timeout=10)
    assert refused.value.response.status_code == 403

    log = Path(log_dir / "realtime.log").read_text()
    assert token not in log
    assert re.search(r"ws connect url=/ws/orders/\?format=json&token=\[redacted\] user=\d+", log), log[-2000:]
    assert "ws refused before accept url=/ws/chatroom/public-chat/ reason=origin origin='https://evil.example'" in log
    assert not re.search(r"token=(?!\[redacted\])", log)
