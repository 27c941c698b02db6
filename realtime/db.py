"""The sockets' way into sync code (the ORM, templates)."""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from channels.db import DatabaseSyncToAsync

P = ParamSpec("P")
R = TypeVar("R")


def db_sync_to_async(func: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """Channels' `database_sync_to_async`, except that context variables the sync
    side sets stay there.

    asgiref copies every context variable back into the awaiting task after
    each call, re-homing each `Local`'s storage onto it, so every socket's task
    would keep a private copy of them all: about 2 KB of every idle socket.
    Nothing a socket awaits relies on a variable set in the thread.
    """

    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        # A fresh wrapper per call: a context may be entered by one thread at a time.
        return await DatabaseSyncToAsync(func, context=contextvars.copy_context())(*args, **kwargs)

    return call
