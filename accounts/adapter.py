"""allauth's hooks for Boostroom accounts.

Usernames follow accounts.usernames. Every mail allauth sends names the site
and links to it from SITE_URL, not from the Host header of whatever request set
it off; a verification link carries on the `next` page its request had (a group
invite), so verifying lands there.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.utils import get_next_redirect_url
from django.conf import settings
from django.contrib.sites.models import Site
from django.http import HttpRequest

from accounts import usernames


def mail_site() -> Site:
    """The site as mails name it (allauth's templates read `current_site`)."""
    return Site(id=settings.SITE_ID, domain=urlsplit(settings.SITE_URL).netloc, name=settings.SITE_NAME)


def on_site_url(url: str) -> str:
    """`url` (absolute, on whatever host the request named) moved to SITE_URL."""
    parts = urlsplit(url)
    if not parts.scheme:
        return settings.SITE_URL + url
    site = urlsplit(settings.SITE_URL)
    return parts._replace(scheme=site.scheme, netloc=site.netloc).geturl()


class AccountAdapter(DefaultAccountAdapter):
    def clean_username(self, username: str, shallow: bool = False) -> str:
        """Django's rules and allauth's uniqueness, on the NFKC spelling, and no
        invisible characters or look-alikes of existing names."""
        username = usernames.normalize(username)
        usernames.check_characters(username)
        username = super().clean_username(username, shallow=shallow)
        if not shallow:
            usernames.check_lookalike(username)
        return username

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        context = {
            **context,
            **{key: on_site_url(value) for key, value in context.items() if key.endswith("_url") and value},
            "current_site": mail_site(),
            "site_url": settings.SITE_URL,
        }
        super().send_mail(template_prefix, email, context)

    def get_email_confirmation_url(self, request: HttpRequest, emailconfirmation) -> str:
        url = super().get_email_confirmation_url(request, emailconfirmation)
        following = get_next_redirect_url(request) if request is not None else None
        return f"{url}?{urlencode({'next': following})}" if following else url
