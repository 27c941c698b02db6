"""One shared object per key, made on first use.

A server process runs one event loop, and what serves all of its sockets (the
fan-out hub, the presence tracker) belongs to that loop: asyncio tasks, locks and
asyncio Redis clients cannot cross loops. Tests run a fresh loop per test and
reset in between. Page renders, in worker threads, share one presence store per
configuration instead, so the same helper is keyed on the settings there.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(
        self,
        make: Callable[[], T],
        *,
        key: Callable[[], Hashable],
        stop: Callable[[T], object] | None = None,
        weak_keys: bool = False,
    ) -> None:
        self._make = make
        self._key = key
        self._stop = stop
        self._weak_keys = weak_keys
        # Worker threads (page renders) ask at the same time; one object per key.
        self._lock = threading.Lock()
        self._items = self._empty()

    def _empty(self) -> dict:
        # A loop that is gone must not be kept alive by its objects' registry entry.
        return weakref.WeakKeyDictionary() if self._weak_keys else {}

    def get(self) -> T:
        key = self._key()
        with self._lock:
            item = self._items.get(key)
            if item is None:
                item = self._items[key] = self._make()
            return item

    def reset(self) -> None:
        """Stop and forget every object; the next `get()` makes a new one."""
        with self._lock:
            items, self._items = list(self._items.values()), self._empty()
        if self._stop is None:
            return
        for item in items:
            try:
                self._stop(item)
            except RuntimeError:  # its event loop is closed already: nothing left running
                pass


def per_event_loop(make: Callable[[], T], *, stop: Callable[[T], object] | None = None) -> Registry[T]:
    """One object per running event loop (call `get()` from inside the loop)."""
    return Registry(make, key=asyncio.get_running_loop, stop=stop, weak_keys=True)
