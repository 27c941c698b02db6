"""Request bodies cannot make a server process hold them, against a live server
started as `make run` starts it.

Anonymous 150 MB multipart POSTs, with a Content-Length and streamed without
one, to the login page and to an upload endpoint: each is refused with 413, the
process's peak resident memory (VmHWM) grows by less than UPLOAD_MAX_BYTES, and
the server goes on answering. Daphne took 60 MB of the same from 83 MB to an
801 MB peak.
"""

from __future__ import annotations

import socket
import uuid

import pytest

from tests.browser import harness
from uploads import limits

BODY_BYTES = 150 * 1024 * 1024
UPLOAD_MAX_BYTES = 10 * 1024 * 1024
CHUNK = b"x" * (256 * 1024)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with harness.embedded_server(
        tmp_path_factory.mktemp("body-memory"), UPLOAD_MAX_BYTES=str(UPLOAD_MAX_BYTES)
    ) as live:
        yield live


def peak_rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status").read().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for {pid}")


def post_multipart(port: int, path: str, *, chunked: bool) -> int | None:
    """Send a BODY_BYTES multipart POST; the status the server answered, if it got one out."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    filler = BODY_BYTES - len(head) - len(tail)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {BODY_BYTES}"
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {harness.HOST}:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n{framing}\r\nConnection: close\r\n\r\n"
    ).encode()

    def piece(data: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(data), data) if chunked else data

    with socket.create_connection((harness.HOST, port), timeout=30) as connection:
        try:
            connection.sendall(request + piece(head))
            for _ in range(filler // len(CHUNK)):
                connection.sendall(piece(CHUNK))
            connection.sendall(piece(b"x" * (filler % len(CHUNK)) + tail) + (b"0\r\n\r\n" if chunked else b""))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and hung up before taking it all: what we want
        try:
            answer = connection.recv(4096)
        except (ConnectionResetError, TimeoutError):
            return None
    return int(answer.split()[1]) if answer.startswith(b"HTTP/1.1 ") else None


@pytest.mark.parametrize(
    ("path", "chunked"),
    [("/accounts/login/", False), ("/accounts/login/", True), ("/chat/upload/public-chat/", True)],
)
def test_a_150_mb_multipart_post_leaves_peak_memory_within_upload_max_bytes(server, path, chunked):
    harness.Server.health_status(server)
    before = peak_rss_mb(server.process.pid)

    status = post_multipart(server.port, path, chunked=chunked)

    after = peak_rss_mb(server.process.pid)
    print(f"{path} chunked={chunked}: {status}, peak {before:.1f} -> {after:.1f} MB")
    assert status in (413, None)
    assert (after - before) * 1024 * 1024 < UPLOAD_MAX_BYTES, (before, after)
    assert server.health_status() == 200


def test_other_paths_allow_the_largest_form_django_accepts(settings):
    settings.UPLOAD_MAX_BYTES = 1000
    assert limits.body_cap("/chat/upload/squad/") == 1000 + 64 * 1024
    assert limits.body_cap("/accounts/login/") == settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 64 * 1024
