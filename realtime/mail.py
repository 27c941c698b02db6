"""Email that never breaks the action that sent it, and links that work from a mailbox."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


def absolute_url(path: str) -> str:
    """`path` on the site as a mail reader reaches it: a mail has no page to be relative to."""
    return settings.SITE_URL + path


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


def send_template_mail_safely(*, template: str, context: dict, recipients: Iterable[str]) -> bool:
    """Send `<template>_subject.txt` and `<template>_message.txt`, rendered with
    `context` plus `site_url` and `site_name`, like `send_mail_safely`."""
    context = {**context, "site_url": settings.SITE_URL, "site_name": settings.SITE_NAME}
    subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
    body = render_to_string(f"{template}_message.txt", context)
    return send_mail_safely(subject=subject, body=body, recipients=recipients)
