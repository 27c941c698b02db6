from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Telling people about chat while they are away: the batched email and Web Push."""

    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"
