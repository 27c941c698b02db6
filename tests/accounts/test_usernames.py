"""Signing up: usernames get one spelling (NFKC), no invisible or direction
characters and no look-alikes of existing names; and whether an email is
registered stays nobody's business."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.utils.html import escape

from accounts import usernames

PASSWORD = "signup-Pass-9931"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def sign_up(client, username: str, email: str | None = None):
    email = email or f"new{User.objects.count()}@example.com"
    return client.post(
        "/accounts/signup/", {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD}
    )


def refused(response, message: str) -> bool:
    return response.status_code == 200 and escape(message) in response.content.decode()


@pytest.mark.django_db
class TestUsernames:
    @pytest.mark.parametrize(
        "existing, attempt",
        [
            ("admin", "admın"),  # dotless i
            ("admin", "аdmin"),  # Cyrillic a
            ("paypal", "pаypаl"),
            ("pаypal", "paypal"),  # the look-alike came first
            ("Booster1", "𝐁ooster1"),  # mathematical bold B (NFKC makes it B: taken)
        ],
    )
    def test_a_look_alike_of_an_existing_name_is_refused(self, client, make_user, existing, attempt):
        make_user(existing)
        response = sign_up(client, attempt)
        assert refused(response, usernames.USERNAME_LOOKALIKE) or refused(
            response, "A user with that username already exists."
        ), response.content.decode()[:2000]
        assert User.objects.count() == 1

    def test_a_full_width_name_is_the_plain_one(self, client, make_user):
        make_user("alice")
        assert refused(sign_up(client, "ａｌｉｃｅ"), "A user with that username already exists.")
        assert User.objects.count() == 1
        assert sign_up(client, "ｂｏｂ").status_code == 302
        assert User.objects.filter(username="bob").exists()  # stored as NFKC

    @pytest.mark.parametrize(
        "name",
        ["ali\u200bce", "\u202eecila", "ali\u200dce", "\u3164bob", "bob\u2800", "ali\u00adce", "a\u2066lice"],
    )
    def test_invisible_and_direction_characters_are_refused(self, client, name):
        assert refused(sign_up(client, name), usernames.USERNAME_INVISIBLE)
        assert User.objects.count() == 0

    def test_ordinary_names_in_any_script_still_work(self, client):
        for name in ("zoë", "Renée", "Юлия", "ｍｉｋｉ_2"):
            assert sign_up(client, name).status_code == 302, name
            client.logout()
        assert set(User.objects.values_list("username", flat=True)) == {"zoë", "Renée", "Юлия", "miki_2"}

    def test_skeletons(self):
        assert usernames.skeleton("admın") == usernames.skeleton("ADMIN") == "admin"
        assert usernames.skeleton("ｐаypal") == "paypal"
        assert usernames.skeleton("zoë") != usernames.skeleton("zoe")  # a diaeresis is no disguise


@pytest.mark.django_db
def test_signing_up_with_a_registered_email_looks_like_any_signup(client, make_user):
    owner = make_user("owner")
    fresh = sign_up(client, "first-comer", "fresh@example.com")
    client.logout()
    taken = sign_up(client, "second-comer", owner.email)
    assert (taken.status_code, taken["Location"]) == (fresh.status_code, fresh["Location"]) == (302, "/")
    page = client.get(taken["Location"]).content.decode().lower()
    assert "already" not in page and "registered" not in page
    # The owner's account and address are untouched; the newcomer can never verify it.
    owner.refresh_from_db()
    assert owner.emailaddress_set.get().verified
    assert not User.objects.get(username="second-comer").emailaddress_set.filter(verified=True).exists()
