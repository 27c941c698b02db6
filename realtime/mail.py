"""Email that never breaks the action that sent it."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail

logger = logging.getLogger(__name__)


def send_mail_safely(*, subject: str, body: str, recipients: Iterable[str]) -> bool:
    """Send a plain email; an SMTP failure is logged and reported as False."""
    to = [address for address in recipients if address]
    if not to:
        return False
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to, fail_silently=False)
        return True
    except Exception:
        logger.warning("email %r to %d recipient(s) failed", subject, len(to), exc_info=True)
        return False
