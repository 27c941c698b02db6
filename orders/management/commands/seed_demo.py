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
        """Orders in every interesting state, made through the services so each
        has its chat rooms, timeline and (when completed) payout."""
        from orders import services
        from orders.models import Order

        demo_customers = [users[name] for name in ("alice", "bob", "carol")]
        if Order.objects.filter(customer__in=demo_customers).exists():
            return
        booster1, booster2, manager = users["booster1"], users["booster2"], users["manager"]

        def order(customer: str, current: tuple, desired: tuple) -> Order:
            return services.order_create(
                customer=users[customer],
                current_rank=current[0],
                current_division=current[1],
                current_lp=current[2],
                desired_rank=desired[0],
                desired_division=desired[1],
            )

        order("alice", ("silver", 2, 40), ("gold", 4))  # pending: on the claim list

        playing = services.order_claim(order=order("bob", ("gold", 4, 10), ("platinum", 4)), booster=booster1)
        services.order_progress_update(
            order=playing, booster=booster1, reached_rank="gold", reached_division=2, reached_lp=40
        )

        paused = services.order_assign(
            order=order("carol", ("platinum", 2, 0), ("emerald", 4)), booster=booster2, by=manager
        )
        services.order_status_set(order=paused, status=Order.Status.IN_PROGRESS, by=booster2)
        services.order_status_set(order=paused, status=Order.Status.PAUSED, by=manager)

        done = services.order_claim(order=order("alice", ("iron", 1, 50), ("bronze", 2)), booster=booster1)
        services.order_progress_update(
            order=done, booster=booster1, reached_rank="bronze", reached_division=2, reached_lp=0
        )
        services.order_complete(order=done, by=booster1)

        services.order_cancel(order=order("bob", ("bronze", 3, 0), ("silver", 4)), by=users["bob"])
        self.stdout.write("  created 5 demo orders")

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
