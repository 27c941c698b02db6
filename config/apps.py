from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """Project-wide pieces that are not one app's: API tokens and socket revocation."""

    name = "config"
    label = "config"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from config import signals  # noqa: F401
