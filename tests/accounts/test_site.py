"""The sites framework's row (what allauth names in mails and pages) comes from SITE_URL."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.contrib.sites.models import Site
from django.contrib.sites.shortcuts import get_current_site
from django.core.management.sql import emit_post_migrate_signal
from django.test import RequestFactory

pytestmark = pytest.mark.django_db


def test_migrate_leaves_the_site_named_after_site_url(settings):
    site = Site.objects.get(pk=settings.SITE_ID)
    assert (site.domain, site.name) == (urlsplit(settings.SITE_URL).netloc, settings.SITE_NAME)
    assert site.domain != "example.com"


def test_a_new_site_url_corrects_the_row_on_the_next_migrate(settings):
    settings.SITE_URL = "https://boost.example:8443"
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    assert Site.objects.count() == 1
    current = get_current_site(RequestFactory().get("/"))
    assert (current.domain, current.name) == ("boost.example:8443", "Boostroom")


def test_allauth_mails_name_the_site_from_the_row(settings, client, make_user, mailoutbox):
    settings.SITE_URL = "https://boost.example"
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    user = make_user()
    client.post("/accounts/password/reset/", {"email": user.email})
    [mail] = mailoutbox
    assert "boost.example" in mail.body and "example.com" not in mail.body
