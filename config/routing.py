"""WebSocket URL routes: each app's routes joined in one list."""

from orders.routing import websocket_urlpatterns as order_routes
from presence.routing import websocket_urlpatterns as presence_routes
from realtime.routing import websocket_urlpatterns as realtime_routes
from rooms.routing import websocket_urlpatterns as room_routes

websocket_urlpatterns = [
    *realtime_routes,
    *room_routes,
    *presence_routes,
    *order_routes,
]
