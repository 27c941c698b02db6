import logging

import pytest
from channels.testing import WebsocketCommunicator

from config.asgi import application
from realtime.logging import RedactSecretsFilter, redact, socket_url
from tests.conftest import expect_close


def test_redact_removes_token_values():
    line = "GET /ws/chatroom/x/?token=abc.def.ghi&after=3 HTTP/1.1"
    assert redact(line) == "GET /ws/chatroom/x/?token=[redacted]&after=3 HTTP/1.1"


def test_filter_rewrites_formatted_record():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "connect %s", ("/ws/?token=secret",), None)
    assert RedactSecretsFilter().filter(record)
    assert "secret" not in record.getMessage()


def test_socket_url_keeps_the_query_but_not_the_token():
    scope = {"path": "/ws/orders/", "query_string": b"format=json&token=abc.def"}
    assert socket_url(scope) == "/ws/orders/?format=json&token=[redacted]"
    assert socket_url({"path": "/ws/online-status/", "query_string": b""}) == "/ws/online-status/"


def _refusals(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "boostroom.realtime" and "refused" in r.getMessage()]


async def test_foreign_origin_refusal_is_logged_before_any_consumer(caplog):
    caplog.set_level(logging.INFO, logger="boostroom.realtime")
    socket = WebsocketCommunicator(
        application, "/ws/chatroom/public-chat/", headers=[(b"origin", b"https://evil.example")]
    )
    assert (await socket.connect())[0] is False
    socket = WebsocketCommunicator(application, "/ws/online-status/")  # no Origin, no token
    assert (await socket.connect())[0] is False
    assert _refusals(caplog) == [
        "ws refused before accept url=/ws/chatroom/public-chat/ reason=origin origin='https://evil.example'",
        "ws refused before accept url=/ws/online-status/ reason=origin origin=None",
    ]


async def test_oversize_token_refusal_is_logged_without_the_token(caplog):
    caplog.set_level(logging.INFO, logger="boostroom.realtime")
    token = "t" * 600
    socket = WebsocketCommunicator(application, f"/ws/orders/?token={token}&format=json")
    assert (await socket.connect())[0] is False
    (line,) = _refusals(caplog)
    assert line == "ws refused before accept url=/ws/orders/?token=[redacted]&format=json reason=token-too-long"


@pytest.mark.django_db(transaction=True)
async def test_invalid_token_refusal_is_logged_with_its_close_code(caplog):
    caplog.set_level(logging.INFO, logger="boostroom.realtime")
    await expect_close(WebsocketCommunicator(application, "/ws/orders/?token=forged.token"), 4003)
    assert _refusals(caplog) == ["ws refused url=/ws/orders/?token=[redacted] code=4003"]
