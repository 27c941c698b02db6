from django.apps import AppConfig


class UploadsConfig(AppConfig):
    """Files users upload: validation, size limits, storage and access-checked delivery."""

    name = "uploads"
    default_auto_field = "django.db.models.BigAutoField"
