"""What an order's emails say, one function per reader and occasion: the
services decide who gets which, and send it after the commit. Plain text."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser

from orders.models import Order
from realtime.mail import absolute_url


@dataclass(frozen=True)
class Mail:
    subject: str
    body: str


def _boost(order: Order) -> str:
    return f"{order.name} ({order.current_label} → {order.desired_label})"


def _because(reason: str) -> str:
    return f" Reason: {reason}" if reason else ""


def booster_found(order: Order, booster: AbstractBaseUser) -> Mail:
    """To the customer, the first time someone takes the order."""
    return Mail(
        f"{order.name}: a booster is on it",
        f"{booster.username} will boost your order {_boost(order)}. "
        f"Follow it live at {absolute_url(order.get_absolute_url())}",
    )


def booster_changed(order: Order, booster: AbstractBaseUser) -> Mail:
    """To the customer, when staff hand the order to another booster."""
    return Mail(
        f"{order.name}: your booster changed",
        f"Our staff handed your order {_boost(order)} to {booster.username}, who boosts it from here. "
        f"Your progress so far is kept. Follow it live at {absolute_url(order.get_absolute_url())}",
    )


def order_yours(order: Order) -> Mail:
    """To the booster who now has the order (claimed, assigned or reassigned)."""
    return Mail(
        f"{order.name} is yours",
        f"You now boost {_boost(order)}. Details and chat: {absolute_url(order.get_absolute_url())}",
    )


def order_taken_from_you(order: Order) -> Mail:
    """To the booster staff took the order from."""
    return Mail(
        f"{order.name} was reassigned",
        f"Our staff handed {order.name} to another booster: it is no longer yours and has left your dashboard. "
        "Please stop playing on that account.",
    )


def cancelled_for_customer(order: Order, *, by_customer: bool, reason: str) -> Mail:
    if by_customer:
        return Mail(
            f"{order.name} is cancelled", f"You cancelled your order {_boost(order)}. Nothing more will happen."
        )
    return Mail(
        f"{order.name} was cancelled",
        f"Our staff cancelled your order {_boost(order)}.{_because(reason)} Questions? Reply in the order's support "
        f"chat: {absolute_url(order.get_absolute_url())}",
    )


def cancelled_for_booster(order: Order, *, reason: str) -> Mail:
    return Mail(
        f"{order.name} was cancelled",
        f"{order.name}, which you were boosting, was cancelled.{_because(reason)} Please stop playing on that account.",
    )


def completed_for_customer(order: Order) -> Mail:
    return Mail(
        f"{order.name} is complete",
        f"Your boost to {order.desired_label} is done. Thanks for ordering with Boostroom!",
    )
