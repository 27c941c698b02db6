"""The production server's WebSocket protocol: uvicorn's, with one extension.

The hub hands the same text to every socket of a group, but an ASGI `send`
takes it one socket at a time: the server encodes it, frames it and passes it
through an awaited call for each. That was a fifth of the CPU of a delivery. A
socket served by this protocol finds `scope["extensions"][SEND_NOW]`, a callable
that writes a text frame at once, without awaiting, from bytes encoded and
framed once for all the sockets that get the same text. It returns False when
it cannot write now: before the handshake or after a close, while the
transport is over its high-water mark, or when the socket negotiated an
extension (per-message deflate frames differ per socket). The caller then uses
the ASGI `send`, which waits as it always did, so back-pressure and the order
of frames are as without it.

Started with `--ws realtime.server:WebSocketProtocol` (the Makefile's
SERVER_FLAGS). This module is imported by uvicorn before Django is set up, so
it imports nothing of Django's.
"""

from __future__ import annotations

from functools import lru_cache

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State

SEND_NOW = "boostroom.websocket.send_now"


@lru_cache(maxsize=16)
def _text_frame(text: str) -> bytes:
    # A server's frames are never masked (RFC 6455, 5.1).
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # The app's task is created above but has not run: it sees the key.
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][SEND_NOW] = self.send_now

    def send_now(self, text: str) -> bool:
        """Write one text frame now if nothing stands in the way; False otherwise."""
        # Plain attributes first, calls last: every socket of a group runs this per event.
        conn = self.conn
        if (
            self.close_sent
            or self.disconnected
            or not self.handshake_complete
            or self.initial_response is not None
            or conn.extensions
            or not self.writable.is_set()
            or conn.state is not State.OPEN
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(_text_frame(text))
        return True
