"""Who is who: roles are Django groups (`boosters`, `managers`) plus `is_staff`
for admins. Every role check in the project goes through here."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

BOOSTERS_GROUP = "boosters"
MANAGERS_GROUP = "managers"
ROLE_GROUPS = (BOOSTERS_GROUP, MANAGERS_GROUP)

# What `user_role` answers: which dashboard a user gets.
CUSTOMER = "customer"
BOOSTER = "booster"
STAFF = "staff"


def _in_group(user: AbstractBaseUser, group: str) -> bool:
    # Cached on the user object: a page asks many times, a socket on every event.
    cache_name = f"_in_group_{group}"
    cached = getattr(user, cache_name, None)
    if cached is None:
        cached = user.groups.filter(name=group).exists()
        setattr(user, cache_name, cached)
    return cached


def forget_roles(user: AbstractBaseUser) -> None:
    """Drop the cached answers, so the next check reads the groups again."""
    for group in ROLE_GROUPS:
        user.__dict__.pop(f"_in_group_{group}", None)


def is_staff_user(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Managers and admins: they oversee orders and may read order rooms."""
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_staff or _in_group(user, MANAGERS_GROUP)


def is_booster(user: AbstractBaseUser | AnonymousUser) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return _in_group(user, BOOSTERS_GROUP)


def user_role(user: AbstractBaseUser) -> str:
    if is_staff_user(user):
        return STAFF
    if is_booster(user):
        return BOOSTER
    return CUSTOMER
