import logging

from config.logging import RedactSecretsFilter, redact


def test_redact_removes_token_values():
    line = "GET /ws/chatroom/x/?token=abc.def.ghi&after=3 HTTP/1.1"
    assert redact(line) == "GET /ws/chatroom/x/?token=[redacted]&after=3 HTTP/1.1"


def test_filter_rewrites_formatted_record():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "connect %s", ("/ws/?token=secret",), None)
    assert RedactSecretsFilter().filter(record)
    assert "secret" not in record.getMessage()
