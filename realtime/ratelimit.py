"""Rate limits in the cache (Redis when configured, so every process shares the
counts). A window opens at a key's first hit and lasts `window` seconds, so a
burst cannot straddle a clock boundary and get twice the budget."""

from __future__ import annotations

from django.core.cache import cache


def allow(key: str, *, limit: int, window: float) -> bool:
    """Count one hit for `key`; False once more than `limit` hits fall in its window."""
    cache_key = f"rl:{key}"
    timeout = max(1, int(window))
    count_hit = getattr(cache, "count_hit", None)
    if count_hit is not None:  # Redis (realtime.cache): one round trip
        return count_hit(cache_key, timeout=timeout) <= limit
    if cache.add(cache_key, 1, timeout=timeout):
        return True
    try:
        count = cache.incr(cache_key)
    except ValueError:  # the window closed between add and incr
        cache.add(cache_key, 1, timeout=timeout)
        count = 1
    return count <= limit
