"""The seeds' pattern, as a reference: a Channels consumer per connection joins
the group with its own layer channel, and on every event re-reads the row from
the database and renders the partial itself.

Run as `daphne bench.reference_channels:application` with the project settings.
"""

from __future__ import annotations

import json
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.db import database_sync_to_async  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.template.loader import render_to_string  # noqa: E402
from django.urls import path  # noqa: E402

from orders.broadcasts import render_card  # noqa: E402
from orders.models import Order  # noqa: E402
from orders.selectors import STAFF  # noqa: E402
from rooms.models import Message, Room  # noqa: E402


def _store(name: str, user, body: str) -> int:
    room = Room.objects.get(name=name)
    return Message.objects.create(room=room, author=user, body=body).pk


def _render(message_id: int) -> str:
    message = Message.objects.select_related("author").get(pk=message_id)
    html = render_to_string("rooms/room.html#message", {"message": message})
    return f'<div hx-swap-oob="beforeend:#messages">{html}</div>'


def _order_update(order_id: int, lp: int) -> None:
    order = Order.objects.get(pk=order_id)
    order.reached_points = lp
    order.save()


def _order_card(order_id: int) -> str:
    order = Order.objects.select_related("customer", "booster").get(pk=order_id)
    return render_card(order, STAFF)


class SeedsChatConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.room_name = self.scope["url_route"]["kwargs"]["name"]
        await self.channel_layer.group_add(f"chat_{self.room_name}", self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(f"chat_{self.room_name}", self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        body = json.loads(text_data)["body"]
        message_id = await database_sync_to_async(_store)(self.room_name, self.scope["user"], body)
        await self.channel_layer.group_send(f"chat_{self.room_name}", {"type": "chat.message", "id": message_id})

    async def chat_message(self, event: dict) -> None:
        await self.send(text_data=await database_sync_to_async(_render)(event["id"]))


class SeedsOrdersConsumer(AsyncWebsocketConsumer):
    """Seed 001's dashboard socket: every update re-read and rendered per connection."""

    async def connect(self) -> None:
        await self.channel_layer.group_add("orders", self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard("orders", self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        frame = json.loads(text_data)
        await database_sync_to_async(_order_update)(frame["order"], frame["lp"])
        await self.channel_layer.group_send("orders", {"type": "order.update", "id": frame["order"]})

    async def order_update(self, event: dict) -> None:
        await self.send(text_data=await database_sync_to_async(_order_card)(event["id"]))


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AuthMiddlewareStack(
            URLRouter(
                [
                    path("ws/chatroom/<str:name>/", SeedsChatConsumer.as_asgi()),
                    path("ws/orders/", SeedsOrdersConsumer.as_asgi()),
                ]
            )
        ),
    }
)
