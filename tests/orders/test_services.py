"""Order services: pricing, the workflow, who may do what, and what leaves after commit."""

from __future__ import annotations

import io
import re
import runpy
import threading
from decimal import Decimal
from itertools import product
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction

from config import settings as settings_module
from orders import broadcasts, permissions, pricing, ranks, services
from orders.models import BoosterTransaction, Order, OrderEvent
from realtime import groups
from rooms.models import Room
from tests.orders.conftest import Status, commit_point, place

pytestmark = pytest.mark.django_db


# PRICING


@pytest.mark.parametrize(
    "current, desired, price, steps",
    [
        (("silver", 2), ("gold", 4), "16.00", 2),  # two Silver steps at 8.00
        (("iron", 4), ("iron", 3), "5.00", 1),
        (("gold", 1), ("platinum", 3), "26.00", 2),  # one Gold step (11) + one Platinum step (15)
        (("diamond", 1), ("master", None), "35.00", 1),
        (("master", None), ("challenger", None), "370.00", 2),  # 120 + 250
        (("iron", 4), ("challenger", None), "770.00", 30),  # 4 x (5+6+8+11+15+20+35) + 120 + 250
    ],
)
def test_price_table(current, desired, price, steps):
    quote = pricing.quote(
        current_rank=current[0], current_division=current[1], desired_rank=desired[0], desired_division=desired[1]
    )
    assert quote.price == Decimal(price)
    assert quote.steps == steps
    assert quote.booster_price == (Decimal(price) * Decimal("0.70")).quantize(Decimal("0.01"))


def test_overriding_the_price_table_setting_changes_the_price(settings, people):
    settings.ORDERS_STEP_PRICES = {**settings.ORDERS_STEP_PRICES, "silver": "10.50"}
    settings.ORDERS_BOOSTER_SHARE = "0.5"
    quote = pricing.quote(current_rank="silver", current_division=2, desired_rank="gold", desired_division=4)
    assert (quote.price, quote.booster_price) == (Decimal("21.00"), Decimal("10.50"))
    # The service prices from the same setting.
    order = place(people["customer"])
    assert (order.price, order.booster_price) == (Decimal("21.00"), Decimal("10.50"))


def test_the_price_table_is_read_from_the_environment(monkeypatch):
    """config/settings.py merges ORDERS_STEP_PRICES=tier=price,... over its defaults."""
    monkeypatch.setenv("ORDERS_STEP_PRICES", "Silver=9.25, gold = 12")
    monkeypatch.setenv("ORDERS_BOOSTER_SHARE", "0.6")
    loaded = runpy.run_path(str(Path(settings_module.__file__)))
    assert loaded["ORDERS_STEP_PRICES"]["silver"] == "9.25" and loaded["ORDERS_STEP_PRICES"]["gold"] == "12"
    assert loaded["ORDERS_STEP_PRICES"]["iron"] == "5.00"
    assert loaded["ORDERS_BOOSTER_SHARE"] == "0.6"


def test_the_readme_shows_the_configured_price_table(settings):
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    section = readme.split("## Pricing", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\w+)[^|]* \| \$([\d.]+) \|$", section, flags=re.MULTILINE)
    assert {tier.lower(): price for tier, price in rows} == settings.ORDERS_STEP_PRICES


@pytest.mark.parametrize(
    "changes, dropped, share, error",
    [
        ({}, ("iron", "gold"), "0.7", "missing: iron, gold"),
        ({"wood": "1"}, (), "0.7", "unknown tiers: wood"),
        ({"gold": "-1"}, (), "0.7", "ORDERS_STEP_PRICES['gold'] must be a price"),
        ({"gold": "cheap"}, (), "0.7", "ORDERS_STEP_PRICES['gold'] must be a price"),
        ({}, (), "1.5", "ORDERS_BOOSTER_SHARE must be a fraction"),
    ],
)
def test_a_broken_price_table_fails_loudly(settings, changes, dropped, share, error):
    table = {**settings.ORDERS_STEP_PRICES, **changes}
    settings.ORDERS_STEP_PRICES = {tier: price for tier, price in table.items() if tier not in dropped}
    settings.ORDERS_BOOSTER_SHARE = share
    with pytest.raises(ImproperlyConfigured, match=re.escape(error)):
        pricing.quote(current_rank="silver", current_division=2, desired_rank="gold", desired_division=4)


@pytest.mark.parametrize(
    "current, desired, error",
    [
        (("gold", 4), ("silver", 1), pricing.DESIRED_NOT_HIGHER),
        (("gold", 4), ("gold", 4), pricing.DESIRED_NOT_HIGHER),
        (("gold", None), ("gold", 1), ranks.DIVISION_REQUIRED.format(rank="Gold")),
        (("silver", 2), ("master", 1), ranks.DIVISION_NOT_ALLOWED.format(rank="Master")),
        (("wood", 2), ("gold", 1), ranks.RANK_UNKNOWN),
    ],
)
def test_impossible_boosts_are_refused(current, desired, error):
    with pytest.raises(ranks.RankError) as raised:
        pricing.quote(
            current_rank=current[0], current_division=current[1], desired_rank=desired[0], desired_division=desired[1]
        )
    assert str(raised.value) == error


def test_order_price_is_computed_on_the_server(people):
    order = place(people["customer"])
    assert (order.price, order.booster_price) == (Decimal("16.00"), Decimal("11.20"))
    assert order.name == f"LOL-{order.pk:06d}"
    assert order.status == Status.PENDING and order.booster is None


def test_order_create_refuses_lp_out_of_range(people):
    with pytest.raises(services.OrderError, match="LP must be between 0 and 100"):
        place(people["customer"], current_lp=101)
    assert not Order.objects.exists()


# PROGRESS


@pytest.mark.parametrize(
    "reached, percent",
    [
        (("silver", 2, 0), 0),
        (("silver", 2, 50), 25),
        (("silver", 1, 0), 50),
        (("silver", 1, 50), 75),
        (("gold", 4, 0), 100),
        (("gold", 2, 30), 100),  # past the goal
        (("bronze", 1, 80), 0),  # below where it started
    ],
)
def test_progress_is_derived_from_ranks(people, reached, percent):
    order = place(people["customer"])
    order.reached_rank, order.reached_division, order.reached_lp = reached
    assert order.progress == percent


def test_apex_tiers_have_no_divisions():
    assert ranks.step("master", None) == ranks.step("diamond", 1) + 1
    assert ranks.step("challenger", None) == ranks.step("grandmaster", None) + 1
    assert ranks.label("grandmaster", None) == "Grandmaster"
    assert ranks.label("silver", 2) == "Silver II"


# WORKFLOW

ALLOWED = {
    (Status.PENDING, Status.ASSIGNED),
    (Status.PENDING, Status.CANCELLED),
    (Status.ASSIGNED, Status.IN_PROGRESS),
    (Status.ASSIGNED, Status.CANCELLED),
    (Status.IN_PROGRESS, Status.PAUSED),
    (Status.IN_PROGRESS, Status.COMPLETED),
    (Status.IN_PROGRESS, Status.CANCELLED),
    (Status.PAUSED, Status.IN_PROGRESS),
    (Status.PAUSED, Status.COMPLETED),
    (Status.PAUSED, Status.CANCELLED),
}


def _move(order: Order, to: str, people) -> Order:
    """The service a user would call to reach `to`, called by someone entitled to it."""
    if to == Status.ASSIGNED:
        return services.order_claim(order=order, booster=people["other_booster"])
    if to == Status.COMPLETED:
        return services.order_complete(order=order, by=people["manager"])
    if to == Status.CANCELLED:
        return services.order_cancel(order=order, by=people["manager"])
    return services.order_status_set(order=order, status=to, by=people["manager"])


@pytest.mark.parametrize("from_status, to_status", list(product(Status.values, Status.values)))
def test_every_transition(people, order_in, from_status, to_status):
    order = order_in(from_status)
    allowed = (from_status, to_status) in ALLOWED
    assert permissions.can_transition(from_status, to_status) is allowed
    if allowed:
        assert _move(order, to_status, people).status == to_status
        assert Order.objects.get(pk=order.pk).status == to_status
    else:
        events_before = OrderEvent.objects.filter(order=order).count()
        with pytest.raises(services.OrderError):
            _move(order, to_status, people)
        assert Order.objects.get(pk=order.pk).status == from_status
        assert OrderEvent.objects.filter(order=order).count() == events_before


def test_forbidden_transition_says_which(order_in, people):
    order = order_in(Status.COMPLETED)
    with pytest.raises(services.OrderError) as raised:
        services.order_status_set(order=order, status=Status.PAUSED, by=people["manager"])
    assert str(raised.value) == services.TRANSITION_INVALID.format(from_status="completed", to_status="paused")


def test_unknown_status_is_refused(order_in, people):
    with pytest.raises(services.OrderError, match=services.STATUS_UNKNOWN):
        services.order_status_set(order=order_in(Status.IN_PROGRESS), status="won", by=people["manager"])


# WHO MAY DO WHAT


def test_only_boosters_claim(order_in, people):
    order = order_in()
    for user in (people["customer"], people["other_customer"], people["manager"]):
        with pytest.raises(services.OrderPermissionDenied, match=services.NOT_A_BOOSTER):
            services.order_claim(order=order, booster=user)
    assert Order.objects.get(pk=order.pk).booster is None


def test_a_booster_cannot_boost_their_own_order(make_user, people):
    booster = people["booster"]
    order = place(booster)
    with pytest.raises(services.OrderError, match=services.OWN_ORDER):
        services.order_claim(order=order, booster=booster)


def test_second_claim_with_a_stale_order_loses(order_in, people):
    order = order_in()
    stale = Order.objects.get(pk=order.pk)
    services.order_claim(order=order, booster=people["booster"])
    with pytest.raises(services.OrderError, match=services.ALREADY_TAKEN):
        services.order_claim(order=stale, booster=people["other_booster"])
    assert Order.objects.get(pk=order.pk).booster == people["booster"]


@pytest.mark.django_db(transaction=True)
def test_racing_claims_have_one_winner(people):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers itself; the row lock is exercised on PostgreSQL")
    order = place(people["customer"])
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def claim(booster):
        try:
            barrier.wait()
            services.order_claim(order=Order.objects.get(pk=order.pk), booster=booster)
            outcomes.append("won")
        except services.OrderError:
            outcomes.append("lost")
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(people[name],)) for name in ("booster", "other_booster")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["lost", "won"]
    assert OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.CLAIMED).count() == 1


def test_only_staff_assign(order_in, people):
    order = order_in()
    for user in (people["customer"], people["booster"]):
        with pytest.raises(services.OrderPermissionDenied, match=services.NOT_STAFF):
            services.order_assign(order=order, booster=people["booster"], by=user)
    with pytest.raises(services.OrderError, match=services.BOOSTER_INVALID):
        services.order_assign(order=order, booster=people["other_customer"], by=people["manager"])
    order = services.order_assign(order=order, booster=people["booster"], by=people["admin"])
    assert (order.status, order.booster) == (Status.ASSIGNED, people["booster"])


def test_only_the_assigned_booster_or_staff_moves_the_order(order_in, people):
    order = order_in(Status.IN_PROGRESS)
    for user in (people["customer"], people["other_booster"]):
        with pytest.raises(services.OrderPermissionDenied):
            services.order_status_set(order=order, status=Status.PAUSED, by=user)
        with pytest.raises(services.OrderPermissionDenied):
            services.order_complete(order=order, by=user)
        with pytest.raises(services.OrderPermissionDenied):
            services.order_progress_update(
                order=order, booster=user, reached_rank="silver", reached_division=1, reached_lp=10
            )
    assert Order.objects.get(pk=order.pk).status == Status.IN_PROGRESS


def test_customer_cancels_only_before_the_order_is_taken(order_in, people):
    taken = order_in(Status.ASSIGNED)
    with pytest.raises(services.OrderPermissionDenied, match=services.CANCEL_BY_CUSTOMER):
        services.order_cancel(order=taken, by=people["customer"])
    with pytest.raises(services.OrderPermissionDenied, match=services.NOT_ALLOWED):
        services.order_cancel(order=order_in(), by=people["other_customer"])
    assert services.order_cancel(order=order_in(), by=people["customer"]).status == Status.CANCELLED


# PROGRESS, PAYOUTS, ROOMS, EMAIL


def test_progress_report_moves_the_order_and_records_it(order_in, people):
    order = order_in(Status.ASSIGNED)
    order = services.order_progress_update(
        order=order, booster=people["booster"], reached_rank="silver", reached_division=1, reached_lp=50
    )
    assert (order.status, order.progress) == (Status.IN_PROGRESS, 75)
    event = order.events.latest("id")
    assert (event.kind, event.actor, event.from_status, event.to_status) == (
        OrderEvent.Kind.PROGRESS,
        people["booster"],
        Status.ASSIGNED,
        Status.IN_PROGRESS,
    )
    assert "Silver I" in event.message


def test_progress_needs_valid_ranks_and_an_active_order(order_in, people):
    order = order_in(Status.IN_PROGRESS)
    with pytest.raises(services.OrderError, match="Master has no divisions"):
        services.order_progress_update(
            order=order, booster=people["booster"], reached_rank="master", reached_division=2, reached_lp=0
        )
    paused = order_in(Status.PAUSED)
    with pytest.raises(services.OrderError, match=services.PROGRESS_NEEDS_PLAY):
        services.order_progress_update(
            order=paused, booster=people["booster"], reached_rank="silver", reached_division=1, reached_lp=0
        )


def test_completion_pays_the_booster_once(order_in, people):
    order = order_in(Status.COMPLETED)
    payout = BoosterTransaction.objects.get(order=order)
    assert (payout.booster, payout.amount) == (people["booster"], Decimal("11.20"))
    assert order.progress == 100
    with pytest.raises(services.OrderError):
        services.order_complete(order=order, by=people["manager"])
    assert BoosterTransaction.objects.filter(order=order).count() == 1


def test_order_rooms_follow_the_order(order_in, people):
    order = place(people["customer"])
    staff_room = order.staff_room
    assert staff_room.name == f"order-{order.pk}-staff"
    assert (staff_room.kind, staff_room.staff_access) == (Room.Kind.ORDER, True)
    assert set(staff_room.members.all()) == {people["customer"]}

    order = services.order_claim(order=order, booster=people["booster"])
    assert order.booster_room.name == f"order-{order.pk}-booster"
    assert set(order.booster_room.members.all()) == {people["customer"], people["booster"]}

    order = services.order_assign(order=order, booster=people["other_booster"], by=people["manager"])
    assert set(order.booster_room.members.all()) == {people["customer"], people["other_booster"]}
    assert order.status == Status.ASSIGNED


def test_assignment_and_completion_email_after_commit(order_in, people, django_capture_on_commit_callbacks):
    order = order_in()
    with django_capture_on_commit_callbacks(execute=True):
        services.order_claim(order=order, booster=people["booster"])
    assert sorted(m.to[0] for m in mail.outbox) == [people["booster"].email, people["customer"].email]
    mail.outbox.clear()
    services.order_status_set(order=order, status=Status.IN_PROGRESS, by=people["booster"])
    with django_capture_on_commit_callbacks(execute=True):
        services.order_complete(order=order, by=people["booster"])
    assert [m.to for m in mail.outbox] == [[people["customer"].email]]


def test_smtp_failure_does_not_break_the_action(settings, order_in, people, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "tests.orders.conftest.FailingEmailBackend"
    order = order_in()
    with django_capture_on_commit_callbacks(execute=True):
        services.order_claim(order=order, booster=people["booster"])
    assert Order.objects.get(pk=order.pk).status == Status.ASSIGNED


# LIVE PUSH SCHEDULING


def _order_groups(published) -> list[str]:
    return [group for group, payload in published if payload.get("kind") == broadcasts.EVENT_KIND]


def test_a_service_schedules_one_push_that_waits_for_commit(
    order_in, people, published, django_capture_on_commit_callbacks
):
    order = order_in(Status.ASSIGNED)
    published.clear()
    with django_capture_on_commit_callbacks() as callbacks:
        # Several saves and an event in one transaction...
        services.order_progress_update(
            order=order, booster=people["booster"], reached_rank="silver", reached_division=1, reached_lp=0
        )
        assert published == []
    pushes = [callback for callback in callbacks if isinstance(callback, broadcasts._Push)]
    assert len(pushes) == 1  # ...push once
    pushes[0]()
    assert set(_order_groups(published)) == {
        groups.order(order.pk),
        groups.user(people["customer"].pk),
        groups.user(people["booster"].pk),
        groups.STAFF,
    }


def test_a_shell_save_pushes_once_after_commit(order_in, people, published, django_capture_on_commit_callbacks):
    order = order_in(Status.IN_PROGRESS)
    published.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        shell_copy = Order.objects.get(pk=order.pk)
        shell_copy.reached_lp = 60
        shell_copy.save()
        shell_copy.save()
        assert published == []
    assert len([c for c in callbacks if isinstance(c, broadcasts._Push)]) == 1
    assert _order_groups(published).count(groups.order(order.pk)) == 1


def test_shell_reassignments_take_the_card_from_whoever_had_it(order_in, people, published):
    """A shell session keeps its instance, here the one a service returned: each
    save is compared with the one before it."""
    order = services.order_claim(order=order_in(), booster=people["booster"])
    commit_point()
    for new, previous in ((people["other_booster"], people["booster"]), (people["booster"], people["other_booster"])):
        published.clear()
        order.booster = new
        order.save()
        assert published == []
        commit_point()
        removed = [payload["html"] for group, payload in published if group == groups.user(previous.pk)]
        assert len(removed) == 1 and f"delete:#my-orders #order-{order.pk}" in removed[0]
        assert any(group == groups.user(new.pk) for group, _payload in published)


def test_a_rolled_back_change_schedules_nothing(order_in, people, published, django_capture_on_commit_callbacks):
    order = order_in(Status.IN_PROGRESS)
    published.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.order_status_set(order=order, status=Status.PAUSED, by=people["booster"])
            raise RuntimeError("something later in the request failed")
    assert callbacks == []
    assert published == []
    assert Order.objects.get(pk=order.pk).status == Status.IN_PROGRESS


def test_a_change_after_a_rolled_back_savepoint_still_pushes(order_in, people, django_capture_on_commit_callbacks):
    order = order_in(Status.IN_PROGRESS)
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.order_status_set(order=order, status=Status.PAUSED, by=people["booster"])
            raise RuntimeError("the savepoint and its push are discarded")
        # Must not merge into the discarded push.
        services.order_progress_update(
            order=order, booster=people["booster"], reached_rank="silver", reached_division=1, reached_lp=0
        )
    assert len([c for c in callbacks if isinstance(c, broadcasts._Push)]) == 1


def test_claiming_takes_the_order_off_the_claim_list(order_in, people, published, django_capture_on_commit_callbacks):
    order = order_in()
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.order_claim(order=order, booster=people["booster"])
    boosters = [payload for group, payload in published if group == groups.BOOSTERS]
    assert len(boosters) == 1
    assert f'hx-swap-oob="delete:#claimable-orders #order-{order.pk}"' in boosters[0]["html"]


def test_reassignment_removes_the_card_from_the_previous_booster(
    order_in, people, published, django_capture_on_commit_callbacks
):
    order = order_in(Status.IN_PROGRESS)
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.order_assign(order=order, booster=people["other_booster"], by=people["manager"])
    previous = [payload for group, payload in published if group == groups.user(people["booster"].pk)]
    assert len(previous) == 1
    assert f'hx-swap-oob="delete:#my-orders #order-{order.pk}"' in previous[0]["html"]
    assert '"type": "order.removed"' in previous[0]["json"]


def test_seed_demo_is_idempotent(db):
    from django.core.management import call_command

    call_command("seed_demo", stdout=io.StringIO())
    statuses = set(Order.objects.values_list("status", flat=True))
    count = Order.objects.count()
    call_command("seed_demo", stdout=io.StringIO())
    assert Order.objects.count() == count
    assert statuses == {Status.PENDING, Status.IN_PROGRESS, Status.PAUSED, Status.COMPLETED, Status.CANCELLED}
    assert all(order.staff_room_id for order in Order.objects.all())
