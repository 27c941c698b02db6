"""Account actions of our own around allauth's."""

from __future__ import annotations

from allauth.account.internal.flows.email_verification import (
    get_address_for_user,
    send_verification_email_to_address,
)
from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest

VERIFICATION_RECENTLY_SENT = (
    "A verification link went to {email} a few minutes ago and still works. "
    "Check your inbox (and spam), or ask again in a few minutes."
)


def email_verification_resend(*, request: HttpRequest, user: AbstractBaseUser) -> bool:
    """Mail `user` a new verification link, and say so on their next page.

    allauth sends at most one link per address every few minutes and says nothing
    when it skips one; the user is then told the earlier link still works. The
    link carries on the request's `next` (accounts.adapter). Returns whether a
    mail went out.
    """
    address = get_address_for_user(user)
    if address is None or address.verified:
        return False
    # allauth's own flow: its rate limit, its mail, its "Confirmation email sent" message.
    sent = send_verification_email_to_address(request, address)
    if not sent:
        messages.info(request, VERIFICATION_RECENTLY_SENT.format(email=address.email))
    return sent
