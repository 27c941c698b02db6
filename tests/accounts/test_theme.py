"""The theme: saved on the user, in a cookie for visitors, written into <html>,
and pushed to every open page of the user when it changes."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User

from accounts import services
from accounts.broadcasts import THEME_EVENT
from accounts.cookies import THEME_COOKIE
from accounts.models import Preferences, Theme
from realtime import groups

pytestmark = pytest.mark.django_db


def html_theme(response) -> str:
    match = re.search(r'<html lang="en" data-theme="([^"]*)">', response.content.decode())
    assert match, "no themed <html>"
    return match.group(1)


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, dict]]:
    """Every (group, payload) the theme broadcast publishes, still delivered for real."""
    from accounts import broadcasts

    sent: list[tuple[str, dict]] = []
    real = broadcasts.publish_sync

    def record(group: str, **payload) -> None:
        sent.append((group, payload))
        real(group, **payload)

    monkeypatch.setattr(broadcasts, "publish_sync", record)
    return sent


# SERVICES


def test_choosing_a_theme_saves_it_and_pushes_it_after_commit(make_user, published, django_capture_on_commit_callbacks):
    user = make_user()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.preferences_update(user=user, theme=Theme.WIN98)
        assert published == []  # nothing leaves before the commit
    assert len(callbacks) == 1
    assert Preferences.objects.get(user=user).theme == Theme.WIN98
    [(group, payload)] = published
    assert group == groups.user(user.pk)
    assert payload["kind"] == THEME_EVENT
    assert 'id="theme-state" data-theme="win98" hx-swap-oob="true"' in payload["html"]


def test_an_unchanged_theme_pushes_nothing(make_user, published, django_capture_on_commit_callbacks):
    user = make_user()
    services.preferences_update(user=user, theme=Theme.DARK)
    with django_capture_on_commit_callbacks(execute=True):
        services.preferences_update(user=user, theme=Theme.DARK)
    assert published == []


def test_an_unknown_theme_is_refused_and_changes_nothing(make_user):
    user = make_user()
    services.preferences_update(user=user, theme=Theme.DARK)
    with pytest.raises(services.PreferencesError, match=services.UNKNOWN_THEME):
        services.preferences_update(user=user, theme="neon")
    assert Preferences.objects.get(user=user).theme == Theme.DARK


# PAGES


def test_system_is_the_default(client, client_for, make_user):
    assert html_theme(client.get("/")) == Theme.SYSTEM
    assert html_theme(client_for(make_user()).get("/")) == Theme.SYSTEM


def test_a_visitors_theme_lives_in_a_cookie(client):
    response = client.post("/accounts/theme/", {"theme": "dark", "next": "/accounts/login/"})
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    cookie = response.cookies[THEME_COOKIE]
    assert cookie.value == "dark" and cookie["httponly"] and cookie["samesite"] == "Lax"
    assert html_theme(client.get("/accounts/login/")) == "dark"
    assert Preferences.objects.count() == 0


def test_a_forged_cookie_falls_back_to_system(client):
    client.cookies[THEME_COOKIE] = '"><script>'
    assert html_theme(client.get("/")) == Theme.SYSTEM


def test_a_signed_in_users_theme_is_saved_on_them_and_beats_the_cookie(client_for, make_user):
    user = make_user()
    client = client_for(user)
    client.post("/accounts/theme/", {"theme": "win98"})
    assert Preferences.objects.get(user=user).theme == Theme.WIN98
    client.cookies[THEME_COOKIE] = "light"  # e.g. another visitor's choice on this browser
    assert html_theme(client.get("/dashboard/")) == "win98"
    # Another browser of the same user, without the cookie, gets it from the account.
    assert html_theme(client_for(user).get("/dashboard/")) == "win98"


def test_the_theme_survives_logout_and_login(client, make_user):
    from tests.conftest import PASSWORD

    user = make_user()
    client.post("/accounts/login/", {"login": user.username, "password": PASSWORD})
    client.post("/accounts/theme/", {"theme": "win98"})
    client.post("/accounts/logout/")
    assert html_theme(client.get("/accounts/login/")) == "win98"
    client.post("/accounts/login/", {"login": user.username, "password": PASSWORD})
    assert html_theme(client.get("/")) == "win98"


def test_a_theme_chosen_elsewhere_reaches_this_browsers_cookie(client_for, make_user):
    """Logging out on a browser where the user never chose keeps the account's theme."""
    user = make_user()
    services.preferences_update(user=user, theme=Theme.DARK)
    client = client_for(user)
    response = client.get("/")
    assert response.cookies[THEME_COOKIE].value == "dark"
    assert THEME_COOKIE not in client.get("/").cookies  # in step: not set again


def test_the_menu_answers_htmx_with_the_new_theme_state(client_for, make_user):
    response = client_for(make_user()).post("/accounts/theme/", {"theme": "dark"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.content.decode().strip() == (
        '<div id="theme-state" data-theme="dark" hx-swap-oob="true" hidden></div>'
    )


def test_the_menu_refuses_an_unknown_theme_and_changes_nothing(client_for, make_user):
    user = make_user()
    services.preferences_update(user=user, theme=Theme.DARK)
    response = client_for(user).post("/accounts/theme/", {"theme": "neon"})
    assert response.status_code == 400
    assert response.content.decode() == services.UNKNOWN_THEME
    assert THEME_COOKIE not in response.cookies
    assert Preferences.objects.get(user=user).theme == Theme.DARK


def test_the_menu_never_redirects_off_site(client):
    response = client.post("/accounts/theme/", {"theme": "dark", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_the_menu_offers_every_theme_and_marks_the_current_one(client_for, make_user):
    user = make_user()
    services.preferences_update(user=user, theme=Theme.WIN98)
    html = client_for(user).get("/").content.decode()
    menu = re.search(r'<form class="theme-menu.*?</form>', html, re.S).group(0)
    offered = re.findall(r'value="(\w+)" data-theme-option\s+aria-pressed="(true|false)"', menu)
    assert offered == [("system", "false"), ("light", "false"), ("dark", "false"), ("win98", "true")]


def test_signing_up_keeps_the_theme_the_visitor_picked(client):
    client.post("/accounts/theme/", {"theme": "win98"})
    password = "a-Long-pass-4812"
    form = {"email": "new@example.com", "username": "newcomer", "password1": password, "password2": password}
    client.post("/accounts/signup/", form)
    assert Preferences.objects.get(user__username="newcomer").theme == Theme.WIN98


# SETTINGS PAGE


def test_settings_page_shows_the_theme_first_and_saves_it(client_for, make_user):
    user = make_user()
    client = client_for(user)
    html = client.get("/accounts/settings/").content.decode()
    fields = re.findall(r'<legend class="form-label">([^<]+)</legend>', html)
    assert fields[0] == "Theme"
    assert re.search(r'<input type="radio" name="theme" value="system"[^>]*checked', html)
    response = client.post("/accounts/settings/", {"theme": "dark"})
    assert response.status_code == 302 and response["Location"] == "/accounts/settings/"
    assert response.cookies[THEME_COOKIE].value == "dark"
    assert Preferences.objects.get(user=user).theme == Theme.DARK
    page = client.get("/accounts/settings/")
    assert html_theme(page) == "dark"
    assert "Settings saved." in page.content.decode()


def test_settings_page_shows_a_bad_choice_inline_and_changes_nothing(client_for, make_user):
    user = make_user()
    response = client_for(user).post("/accounts/settings/", {"theme": "neon"})
    html = response.content.decode()
    assert response.status_code == 400
    assert '<fieldset aria-describedby="id_theme_helptext id_theme_error">' in html
    assert re.search(r'<ul class="errorlist" id="id_theme_error"><li>Select a valid choice', html)
    assert re.search(r'<input type="radio" name="theme" value="dark"[^>]*aria-invalid="true"', html)
    assert not Preferences.objects.filter(user=user).exists()


def test_settings_page_needs_a_login(client):
    response = client.get("/accounts/settings/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_rendering_a_fragment_costs_no_theme_query(client_for, make_user, django_assert_num_queries):
    """Only templates that show the theme read it (pushed and htmx fragments do not)."""
    user: User = make_user()
    client = client_for(user)
    client.get("/chat/people/?q=a")  # session and user warmed up
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get("/chat/people/?q=a", headers={"HX-Request": "true"})
    assert not any("accounts_preferences" in query["sql"] for query in queries.captured_queries)
