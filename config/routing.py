"""WebSocket URL routes: each app's routes joined in one list."""

from django.urls import path

from config.consumers import PingConsumer
from orders.routing import websocket_urlpatterns as order_routes
from presence.routing import websocket_urlpatterns as presence_routes
from rooms.routing import websocket_urlpatterns as room_routes

websocket_urlpatterns = [
    path("ws/realtime/ping/", PingConsumer.as_asgi()),
    *room_routes,
    *presence_routes,
    *order_routes,
]
