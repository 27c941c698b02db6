from django.urls import path

from orders.consumers import OrderConsumer, OrdersConsumer

websocket_urlpatterns = [
    path("ws/orders/", OrdersConsumer.as_asgi()),
    path("ws/orders/<int:order_id>/", OrderConsumer.as_asgi()),
]
