from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        from orders import broadcasts, signals  # noqa: F401 - connects the receivers
        from realtime import fanout

        fanout.render_locally(broadcasts.CHANGE_KIND, broadcasts.render_change)
