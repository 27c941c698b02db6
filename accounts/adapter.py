"""allauth's hooks for Boostroom accounts."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter

from accounts import usernames


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
