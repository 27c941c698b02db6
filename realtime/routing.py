from django.urls import path

from realtime.consumers import PingConsumer

websocket_urlpatterns = [
    path("ws/realtime/ping/", PingConsumer.as_asgi()),
]
