"""Idempotent demo data: one account per role, orders in several states, rooms.

Passwords are development-only and printed once, the first time an account is
created.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction

DEMO_PASSWORD = "boostroom-demo"

DEMO_USERS = [
    # username, role
    ("admin", "admin"),
    ("manager", "managers"),
    ("booster1", "boosters"),
    ("booster2", "boosters"),
    ("alice", None),
    ("bob", None),
    ("carol", None),
]


class Command(BaseCommand):
    help = "Create demo users, orders and rooms (safe to run repeatedly)."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        users = {name: self._user(name, role) for name, role in DEMO_USERS}
        self._seed_apps(users)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))

    def _user(self, username: str, role: str | None) -> User:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"email": f"{username}@boostroom.local", "is_staff": role == "admin"},
        )
        if created:
            user.is_superuser = role == "admin"
            user.set_password(DEMO_PASSWORD)
            user.save()
            self.stdout.write(f"  created {username!r} with password {DEMO_PASSWORD!r}")
        if role in ("boosters", "managers"):
            user.groups.add(Group.objects.get(name=role))
        EmailAddress.objects.get_or_create(
            user=user, email=user.email, defaults={"primary": True, "verified": True}
        )
        return user

    def _seed_apps(self, users: dict[str, User]) -> None:
        """Each app adds its demo content here."""
