"""Pushes that leave after the transaction commits and can never undo it.

A push scheduled with `transaction.on_commit` runs once the change is stored. If
it raised there (Redis away), the error would reach the caller of an action that
did succeed: a chat send would be reported as failed although its message is
stored, and the sender's retry would then be taken for a repeat. Django's own
`robust=True` is not enough on its own: it logs with `func.__qualname__`, which a
`functools.partial` lacks, so the logging itself raised. Every push therefore goes
through `after_commit`, which catches and logs whatever the push raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, transaction

logger = logging.getLogger("boostroom.realtime")


class _Push:
    def __init__(self, func: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        self.func, self.args, self.kwargs = func, args, kwargs
        name = getattr(func, "__qualname__", None) or type(func).__qualname__
        self.__qualname__ = f"after_commit({getattr(func, '__module__', '')}.{name})"

    def __call__(self) -> None:
        try:
            self.func(*self.args, **self.kwargs)
        except Exception:
            # The change is committed; those who missed the push catch up (chat
            # sockets resume, pages resync).
            logger.warning("%s failed", self.__qualname__, exc_info=True)


def after_commit(func: Callable[..., Any], /, *args: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """Call `func(*args, **kwargs)` after the current transaction commits (at once
    outside one); a failure is logged, never raised to the action's caller."""
    transaction.on_commit(_Push(func, args, kwargs), using=using, robust=True)
