"""The offline-notification loop inside each server process.

Started lazily per event loop, like presence's tracker, by the first request or
socket a process serves (notifications.asgi), so `make run` needs nothing else
running. Every process runs one; the Digest claim makes each email go once.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from channels.db import database_sync_to_async
from django.conf import settings

logger = logging.getLogger("boostroom.notifications")


class Notifier:
    def __init__(self, *, interval: float) -> None:
        self.interval = interval
        self.runs = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        from notifications.services import notifications_send_due

        # Its own thread, not the shared one every consumer's database call
        # queues on: an SMTP server taking seconds must not hold up chat.
        send_due = database_sync_to_async(notifications_send_due, thread_sensitive=False)
        while True:
            await asyncio.sleep(self.interval)
            try:
                await send_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("sending due notifications failed; trying again later", exc_info=True)
            self.runs += 1

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None


_notifiers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Notifier] = weakref.WeakKeyDictionary()


def ensure_notifier() -> Notifier | None:
    """The running loop's notifier, started; None when NOTIFICATION_POLL_SECONDS is 0 (cron only)."""
    if settings.NOTIFICATION_POLL_SECONDS <= 0:
        return None
    loop = asyncio.get_running_loop()
    notifier = _notifiers.get(loop)
    if notifier is None:
        notifier = _notifiers[loop] = Notifier(interval=float(settings.NOTIFICATION_POLL_SECONDS))
        notifier.start()
    return notifier


def reset_notifiers() -> None:
    for notifier in list(_notifiers.values()):
        try:
            notifier.stop()
        except RuntimeError:  # its loop is already closed
            pass
    _notifiers.clear()
