from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """A person's account around allauth: their preferences, settings page and
    the rules a username must follow."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import signals  # noqa: F401
