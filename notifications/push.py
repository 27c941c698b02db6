"""Web Push at its one boundary: an encrypted POST to the browser vendor's
push service (pywebpush does the VAPID signing and the encryption)."""

from __future__ import annotations

import json
import logging

from django.conf import settings

from notifications.models import PushSubscription

logger = logging.getLogger("boostroom.notifications")

# The push service keeps an undelivered notification this long, seconds.
PUSH_TTL = 3600
# The push service says this subscription is gone: forget it.
GONE = (404, 410)


def configured() -> bool:
    return bool(settings.WEBPUSH_VAPID_PUBLIC_KEY and settings.WEBPUSH_VAPID_PRIVATE_KEY)


def send(subscription: PushSubscription, payload: dict) -> int | None:
    """Deliver one notification; the push service's status, or None if it could not be reached."""
    from pywebpush import WebPushException, webpush

    try:
        response = webpush(
            subscription_info=subscription.subscription_info(),
            data=json.dumps(payload),
            vapid_private_key=settings.WEBPUSH_VAPID_PRIVATE_KEY,
            vapid_claims={"sub": settings.WEBPUSH_VAPID_SUBJECT},
            timeout=10,
            ttl=PUSH_TTL,
        )
    except WebPushException as error:
        status = error.response.status_code if error.response is not None else None
        logger.warning("web push to subscription %s failed with %s", subscription.pk, status)
        return status
    except Exception:
        logger.warning("web push to subscription %s failed", subscription.pk, exc_info=True)
        return None
    return response.status_code
