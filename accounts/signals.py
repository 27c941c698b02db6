from __future__ import annotations

from allauth.account.signals import user_signed_up
from django.contrib.sites.models import Site
from django.db import router
from django.dispatch import receiver

from accounts import services
from accounts.cookies import theme_from_cookie
from accounts.models import Theme


@receiver(user_signed_up)
def adopt_visitor_theme(sender, request, user, **kwargs) -> None:
    """A visitor who picked a theme before signing up keeps it on their new account."""
    theme = theme_from_cookie(request)
    if theme != Theme.SYSTEM:
        services.preferences_update(user=user, theme=theme)


def site_from_site_url(sender, using: str = "default", **kwargs) -> None:
    """post_migrate (connected in AccountsConfig.ready, after the sites app made its row)."""
    if router.allow_migrate_model(using, Site):
        services.site_sync(using=using)
