"""The floor: a raw `websockets` broadcast server (no Django, no Channels).

Every text frame a client sends is written to every connected client. Per-message
deflate is off unless the second argument is `deflate`: the floor must pay for
compression exactly when the server it is compared with does.
"""

from __future__ import annotations

import asyncio
import sys

import websockets

clients: set = set()


async def handler(socket) -> None:
    clients.add(socket)
    try:
        async for frame in socket:
            websockets.broadcast(clients, frame)
    finally:
        clients.discard(socket)


async def main(port: int, compression: str | None) -> None:
    async with websockets.serve(handler, "127.0.0.1", port, max_size=2**20, compression=compression):
        await asyncio.Future()


if __name__ == "__main__":
    deflate = len(sys.argv) > 2 and sys.argv[2] == "deflate"
    asyncio.run(main(int(sys.argv[1]), "deflate" if deflate else None))
