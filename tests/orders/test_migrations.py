"""The games migrations on a database holding today's orders: migrate back to
before games, store orders the way the old code did, migrate forward, and find
them the same (names, prices, progress, timeline, payouts, the seed-001 JSON)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from orders import broadcasts, selectors
from orders.models import BoosterApproval, Order

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE_GAMES = [("orders", "0004_order_updated_index")]


def migrate(targets: list[tuple[str, str]] | None = None):
    """Migrate to `targets` (default: the latest of every app); the apps of that state."""
    executor = MigrationExecutor(connection)
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


def todays_orders(apps) -> dict[str, int]:
    """What the code before games stored: a League of Legends order in play with
    progress and timeline, a completed one with its payout, and a booster."""
    User, Group = apps.get_model("auth", "User"), apps.get_model("auth", "Group")
    Order, OrderEvent = apps.get_model("orders", "Order"), apps.get_model("orders", "OrderEvent")
    BoosterTransaction = apps.get_model("orders", "BoosterTransaction")
    customer = User.objects.create(username="old-customer", email="old-customer@example.com")
    booster = User.objects.create(username="old-booster", email="old-booster@example.com")
    booster.groups.add(Group.objects.get_or_create(name="boosters")[0])

    def old_order(status: str, current: tuple, desired: tuple, reached: tuple):
        """Stored as the old code stored it: LP, and the name set after the first save."""
        order = Order.objects.create(
            customer=customer,
            booster=booster,
            price=Decimal("16.00"),
            booster_price=Decimal("11.20"),
            status=status,
            **dict(zip(("current_rank", "current_division", "current_lp"), current, strict=True)),
            **dict(zip(("desired_rank", "desired_division"), desired, strict=True)),
            **dict(zip(("reached_rank", "reached_division", "reached_lp"), reached, strict=True)),
        )
        order.name = f"LOL-{order.pk:06d}"
        order.save()
        return order

    playing = old_order("in_progress", ("silver", 2, 0), ("gold", 4), ("silver", 1, 50))
    for kind, message in (
        ("created", "Order placed: Silver II → Gold IV"),
        ("progress", "Reached Silver I 50 LP (75%)"),
    ):
        OrderEvent.objects.create(order=playing, actor=booster, kind=kind, message=message)
    done = old_order("completed", ("diamond", 1, 20), ("master", None), ("master", None, 0))
    BoosterTransaction.objects.create(booster=booster, order=done, amount=Decimal("11.20"))
    return {"playing": playing.pk, "done": done.pk, "booster": booster.pk}


def test_todays_orders_move_into_the_games_shape_unchanged():
    try:
        made = todays_orders(migrate(BEFORE_GAMES))
    finally:
        migrate()

    playing = selectors.order_for_push(order_id=made["playing"])
    assert (playing.game, playing.name, playing.price, playing.booster_price) == (
        "lol",
        f"LOL-{playing.pk:06d}",
        Decimal("16.00"),
        Decimal("11.20"),
    )
    assert (playing.start, playing.desired, playing.reached) == (("silver", 2, 0), ("gold", 4), ("silver", 1, 50))
    assert (playing.current_label, playing.desired_label, playing.points_name, playing.progress) == (
        "Silver II",
        "Gold IV",
        "LP",
        75,
    )
    assert [event.message for event in selectors.order_timeline(order=playing)] == [
        "Order placed: Silver II → Gold IV",
        "Reached Silver I 50 LP (75%)",
    ]
    assert (playing.duo_queue, playing.appear_offline, playing.priority_start, playing.preferences, playing.region) == (
        False,
        False,
        False,
        "",
        "",
    )

    done = selectors.order_for_push(order_id=made["done"])
    assert (done.game, done.progress, done.desired_label, done.payout.amount) == (
        "lol",
        100,
        "Master",
        Decimal("11.20"),
    )

    # Seed 001's event keeps its fields and values.
    event = broadcasts.json_event(playing, selectors.STAFF, "Order updated")
    assert (event["reached_rank"], event["reached_division"], event["reached_marks"], event["progress"]) == (
        "Silver",
        1,
        50,
        75,
    )
    assert (event["actual_price"], event["booster_price"], event["status"]) == ("16.00", "11.20", "in_progress")
    assert broadcasts.json_event(done, selectors.STAFF, "")["reached_rank"] == "Master"

    # The booster keeps claiming what they could: League of Legends, every tier.
    approval = BoosterApproval.objects.get(booster_id=made["booster"])
    assert (approval.game, approval.max_tier) == ("lol", "challenger")
    assert Order.objects.filter(game="lol").count() == 2
