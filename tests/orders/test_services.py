"""Order services: placing, the workflow, who may do what, and what leaves after commit."""

from __future__ import annotations

import io
import threading
from decimal import Decimal
from itertools import product

import pytest
from django.core import mail
from django.db import connection, transaction

from orders import broadcasts, permissions, services
from orders.games import ladder
from orders.models import BoosterTransaction, Order, OrderEvent
from realtime import groups
from rooms.models import Room
from tests.orders.conftest import Status, commit_point, place, reach_goal

pytestmark = pytest.mark.django_db


# PLACING


def test_order_price_is_computed_on_the_server(people):
    order = place(people["customer"])
    assert (order.price, order.booster_price) == (Decimal("16.00"), Decimal("11.20"))
    assert (order.game, order.name) == ("lol", f"LOL-{order.pk:06d}")
    assert order.status == Status.PENDING and order.booster is None


def test_order_create_refuses_lp_out_of_range(people):
    with pytest.raises(services.OrderError, match="LP must be between 0 and 100"):
        place(people["customer"], current_points=101)
    assert not Order.objects.exists()


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
        return services.order_complete(order=order, by=people["manager"], reason="the customer is happy")
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
                order=order, booster=user, reached_rank="silver", reached_division=1, reached_points=10
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
        order=order, booster=people["booster"], reached_rank="silver", reached_division=1, reached_points=50
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
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.reached_rank, stored.reached_division, stored.reached_points) == (
        Status.IN_PROGRESS,
        "silver",
        1,
        50,
    )
    assert stored.updated == event.created == order.updated


def test_progress_needs_valid_ranks_and_an_active_order(order_in, people):
    order = order_in(Status.IN_PROGRESS)
    with pytest.raises(services.OrderError, match="Master has no divisions"):
        services.order_progress_update(
            order=order, booster=people["booster"], reached_rank="master", reached_division=2, reached_points=0
        )
    paused = order_in(Status.PAUSED)
    with pytest.raises(services.OrderError, match=services.PROGRESS_NEEDS_PLAY):
        services.order_progress_update(
            order=paused, booster=people["booster"], reached_rank="silver", reached_division=1, reached_points=0
        )


@pytest.mark.parametrize(
    "order, reached, error",
    [
        # The two: far past the goal, and far below the start.
        (
            {},
            ("diamond", 1, 60),
            ladder.PAST_GOAL.format(goal="Gold IV"),
        ),
        (
            {"current_rank": "platinum", "current_division": 2, "desired_rank": "emerald", "desired_division": 4},
            ("iron", 4, 0),
            ladder.BELOW_START.format(start="Platinum II 0 LP"),
        ),
        ({}, ("gold", 3, 0), ladder.PAST_GOAL.format(goal="Gold IV")),  # one division past
        ({"current_points": 40}, ("silver", 2, 39), ladder.BELOW_START.format(start="Silver II 40 LP")),
    ],
)
def test_progress_outside_start_and_goal_is_refused_and_not_stored(people, order, reached, error):
    placed = services.order_claim(order=place(people["customer"], **order), booster=people["booster"])
    events = placed.events.count()
    with pytest.raises(services.OrderError) as raised:
        services.order_progress_update(
            order=placed,
            booster=people["booster"],
            reached_rank=reached[0],
            reached_division=reached[1],
            reached_points=reached[2],
        )
    assert str(raised.value) == error
    fresh = Order.objects.get(pk=placed.pk)
    assert (fresh.reached_rank, fresh.reached_division, fresh.reached_points, fresh.status) == (
        placed.current_rank,
        placed.current_division,
        placed.current_points,
        Status.ASSIGNED,
    )
    assert fresh.events.count() == events


@pytest.mark.parametrize(
    "reached, percent",
    [(("silver", 2, 40), 0), (("silver", 1, 90), 93), (("gold", 4, 0), 100), (("gold", 4, 35), 100)],
)
def test_progress_from_the_start_up_to_the_goal_division_is_accepted(people, reached, percent):
    placed = services.order_claim(order=place(people["customer"], current_points=40), booster=people["booster"])
    order = services.order_progress_update(
        order=placed,
        booster=people["booster"],
        reached_rank=reached[0],
        reached_division=reached[1],
        reached_points=reached[2],
    )
    assert (order.reached_rank, order.reached_division, order.reached_points, order.progress) == (*reached, percent)


def test_completion_pays_the_booster_once(order_in, people):
    order = order_in(Status.COMPLETED)
    payout = BoosterTransaction.objects.get(order=order)
    assert (payout.booster, payout.amount) == (people["booster"], Decimal("11.20"))
    assert order.progress == 100
    with pytest.raises(services.OrderError):
        services.order_complete(order=order, by=people["manager"], reason="again")
    assert BoosterTransaction.objects.filter(order=order).count() == 1


def test_the_booster_completes_only_at_the_goal(order_in, people):
    order = order_in(Status.IN_PROGRESS)
    assert "complete" not in permissions.allowed_actions(order=order, audience="booster")
    events = order.events.count()
    with pytest.raises(services.OrderError) as raised:
        services.order_complete(order=order, by=people["booster"])
    assert str(raised.value) == services.GOAL_NOT_REACHED.format(goal="Gold IV")
    assert Order.objects.get(pk=order.pk).status == Status.IN_PROGRESS
    assert order.events.count() == events and not BoosterTransaction.objects.exists()

    order = reach_goal(order, people["booster"])
    assert "complete" in permissions.allowed_actions(order=order, audience="booster")
    assert services.order_complete(order=order, by=people["booster"]).status == Status.COMPLETED
    assert order.events.latest("id").message == f"Completed by {people['booster'].username}"


def test_staff_complete_before_the_goal_only_with_a_reason_on_the_timeline(order_in, people):
    order = order_in(Status.PAUSED)
    assert "complete" in permissions.allowed_actions(order=order, audience="staff")
    for blank in ("", "   "):
        with pytest.raises(services.OrderError) as raised:
            services.order_complete(order=order, by=people["manager"], reason=blank)
        assert str(raised.value) == services.EARLY_COMPLETION_NEEDS_REASON.format(goal="Gold IV")
    assert Order.objects.get(pk=order.pk).status == Status.PAUSED and not BoosterTransaction.objects.exists()

    order = services.order_complete(order=order, by=people["manager"], reason=" account banned from ranked ")
    assert order.status == Status.COMPLETED and order.payout.amount == order.booster_price
    assert order.events.latest("id").message == (
        f"Completed by {people['manager'].username} before reaching Gold IV: account banned from ranked"
    )


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
    reach_goal(order, people["booster"])
    with django_capture_on_commit_callbacks(execute=True):
        services.order_complete(order=order, by=people["booster"])
    assert [m.to for m in mail.outbox] == [[people["customer"].email]]


def _mails() -> dict[str, list[str]]:
    """Subjects by recipient, of everything sent so far."""
    sent: dict[str, list[str]] = {}
    for message in mail.outbox:
        for to in message.to:
            sent.setdefault(to, []).append(message.subject)
    return sent


def test_reassignment_mails_each_person_its_own_news(order_in, people, django_capture_on_commit_callbacks):
    order = order_in(Status.IN_PROGRESS)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.order_assign(order=order, booster=people["other_booster"], by=people["manager"])
    customer, previous, new = (people[name].email for name in ("customer", "booster", "other_booster"))
    assert _mails() == {
        customer: [f"{order.name}: your booster changed"],
        previous: [f"{order.name} was reassigned"],
        new: [f"{order.name} is yours"],
    }
    bodies = {message.to[0]: message.body for message in mail.outbox}
    assert people["other_booster"].username in bodies[customer] and "a booster is on it" not in bodies[customer]
    assert "no longer yours" in bodies[previous] and people["other_booster"].username not in bodies[previous]


def test_cancelling_mails_the_customer_and_the_booster(order_in, people, django_capture_on_commit_callbacks):
    order = order_in(Status.IN_PROGRESS)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.order_cancel(order=order, by=people["manager"], reason=" duplicate order ")
    customer, booster = people["customer"].email, people["booster"].email
    assert _mails() == {customer: [f"{order.name} was cancelled"], booster: [f"{order.name} was cancelled"]}
    bodies = {message.to[0]: message.body for message in mail.outbox}
    assert "Our staff cancelled your order" in bodies[customer] and "Reason: duplicate order" in bodies[customer]
    assert "which you were boosting" in bodies[booster] and "Reason: duplicate order" in bodies[booster]

    pending = order_in()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.order_cancel(order=pending, by=people["customer"])
    assert _mails() == {customer: [f"{pending.name} is cancelled"]}
    assert mail.outbox[0].body.startswith("You cancelled your order")


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
            order=order, booster=people["booster"], reached_rank="silver", reached_division=1, reached_points=0
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
        shell_copy.reached_points = 60
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
            order=order, booster=people["booster"], reached_rank="silver", reached_division=1, reached_points=0
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
