"""Fixed-window rate limits in the cache (Redis when configured, so every
process shares the counts)."""

from __future__ import annotations

import time

from django.core.cache import cache


def allow(key: str, *, limit: int, window: float) -> bool:
    """Count one hit for `key`; False once more than `limit` hits fall in this window."""
    bucket = int(time.time() // window)
    cache_key = f"rl:{key}:{bucket}"
    if cache.add(cache_key, 1, timeout=int(window) + 1):
        return True
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=int(window) + 1)
        count = 1
    return count <= limit
