"""Every account page, the error pages and the favicon, in the site's own layout."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory
from django.utils.html import escape
from django.views import defaults

pytestmark = pytest.mark.django_db

SITE_LAYOUT = 'id="main"'
STYLESHEET = '<link rel="stylesheet" href="/static/css/app.css">'
FAVICON = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'

ANONYMOUS_PAGES = [
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/password/reset/",
    "/accounts/password/reset/done/",
    "/accounts/password/reset/key/1-bad-key/",
    "/accounts/confirm-email/",
    "/accounts/confirm-email/not-a-key/",
    "/accounts/inactive/",
]
SIGNED_IN_PAGES = [
    "/accounts/email/",
    "/accounts/password/change/",
    "/accounts/logout/",
    "/accounts/settings/",
]


def in_site_layout(html: str) -> bool:
    """The page is the site's (header, stylesheet) and its heading sits in the card."""
    return (
        SITE_LAYOUT in html
        and STYLESHEET in html
        and re.search(r'class="card auth-card[^"]*">\s*<h1 class="auth-title">', html) is not None
    )


@pytest.mark.parametrize("url", ANONYMOUS_PAGES)
def test_signed_out_account_pages_render_in_the_site_layout(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert in_site_layout(response.content.decode()), url


@pytest.mark.parametrize("url", SIGNED_IN_PAGES)
def test_signed_in_account_pages_render_in_the_site_layout_with_the_account_menu(client_for, make_user, url):
    response = client_for(make_user()).get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert in_site_layout(html), url
    assert 'aria-label="Account"' in html
    assert f'href="{url}" aria-current="page"' in html or url == "/accounts/logout/"


def test_password_reset_from_a_real_link_renders_in_the_site_layout(client, make_user):
    from allauth.account.forms import default_token_generator
    from allauth.account.utils import user_pk_to_url_str

    user = make_user()
    key = default_token_generator.make_token(user)
    response = client.get(f"/accounts/password/reset/key/{user_pk_to_url_str(user)}-{key}/", follow=True)
    html = response.content.decode()
    assert response.status_code == 200
    assert in_site_layout(html)
    assert 'name="password1"' in html


def _field(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    assert match, f"no {name} input"
    return match.group(0)


def test_signup_errors_sit_under_their_field_and_are_announced(client):
    response = client.post(
        "/accounts/signup/", {"email": "not-an-email", "username": "newbie", "password1": "abc", "password2": "abc"}
    )
    html = response.content.decode()
    email = _field(html, "email")
    assert 'aria-invalid="true"' in email
    assert 'aria-describedby="id_email_error"' in email
    # The error list is inside the field's own block, right after its input.
    block = re.search(r'<div class="form-field form-field-invalid">(?:(?!<div class="form-field).)*', html, re.S)
    assert block and 'name="email"' in block.group(0)
    assert re.search(r'<ul class="errorlist" id="id_email_error"><li>Enter a valid email address.', block.group(0))
    password = _field(html, "password1")
    assert 'aria-invalid="true"' in password
    assert 'aria-describedby="id_password1_helptext id_password1_error"' in password
    assert 'class="helptext" id="id_password1_helptext"' in html
    assert 'id="id_password1_error"' in html
    username = _field(html, "username")
    assert "aria-invalid" not in username


def test_a_wrong_password_is_an_alert_above_the_form(client, make_user):
    user = make_user()
    response = client.post("/accounts/login/", {"login": user.username, "password": "wrong"})
    html = response.content.decode()
    assert re.search(r'<div class="form-errors" role="alert"><ul class="errorlist nonfield"><li>The username', html)


def test_email_page_radios_come_before_their_labels(client_for, make_user):
    """98.css draws a radio on the label that follows it."""
    html = client_for(make_user()).get("/accounts/email/").content.decode()
    radio_then_label = (
        r'<input(?=[^>]*type="radio")[^>]*id="(email_radio_\d+)"[^>]*>\s*<label class="form-check-label" for="\1">'
    )
    assert re.search(radio_then_label, html)


def test_allauth_buttons_get_the_site_button_classes(client_for, make_user):
    html = client_for(make_user()).get("/accounts/email/").content.decode()
    assert re.search(r'<button class="btn-danger"[^>]*name="action_remove"', html)
    assert re.search(r'<button class="btn"[^>]*name="action_send"', html)
    assert re.search(r'<button class="btn-primary"[^>]*name="action_primary"', html)


# ERROR PAGES


def test_not_found_is_a_styled_page(client):
    response = client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert SITE_LAYOUT in html and STYLESHEET in html
    assert "Page not found" in html and 'class="card error-card' in html


def test_forbidden_is_a_styled_page(make_user):
    request = RequestFactory().get("/somewhere/")
    request.user = make_user()
    response = defaults.permission_denied(request, PermissionDenied())
    html = response.content.decode()
    assert response.status_code == 403
    assert SITE_LAYOUT in html and STYLESHEET in html and "Not allowed" in html


def test_a_refused_form_token_is_the_styled_403_saying_what_happened(make_user):
    from accounts.models import Preferences
    from accounts.views import CSRF_FAILED, CSRF_FAILED_HEADING

    user = make_user()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/accounts/settings/", {"theme": "dark"})
    html = response.content.decode()
    assert response.status_code == 403
    assert SITE_LAYOUT in html and STYLESHEET in html and 'class="card error-card' in html
    assert CSRF_FAILED_HEADING in html and escape(CSRF_FAILED) in html
    assert not Preferences.objects.filter(user=user, theme="dark").exists()


def test_a_refused_form_token_from_htmx_is_a_notice_beside_the_page(make_user):
    from accounts.views import CSRF_FAILED

    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user())
    response = client.post("/accounts/theme/", {"theme": "dark"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    # 403 is swapped by base.html's responseHandling; HX-Reswap keeps the acting
    # element as it is, and only the out-of-band #page-error changes.
    assert response.status_code == 403 and response["HX-Reswap"] == "none"
    assert html.startswith('<div id="page-error"') and 'hx-swap-oob="true"' in html
    assert escape(CSRF_FAILED) in html and SITE_LAYOUT not in html


def test_server_error_page_is_styled_without_a_request_context():
    response = defaults.server_error(RequestFactory().get("/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert SITE_LAYOUT in html and STYLESHEET in html and "Something went wrong" in html
    assert 'data-theme="system"' in html


# FAVICON


def test_pages_link_a_favicon_that_exists(client):
    html = client.get("/").content.decode()
    assert FAVICON in html
    assert finders.find("favicon.svg") and finders.find("favicon.ico")


def test_favicon_ico_is_served_for_pages_that_cannot_link_one(client):
    """The admin and JSON responses have no <link rel=icon>; browsers then ask for /favicon.ico."""
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/favicon.ico"
