"""What may happen to an order: the status workflow, and which controls each
audience gets in each status. Pure rules on an order already loaded, so the
services (which enforce them), the broadcasts and the views (which show them)
all read the same answer without importing one another."""

from __future__ import annotations

from orders.models import Order
from orders.selectors import CLAIM
from realtime.roles import BOOSTER, CUSTOMER, STAFF

Status = Order.Status

# The workflow: pending -> assigned -> in_progress <-> paused -> completed, and
# cancelled from anywhere that isn't finished.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.PENDING: frozenset({Status.ASSIGNED, Status.CANCELLED}),
    Status.ASSIGNED: frozenset({Status.IN_PROGRESS, Status.CANCELLED}),
    Status.IN_PROGRESS: frozenset({Status.PAUSED, Status.COMPLETED, Status.CANCELLED}),
    Status.PAUSED: frozenset({Status.IN_PROGRESS, Status.COMPLETED, Status.CANCELLED}),
    Status.COMPLETED: frozenset(),
    Status.CANCELLED: frozenset(),
}
# Statuses in which staff may hand the order to a (different) booster.
REASSIGNABLE = frozenset({Status.PENDING, Status.ASSIGNED, Status.IN_PROGRESS, Status.PAUSED})


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def allowed_actions(*, order: Order, audience: str) -> frozenset[str]:
    """The controls a card shows to an audience; the services check again on POST."""
    status = order.status
    actions: set[str] = set()
    if audience == CLAIM and order.is_claimable:
        actions.add("claim")
    elif audience == CUSTOMER and order.is_claimable:
        actions.add("cancel")
    elif audience == BOOSTER:
        if status == Status.ASSIGNED:
            actions.update({"start", "progress"})
        elif status == Status.IN_PROGRESS:
            actions.update({"pause", "progress", "proof"})
            if order.goal_reached:
                actions.add("complete")
        elif status == Status.PAUSED:
            actions.update({"resume", "proof"})
        elif status == Status.COMPLETED:
            actions.add("proof")
    elif audience == STAFF:
        if status in REASSIGNABLE:
            actions.add("assign")
        if status == Status.ASSIGNED:
            actions.add("start")
        if status == Status.IN_PROGRESS:
            actions.add("pause")
        if status == Status.PAUSED:
            actions.add("resume")
        if can_transition(status, Status.COMPLETED):
            actions.add("complete")
        if can_transition(status, Status.CANCELLED):
            actions.add("cancel")
    return frozenset(actions)
