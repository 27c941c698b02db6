"""The floor: a raw `websockets` broadcast server (no Django, no Channels).

Every text frame a client sends is written to every connected client.
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


async def main(port: int) -> None:
    async with websockets.serve(handler, "127.0.0.1", port, max_size=2**20):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
