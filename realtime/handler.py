"""Django's ASGI handler, with a request's middleware and view in one thread call,
on a thread (and database connection) that outlives the request.

Under ASGI, Django loads the middleware in async mode: an async-capable
`MiddlewareMixin` next to the view (CSP's) runs each of its hooks through a
thread hop of its own, and a sync-only one (two of ours) needs a hop back, so a
request crossed between the event loop and a worker thread several times.
Every page and form here is sync code on a database connection, so the whole
chain runs as it would under WSGI, in one hop from the loop: about 1 ms (7–8%)
less server CPU for a progress report over HTTP, in interleaved pairs with
Django's own handler. ServeStatic's middleware is async-only: it is asked only
about static paths (realtime.middleware.StaticFilesMiddleware), so no other
request leaves its thread. Django's `get_asgi_application` returns its handler
unchanged; this is that handler with the chain loaded in sync mode.

Django's handler also starts a thread for every request, and the thread's
database connection ends with it, so `CONN_MAX_AGE` never reached a request: each
one paid for a thread and a connection. Here a request runs on one of
`REQUEST_THREADS` threads kept for the process, and their connections live as
`CONN_MAX_AGE` says (Django checks them as each request starts and ends). Past
that many requests in flight, a request gets a thread of its own, as under
Django's handler, and its connection is closed with it: a slow request never
makes another wait, and the connections a process keeps stay counted.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.db import connections
from django.http import HttpRequest, HttpResponseBase


class SyncChainASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        # Threads with no request now, each able to run one at a time.
        self._idle_threads = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="request") for _ in range(settings.REQUEST_THREADS)
        ]

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        if self._idle_threads:
            thread = self._idle_threads.pop()
            try:
                # Every thread-sensitive call of the request (its signals, the
                # chain, the response's close) runs on this thread.
                async with ThreadSensitiveContext(executor=thread):
                    await self.handle(scope, receive, send)
            finally:
                self._idle_threads.append(thread)
            return
        async with ThreadSensitiveContext():
            try:
                await self.handle(scope, receive, send)
            finally:
                # This thread ends with the request: so does its connection.
                await sync_to_async(connections.close_all)()

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
