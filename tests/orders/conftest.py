"""Order fixtures: people in each role and orders put into a given state through
the services, the same way the site does it."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from typing import Any

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection

from orders import services
from orders.models import Order

Status = Order.Status
# Silver II -> Gold IV: the order from the "done when".
SILVER_II_TO_GOLD_IV = {
    "current_rank": "silver",
    "current_division": 2,
    "current_points": 0,
    "desired_rank": "gold",
    "desired_division": 4,
}


class FailingEmailBackend(BaseEmailBackend):
    """An SMTP server that is down."""

    def send_messages(self, email_messages: Any) -> int:
        raise smtplib.SMTPConnectError(421, "service not available")


@pytest.fixture
def roles(db) -> None:
    """The role groups from migration 0001, which a transactional test's flush removes."""
    from django.contrib.auth.models import Group

    for name in ("boosters", "managers"):
        Group.objects.get_or_create(name=name)


@pytest.fixture
def people(roles, make_user) -> dict[str, Any]:
    """Both boosters may claim every League of Legends order (and no Valorant one)."""
    return {
        "customer": make_user("cust"),
        "other_customer": make_user("othercust"),
        "booster": make_user("boost", role="booster"),
        "other_booster": make_user("boost2", role="booster"),
        "manager": make_user("mgr", role="manager"),
        "admin": make_user("adm", role="admin"),
    }


def approve(booster, game: str, max_tier: str, *, by) -> None:
    services.booster_approval_set(booster=booster, game=game, max_tier=max_tier, by=by)


def place(customer, **overrides: Any) -> Order:
    return services.order_create(customer=customer, **{**SILVER_II_TO_GOLD_IV, **overrides})


def drive_to(order: Order, status: str, *, booster, staff) -> Order:
    """Move a pending order along the workflow until it has `status`."""
    if status == Status.PENDING:
        return order
    if status == Status.CANCELLED:
        return services.order_cancel(order=order, by=staff)
    order = services.order_claim(order=order, booster=booster)
    if status == Status.ASSIGNED:
        return order
    order = services.order_status_set(order=order, status=Status.IN_PROGRESS, by=booster)
    if status == Status.IN_PROGRESS:
        return order
    if status == Status.PAUSED:
        return services.order_status_set(order=order, status=Status.PAUSED, by=booster)
    return services.order_complete(order=reach_goal(order, booster), by=booster)


def reach_goal(order: Order, booster) -> Order:
    """The booster reports the goal division: what lets them mark the order complete."""
    return services.order_progress_update(
        order=order,
        booster=booster,
        reached_rank=order.desired_rank,
        reached_division=order.desired_division,
        reached_points=0,
    )


def commit_point() -> None:
    """Do what a commit does with on_commit callbacks: run them, then forget them.

    Requests commit; pytest-django's wrapping transaction never does, so without
    this a test's own change would merge into the push its setup left pending.
    """
    pending, connection.run_on_commit = connection.run_on_commit, []
    for _sids, callback, _robust in pending:
        callback()


@pytest.fixture
def order_in(people) -> Callable[..., Order]:
    def make(status: str = Status.PENDING, *, customer=None, booster=None) -> Order:
        order = place(customer or people["customer"])
        order = drive_to(order, status, booster=booster or people["booster"], staff=people["manager"])
        if connection.in_atomic_block:
            commit_point()
        return order

    return make


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, dict[str, Any]]]:
    """Every (group, payload) a process with a socket in every group would deliver
    for what the order broadcasts publish, when they publish; still delivered for real."""
    from orders import broadcasts

    calls: list[tuple[str, dict[str, Any]]] = []
    real = broadcasts.publish_many_sync

    def record(events: list[tuple[str, dict[str, Any]]]) -> None:
        for group, payload in events:
            if payload.get("kind") == broadcasts.CHANGE_KIND:
                calls.extend(broadcasts.render_change(payload, lambda group: True))
            else:
                calls.append((group, payload))
        real(events)

    monkeypatch.setattr(broadcasts, "publish_many_sync", record)
    return calls
