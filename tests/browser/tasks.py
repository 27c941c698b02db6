"""Test data made inside the browser server's own database.

Run as `python -m tests.browser.tasks` with the server's environment: reads one
JSON task from stdin, prints one JSON result line. The test process never opens
the server's database itself, so SQLite and PostgreSQL runs work the same way.
"""

from __future__ import annotations

import json
import os
import sys

RESULT_PREFIX = "BROWSER-TASK-RESULT "


def users(*, specs: list[dict], password: str) -> dict[str, int]:
    from allauth.account.models import EmailAddress
    from django.contrib.auth.models import Group, User

    from orders.models import BoosterApproval

    made: dict[str, int] = {}
    for spec in specs:
        role = spec.get("role", "customer")
        user = User.objects.create_user(
            username=spec["username"],
            email=f"{spec['username']}@example.com",
            password=password,
            is_staff=role == "admin",
            is_superuser=role == "admin",
        )
        if role == "booster":
            user.groups.add(Group.objects.get(name="boosters"))
            # What staff approve them for (every League of Legends order unless the spec says).
            for game, tier in spec.get("approvals", [["lol", "challenger"]]):
                BoosterApproval.objects.create(booster=user, game=game, max_tier=tier)
        elif role == "manager":
            user.groups.add(Group.objects.get(name="managers"))
        EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
        made[user.username] = user.pk
    return made


def group(*, name: str, admin: str, members: list[str]) -> str:
    from django.contrib.auth.models import User

    from rooms import services

    room = services.room_create_group(creator=User.objects.get(username=admin), name=name, title=name)
    room.members.add(*User.objects.filter(username__in=members))
    return room.name


def messages(*, room: str, author: str, bodies: list[str]) -> list[int]:
    from django.contrib.auth.models import User

    from rooms import selectors, services

    user = User.objects.get(username=author)
    target = selectors.room_for_user(name=room, user=user)
    return [services.message_post(room=target, author=user, body=body).pk for body in bodies]


def room_messages(*, room: str) -> list[list]:
    """[id, author, body] of every stored message in the room, in id order."""
    from rooms.models import Message

    rows = Message.objects.filter(room__name=room).order_by("id").values_list("id", "author__username", "body")
    return [list(row) for row in rows]


def order(
    *,
    customer: str,
    booster: str | None = None,
    start: bool = False,
    game: str = "lol",
    current: tuple = ("silver", 4, 0),
    desired: tuple = ("gold", 4),
) -> int:
    from django.contrib.auth.models import User

    from orders import services
    from orders.management.commands.seed_demo import place_order
    from orders.models import Order

    made = place_order(customer=User.objects.get(username=customer), current=current, desired=desired, game=game)
    if booster:
        player = User.objects.get(username=booster)
        made = services.order_claim(order=made, booster=player)
        if start:
            made = services.order_status_set(order=made, status=Order.Status.IN_PROGRESS, by=player)
    return made.pk


def approve(*, booster: str, approvals: list[list[str]]) -> None:
    """The games and tiers the booster may claim, instead of the ones they had."""
    from orders.models import BoosterApproval

    BoosterApproval.objects.filter(booster__username=booster).delete()
    for game, tier in approvals:
        BoosterApproval.objects.create(booster_id=_pk(booster), game=game, max_tier=tier)


def order_state(*, pk: int) -> dict:
    """What a refused action must leave as it was."""
    from orders.models import Order

    order = Order.objects.select_related("booster").get(pk=pk)
    return {
        "status": order.status,
        "booster": order.booster.username if order.booster else None,
        "reached": [order.reached_rank, order.reached_division, order.reached_points],
        "events": order.events.count(),
    }


def _pk(username: str) -> int:
    from django.contrib.auth.models import User

    return User.objects.get(username=username).pk


TASKS = {
    "users": users,
    "group": group,
    "messages": messages,
    "room_messages": room_messages,
    "order": order,
    "approve": approve,
    "order_state": order_state,
}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    task = json.loads(sys.stdin.read())
    result = TASKS[task.pop("task")](**task)
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
