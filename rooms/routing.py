from django.urls import path

from rooms.consumers import ChatConsumer

websocket_urlpatterns = [path("ws/chatroom/<str:name>/", ChatConsumer.as_asgi())]
