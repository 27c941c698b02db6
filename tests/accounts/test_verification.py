"""An unverified user at a group invite: the resend says what it did, the link
in the mail is absolute (SITE_URL) and verifying lands back on the invite."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.test import Client

from accounts.services import VERIFICATION_RECENTLY_SENT
from rooms import services

pytestmark = pytest.mark.django_db
SITE = "https://boost.example"
LINK = re.compile(r"https?://\S+")


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = SITE


@pytest.fixture
def invite(make_user) -> str:
    owner = make_user("owner")
    room = services.room_create_group(creator=owner, name="squad", title="The Squad")
    return services.invite_regenerate(room=room, by=owner).get_absolute_url()


def confirmation_link(mail) -> str:
    links = [link for link in LINK.findall(mail.body) if "/confirm-email/" in link]
    assert len(links) == 1, mail.body
    return links[0]


def flash_texts(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_resend_from_the_invite_says_it_sent_and_verifying_comes_back(invite, make_user, client_for, mailoutbox):
    user = make_user("newbie", verified=False)
    client = client_for(user)
    page = client.get(invite)
    assert page.status_code == 403 and "Resend verification email" in page.content.decode()

    response = client.post(invite, {"resend": "", "next": invite}, follow=True)
    assert response.redirect_chain == [(invite, 302)]
    assert f"Confirmation email sent to {user.email}." in flash_texts(response)
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [user.email]
    link = confirmation_link(mailoutbox[0])
    assert link.startswith(f"{SITE}/accounts/confirm-email/")
    assert "[Boostroom]" in mailoutbox[0].subject and "example.com" not in mailoutbox[0].body

    # A second click moments later: allauth sends nothing, and the page says why.
    response = client.post(invite, {"resend": "", "next": invite}, follow=True)
    assert VERIFICATION_RECENTLY_SENT.format(email=user.email) in flash_texts(response)
    assert len(mailoutbox) == 1

    parts = urlsplit(link)
    confirm = client.get(f"{parts.path}?{parts.query}")
    assert confirm.status_code == 200
    done = client.post(f"{parts.path}?{parts.query}", {"next": invite})
    assert done.status_code == 302 and done["Location"] == invite
    assert client.get(invite).status_code == 200  # now verified: the Join button
    assert client.post(invite).status_code == 302


def test_signing_up_from_an_invite_mails_a_link_back_to_it(invite, mailoutbox):
    client = Client()
    login = client.get(invite)
    assert login.status_code == 302 and login["Location"].startswith("/accounts/login/?next=")
    response = client.post(
        f"/accounts/signup/?next={invite}",
        {
            "email": "fresh@example.com",
            "username": "fresh",
            "password1": "a-long-Unusual-passphrase-7",
            "password2": "a-long-Unusual-passphrase-7",
            "next": invite,
        },
    )
    assert response.status_code == 302 and response["Location"] == invite
    link = confirmation_link(mailoutbox[0])
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == SITE
    done = client.post(f"{parts.path}?{parts.query}")
    assert done.status_code == 302 and done["Location"] == invite


def test_password_reset_mail_links_to_site_url_whatever_the_host_header(make_user, mailoutbox, settings):
    settings.ALLOWED_HOSTS = ["testserver", "evil.example"]
    user = make_user("forgetful")
    Client(HTTP_HOST="evil.example").post("/accounts/password/reset/", {"email": user.email})
    assert len(mailoutbox) == 1
    links = LINK.findall(mailoutbox[0].body)
    assert links and all(link.startswith(f"{SITE}/") for link in links), mailoutbox[0].body
    assert "evil.example" not in mailoutbox[0].body
