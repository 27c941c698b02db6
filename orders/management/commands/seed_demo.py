"""Idempotent demo data: one account per role, orders in several states, rooms.

Passwords are development-only and printed once, the first time an account is
created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction

if TYPE_CHECKING:
    from orders.models import Order

DEMO_PASSWORD = "boostroom-demo"
DEMO_GROUP = "duo-queue"

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


def place_order(*, customer: User, current: tuple, desired: tuple, game: str = "lol", **options: object) -> Order:
    """An order placed through the service, from where the account is, as
    (rank, division, points), to the goal, as (rank, division)."""
    from orders import services
    from orders.games import OrderOptions

    return services.order_create(
        customer=customer,
        game=game,
        current_rank=current[0],
        current_division=current[1],
        current_points=current[2],
        desired_rank=desired[0],
        desired_division=desired[1],
        options=OrderOptions(**options),
    )


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
        EmailAddress.objects.get_or_create(user=user, email=user.email, defaults={"primary": True, "verified": True})
        return user

    def _seed_apps(self, users: dict[str, User]) -> None:
        """Each app adds its demo content here."""
        self._seed_orders(users)
        self._seed_rooms(users)

    def _seed_orders(self, users: dict[str, User]) -> None:
        """Orders of both games in every interesting state, made through the
        services so each has its chat rooms, timeline and (when completed) payout.
        booster1 boosts both games; booster2 only League of Legends up to Diamond."""
        from orders import services
        from orders.models import Order

        booster1, booster2, manager = users["booster1"], users["booster2"], users["manager"]
        for booster, game, tier in (
            (booster1, "lol", "challenger"),
            (booster1, "valorant", "radiant"),
            (booster2, "lol", "diamond"),
        ):
            services.booster_approval_set(booster=booster, game=game, max_tier=tier, by=users["admin"])
        demo_customers = [users[name] for name in ("alice", "bob", "carol")]
        if Order.objects.filter(customer__in=demo_customers).exists():
            return

        def order(customer: str, current: tuple, desired: tuple, game: str = "lol", **options: object) -> Order:
            return place_order(customer=users[customer], current=current, desired=desired, game=game, **options)

        def progress(order: Order, booster: User, reached: tuple) -> Order:
            rank, division, points = reached
            return services.order_progress_update(
                order=order, booster=booster, reached_rank=rank, reached_division=division, reached_points=points
            )

        # League of Legends
        order("alice", ("silver", 2, 40), ("gold", 4), region="euw")  # pending: on the claim list
        playing = services.order_claim(
            order=order("bob", ("gold", 4, 10), ("platinum", 4), appear_offline=True, region="na"), booster=booster1
        )
        progress(playing, booster1, ("gold", 2, 40))
        paused = services.order_assign(
            order=order("carol", ("platinum", 2, 0), ("emerald", 4), preferences="mid or support", region="euw"),
            booster=booster2,
            by=manager,
        )
        services.order_status_set(order=paused, status=Order.Status.IN_PROGRESS, by=booster2)
        services.order_status_set(order=paused, status=Order.Status.PAUSED, by=manager)
        done = services.order_claim(order=order("alice", ("iron", 1, 50), ("bronze", 2)), booster=booster1)
        progress(done, booster1, ("bronze", 2, 0))
        services.order_complete(order=done, by=booster1)
        services.order_cancel(order=order("bob", ("bronze", 3, 0), ("silver", 4)), by=users["bob"])

        # Valorant
        valorant = {"game": "valorant", "region": "eu"}
        order("carol", ("gold", 2, 20), ("platinum", 1), duo_queue=True, priority_start=True, **valorant)  # pending
        climbing = services.order_claim(
            order=order("alice", ("silver", 3, 0), ("gold", 3), preferences="Jett, Reyna", **valorant),
            booster=booster1,
        )
        progress(climbing, booster1, ("gold", 1, 60))
        won = services.order_claim(order=order("bob", ("diamond", 1, 0), ("diamond", 3), **valorant), booster=booster1)
        progress(won, booster1, ("diamond", 3, 10))
        services.order_complete(order=won, by=booster1)
        self.stdout.write("  created 8 demo orders (5 League of Legends, 3 Valorant)")

    def _seed_rooms(self, users: dict[str, User]) -> None:
        """A group with members, a private room and a few messages, through the
        rooms services. Each message has a fixed `client_id`, so a second run
        finds it instead of posting it again."""
        from rooms import selectors, services
        from rooms.models import Room

        alice, bob, carol, booster1 = (users[name] for name in ("alice", "bob", "carol", "booster1"))
        group = Room.objects.filter(name=DEMO_GROUP, kind=Room.Kind.GROUP).first()
        if group is None:
            group = services.room_create_group(creator=alice, name=DEMO_GROUP, title="Duo queue")
            self.stdout.write(f"  created group room {DEMO_GROUP!r} (admin alice)")
        joined = set(group.members.values_list("pk", flat=True))
        for member in (bob, carol, booster1):
            if member.pk not in joined:
                services.room_join(room=group, user=member)
        private = services.room_get_or_create_private(user=alice, other=bob)

        public = selectors.public_room()
        script = [
            (public, bob, "Anyone up for ranked tonight? Gold IV, mid or support."),
            (public, booster1, "Welcome to Boostroom! Ask here if you have questions about an order."),
            (public, alice, "My booster just hit Gold II on my order, the bar moved live!"),
            (group, alice, "Duo queue at 8? I'll be on support."),
            (group, carol, "Count me in."),
            (private, bob, "Thanks for the tip about the claim list!"),
        ]
        for number, (room, author, body) in enumerate(script, start=1):
            services.message_post(room=room, author=author, body=body, client_id=f"seed-demo-{number}")
