from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """A person's account around allauth: their preferences, settings page and
    the rules a username must follow."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from accounts import signals

        # With this app as sender it runs once per migrate, after django.contrib.sites
        # (listed earlier) has created its default row.
        post_migrate.connect(signals.site_from_site_url, sender=self, dispatch_uid="accounts-site-from-site-url")
