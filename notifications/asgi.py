"""ASGI middleware that starts the process's notification loop with the first
request or socket it serves (daphne has no lifespan events to start it from)."""

from __future__ import annotations

from typing import Any

from notifications.notifier import ensure_notifier


class NotifierStarter:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        if scope["type"] in ("http", "websocket"):
            ensure_notifier()
        return await self.app(scope, receive, send)
