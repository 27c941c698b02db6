"""Log filters shared by every handler."""

from __future__ import annotations

import logging
import re

_SECRET_QUERY = re.compile(r"((?:token|access_token|session)=)[^&\s\"']+", re.IGNORECASE)


def redact(text: str) -> str:
    return _SECRET_QUERY.sub(r"\1[redacted]", text)


def socket_url(scope) -> str:
    """A socket's path and query string for a log line, `token=` already redacted
    (the handlers' filter would catch it too; this keeps it out of every record)."""
    query = scope.get("query_string", b"").decode("latin-1")
    return redact(scope.get("path", "") + (f"?{query}" if query else ""))


class RedactSecretsFilter(logging.Filter):
    """Strips `token=` values from log lines so a leaked log grants nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
