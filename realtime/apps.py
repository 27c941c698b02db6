from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    """The machinery every feature app shares: pushing to sockets, who is asking
    (sessions, API tokens, roles), revocation, throttles and safe mail."""

    name = "realtime"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from realtime import signals  # noqa: F401
