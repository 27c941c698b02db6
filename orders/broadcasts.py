"""Rendering and publishing of live order cards.

`schedule()` is the only entry point, called inside the transaction by two
paths that never overlap: every order service (marked `@pushes_explicitly`)
schedules its own push, saying who lost the order; the receivers in
orders.signals schedule one only for changes made outside the services (the
admin's change form, the shell), and stand aside while a service runs. It
registers at most one push per order per transaction, merged, that runs after
the commit; a rollback discards it. The push re-reads the order, renders its
card once per audience (customer, booster, staff, claim list), wraps it as an
out-of-band swap for each place (the order page, a dashboard list) and
publishes to:

- `order(pk)`: the order page; the event carries a frame per audience and each
  socket picks the one for the role it had at connect;
- `user(customer)` / `user(booster)`: their dashboards (`#my-orders`);
- `STAFF`: the staff dashboard (`#all-orders`);
- `BOOSTERS`: the claim list (`#claimable-orders`), while the order is claimable,
  and once more when it stops being claimable, to remove it there.

JSON clients (`?format=json`) get seed 001's `order.update` event, built here
once per audience too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import UTC
from functools import cache, wraps
from typing import Any, ParamSpec, TypeVar

from django.db import DEFAULT_DB_ALIAS, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from orders import permissions, selectors
from orders.models import Order
from orders.selectors import BOOSTER, CLAIM, CUSTOMER, STAFF
from realtime import groups
from realtime.aftercommit import after_commit
from realtime.fanout import publish_many_sync

EVENT_KIND = "orders.card"
CHANGE_KIND = "orders.changed"  # one order changed: each process renders it for its own sockets
CLAIM_SCOPE_KIND = "orders.claim_scope"  # a booster's approvals changed
DASHBOARD = "orders/dashboard.html"
PAGE = "orders/order.html"
DEFAULT_MESSAGE = "Order updated"
# Where each audience's card lives on a dashboard.
LISTS = {CUSTOMER: "#my-orders", BOOSTER: "#my-orders", STAFF: "#all-orders", CLAIM: "#claimable-orders"}
# What a socket that just lost the order is told before it is closed.
ORDER_GONE = "This order is no longer available to you."


# SCHEDULING

P = ParamSpec("P")
R = TypeVar("R")
# Set while an order service runs: it schedules its pushes itself.
_service_running: ContextVar[bool] = ContextVar("orders_service_running", default=False)


def pushes_explicitly(service: Callable[P, R]) -> Callable[P, R]:
    """Mark an order service: it schedules its own push, so the receivers that
    catch saves made elsewhere do not schedule what it already did."""

    @wraps(service)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _service_running.set(True)
        try:
            return service(*args, **kwargs)
        finally:
            _service_running.reset(token)

    return run


def saved_by_a_service() -> bool:
    return _service_running.get()


class _Push:
    """One pending push for one order; later changes in the transaction merge in."""

    def __init__(self, order_id: int) -> None:
        self.order_id = order_id
        self.message = DEFAULT_MESSAGE
        self.lost_user_ids: set[int] = set()
        self.left_claim_list = False
        self.payouts = False
        # Django's robust on_commit logs failures with func.__qualname__.
        self.__qualname__ = f"orders.broadcasts.push(order={order_id})"

    def merge(self, *, message: str | None, lost_user_ids: Iterable[int], left_claim_list: bool, payouts: bool) -> None:
        if message:
            self.message = message
        self.lost_user_ids.update(lost_user_ids)
        self.left_claim_list = self.left_claim_list or left_claim_list
        self.payouts = self.payouts or payouts

    def __call__(self) -> None:
        push(
            self.order_id,
            message=self.message,
            lost_user_ids=self.lost_user_ids,
            left_claim_list=self.left_claim_list,
            payouts=self.payouts,
        )


def schedule(
    order_id: int,
    *,
    message: str | None = None,
    lost_user_ids: Iterable[int] = (),
    left_claim_list: bool = False,
    payouts: bool = False,
    using: str = DEFAULT_DB_ALIAS,
) -> None:
    """Push the order after the current transaction commits, once however often it changed."""
    hints = {"message": message, "lost_user_ids": lost_user_ids, "left_claim_list": left_claim_list, "payouts": payouts}
    connection = transaction.get_connection(using)
    if connection.in_atomic_block:
        # A push already waiting in this transaction survives any rollback that
        # would discard a new one (savepoints nest), so merging into it is safe.
        for _sids, func, _robust in connection.run_on_commit:
            if isinstance(func, _Push) and func.order_id == order_id:
                func.merge(**hints)
                return
    pending = _Push(order_id)
    pending.merge(**hints)
    # robust: the change is committed already; a failed push must not turn it into an error.
    transaction.on_commit(pending, using=using, robust=True)


def schedule_saved(order: Order) -> None:
    """For a save outside the services: work out who lost the order since it was
    loaded (or last saved; Order.save keeps that snapshot)."""
    loaded = order._loaded or {"booster_id": None, "claimable": False}
    lost = [loaded["booster_id"]] if loaded["booster_id"] not in (None, order.booster_id) else []
    schedule(order.pk, lost_user_ids=lost, left_claim_list=loaded["claimable"] and not order.is_claimable)


# RENDERING


def render_card_body(order: Order, audience: str, *, boosters: list | None = None) -> str:
    """What an audience sees inside the card: rendered once per audience per change."""
    context = {
        "order": order,
        "audience": audience,
        "actions": permissions.allowed_actions(order=order, audience=audience),
        "boosters": boosters or [],
    }
    return render_to_string(f"{DASHBOARD}#card-body", context)


def render_card(
    order: Order,
    audience: str,
    *,
    boosters: list | None = None,
    oob: bool = False,
    in_list: str | None = None,
    body: str | None = None,
) -> str:
    """The card; `oob` makes it a pushed swap, `in_list` scopes that swap to a
    dashboard list (inserting the card there when new). `body` is one already
    rendered by `render_card_body`, so a push wraps it for each place instead
    of rendering it again."""
    if body is None:
        body = render_card_body(order, audience, boosters=boosters)
    context = {"order": order, "audience": audience, "card_body": body, "oob": oob, "in_list": in_list}
    return render_to_string(f"{DASHBOARD}#card", context).strip()


def render_removal(order_id: int, audience: str) -> str:
    """Takes the card off the dashboard list where `audience` sees it."""
    return render_to_string(f"{DASHBOARD}#card-removed", {"order_id": order_id, "in_list": LISTS[audience]})


def render_notice(text: str = "") -> str:
    """The page's notice line, pushed; empty clears it."""
    return _render_notice(text) if text else _cleared_notice()


def _render_notice(text: str) -> str:
    return render_to_string(f"{DASHBOARD}#notice", {"notice": text, "oob": True})


@cache
def _cleared_notice() -> str:
    # Every successful action's response carries it: the same bytes each time, rendered once per process.
    return _render_notice("")


@cache
def order_gone_frame() -> str:
    """The notice, and the order page without the card and its controls. The
    same for every socket that loses an order: rendered once per process."""
    return render_to_string(f"{PAGE}#gone", {"notice": ORDER_GONE})


def render_timeline(order: Order, *, oob: bool = True) -> str:
    return render_to_string(
        f"{PAGE}#timeline", {"order": order, "events": selectors.order_timeline(order=order), "oob": oob}
    )


def render_proofs(order: Order, *, oob: bool = True) -> str:
    return render_to_string(
        f"{PAGE}#proofs", {"order": order, "proofs": selectors.order_proofs(order=order), "oob": oob}
    )


def render_chats(order: Order, audience: str) -> str:
    rooms = selectors.order_rooms(order=order, audience=audience)
    return render_to_string(f"{PAGE}#chats", {"rooms": rooms, "oob": True})


def render_payouts(booster: Any, *, oob: bool = True) -> str:
    context = {
        "payouts": selectors.booster_payouts(user=booster),
        "payout_total": selectors.booster_payout_total(user=booster),
        "oob": oob,
    }
    return render_to_string(f"{DASHBOARD}#payouts", context)


def _timestamp(value: Any) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def json_event(order: Order, audience: str, message: str) -> dict[str, Any]:
    """Seed 001's `order.update`; each audience sees only the prices that concern it."""
    data: dict[str, Any] = {
        "type": "order.update",
        "order_id": order.pk,
        "name": order.name,
        "status": order.status,
        "progress": order.progress,
        "booster_price": str(order.booster_price),
        "actual_price": str(order.price),
        "booster_id": order.booster_id,
        "booster_username": order.booster.username if order.booster else None,
        "game": order.game,
        "reached_rank": order.reached_rank_label,
        "reached_division": order.reached_division,
        "reached_marks": order.reached_points,
        "message": message,
        "timestamp": _timestamp(timezone.now()),
    }
    if audience == CUSTOMER:
        data["booster_price"] = None
    if audience in (BOOSTER, CLAIM):
        data["actual_price"] = None
    if audience == CLAIM:
        data["booster_id"] = data["booster_username"] = None
    return data


def removed_event(order_id: int) -> str:
    return json.dumps({"type": "order.removed", "order_id": order_id, "timestamp": _timestamp(timezone.now())})


# PUBLISHING


def push(
    order_id: int,
    *,
    message: str = DEFAULT_MESSAGE,
    lost_user_ids: Iterable[int] = (),
    left_claim_list: bool = False,
    payouts: bool = False,
) -> None:
    """One small event naming the change, one hop: each process renders it for its own sockets."""
    change = {
        "kind": CHANGE_KIND,
        "order_id": order_id,
        "message": message,
        "lost_user_ids": sorted(lost_user_ids),
        "left_claim_list": left_claim_list,
        "payouts": payouts,
    }
    publish_many_sync([(groups.ORDER_CHANGES, change)])


def render_change(change: dict[str, Any], local: Callable[[str], bool]) -> list[tuple[str, dict[str, Any]]]:
    """What a process whose sockets are in the groups `local` says yes to gets for
    one order change: each audience's card rendered once, and only for an audience
    with a socket here (the timeline, proofs and chat list only for an open order
    page). Registered with realtime.fanout in OrdersConfig.ready."""
    order_id = change["order_id"]
    order_page, lost = groups.order(order_id), set(change["lost_user_ids"])
    order = selectors.order_for_push(order_id=order_id)
    if order is None:
        return _gone_events(order_id, lost, local)
    message, left_claim_list, payouts = change["message"], change["left_claim_list"], change["payouts"]
    lost.discard(order.customer_id)
    if order.booster_id is not None:
        lost.discard(order.booster_id)
    claimable = order.is_claimable
    # Each audience's groups here, in the order the events go out.
    wanted = {
        CUSTOMER: local(groups.user(order.customer_id)),
        STAFF: local(groups.STAFF),
        BOOSTER: order.booster_id is not None and local(groups.user(order.booster_id)),
        CLAIM: (claimable or left_claim_list) and local(groups.BOOSTERS),
    }
    page_open = local(order_page)
    audiences = [CUSTOMER, STAFF]
    if order.booster_id is not None:
        audiences.append(BOOSTER)
    if claimable or left_claim_list:
        audiences.append(CLAIM)
    # The order page's event carries a frame per audience: every one there may be.
    rendered = [a for a in audiences if page_open or (wanted[a] and not (a == CLAIM and not claimable))]

    bodies: dict[str, str] = {}
    if rendered:
        boosters = selectors.boosters_for_assign() if STAFF in rendered else None
        bodies = {audience: render_card_body(order, audience, boosters=boosters) for audience in rendered}
    payloads = {audience: json.dumps(json_event(order, audience, message)) for audience in rendered}

    def listed(audience: str) -> str:
        return render_card(order, audience, oob=True, in_list=LISTS[audience], body=bodies[audience])

    common = {"kind": EVENT_KIND, "order_id": order.pk}
    events: list[tuple[str, dict[str, Any]]] = []
    if page_open:
        page_extras = render_timeline(order) + render_proofs(order)
        frames = {
            audience: render_card(order, audience, oob=True, body=bodies[audience])
            + ("" if audience == CLAIM else page_extras + render_chats(order, audience))
            for audience in audiences
        }
        page = {**common, "frames": frames, "json": payloads, "booster_id": order.booster_id, "claimable": claimable}
        events.append((order_page, page))
    if wanted[CUSTOMER]:
        customer = {**common, "html": listed(CUSTOMER), "json": payloads[CUSTOMER]}
        events.append((groups.user(order.customer_id), customer))
    if wanted[BOOSTER]:
        html = listed(BOOSTER)
        if payouts:
            html += render_payouts(order.booster)
        events.append((groups.user(order.booster_id), {**common, "html": html, "json": payloads[BOOSTER]}))
    lost_here = sorted(user_id for user_id in lost if local(groups.user(user_id)))
    if lost_here:
        removed = {**common, "html": render_removal(order.pk, BOOSTER), "json": removed_event(order.pk)}
        events.extend((groups.user(user_id), removed) for user_id in lost_here)
    if wanted[STAFF]:
        events.append((groups.STAFF, {**common, "html": listed(STAFF), "json": payloads[STAFF]}))
    if wanted[CLAIM]:
        # Each booster's socket keeps the claim-list events its approvals cover.
        claim = selectors.claim_key(order)
        if claimable:
            events.append((groups.BOOSTERS, {**common, "html": listed(CLAIM), "json": payloads[CLAIM], "claim": claim}))
        else:
            # Gone from the claim list, but not from the sight of its customer and new
            # booster: their own update above stays the last word for JSON clients.
            left = {
                **common,
                "html": render_removal(order.pk, CLAIM),
                "json": removed_event(order.pk),
                "still_seen_by": [pk for pk in (order.customer_id, order.booster_id) if pk is not None],
                "claim": claim,
            }
            events.append((groups.BOOSTERS, left))
    return events


def schedule_claim_scope(booster_id: int) -> None:
    """After the commit, tell the booster's order sockets their approvals changed."""
    after_commit(publish_many_sync, [(groups.user(booster_id), {"kind": CLAIM_SCOPE_KIND})])


def _gone_events(order_id: int, user_ids: set[int], local: Callable[[str], bool]) -> list[tuple[str, dict[str, Any]]]:
    """The order was deleted: take it off every page here that may show it."""
    gone = removed_event(order_id)
    common = {"kind": EVENT_KIND, "order_id": order_id}
    events = [(groups.order(order_id), {**common, "removed": True, "json": {}, "frames": {}})]
    for user_id in sorted(user_ids):
        events.append((groups.user(user_id), {**common, "html": render_removal(order_id, CUSTOMER), "json": gone}))
    events.append((groups.STAFF, {**common, "html": render_removal(order_id, STAFF), "json": gone}))
    events.append((groups.BOOSTERS, {**common, "html": render_removal(order_id, CLAIM), "json": gone}))
    return [(group, event) for group, event in events if local(group)]
