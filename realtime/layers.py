"""The channel layer of a single process (`make run`, the embedded tests)."""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer

SWEEP_SECONDS = 1.0


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    """Channels' in-memory layer, sweeping expired messages and memberships at
    most once a second. Channels sweeps on every send and receive, walking every
    group membership of the process; with a group per signed-in user that sweep
    was a twentieth of the CPU of a chat delivery. Messages expire after a
    minute, so a second late changes nothing a socket sees."""

    _swept = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._swept >= SWEEP_SECONDS:
            self._swept = now
            super()._clean_expired()
